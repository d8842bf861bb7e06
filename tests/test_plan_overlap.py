"""`reconciler plan` lists the API while the manifests load: the outcome is as if loading came first (a
manifest error wins over a connection or listing error) and a plan is the same as one made after loading."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from plan_support import write_manifests

from reconciler.cli import cli
from reconciler.emulator.testing import LiveEmulator

BAD = "model: gpt-4\nname: [not, text]\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(base_url: str, *args: str, key: str = "sk-overlap-0123456789") -> Result:
    env = {"NO_COLOR": "1", "OPENAI_API_KEY": key, "OPENAI_BASE_URL": base_url}
    return CliRunner().invoke(cli, ["plan", "--max-retries", "0", *args], prog_name="reconciler", env=env)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_manifest_error_wins_over_an_unreachable_server(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"a": BAD})
    result = run(f"http://127.0.0.1:{closed_port()}/v1")
    assert result.exit_code == 1
    assert result.output == (
        "assistants/a.yaml:2:7: name: expected a string, got a list\nError: 1 error in assistants\n"
    )


def test_a_manifest_error_wins_over_a_refused_key(workdir: Path, live_emulator: LiveEmulator) -> None:
    write_manifests(workdir / "assistants", {"a": BAD})
    result = run(live_emulator.base_url, key="sk-wrong-key-0123456789")
    assert result.exit_code == 1
    assert result.output.endswith("Error: 1 error in assistants\n")


def test_the_server_error_shows_when_the_manifests_load(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"a": "model: gpt-4\n"})
    result = run(f"http://127.0.0.1:{closed_port()}/v1")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "127.0.0.1" in result.output


def test_many_manifests_and_pages_plan_as_before(workdir: Path, live_emulator: LiveEmulator) -> None:
    manifests = {f"bot-{i:03d}": f"name: Bot {i}\nmodel: gpt-4\n" for i in range(250)}
    write_manifests(workdir / "assistants", manifests)
    first = run(live_emulator.base_url, "--format", "json", key=live_emulator.api_key or "")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["summary"]["create"] == 250
    applied = CliRunner().invoke(
        cli,
        ["apply", "--auto-approve", "--parallelism", "16"],
        env={
            "NO_COLOR": "1",
            "OPENAI_API_KEY": live_emulator.api_key or "",
            "OPENAI_BASE_URL": live_emulator.base_url,
        },
    )
    assert applied.exit_code == 0, applied.output
    live_emulator.reset_stats()
    again = run(live_emulator.base_url, "--format", "json", key=live_emulator.api_key or "")
    assert json.loads(again.stdout)["summary"] == {
        **json.loads(first.stdout)["summary"],
        "create": 0,
        "no-op": 250,
    }
    assert live_emulator.stats()["total"] == 3  # ceil(250 / 100) list calls, nothing else
