"""Ctrl-C and SIGTERM during apply: a real `reconciler apply` process against a slow emulator (latency
faults), signalled after its first results. It stops starting changes, waits for those in flight, and reports
what was applied, what failed and what is unknown; a second signal quits at once, reporting what it knows.
Every assistant the server holds afterwards is in the report."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest
from apply_support import markers
from test_apply_cli import held, manifests
from test_formats import validator

from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.testing import LiveEmulator
from reconciler.usecases.stopping import STOP_GRACE_SECONDS

ROOT = Path(__file__).resolve().parents[1]
KEYS = [f"bot-{i}" for i in range(8)]
SUMMARY = re.compile(
    r"^Apply interrupted: (\d+) applied, (\d+) failed, (\d+) unknown, (\d+) not started "
    r"\(\d+ added, 0 changed, 0 destroyed\)\. Run `reconciler plan` to see the state\.$"
)


class Apply:
    """`reconciler apply --auto-approve` as a child process; stderr is read line by line as it comes."""

    def __init__(self, live: LiveEmulator, directory: Path, *extra: str) -> None:
        env = {**os.environ, "OPENAI_API_KEY": live.api_key or "", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
        args = ["apply", "--auto-approve", "--dir", str(directory), "--base-url", live.base_url, *extra]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args, "--parallelism", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)

    def wait_for_progress(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(line.startswith("[1/") for line in self.stderr):
            assert self.proc.poll() is None, "".join(self.stderr)
            assert time.monotonic() < deadline, "no result within the timeout"
            time.sleep(0.02)

    def finish(self, timeout: float) -> tuple[int, str, str]:
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code, "".join(self.stdout), "".join(self.stderr)


def reported(stdout: str) -> dict[str, str]:
    """`{key: "created" | "unknown" | "not started" | "failed"}` from the report's lines."""
    out = {}
    for line in stdout.splitlines():
        if m := re.match(r"^\+ (\S+): created \(asst_", line):
            out[m[1]] = "created"
        elif m := re.match(r"^\? (\S+): create outcome unknown \(running when apply stopped\)$", line):
            out[m[1]] = "unknown"
        elif m := re.match(r"^  (\S+): create not started$", line):
            out[m[1]] = "not started"
        elif m := re.match(r"^! (\S+): create failed", line):
            out[m[1]] = "failed"
    return out


@pytest.fixture
def slow(make_live_emulator: Any) -> LiveEmulator:
    """An emulator answering every request after 600 ms."""
    live: LiveEmulator = make_live_emulator(faults=FaultConfig(latency_ms=600))
    return live


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_one_signal_stops_starting_and_reports_every_change(
    slow: LiveEmulator, tmp_path: Path, sig: signal.Signals
) -> None:
    apply = Apply(slow, manifests(tmp_path, *KEYS))
    apply.wait_for_progress()
    apply.proc.send_signal(sig)
    code, stdout, stderr = apply.finish(timeout=STOP_GRACE_SECONDS + 20)

    assert code == 1, stdout + stderr
    assert re.search(
        r"^Stopping: no new changes; waiting up to 10 s for \d in flight \(press Ctrl-C again to quit at "
        r"once\)\.$",
        stderr,
        re.M,
    ), stdout + stderr
    assert "Traceback" not in stderr
    summary = SUMMARY.match(stdout.splitlines()[-1])
    assert summary, stdout
    applied, failed, unknown, not_started = map(int, summary.groups())
    states = reported(stdout)
    assert sorted(states) == KEYS  # every planned change has exactly one line
    assert (failed, unknown) == (0, 0)  # the calls in flight finished within the grace period
    assert applied == list(states.values()).count("created") >= 1
    assert not_started == list(states.values()).count("not started") >= 1
    # what the server holds is exactly what the report says was created: nothing committed goes unreported
    on_server = markers(held(slow))
    assert sorted(on_server) == sorted(k for k, s in states.items() if s == "created")


def test_a_second_signal_quits_at_once_naming_what_is_unknown(slow: LiveEmulator, tmp_path: Path) -> None:
    apply = Apply(slow, manifests(tmp_path, *KEYS))
    apply.wait_for_progress()
    apply.proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    apply.proc.send_signal(signal.SIGINT)
    second = time.monotonic()
    code, stdout, stderr = apply.finish(timeout=10)

    assert time.monotonic() - second < 2  # not the 10 s grace period, nor the 600 ms calls
    assert code == 1, stdout + stderr
    assert "Interrupted again: quitting now.\n" in stderr
    assert "Traceback" not in stderr
    summary = SUMMARY.match(stdout.splitlines()[-1])
    assert summary, stdout
    states = reported(stdout)
    assert sorted(states) == KEYS
    assert int(summary[3]) == list(states.values()).count("unknown") >= 1
    time.sleep(1.5)  # let the server finish the calls that were in flight
    for key in markers(held(slow)):  # every assistant on the server is reported: created or unknown
        assert states[key] in ("created", "unknown"), (key, stdout)


def test_the_json_report_of_an_interrupted_apply_says_what_is_unknown(
    slow: LiveEmulator, tmp_path: Path
) -> None:
    apply = Apply(slow, manifests(tmp_path, *KEYS), "--format", "json")
    apply.wait_for_progress()
    apply.proc.send_signal(signal.SIGTERM)
    code, stdout, stderr = apply.finish(timeout=STOP_GRACE_SECONDS + 20)

    assert code == 1, stdout + stderr
    report = json.loads(stdout)
    assert validator("apply-report.json").is_valid(report)
    assert report["ok"] is False
    stopped = report["interrupted"]
    assert stopped["unknown"] == []
    done = [r["key"] for r in report["results"]]
    assert sorted(done + [p["key"] for p in stopped["not_started"]]) == KEYS
    assert {p["action"] for p in stopped["not_started"]} == {"create"}
    assert sorted(markers(held(slow))) == sorted(done)
