"""Shared pytest fixtures.

Emulator fixtures (implementation: reconciler/emulator/testing.py). Their emulators accept only the bearer
key `EMULATOR_API_KEY` ("sk-emulator-test-0123456789", also `.api_key`); start each test empty, faults off.

- `emulator` -> `InProcessEmulator`: a fresh in-memory emulator for this test, served in-process (no port).
    .app                 the Starlette app (its state: `.app.state.emulator`)
    .base_url            "http://emulator.local/v1" (in-process, any host works)
    .api_key, .headers(beta=True)    auth (+ `OpenAI-Beta: assistants=v1`) headers; `kind="agents"` (on
                         `.headers()` and `.client()`): `OpenAI-Beta: agents=v1` for `/v1/agents` instead
    .transport()         a new `InProcessTransport` for `httpx.AsyncClient(transport=...)` / the Client
    .client(beta=True)   an `httpx.AsyncClient` with transport, base URL and headers set
    .stats()             {"total", "by_route": {"GET /v1/assistants": N, ...}, "objects": {...}}
    .requests()          [{"method", "route", "path", "query", "body", "headers", "status", "dropped"}]
    .reset_stats()       clears stats and the request log
    .set_faults(FaultConfig(...)) or .set_faults(fail_rate=1, seed=1)  (unset fields are off)
    .inject(409, route="POST /v1/assistants", headers={"x-should-retry": "false"}, body=None, times=1)
    .reset()             deletes every object and clears stats, log, injections and faults
- `make_emulator(api_key=EMULATOR_API_KEY, faults=None, db=None)` -> `InProcessEmulator` (factory; e.g. a
  file `db` or `api_key=None` to accept any key).
- `live_emulator` -> `LiveEmulator`: the same helpers over real HTTP (uvicorn in a thread on a loopback port;
  one server per session, reset before each test), plus `.base_url` ("http://127.0.0.1:PORT/v1"), `.url`
  (root), `.server` (`EmulatorServer`), `.client()` (sync httpx) and `.async_client()` (both `verify=False`:
  a default httpx client spends ~90 ms loading CA certificates).
- `make_live_emulator(api_key=EMULATOR_API_KEY, faults=None, db=None)` -> `LiveEmulator` on its own server,
  stopped at teardown (for file databases, restarts, fault configs at start-up).
- `anyio_backend` is "asyncio": mark async tests `@pytest.mark.anyio`.
- `single_writer` (autouse): `RECONCILER_SETTLE_SECONDS=0`, so applies skip the cross-run settle wait.

Stats count every `/v1` request that reached the emulator, whatever its outcome (401, 404, 429, 5xx and
dropped ones included); `/_emulator` calls are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.emulator.app import create_app
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.testing import EMULATOR_API_KEY, InProcessEmulator, LiveEmulator

__all__ = ["EMULATOR_API_KEY"]

MakeEmulator = Callable[..., InProcessEmulator]
MakeLiveEmulator = Callable[..., LiveEmulator]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def single_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """`apply` runs as the only writer (`RECONCILER_SETTLE_SECONDS=0`: no cross-run wait and listing) unless
    a test says otherwise (tests/test_race.py passes `--settle-seconds`)."""
    monkeypatch.setenv("RECONCILER_SETTLE_SECONDS", "0")


@pytest.fixture
def make_emulator() -> Iterator[MakeEmulator]:
    """Factory for in-process emulators; their stores are closed at teardown."""
    made: list[InProcessEmulator] = []

    def make(
        *,
        api_key: str | None = EMULATOR_API_KEY,
        faults: FaultConfig | None = None,
        db: str | Path | None = None,
    ) -> InProcessEmulator:
        handle = InProcessEmulator(create_app(db=db, api_key=api_key, faults=faults), api_key)
        made.append(handle)
        return handle

    yield make
    for handle in made:
        handle.state.store.close()


@pytest.fixture
def emulator(make_emulator: MakeEmulator) -> InProcessEmulator:
    """A fresh in-memory emulator served in-process (see the module docstring)."""
    return make_emulator()


@pytest.fixture(scope="session")
def _live_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=EMULATOR_API_KEY) as server:
        yield server


@pytest.fixture
def live_emulator(_live_server: EmulatorServer) -> Iterator[LiveEmulator]:
    """The session's HTTP emulator, emptied (objects, stats, log, faults, injections) for this test."""
    handle = LiveEmulator(_live_server)
    handle.reset()
    yield handle
    handle.close()


@pytest.fixture
def make_live_emulator() -> Iterator[MakeLiveEmulator]:
    """Factory for dedicated HTTP emulators, each stopped at teardown."""

    def make(
        *,
        api_key: str | None = EMULATOR_API_KEY,
        faults: FaultConfig | None = None,
        db: str | Path | None = None,
    ) -> LiveEmulator:
        server = EmulatorServer(api_key=api_key, faults=faults, db=db).start()
        handle = LiveEmulator(server)
        made.append(handle)
        return handle

    made: list[LiveEmulator] = []
    yield make
    for handle in made:
        handle.close()
        handle.server.stop()
