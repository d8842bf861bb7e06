"""Second look at issue 16's changes (qa3) through the CLI in-process: what a command leaves behind, and
what a saved plan carries.

A command runs with the cyclic collector's thresholds raised (`cli_group.GC_THRESHOLDS`) and freezes what
a plan keeps (`gc.freeze`); an embedding process (a test runner, a CI wrapper) must find both as they were
after every ending: success, a plan error, a usage error.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EMULATOR_API_KEY, MakeLiveEmulator

from reconciler.cli import cli
from reconciler.cli_group import GC_THRESHOLDS


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "bot.yaml").write_text("name: Bot\nmodel: gpt-4\n")
    yield tmp_path


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (["plan", "--local"], 0),
        (["plan", "--local", "--dir", "missing"], 1),
        (["plan", "--no-such-option"], 1),
        (["validate"], 0),
    ],
)
def test_a_command_restores_the_collector_as_it_found_it(
    workdir: Path, args: list[str], exit_code: int
) -> None:
    before = gc.get_threshold()
    assert before != GC_THRESHOLDS
    frozen = gc.get_freeze_count()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_plans_saved_by_all_envs_carry_fingerprints_and_go_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_live_emulator: MakeLiveEmulator
) -> None:
    """`plan --all-envs --out-dir` saves plans with fingerprints (`PlanOptions.fingerprints`): an assistant
    edited on the server after the plan makes its saved plan stale, and applying it writes nothing."""
    server = make_live_emulator()
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "reconciler.yaml").write_text(f"environments:\n  dev:\n    base_url: {server.base_url}\n")
    manifest = tmp_path / "assistants" / "bot.yaml"
    manifest.write_text("name: Bot\nmodel: gpt-4\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", str(EMULATOR_API_KEY))
    runner = CliRunner()
    assert runner.invoke(cli, ["apply", "--env", "dev", "--auto-approve"]).exit_code == 0
    manifest.write_text("name: Bot\nmodel: gpt-4\ninstructions: Be brief.\n")
    saved = runner.invoke(cli, ["plan", "--all-envs", "--out-dir", "plans"])
    assert saved.exit_code == 0, saved.output
    [change] = json.loads((tmp_path / "plans" / "dev.json").read_text())["changes"]
    assert (change["action"], change["fingerprint"][:7]) == ("update", "sha256:")
    with server.client() as client:
        edited = client.post(f"/assistants/{change['id']}", json={"description": "edited by hand"})
        assert edited.status_code == 200
        applied = runner.invoke(cli, ["apply", "--env", "dev", "plans/dev.json"])
        after = client.get(f"/assistants/{change['id']}").json()
    assert applied.exit_code == 1
    assert applied.stderr == (
        f"Error: plan is stale: 1 assistant changed since it was made: bot changed ({change['id']}); "
        "make a new plan and review it\n"
    )
    assert (after["instructions"], after["description"]) == (None, "edited by hand")


def test_a_knowledge_file_named_with_the_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_live_emulator: MakeLiveEmulator
) -> None:
    """A knowledge file is uploaded under its name: a name holding the key would put it on the server."""
    server = make_live_emulator()
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / f"notes-{EMULATOR_API_KEY}.md").write_text("Notes.\n")
    (tmp_path / "assistants" / "bot.yaml").write_text(
        f"name: Bot\nmodel: gpt-4\ntools: [{{type: retrieval}}]\nfiles: [notes-{EMULATOR_API_KEY}.md]\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", str(EMULATOR_API_KEY))
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = CliRunner().invoke(cli, [*command, "--base-url", server.base_url])
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == (
            "Error: assistants/bot.yaml:4:9: files[0]: holds the API key (the value of OPENAI_API_KEY); "
            "remove it from the manifest\n"
        )
    assert server.stats()["objects"]["files"] == 0
