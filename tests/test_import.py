"""`reconciler import` end to end with `--local` (the embedded emulator, its state in `.reconciler/` of a tmp
cwd): import → plan (only the ownership marker) → apply → plan (empty) → fmt --check (clean); refusals."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner, Result

from reconciler import dialect, importer
from reconciler.cli import cli
from reconciler.connection import open_client
from reconciler.manifest import load_directory
from reconciler.options import ConnectionOptions, ImportOptions

LONG = "".join(f"Rule {i}: be precise.  \n\tIndented with a tab\n" for i in range(12)) + "Ünïcode ✓ 😀 end"

PARAMETERS = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "What to look for.\nMultiple lines."},
        "filters": {
            "type": "object",
            "properties": {
                "since": {"type": "string", "format": "date"},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["yes", "no", "on"]}},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                "ratio": {"type": "number", "default": 0.25},
                "exact": {"type": "boolean", "default": False},
                "n": {"type": ["string", "null"], "default": None},
            },
            "required": ["since"],
        },
    },
    "required": ["query"],
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    yield tmp_path


def cli_run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def api(workdir: Path, calls: Any) -> Any:
    """Run `calls(client)` against the local emulator of `workdir`."""

    async def go() -> Any:
        async with open_client(ConnectionOptions(local=True, max_retries=0, state_root=workdir)) as client:
            return await calls(client)

    return anyio.run(go)


def create(workdir: Path, *bodies: dict[str, Any]) -> list[str]:
    """Create unmanaged assistants; return their ids."""

    async def calls(client: Any) -> list[str]:
        return [(await client.create_assistant(body)).id for body in bodies]

    return api(workdir, calls)


def varied(workdir: Path) -> dict[str, dict[str, Any]]:
    """A varied set of existing assistants with every kind of field; returns them by expected key."""

    async def upload(client: Any) -> list[str]:
        return [
            (await client.upload_file(f"kb{i}.txt", f"knowledge {i}".encode(), "assistants")).id
            for i in range(2)
        ]

    file_ids = api(workdir, upload)
    bodies = {
        "hr-helper": {
            "name": "HR Helper",
            "description": "Answers HR questions: leave, payroll.",
            "model": "gpt-4-turbo",
            "instructions": LONG,
            "tools": [
                {"type": "code_interpreter"},
                {"type": "retrieval"},
                {
                    "type": "function",
                    "function": {"name": "lookup", "description": "Find.", "parameters": PARAMETERS},
                },
                {"type": "function", "function": {"name": "ping"}},
            ],
            "file_ids": file_ids,
            "metadata": {"team": "hr", "cost-center": "42", "on": "yes"},
            "temperature": 0.2,
            "top_p": 0.9,
            "response_format": {"type": "json_object"},
        },
        "cafe-bot": {
            "name": "Café  Bot!",
            "model": "gpt-3.5-turbo",
            "instructions": "  leading spaces\n\ntrailing spaces   \n\n\n",
            "response_format": "none",
        },
        "short": {"name": "short", "model": "gpt-4", "instructions": "Be brief.", "temperature": 0},
        "crlf": {"name": "CRLF", "model": "gpt-4", "instructions": "windows\r\nline\r\n", "top_p": 0.5},
        "text-format": {"name": "Text format", "model": "gpt-4", "response_format": {"type": "text"}},
    }
    ids = create(workdir, *bodies.values())
    nameless = create(workdir, {"model": "gpt-4", "description": None})[0]
    out = {key: {**body, "id": aid} for (key, body), aid in zip(bodies.items(), ids, strict=True)}
    out[nameless.lower()] = {"model": "gpt-4", "id": nameless}
    return out


def plan_json(*extra: str) -> dict[str, Any]:
    result = cli_run("plan", "--local", "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_round_trip_import_plan_apply_plan_fmt(workdir: Path) -> None:
    existing = varied(workdir)
    result = cli_run("import", "--local", "--all")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (workdir / "assistants").iterdir())
    assert written == sorted(f"{key}.yaml" for key in existing)
    for key, body in existing.items():
        assert f"wrote assistants/{key}.yaml ({body['id']}" in result.stdout
    assert result.stdout.splitlines()[-1].startswith(f"Imported {len(existing)} assistants into assistants")

    loaded = load_directory(workdir / "assistants")
    assert not loaded.errors, [str(e) for e in loaded.errors]
    by_key = {m.key: m for m in loaded.manifests}
    assert by_key["hr-helper"].api_fields()["instructions"] == LONG
    assert by_key["cafe-bot"].api_fields()["instructions"] == existing["cafe-bot"]["instructions"]
    assert by_key["crlf"].api_fields()["instructions"] == "windows\r\nline\r\n"

    plan = plan_json()
    assert plan["summary"] == {"create": 0, "update": len(existing), "delete": 0, "no-op": 0}
    for change in plan["changes"]:
        assert change["id"] == existing[change["key"]]["id"]
        assert change["changed_fields"] == ["metadata"]
        user = {k: v for k, v in existing[change["key"]].get("metadata", {}).items()}
        assert change["before"] == {"metadata": user}
        assert change["after"] == {"metadata": {**user, dialect.MARKER_KEY: change["key"]}}

    result = cli_run("apply", "--local", "--auto-approve")
    assert result.exit_code == 0, result.output
    plan = plan_json()
    assert plan["summary"] == {"create": 0, "update": 0, "delete": 0, "no-op": len(existing)}

    result = cli_run("fmt", "--check")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_layout_of_an_imported_manifest(workdir: Path) -> None:
    (aid,) = create(
        workdir,
        {
            "name": "HR Helper",
            "model": "gpt-4",
            "instructions": "Line one\nno final newline",
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "metadata": {"team": "hr"},
            "temperature": 1,
            "top_p": 0.5,
        },
    )
    assert cli_run("import", "--local", aid).exit_code == 0
    assert (workdir / "assistants" / "hr-helper.yaml").read_text() == (
        "# yaml-language-server: $schema=../schema/manifest.json\n"
        "key: hr-helper\n"
        f"id: {aid}\n"
        "name: HR Helper\n"
        "model: gpt-4\n"
        "instructions: |-\n"
        "  Line one\n"
        "  no final newline\n"
        "tools:\n"
        "  - type: function\n"
        "    function:\n"
        "      name: f\n"
        "      parameters:\n"
        "        type: object\n"
        "metadata:\n"
        "  team: hr\n"
        "top_p: 0.5\n"
    )


def test_instructions_files_exact(workdir: Path) -> None:
    long_no_newline = "\n".join(f"line {i}  " for i in range(11)) + "\n\tlast ✓"
    long_chars = "x" * 1001 + "\n\n"
    ids = create(
        workdir,
        {"name": "A", "model": "gpt-4", "instructions": long_no_newline},
        {"name": "B", "model": "gpt-4", "instructions": long_chars},
        {"name": "C", "model": "gpt-4", "instructions": "short\n"},
        {"name": "D", "model": "gpt-4", "instructions": "\r\n".join(["crlf"] * 20)},
        {"name": "E", "model": "gpt-4", "instructions": "\ufeff" + "\n".join(["bom"] * 20)},
    )
    result = cli_run("import", "--local", "--instructions-files", *ids)
    assert result.exit_code == 0, result.output
    directory = workdir / "assistants"
    assert (directory / "a.md").read_bytes() == (long_no_newline + "\n").encode()
    assert (directory / "b.md").read_bytes() == (long_chars + "\n").encode()
    assert not (directory / "c.md").exists() and not (directory / "d.md").exists()
    assert "instructions_file: a.md\n" in (directory / "a.yaml").read_text()
    assert "instructions: |\n  short\n" in (directory / "c.yaml").read_text()
    assert "warning: assistants/d.yaml: instructions contain carriage returns" in result.stderr
    assert "warning: assistants/e.yaml: instructions start with a byte order mark" in result.stderr
    assert "wrote assistants/a.md (instructions of a)" in result.stdout
    loaded = {m.key: m.api_fields()["instructions"] for m in load_directory(directory).manifests}
    assert loaded == {
        "a": long_no_newline,
        "b": long_chars,
        "c": "short\n",
        "d": "\r\n".join(["crlf"] * 20),
        "e": "\ufeff" + "\n".join(["bom"] * 20),
    }
    plan = plan_json()
    assert {c["action"] for c in plan["changes"]} == {"update"}
    assert {tuple(c["changed_fields"]) for c in plan["changes"]} == {("metadata",)}


def test_managed_skipped_with_a_note(workdir: Path) -> None:
    (managed, free) = create(
        workdir,
        {"name": "Managed", "model": "gpt-4", "metadata": {dialect.MARKER_KEY: "managed"}},
        {"name": "Free", "model": "gpt-4"},
    )
    result = cli_run("import", "--local", managed, free)
    assert result.exit_code == 0, result.output
    assert f"note: {managed} is already managed (key 'managed'), skipped" in result.stderr
    assert sorted(p.name for p in (workdir / "assistants").iterdir()) == ["free.yaml"]

    result = cli_run("import", "--local", managed)
    assert result.exit_code == 0
    assert "Nothing to import" in result.stdout

    (workdir / "assistants" / "free.yaml").unlink()
    result = cli_run("import", "--local", "--all")
    assert result.exit_code == 0
    assert "note: 1 managed assistant skipped" in result.stderr
    assert sorted(p.name for p in (workdir / "assistants").iterdir()) == ["free.yaml"]


def test_unknown_ids_are_one_error(workdir: Path) -> None:
    (known,) = create(workdir, {"name": "Known", "model": "gpt-4"})
    result = cli_run("import", "--local", known, "asst_nope1", "asst_nope2")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: unknown assistant ids asst_nope1, asst_nope2 (not among the 1 assistants listed; "
        "for agents, pass --kind agent)\n"
    )
    assert not (workdir / "assistants").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Error: nothing to import: give assistant ids (asst_...) or --all\n"),
        (("--all", "asst_x"), "Error: give assistant ids or --all, not both\n"),
    ],
)
def test_usage_errors(workdir: Path, args: tuple[str, ...], message: str) -> None:
    result = cli_run("import", "--local", *args)
    assert result.exit_code == 1
    assert result.stderr == message


def test_overwrite_refused_then_forced(workdir: Path) -> None:
    (aid,) = create(workdir, {"name": "HR", "model": "gpt-4", "instructions": "v1"})
    assert cli_run("import", "--local", aid).exit_code == 0
    path = workdir / "assistants" / "hr.yaml"
    path.write_text(path.read_text() + "# my note\n")

    async def edit(client: Any) -> None:
        await client.modify_assistant(aid, {"instructions": "v2"})

    api(workdir, edit)
    result = cli_run("import", "--local", aid)
    assert result.exit_code == 1
    assert f"note: {aid} is already imported as 'hr' in assistants/hr.yaml" in result.stderr
    assert result.stderr.endswith(
        "Error: refusing to overwrite 1 existing file: assistants/hr.yaml (use --force to overwrite)\n"
    )
    assert "# my note" in path.read_text()

    result = cli_run("import", "--local", "--force", aid)
    assert result.exit_code == 0, result.output
    assert "instructions: v2\n" in path.read_text() and "# my note" not in path.read_text()


def test_refusal_checks_every_target_before_writing(workdir: Path) -> None:
    ids = create(workdir, {"name": "One", "model": "gpt-4"}, {"name": "Two", "model": "gpt-4"})
    assert cli_run("import", "--local", ids[1]).exit_code == 0
    (workdir / "assistants" / "two.yaml").write_text(
        "# hand edited\n" + (workdir / "assistants" / "two.yaml").read_text()
    )
    result = cli_run("import", "--local", "--all")
    assert result.exit_code == 1
    assert "refusing to overwrite 1 existing file: assistants/two.yaml" in result.stderr
    assert not (workdir / "assistants" / "one.yaml").exists()


def test_slug_collisions(workdir: Path) -> None:
    directory = workdir / "assistants"
    directory.mkdir()
    (directory / "support.yaml").write_text("model: gpt-4\n")  # an existing key
    (directory / "sales.md").write_text("notes\n")  # an existing file stem
    (directory / "custom.yaml").write_text("key: billing\nmodel: gpt-4\n")  # a key other than the stem
    ids = create(
        workdir,
        {"name": "Support", "model": "gpt-4"},
        {"name": "support", "model": "gpt-4"},
        {"name": "SUPPORT!!", "model": "gpt-4"},
        {"name": "Sales", "model": "gpt-4"},
        {"name": "Billing", "model": "gpt-4"},
        {"name": "x" * 80, "model": "gpt-4"},
        {"name": "x" * 80, "model": "gpt-4"},
        {"name": "客服", "model": "gpt-4"},
    )
    result = cli_run("import", "--local", "--all")
    assert result.exit_code == 0, result.output
    keys = {m.manifest.id: m.key for m in load_directory(directory).manifests if m.manifest.id}
    assert [keys[i] for i in ids] == [
        "support-2",
        "support-3",
        "support-4",
        "sales-2",
        "billing-2",
        "x" * 63,
        "x" * 61 + "-2",
        ids[7].lower(),
    ]


def test_slug() -> None:
    assert importer.slug("HR Helper (beta)") == "hr-helper-beta"
    assert importer.slug("  Café — Bot  ") == "cafe-bot"
    assert importer.slug("v1.2_final") == "v1.2_final"
    assert importer.slug("...hidden") == "hidden"
    assert importer.slug("客服") == ""
    assert importer.with_suffix("a" * 63, 12) == "a" * 60 + "-12"


def test_reserved_metadata_left_out(workdir: Path) -> None:
    (aid,) = create(
        workdir,
        {"name": "R", "model": "gpt-4", "metadata": {"reconciler_key": "", "Reconciler-x": "1", "k": "v"}},
    )
    result = cli_run("import", "--local", aid)
    assert result.exit_code == 0, result.output
    text = (workdir / "assistants" / "r.yaml").read_text()
    assert "metadata:\n  k: v\n" in text and "econciler" not in text.split("metadata:")[1]
    assert "left out (reserved for reconciler)" in result.stderr


def test_list_calls_one_per_hundred(workdir: Path) -> None:
    create(workdir, *({"name": f"a{i}", "model": "gpt-4"} for i in range(150)))

    async def go() -> tuple[int, dict[str, int]]:
        async with open_client(ConnectionOptions(local=True, max_retries=0, state_root=workdir)) as client:
            options = ImportOptions(directory=workdir / "assistants", import_all=True)
            plan = await importer.run_import(client, options, io.StringIO(), io.StringIO())
            return len(plan.imported), dict(client.calls)

    count, calls = anyio.run(go)
    assert count == 150
    assert calls == {"GET /assistants": 2}
    assert len(list((workdir / "assistants").iterdir())) == 150


def test_the_advice_for_a_name_clash_works_and_import_refuses_a_second_manifest(workdir: Path) -> None:
    """plan refuses to create a duplicate of an unmanaged assistant and names the `id:` line that adopts it;
    `import ID` would write a second manifest (and so the duplicate): it refuses and gives the same advice."""
    manifest = workdir / "assistants" / "weather-bot.yaml"
    manifest.parent.mkdir()
    manifest.write_text("name: Weather Bot\nmodel: gpt-4\n")
    (aid,) = create(workdir, {"name": "Weather Bot", "model": "gpt-4"})
    plan = cli_run("plan", "--local")
    assert plan.exit_code == 1
    assert f"add `id: {aid}` to assistants/weather-bot.yaml" in plan.stderr
    result = cli_run("import", "--local", aid)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: {aid} is named 'Weather Bot', which assistants/weather-bot.yaml (key 'weather-bot') "
        f"already describes: add `id: {aid}` to assistants/weather-bot.yaml to adopt it there instead of "
        "importing it\n"
    )
    assert sorted(p.name for p in manifest.parent.iterdir()) == ["weather-bot.yaml"]
    manifest.write_text(f"id: {aid}\nname: Weather Bot\nmodel: gpt-4\n")
    adopted = cli_run("plan", "--local")
    assert adopted.exit_code == 0, adopted.output
    assert "will be adopted (ownership marker added)" in adopted.stdout
