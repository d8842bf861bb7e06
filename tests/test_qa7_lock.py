"""QA pass 7: what `reconciler apply` leaves in the checkout.

Against a server (not `--local`), the apply lock created `.reconciler/locks/<hash>.lock` without the
`.gitignore` that `--local` writes into `.reconciler/`: after the first apply, `git status` showed
`.reconciler/` untracked, and a CI job committing with `git add -A` (after `reconciler accept`, say)
committed the lock file. The lock's folder now gets the same `.gitignore`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EMULATOR_API_KEY, MakeLiveEmulator

from reconciler.cli import cli


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_live_emulator: MakeLiveEmulator) -> Path:
    """A git checkout with one manifest, its server a live emulator over HTTP (not `--local`)."""
    server = make_live_emulator()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", str(EMULATOR_API_KEY))
    subprocess.run(["git", "init", "-q"], check=True)
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "hr.yaml").write_text("name: HR\nmodel: gpt-4\n")
    subprocess.run(["git", "add", "-A"], check=True)
    return tmp_path


def apply() -> None:
    result = CliRunner().invoke(cli, ["apply", "--auto-approve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_an_apply_against_a_server_leaves_the_checkout_clean(checkout: Path) -> None:
    apply()
    assert (checkout / ".reconciler" / "locks").is_dir(), "the lock was taken"
    status = subprocess.run(["git", "status", "--porcelain"], check=True, capture_output=True, text=True)
    assert status.stdout == "A  assistants/hr.yaml\n"
    assert (checkout / ".reconciler" / ".gitignore").read_text() == "*\n"


def test_an_existing_gitignore_is_kept(checkout: Path) -> None:
    (checkout / ".reconciler").mkdir()
    (checkout / ".reconciler" / ".gitignore").write_text("locks/\n")
    apply()
    assert (checkout / ".reconciler" / ".gitignore").read_text() == "locks/\n"
