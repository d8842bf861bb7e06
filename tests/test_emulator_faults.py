"""Fault injection: deterministic with a seed; 500/503 before anything happens; 429 with retry headers;
dropped writes that commit and then close the connection (in-process and over real HTTP); latency."""

from __future__ import annotations

import time

import httpx
import pytest

from reconciler.emulator.faults import FaultConfig, FaultInjector, go_duration
from reconciler.emulator.server import EmulatorServer, is_loopback, serve
from reconciler.emulator.testing import InProcessEmulator, LiveEmulator
from reconciler.errors import ConfigError


async def statuses(client: httpx.AsyncClient, n: int) -> list[int]:
    return [(await client.get("/models")).status_code for _ in range(n)]


@pytest.mark.anyio
async def test_fail_rate_is_deterministic_with_a_seed(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        emulator.set_faults(fail_rate=0.5, seed=42)
        first = await statuses(client, 40)
        emulator.set_faults(fail_rate=0.5, seed=42)
        assert await statuses(client, 40) == first
        emulator.set_faults(fail_rate=0.5, seed=7)
        assert await statuses(client, 40) != first
    assert {500, 503, 200} == set(first)


@pytest.mark.anyio
async def test_failure_happens_before_anything(emulator: InProcessEmulator) -> None:
    emulator.set_faults(fail_rate=1, seed=1)
    async with emulator.client() as client:
        response = await client.post("/assistants", json={"model": "gpt-4"})
        assert response.status_code in (500, 503)
        err = response.json()["error"]
        assert (err["type"], err["param"], err["code"]) == ("server_error", None, None)
        assert response.headers["x-request-id"].startswith("req_")
        emulator.set_faults()
        assert (await client.get("/assistants")).json()["data"] == []
        assert (await client.get("http://emulator.local/_emulator/stats")).status_code == 200
    assert emulator.stats()["by_route"] == {"POST /v1/assistants": 1, "GET /v1/assistants": 1}


@pytest.mark.anyio
async def test_rate_limit_429_headers(emulator: InProcessEmulator) -> None:
    now = [100.0]
    emulator.state.faults.clock = lambda: now[0]
    emulator.set_faults(rate_limit_rps=2)
    async with emulator.client() as client:
        ok = [await client.get("/models") for _ in range(2)]
        assert [r.status_code for r in ok] == [200, 200]
        assert (
            ok[0].headers["x-ratelimit-limit-requests"],
            ok[0].headers["x-ratelimit-remaining-requests"],
        ) == (
            "2",
            "1",
        )
        assert ok[1].headers["x-ratelimit-reset-requests"] == "1s"
        limited = await client.get("/models")
        assert limited.status_code == 429
        assert (limited.headers["retry-after-ms"], limited.headers["retry-after"]) == ("500", "1")
        err = limited.json()["error"]
        assert (err["type"], err["code"]) == ("requests", "rate_limit_exceeded")
        now[0] += 0.25
        assert (await client.get("/models")).headers["retry-after-ms"] == "250"
        now[0] += 0.25
        assert (await client.get("/models")).status_code == 200
        assert (
            await client.get("http://emulator.local/_emulator/requests")
        ).status_code == 200  # never limited


@pytest.mark.anyio
async def test_drop_commits_then_drops_in_process(emulator: InProcessEmulator) -> None:
    emulator.set_faults(drop_rate=1)
    async with emulator.client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/assistants", json={"model": "gpt-4", "name": "ghost"})
        listed = (await client.get("/assistants")).json()["data"]  # reads are never dropped
        assert [a["name"] for a in listed] == ["ghost"]
        with pytest.raises(httpx.TransportError):
            await client.delete(f"/assistants/{listed[0]['id']}")
        assert (await client.get("/assistants")).json()["data"] == []
    log = emulator.requests()
    assert [(r["method"], r["status"], r["dropped"]) for r in log] == [
        ("POST", 200, True),
        ("GET", 200, False),
        ("DELETE", 200, True),
        ("GET", 200, False),
    ]


def test_drop_closes_a_real_connection(live_emulator: LiveEmulator) -> None:
    live_emulator.set_faults(drop_rate=1)
    with live_emulator.client() as client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            client.post("/assistants", json={"model": "gpt-4", "name": "ghost"})
        assert [a["name"] for a in client.get("/assistants").json()["data"]] == ["ghost"]
    assert live_emulator.stats()["total"] == 2


def test_seeded_drops_are_deterministic_over_http(live_emulator: LiveEmulator) -> None:
    def run() -> list[str]:
        live_emulator.reset()
        live_emulator.set_faults(drop_rate=0.5, seed=11)
        outcomes = []
        with live_emulator.client() as client:
            for _ in range(12):
                try:
                    client.post("/assistants", json={"model": "gpt-4"})
                    outcomes.append("ok")
                except httpx.TransportError:
                    outcomes.append("dropped")
            assert len(client.get("/assistants", params={"limit": 100}).json()["data"]) == 12
        return outcomes

    first = run()
    assert first == run()
    assert set(first) == {"ok", "dropped"}


@pytest.mark.anyio
async def test_latency(emulator: InProcessEmulator) -> None:
    emulator.set_faults(latency_ms=5)
    async with emulator.client() as client:
        started = time.perf_counter()
        await client.get("/models")
        assert time.perf_counter() - started >= 0.005


def test_injector_draws_the_same_numbers_for_every_route() -> None:
    a, b = (
        FaultInjector(FaultConfig(fail_rate=0.3, drop_rate=0.3, seed=5)),
        FaultInjector(FaultConfig(fail_rate=0.3, drop_rate=0.3, seed=5)),
    )
    fates_a = [a.decide("POST") for _ in range(30)]
    fates_b = [b.decide("POST" if i % 2 else "DELETE") for i in range(30)]
    assert fates_a == fates_b
    assert FaultInjector(FaultConfig(drop_rate=1)).decide("GET").drop is False


def test_fault_config_validation() -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        FaultConfig(fail_rate=1.5)
    with pytest.raises(ValueError, match="unknown fault setting"):
        FaultConfig.from_dict({"fail": 1})
    assert FaultConfig.from_dict({"seed": 3}) == FaultConfig(seed=3)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.006, "6ms"), (0.9991, "1000ms"), (1, "1s"), (1.5, "1.5s"), (360, "6m0s")]
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_binding_beyond_loopback_needs_a_key() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without --api-key"):
        serve(host="0.0.0.0", port=0, db=None, api_key=None, faults=None)
    with pytest.raises(ConfigError):
        EmulatorServer(host="0.0.0.0")


@pytest.mark.anyio
async def test_injected_responses(emulator: InProcessEmulator) -> None:
    emulator.inject(
        409, route="POST /v1/assistants", headers={"x-should-retry": "false", "x-request-id": "req_x"}
    )
    emulator.inject(500, times=2)
    async with emulator.client() as client:
        assert (await client.get("/models")).status_code == 500  # route None matches any /v1 request
        conflict = await client.post("/assistants", json={"model": "gpt-4"})
        assert (conflict.status_code, conflict.headers["x-should-retry"]) == (409, "false")
        assert conflict.headers.get_list("x-request-id") == ["req_x"]  # injected headers replace defaults
        assert (await client.post("/assistants", json={"model": "gpt-4"})).status_code == 500
        assert (await client.get("/assistants")).json()["data"] == []  # injected answers run nothing
        assert (await client.post("/assistants", json={"model": "gpt-4"})).status_code == 200
