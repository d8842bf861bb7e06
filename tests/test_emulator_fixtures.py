"""The conftest emulator fixtures work as documented (in-process and live)."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator.testing import InProcessEmulator, LiveEmulator


@pytest.mark.anyio
async def test_in_process_fixture_round_trip(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        created = (await client.post("/assistants", json={"model": "gpt-4"})).json()
        listed = (await client.get("/assistants")).json()
    assert [a["id"] for a in listed["data"]] == [created["id"]]
    assert emulator.stats()["by_route"] == {"GET /v1/assistants": 1, "POST /v1/assistants": 1}
    assert [(r["method"], r["route"], r["body"]) for r in emulator.requests()] == [
        ("POST", "/v1/assistants", {"model": "gpt-4"}),
        ("GET", "/v1/assistants", None),
    ]
    emulator.reset_stats()
    assert emulator.stats()["total"] == 0


def test_live_fixture_round_trip(live_emulator: LiveEmulator) -> None:
    with live_emulator.client() as client:
        created = client.post("/assistants", json={"model": "gpt-4"}).json()
        assert client.get(f"/assistants/{created['id']}").json() == created
    stats = live_emulator.stats()
    assert stats["total"] == 2
    assert stats["by_route"]["GET /v1/assistants/{assistant_id}"] == 1
    live_emulator.set_faults(fail_rate=1, seed=1)
    with live_emulator.client() as client:
        assert client.get("/models").status_code in (500, 503)


def test_live_fixture_is_reset_between_tests(live_emulator: LiveEmulator) -> None:
    assert live_emulator.stats()["total"] == 0
    with live_emulator.client() as client:
        assert client.get("/assistants").json()["data"] == []


@pytest.mark.anyio
async def test_in_process_drop_is_a_transport_error(emulator: InProcessEmulator) -> None:
    emulator.set_faults(drop_rate=1)
    async with emulator.client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/assistants", json={"model": "gpt-4"})
        emulator.set_faults()
        assert len((await client.get("/assistants")).json()["data"]) == 1
