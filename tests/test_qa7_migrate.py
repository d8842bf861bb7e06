"""QA pass 7: `reconciler migrate` into an agents directory that already declares the key elsewhere.

`agents/other.yaml` with `key: hr` and no `agents/hr.yaml`: migrate wrote `agents/hr.yaml` (it checked only
that file), then its own check after writing failed on the duplicate key, leaving an agents directory that no
command could load. A key another agent manifest declares is now refused before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "hr.yaml").write_text("name: HR\nmodel: gpt-4\n")
    (tmp_path / "assistants" / "it.yaml").write_text("name: IT\nmodel: gpt-4\n")
    (tmp_path / "agents").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="reconciler", env={"NO_COLOR": "1"})


def test_a_key_another_agent_manifest_declares_is_refused_before_writing(repo: Path) -> None:
    other = repo / "agents" / "other.yaml"
    other.write_text("key: hr\nname: Other\nmodel: gpt-5\n")

    result = run("migrate", "--accept-loss")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: agents/hr.yaml: key 'hr' is already declared by agents/other.yaml; nothing written (rename "
        "one of them: a key names one agent)\n"
    )
    assert sorted(p.name for p in (repo / "agents").iterdir()) == ["other.yaml"]
    assert run("validate").exit_code == 0


def test_rerunning_over_what_it_wrote_is_still_idempotent(repo: Path) -> None:
    assert run("migrate", "--accept-loss").exit_code == 0
    again = run("migrate", "--accept-loss", "--force")
    assert again.exit_code == 0, again.output
    assert again.stderr == "unchanged agents/hr.yaml\nunchanged agents/it.yaml\n"


@pytest.mark.parametrize(
    ("report", "what"),
    [
        ("assistants/hr.yaml", "an assistant manifest"),
        ("agents/it.yaml", "an agent manifest"),
        ("assistants/notes.yml", "a manifest file name in assistants"),
    ],
)
def test_a_report_over_a_manifest_is_refused(repo: Path, report: str, what: str) -> None:
    """`--report assistants/hr.yaml` (a slip for `--report hr.md`) replaced the assistant manifest with the
    report, though migrate never changes the assistant manifests."""
    before = (repo / "assistants" / "hr.yaml").read_text()
    result = run("migrate", "--report", report)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: --report {report} is {what}: write the report elsewhere\n"
    assert (repo / "assistants" / "hr.yaml").read_text() == before
    assert sorted(p.name for p in (repo / "agents").iterdir()) == []
