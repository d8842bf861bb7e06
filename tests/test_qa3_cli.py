"""Second look at issue 16's changes (qa3) through the CLI in-process: what a command leaves behind.

A command runs with the cyclic collector's thresholds raised (`cli_group.GC_THRESHOLDS`) and freezes what
a plan keeps (`gc.freeze`); an embedding process (a test runner, a CI wrapper) must find both as they were
after every ending: success, a plan error, a usage error.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

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
