"""Destroying every managed assistant by removing every manifest and pruning (a QA pass as a new user).

`apply --prune` on an empty `assistants/` said `assistants: no manifests found`, so the documented way to
destroy all of them (over the safety limits: `--force`) could not be taken. An empty directory is no
assistants when pruning; without `--prune`, and for a directory that is not there, it is still an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from plan_support import write_manifests

from reconciler.cli import cli


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / ".git").mkdir()
    yield tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--local"], env={"NO_COLOR": "1"}, catch_exceptions=False)


def test_an_empty_directory_prunes_every_managed_assistant(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"a": "model: gpt-4\n", "b": "model: gpt-4\n"})
    assert run("apply", "--auto-approve", "--settle-seconds", "0").exit_code == 0
    for manifest in (workdir / "assistants").iterdir():
        manifest.unlink()
    refused = "Error: assistants: no manifests found (expected *.yaml or *.yml files)\n"
    assert (run("plan").exit_code, run("plan").stderr) == (1, refused)
    result = run("apply", "--prune", "--auto-approve", "--settle-seconds", "0")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: plan deletes all 2 managed assistants (2/2), --force required\n",
    )
    result = run("apply", "--prune", "--force", "--auto-approve", "--settle-seconds", "0")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("Apply complete! Assistants: 0 added, 0 changed, 2 destroyed.\n")
    (workdir / "assistants").rmdir()
    result = run("plan", "--prune")
    assert result.exit_code == 1 and "no assistants/ in" in result.stderr
