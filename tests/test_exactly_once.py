"""`exactly_once.write_once` against the emulator's fault injection: dropped writes (committed, answer lost),
late commits (`commit_delay_ms`), failing look-ups. Whatever the faults, one write makes one object, or the
error says the write was given up after a bounded number of sends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from apply_support import client_for, markers

from reconciler import dialect
from reconciler.client import Client, RemoteAssistant
from reconciler.emulator.testing import InProcessEmulator
from reconciler.errors import ReconcilerError
from reconciler.exactly_once import write_once

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Case:
    name: str
    faults: dict[str, Any]
    #: The key the look-up searches for: "k" finds the write, anything else never does.
    look_for: str = "k"
    attempts: int = 3
    #: What the outcome is: "response" (answered), "found" (lost answer found), or the error's ending.
    outcome: str = "response"
    #: How many assistants carry the key afterwards.
    held: int = 1
    fail_look_up: bool = False


CASES = [
    Case("answered", {}),
    Case("answer lost, found at once", {"drop_rate": 1.0}, outcome="found"),
    Case(
        "committed after the connection closed, found after settling",
        {"drop_rate": 1.0, "commit_delay_ms": 100},
        outcome="found",
    ),
    Case(
        "never found: sent at most `attempts` times",
        {"drop_rate": 1.0},
        look_for="other",
        outcome="not found by key after 3 attempts, giving up",
        held=3,
    ),
    Case(
        "look-up fails: nothing more is sent",
        {"drop_rate": 1.0},
        outcome="the next plan will show whether it exists",
        fail_look_up=True,
    ),
]


async def _find(client: Client, key: str) -> RemoteAssistant | None:
    found = [a for a in await client.list_assistants() if dialect.marker_of(a) == key]
    return found[0] if found else None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_write_once(emulator: InProcessEmulator, case: Case) -> None:
    body = {"model": "gpt-4", "metadata": {dialect.MARKER_KEY: "k"}}
    async with client_for(emulator, max_retries=0) as client:
        emulator.set_faults(**case.faults)
        if case.fail_look_up:
            emulator.inject(500, route="GET /v1/assistants")  # the first look-up
        try:
            written = await write_once(
                lambda: client.create_assistant(body),
                lambda: _find(client, case.look_for),
                attempts=case.attempts,
                settle=0.3,
                by="key",
            )
        except ReconcilerError as err:
            outcome = str(err)
            assert outcome.startswith("POST /assistants: ")
        else:
            outcome = "response" if written.response is not None else "found"
            assert (written.response is None) != (written.found is None)
        emulator.set_faults()
        await anyio.sleep(0.2)  # any late commit (commit_delay_ms) lands before counting
        held = markers(await client.list_assistants())["k"]
    assert outcome.endswith(case.outcome), outcome
    assert held == case.held


async def test_attempts_must_be_positive() -> None:
    async def never() -> None:
        raise AssertionError("not sent")

    with pytest.raises(ValueError, match="attempts must be >= 1"):
        await write_once(never, never, attempts=0, settle=0, by="key")
