"""`reconciler plan` end to end through the CLI with `--local` (state in `.reconciler/` of a tmp cwd)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner, Result
from plan_support import create_managed, load, write_manifests

from reconciler import planfile
from reconciler.cli import cli
from reconciler.connection import open_client
from reconciler.options import ConnectionOptions

HR = "name: HR helper\nmodel: gpt-4-turbo\ninstructions: You help HR.\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["plan", "--local", *args], catch_exceptions=False)


def create_existing(workdir: Path, manifests: dict[str, str]) -> dict[str, str]:
    """Make the local emulator hold exactly these manifests' desired states."""

    async def go() -> dict[str, str]:
        async with open_client(ConnectionOptions(local=True, max_retries=0, state_root=workdir)) as client:
            return await create_managed(client, load(workdir / "existing", manifests))

    return anyio.run(go)


def test_plan_shows_a_create(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": HR})
    result = run()
    assert result.exit_code == 0, result.output
    assert '# assistant "hr" will be created' in result.stdout
    assert result.stdout.endswith("Plan: 1 to add, 0 to change, 0 to destroy.\n")
    assert "\x1b[" not in result.stdout


def test_detailed_exitcode(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": HR})
    assert run("--detailed-exitcode").exit_code == 2
    create_existing(workdir, {"hr": HR})
    result = run("--detailed-exitcode")
    assert result.exit_code == 0
    assert result.stdout == "No changes. Your assistants match the manifests.\n"
    (workdir / "assistants" / "hr.yaml").write_text("model: gpt-4\ntemperature: 9\n")
    result = run("--detailed-exitcode")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[-1] == "Error: 1 error in assistants"
    assert lines[0].startswith("assistants/hr.yaml:2:")


def test_out_saves_the_plan_and_still_prints(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": HR, "new": "model: gpt-4\n"})
    ids = create_existing(workdir, {"hr": HR.replace("You help HR.", "Old text.")})
    result = run("--out", "plan.json", "--format", "json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    saved = json.loads((workdir / "plan.json").read_text())
    assert [c["action"] for c in printed["changes"]] == ["create", "update"]
    plan = planfile.from_data(saved)
    assert plan.data() == printed
    assert plan.changes[1].id == ids["hr"] and plan.changes[1].fingerprint.startswith("sha256:")
    assert plan.changes[0].fingerprint == "absent"
    assert "Saved the plan to plan.json" in result.stderr
    assert not [p for p in workdir.iterdir() if p.name.endswith(".tmp")]


def test_markdown_format(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": HR})
    result = run("--format", "markdown")
    assert result.stdout.startswith(
        "<!-- reconciler:plan -->\n**Plan: 1 to add, 0 to change, 0 to destroy.**\n"
    )


def test_target_and_prune(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": HR, "other": "model: gpt-4\n"})
    create_existing(workdir, {"gone": HR})
    result = run("--target", "hr", "--target", "gone", "--prune")
    assert result.exit_code == 0, result.output
    assert '# assistant "hr" will be created' in result.stdout
    assert '"other"' not in result.stdout
    assert '# assistant "gone" (' in result.stdout and "will be destroyed" in result.stdout
    assert "Note: targeted plan: only hr, gone; other assistants not shown." in result.stdout
    assert "Warning: plan deletes all 1 managed assistants (1/1), --force required" in result.stdout
    without_prune = run()
    assert '"gone" (asst_' in without_prune.stdout and "plan with --prune to destroy" in without_prune.stdout


def test_unknown_target_is_one_error_line(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr-helper": HR})
    result = run("--target", "hr-helpr")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: unknown target 'hr-helpr' (did you mean 'hr-helper'?): "
        "no manifest or managed assistant has that key\n"
    )


def test_plan_after_apply_is_empty(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": HR, "b": "model: gpt-4\ntools: [{type: retrieval}]\n"})
    applied = CliRunner().invoke(cli, ["apply", "--local", "--auto-approve"], catch_exceptions=False)
    assert applied.exit_code == 0, applied.output
    result = run("--detailed-exitcode")
    assert (result.exit_code, result.stdout) == (0, "No changes. Your assistants match the manifests.\n")


def test_stdout_json_carries_managed_orphans_and_warnings(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": HR})
    ids = create_existing(workdir, {"hr": HR, "old": "name: Old\nmodel: gpt-4\n"})
    printed = json.loads(run("--format", "json").stdout)
    assert list(printed) == [
        "format_version", "changes", "summary", "unmanaged", "managed", "orphans", "warnings"
    ]  # fmt: skip
    assert printed["managed"] == 2
    assert printed["orphans"] == [{"key": "old", "id": ids["old"], "name": "Old"}]
    assert printed["warnings"] == []


def test_no_assistants_directory_says_where_to_run(workdir: Path) -> None:
    (workdir / "team").mkdir()
    os.chdir(workdir / "team")
    result = run()
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: no assistants/ in {workdir / 'team'}: run from the repository root or pass --dir\n"
    )


def test_local_state_lives_at_the_repository_root(workdir: Path) -> None:
    """Run from a subdirectory, --local uses the emulator state of the repository, not a new one."""
    (workdir / ".git").mkdir()
    write_manifests(workdir / "assistants", {"hr": HR})
    create_existing(workdir, {"hr": HR})
    (workdir / "team").mkdir()
    os.chdir(workdir / "team")
    result = run("--dir", "../assistants")
    assert result.stdout == "No changes. Your assistants match the manifests.\n"
    assert not (workdir / "team" / ".reconciler").exists()
