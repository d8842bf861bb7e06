"""QA pass 6: text a server chose cannot forge lines in what the tool prints, and counts read as English.

`reconciler import` named each imported object by its server name as it was: a name holding a line break
printed a second `wrote FILE (...)` line of the server's choosing. A plan did the same with a metadata key, a
function schema's property and the name of an upload it would delete (in text, and in the PR comment's diff).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from http_support import JSONHandler, serve

from reconciler.cli import cli
from reconciler.connection import open_client
from reconciler.options import ConnectionOptions

FORGED = 'Evil")\nwrote assistants/fake.yaml (asst_FAKE "Fake")'


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return tmp_path


def create(workdir: Path, *bodies: dict[str, Any]) -> list[str]:
    """The ids of assistants created with `bodies` on the local emulator of `workdir`."""

    async def go() -> list[str]:
        async with open_client(ConnectionOptions(local=True, max_retries=0, state_root=workdir)) as client:
            return [(await client.create_assistant(body)).id for body in bodies]

    return anyio.run(go)


def test_an_imported_name_with_a_line_break_stays_on_its_line(workdir: Path) -> None:
    (created,) = create(workdir, {"model": "gpt-4", "name": FORGED})
    result = CliRunner().invoke(cli, ["import", "--all", "--local"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("wrote ")] == [
        f"wrote assistants/evil-wrote-assistants-fake.yaml-asst_fake-fake.yaml ({created} "
        '"Evil\\")\\nwrote assistants/fake.yaml (asst_FAKE \\"Fake\\")")'
    ]
    assert not (workdir / "assistants" / "fake.yaml").exists()


def test_one_imported_file_is_one_file(workdir: Path) -> None:
    create(workdir, {"model": "gpt-4", "name": "Solo"})
    result = CliRunner().invoke(cli, ["import", "--all", "--local"], catch_exceptions=False)
    assert result.stdout.splitlines()[-1] == (
        "Imported 1 assistant into assistants (1 file). "
        "Run `reconciler plan` to adopt them (it adds the ownership marker)."
    )


PLAN_LINE = "Plan: 0 to add, 0 to change, 9 to destroy."
FUNCTION = {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_server_s_metadata_key_or_schema_property_forges_no_line(workdir: Path, fmt: str) -> None:
    """A metadata key and a function's property name are the server's text too: one with a line break is
    shown as a JSON string (plain ones as they are), so no line of the plan is the server's."""
    (workdir / ".git").mkdir()
    (workdir / "assistants").mkdir()
    (workdir / "assistants" / "a.yaml").write_text(
        "model: gpt-4\ntools:\n  - type: function\n    function:\n      name: lookup\n      parameters:\n"
        "        type: object\n        properties:\n          q: {type: string}\nmetadata:\n  team: a\n"
    )
    parameters = {"type": "object", "properties": {"q": {"type": "string"}, f"p\n{PLAN_LINE}": {}}}
    create(
        workdir,
        {
            "model": "gpt-4",
            "tools": [{"type": "function", "function": {**FUNCTION, "parameters": parameters}}],
            "metadata": {"reconciler_key": "a", "team": "a", f"k\n{PLAN_LINE}": "v"},
        },
    )
    result = CliRunner().invoke(
        cli, ["plan", "--local", "--no-color", "--format", fmt], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line for line in lines if PLAN_LINE in line and "\\n" not in line] == []
    body = [line.lstrip("+-~ ") for line in lines]
    assert f'"k\\n{PLAN_LINE}" = "v"' in body
    assert f'parameters.properties."p\\n{PLAN_LINE}": {{}}' in body


class _EvilUpload(JSONHandler):
    """One upload named as reconciler names them, a plan line in its name; with `ATTACHED`, the managed
    assistant `a` holds it."""

    ATTACHED = False

    def do_GET(self) -> None:
        data: list[dict[str, Any]] = []
        if self.path.startswith("/v1/files"):
            name = f"evil\n{PLAN_LINE}.sha256-0123456789abcdef.md"
            data = [{"id": "file-1", "object": "file", "bytes": 3, "created_at": 1, "filename": name}]
            data[0] |= {"purpose": "assistants", "status": "processed"}
        elif self.path.startswith("/v1/assistants") and self.ATTACHED:
            data = [{"id": "asst_1", "object": "assistant", "created_at": 1, "model": "gpt-4"}]
            data[0] |= {"tools": [{"type": "retrieval"}], "file_ids": ["file-1"]}
            data[0] |= {"metadata": {"reconciler_key": "a"}}
        self.send_json({"object": "list", "data": data, "has_more": False})


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_the_name_of_an_upload_to_delete_forges_no_line(workdir: Path, fmt: str) -> None:
    (workdir / "assistants").mkdir()
    with serve(_EvilUpload) as url:
        env = {"OPENAI_API_KEY": "sk-qa6-0123456789", "OPENAI_BASE_URL": url, "NO_COLOR": "1"}
        result = CliRunner().invoke(
            cli, ["plan", "--prune", "--format", fmt], env=env, catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    assert [line.strip() for line in result.stdout.splitlines() if PLAN_LINE in line] == [
        f'- file "evil\\n{PLAN_LINE}.sha256-0123456789abcdef.md" (file-1, 3 B) will be deleted: '
        "no manifest or assistant uses it"
    ]


class _EvilAttached(_EvilUpload):
    ATTACHED = True


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_the_name_of_an_attached_upload_to_detach_forges_no_line(workdir: Path, fmt: str) -> None:
    """A file an assistant holds but its manifest no longer names is shown by the original name in its
    upload's name (the server's): that name was printed as it was."""
    (workdir / "assistants").mkdir()
    (workdir / "assistants" / "a.yaml").write_text(
        "model: gpt-4\ntools: [{type: retrieval}]\nfiles: [x.md]\n"
    )
    (workdir / "assistants" / "x.md").write_text("hi\n")
    with serve(_EvilAttached) as url:
        env = {"OPENAI_API_KEY": "sk-qa6-0123456789", "OPENAI_BASE_URL": url, "NO_COLOR": "1"}
        result = CliRunner().invoke(cli, ["plan", "--format", fmt], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [line.lstrip("- ") for line in result.stdout.splitlines() if PLAN_LINE in line] == [
        f'file "evil\\n{PLAN_LINE}.md" (sha256:01234567) = "file-1"'
    ]


def test_a_server_s_text_cannot_hide_a_line_in_black(workdir: Path) -> None:
    """The output layer let every foreground colour through, as the CLI's own: a server's instructions in
    black (`ESC[30m`) were invisible on a dark terminal, even with --no-color. Only the colours the CLI
    emits pass now (reset, bold, red, green, yellow)."""
    (workdir / ".git").mkdir()
    (workdir / "assistants").mkdir()
    (workdir / "assistants" / "a.yaml").write_text("model: gpt-4\ninstructions: hello\n")
    hidden = "hello\n\x1b[30mthe line a reviewer must not see\x1b[0m \x1b[97mnor this\x1b[0m"
    create(workdir, {"model": "gpt-4", "instructions": hidden, "metadata": {"reconciler_key": "a"}})
    result = CliRunner().invoke(cli, ["plan", "--local", "--no-color"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "- \\u001b[30mthe line a reviewer must not see\x1b[0m \\u001b[97mnor this\x1b[0m" in [
        line.strip() for line in result.stdout.splitlines()
    ]
