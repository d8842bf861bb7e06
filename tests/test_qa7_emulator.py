"""QA pass 7: `reconciler emulator --api-key` as a CI sandbox sets it.

An empty key (`--api-key ""`, or one of spaces) was taken as no key: the emulator said `any non-empty API
key accepted` and served everyone, though the user asked for one key (an empty RECONCILER_EMULATOR_API_KEY
is click's "not set", and still means no key). A key
with a line break (a pasted secret) was taken too, and then no client could ever send it: every request
answered 401. Both are now a usage error naming the option (never the key); a key with spaces around it is
kept stripped, as clients send it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

CLI = (sys.executable, "-m", "reconciler")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "is empty: pass the key clients will send, or leave the option out to accept any key"),
        ("   ", "is empty: pass the key clients will send, or leave the option out to accept any key"),
        ("sk-sandbox\nline2", "has a line break at position 11 of 16, which no HTTP header can carry"),
    ],
)
def test_a_key_no_client_can_send_is_a_usage_error(tmp_path: Path, key: str, message: str) -> None:
    done = subprocess.run(
        [*CLI, "emulator", "--port", "0", "--api-key", key],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines()[-1] == f"Error: Invalid value for '--api-key': {message}"
    assert "line2" not in done.stderr


def test_a_key_with_spaces_around_it_is_the_key_clients_send(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--api-key", " sk-sandbox-123 \n"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().removeprefix("OPENAI_BASE_URL=")
        headers = {"OpenAI-Beta": "assistants=v1", "Authorization": "Bearer sk-sandbox-123"}
        assert httpx.get(f"{url}/assistants", headers=headers).status_code == 200
        wrong = {**headers, "Authorization": "Bearer sk-other-456"}
        assert httpx.get(f"{url}/assistants", headers=wrong).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
