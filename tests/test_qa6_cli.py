"""QA pass 6: what a new user meets on the command line, with `--local` in a scratch repository.

`--target agent:KEY` naming no agent said that no managed *assistant* had that key.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "hr.yaml").write_text("model: gpt-4\n")
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "docs.yaml").write_text("name: Docs\nmodel: gpt-5-mini\n")
    return tmp_path


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("agent:hr", "unknown target 'agent:hr': no manifest or managed agent has that key"),
        ("assistant:docs", "unknown target 'assistant:docs': no manifest or managed assistant has that key"),
        (
            "agent:doc",
            "unknown target 'agent:doc' (did you mean 'agent:docs'?): no manifest or managed agent has "
            "that key",
        ),
    ],
)
def test_an_unknown_qualified_target_names_its_kind(repo: Path, target: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["plan", "--local", "--target", target], catch_exceptions=False)
    assert (result.exit_code, result.output) == (1, f"Error: {message}\n")
