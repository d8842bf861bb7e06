"""Racing applies: one `reconciler emulator` process, several `reconciler apply` processes started at once.

Used by tests/test_race.py and bench/race.py. Each apply runs in its own working directory (its own
checkout: the local apply lock never serialises them), against the same server, with the faults of its
`Round`. `run_round` then reads the server (faults off) and checks the end state: every manifest key claimed
by exactly one assistant, matching its manifest, no other assistant, every knowledge content uploaded once,
and every process's JSON report consistent with that state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from process_support import EmulatorProcess

from reconciler.dialect import MARKER_KEY
from reconciler.emulator.testing import EMULATOR_API_KEY

#: How long one apply process may take before the round fails.
PROCESS_TIMEOUT = 120


@dataclass(frozen=True)
class Round:
    """One race: `processes` applies of `manifests` manifests at once (of one saved plan with `saved`), each
    with `--settle-seconds settle`, under the emulator's seeded faults; `files` manifests name one knowledge
    file each (distinct contents)."""

    name: str
    processes: int
    manifests: int
    seed: int
    settle: float
    drop_rate: float = 0.3
    commit_delay_ms: float = 100
    fail_rate: float = 0.05
    saved: bool = False
    files: int = 0

    def faults(self) -> dict[str, Any]:
        return {
            "drop_rate": self.drop_rate,
            "commit_delay_ms": self.commit_delay_ms,
            "fail_rate": self.fail_rate,
            "seed": self.seed,
        }


@dataclass
class Outcome:
    """What one round left: creates reported, keys claimed twice or more (`duplicates`), keys claimed by
    none (`lost`), file contents uploaded more than once, and every inconsistency found (`problems`)."""

    round: Round
    seconds: float = 0.0
    creates: int = 0
    duplicates: int = 0
    lost: int = 0
    file_copies: int = 0
    exit_codes: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Emulator:
    """One `reconciler emulator` process (`process_support.EmulatorProcess`, database and log in `directory`),
    with the admin calls and listings the rounds need."""

    def __init__(self, directory: Path) -> None:
        self.process = EmulatorProcess(
            directory / "emulator.sqlite3", directory / "emulator.log"
        ).wait_ready()
        self.url = self.process.url
        self.http = self.process.client(root=True)
        self.http.headers.update({"OpenAI-Beta": "assistants=v1"})

    def set_faults(self, faults: dict[str, Any]) -> None:
        self.http.post("/_emulator/faults", json=faults).raise_for_status()

    def reset(self) -> None:
        self.http.post("/_emulator/reset").raise_for_status()

    def listing(self, what: str) -> list[dict[str, Any]]:
        """Every object of `what` (`assistants` or `files`); faults must be off."""
        if what == "files":
            response = self.http.get("/v1/files")
            response.raise_for_status()
            return list(response.json()["data"])
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100, "order": "asc"}
        while True:
            response = self.http.get("/v1/assistants", params=params)
            response.raise_for_status()
            page = response.json()
            found += page["data"]
            if not page["has_more"]:
                return found
            params["after"] = page["last_id"]

    def stop(self) -> None:
        self.http.close()
        self.process.stop()


def write_manifests(directory: Path, rnd: Round) -> dict[str, str]:
    """The round's manifests under `directory/assistants`; returns `{key: instructions}`."""
    folder = directory / "assistants"
    (folder / "docs").mkdir(parents=True, exist_ok=True)
    wanted = {}
    for n in range(rnd.manifests):
        key = f"race-{n:02d}"
        wanted[key] = f"Round {rnd.name} seed {rnd.seed}, assistant {n}."
        lines = [f"name: Race {n}", "model: gpt-4", f"instructions: {wanted[key]}"]
        if n < rnd.files:
            (folder / "docs" / f"doc-{n:02d}.md").write_text(f"Knowledge {n} of round {rnd.seed}.\n")
            lines += ["tools:", "  - type: retrieval", "files:", f"  - docs/doc-{n:02d}.md"]
        (folder / f"{key}.yaml").write_text("\n".join(lines) + "\n")
    return wanted


def _environment(emulator: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RECONCILER_"))}
    return {
        **env,
        "OPENAI_API_KEY": EMULATOR_API_KEY,
        "OPENAI_BASE_URL": emulator.url + "/v1",
        "NO_COLOR": "1",
    }


def _reconciler(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", *args]


def run_round(emulator: Emulator, rnd: Round, root: Path) -> Outcome:
    """Run one round in fresh directories under `root` and check what it left (module docstring)."""
    emulator.set_faults({})
    emulator.reset()
    env = _environment(emulator)
    dirs = [root / f"checkout-{i}" for i in range(rnd.processes)]
    wanted = {}
    for directory in dirs:
        wanted = write_manifests(directory, rnd)
    apply_args = ["apply", "--format", "json", "--max-retries", "8", "--settle-seconds", str(rnd.settle)]
    if rnd.saved:
        subprocess.run(
            _reconciler("plan", "--out", "plan.json"), cwd=dirs[0], env=env, check=True, capture_output=True
        )
        for directory in dirs[1:]:
            (directory / "plan.json").write_bytes((dirs[0] / "plan.json").read_bytes())
        apply_args.append("plan.json")
    else:
        apply_args.append("--auto-approve")
    emulator.set_faults(rnd.faults())
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            _reconciler(*apply_args), cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for d in dirs
    ]
    outputs = [p.communicate(timeout=PROCESS_TIMEOUT) for p in procs]
    outcome = Outcome(rnd, seconds=time.monotonic() - started, exit_codes=[p.returncode for p in procs])
    emulator.set_faults({})
    _check(emulator, wanted, outputs, outcome)
    return outcome


def _check(
    emulator: Emulator, wanted: dict[str, str], outputs: list[tuple[bytes, bytes]], out: Outcome
) -> None:
    assistants = emulator.listing("assistants")
    by_key: dict[str, list[dict[str, Any]]] = {}
    for assistant in assistants:
        by_key.setdefault((assistant.get("metadata") or {}).get(MARKER_KEY, ""), []).append(assistant)
    final: dict[str, str] = {}
    for key, instructions in wanted.items():
        claimants = by_key.pop(key, [])
        if not claimants:
            out.lost += 1
            out.problems.append(f"{key}: no assistant")
            continue
        if len(claimants) > 1:
            out.duplicates += len(claimants) - 1
            out.problems.append(
                f"{key}: {len(claimants)} assistants ({', '.join(a['id'] for a in claimants)})"
            )
        final[key] = claimants[0]["id"]
        if claimants[0].get("instructions") != instructions:
            out.problems.append(f"{key}: instructions {claimants[0].get('instructions')!r}")
    if by_key:
        out.problems.append(f"unexpected assistants: {sorted(by_key)}")
    contents = [f["filename"] for f in emulator.listing("files")]
    out.file_copies = len(contents) - len(set(contents))
    if out.file_copies:
        out.problems.append(f"{len(contents)} files for {len(set(contents))} contents")
    for n, (stdout, stderr) in enumerate(outputs):
        _check_report(n, stdout, stderr, final, out)


def _check_report(n: int, stdout: bytes, stderr: bytes, final: dict[str, str], out: Outcome) -> None:
    """A process's report agrees with the end state: what it created or updated is the assistant that
    claims the key now, what it deleted is gone; it exits 0 unless its report shows a failure, or it refused
    a saved plan as stale, or a plan over the delete limits (duplicates seen mid-race), before writing."""
    code = out.exit_codes[n]
    text = stderr.decode(errors="replace")
    try:
        report = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        out.problems.append(f"process {n}: stdout is not JSON: {stdout[:200]!r}")
        return
    if report is None:
        if not (code == 1 and ("plan is stale" in text or "--force required" in text)):
            out.problems.append(f"process {n}: exit {code} without a report: {text.strip()[-300:]}")
        return
    failed = False
    for result in report["results"]:
        key, rid, status = result["key"], result["id"], result["status"]
        failed |= status == "failed"
        if status in ("created", "updated") and final.get(key) != rid:
            out.problems.append(f"process {n}: {key} {status} {rid}, but {final.get(key)} claims it")
        if status == "deleted" and rid in final.values():
            out.problems.append(f"process {n}: {key} deleted {rid}, which still exists")
        out.creates += status == "created"
    failed |= any(f["status"] == "failed" for f in report.get("files", ()))
    if (code != 0) != failed:
        out.problems.append(f"process {n}: exit {code} with failed={failed}: {text.strip()[-300:]}")
