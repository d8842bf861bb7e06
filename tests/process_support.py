"""`reconciler emulator` as a child process on a loopback port, for tests that need a real, separate server
process (tests/test_emulator_store.py, tests/race_support.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reconciler.emulator.testing import EMULATOR_API_KEY, NODELAY


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmulatorProcess:
    """`python -m reconciler emulator --db DB --port PORT --api-key KEY` as a child process (loopback only);
    its stdout and stderr go to `log`."""

    def __init__(self, db: Path, log: Path):
        self.db = db
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [
                    *(sys.executable, "-m", "reconciler", "emulator"),
                    *("--db", str(db), "--port", str(self.port), "--api-key", EMULATOR_API_KEY),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def client(self, *, root: bool = False) -> httpx.Client:
        """A sync client on `/v1` (or the root URL, for `/_emulator`), ignoring proxy settings."""
        return httpx.Client(
            base_url=self.url if root else self.url + "/v1",
            headers={"Authorization": f"Bearer {EMULATOR_API_KEY}", "OpenAI-Beta": "assistants=v1"},
            transport=httpx.HTTPTransport(verify=False, socket_options=NODELAY),
            trust_env=False,
            timeout=10,
        )

    def wait_ready(self, timeout: float = 10.0) -> EmulatorProcess:
        """Poll until the server answers `GET /v1/assistants` with 200; fail (with its log) if it exits or
        takes longer than `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                if self.popen.poll() is not None:
                    pytest.fail(f"emulator exited with {self.popen.returncode}:\n{self.log.read_text()}")
                try:
                    if client.get("/assistants", params={"limit": 1}, timeout=1).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"emulator did not answer within {timeout} s:\n{self.log.read_text()}")
                time.sleep(0.02)

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (uvicorn shuts down, the store is closed) or, with `kill`, SIGKILL (no clean-up at all)."""
        if self.popen.poll() is None:
            if kill:
                self.popen.kill()
            else:
                self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung shutdown
                self.popen.kill()
                self.popen.wait(5)
