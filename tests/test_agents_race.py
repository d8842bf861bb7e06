"""Exactly once for saved agents when applies race: two real `reconciler apply` processes, started at once
from separate checkouts (each with `assistants/` and `agents/`), against one `reconciler emulator` process
with dropped connections, late commits and server errors on. Faults off, every agent key is claimed by
exactly one agent matching its manifest (docs/design.md, "Exactly once across runs": the same rule as for
assistants, per kind), and every process's JSON report agrees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from race_support import Emulator

from reconciler.dialect import MARKER_KEY
from reconciler.emulator.testing import EMULATOR_API_KEY

AGENTS = 5
TIMEOUT = 120


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    server = Emulator(tmp_path_factory.mktemp("agents-race"))
    try:
        yield server
    finally:
        server.stop()


def _agents(emulator: Emulator) -> list[dict[str, Any]]:
    response = emulator.http.get(
        "/v1/agents", params={"limit": 100, "order": "asc"}, headers={"OpenAI-Beta": "agents=v1"}
    )
    response.raise_for_status()
    page = response.json()
    assert not page["has_more"]
    return list(page["data"])


def _checkout(directory: Path, seed: int) -> dict[str, str]:
    """One checkout's manifests; returns `{agent key: instructions}`."""
    (directory / "assistants").mkdir(parents=True)
    (directory / "assistants" / "helper.yaml").write_text(f"model: gpt-4\ninstructions: Round {seed}.\n")
    (directory / "agents").mkdir()
    wanted = {}
    for n in range(AGENTS):
        wanted[f"agent-{n}"] = f"Round {seed}, agent {n}."
        (directory / "agents" / f"agent-{n}.yaml").write_text(
            f"model: gpt-5\ninstructions: {wanted[f'agent-{n}']}\n"
        )
    return wanted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_applies_racing_leave_one_agent_per_key(emulator: Emulator, tmp_path: Path, seed: int) -> None:
    emulator.set_faults({})
    emulator.reset()
    dirs = [tmp_path / f"checkout-{n}" for n in range(2)]
    wanted = {}
    for directory in dirs:
        wanted = _checkout(directory, seed)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RECONCILER_"))}
    env |= {"OPENAI_API_KEY": EMULATOR_API_KEY, "OPENAI_BASE_URL": emulator.url + "/v1", "NO_COLOR": "1"}
    emulator.set_faults({"drop_rate": 0.3, "commit_delay_ms": 100, "fail_rate": 0.05, "seed": seed})
    args = [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--format", "json"]
    args += ["--max-retries", "8", "--settle-seconds", "0.5"]
    procs = [
        subprocess.Popen(args, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for d in dirs
    ]
    outputs = [p.communicate(timeout=TIMEOUT) for p in procs]
    emulator.set_faults({})

    claimants: dict[str, list[dict[str, Any]]] = {}
    for agent in _agents(emulator):
        claimants.setdefault(agent["metadata"].get(MARKER_KEY, ""), []).append(agent)
    assert {key: len(found) for key, found in claimants.items()} == dict.fromkeys(wanted, 1)
    final = {key: found[0] for key, found in claimants.items()}
    assert {key: agent["instructions"] for key, agent in final.items()} == wanted
    for proc, (stdout, stderr) in zip(procs, outputs, strict=True):
        report = json.loads(stdout)
        failed = any(r["status"] == "failed" for r in report["results"])
        assert (proc.returncode != 0) == failed, stderr.decode()[-500:]
        for result in report["results"]:
            if result.get("kind") == "agent" and result["status"] in ("created", "updated"):
                assert final[result["key"]]["id"] == result["id"], result
