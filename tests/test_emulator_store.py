"""SQLite state: survives restarts, stays consistent under concurrent writers, `--local` layout."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator.inprocess import InProcessTransport, local_app
from reconciler.emulator.store import Store
from reconciler.emulator.testing import InProcessEmulator, LiveEmulator

MakeEmulator = Callable[..., InProcessEmulator]


@pytest.mark.anyio
async def test_state_survives_a_restart(tmp_path: Path, make_emulator: MakeEmulator) -> None:
    db = tmp_path / "state" / "emulator.sqlite3"
    first = make_emulator(db=db)
    async with first.client() as client:
        file = (
            await client.post("/files", files={"file": ("a.txt", b"abc")}, data={"purpose": "assistants"})
        ).json()
        created = (await client.post("/assistants", json={"model": "gpt-4", "file_ids": [file["id"]]})).json()
        deleted = (await client.post("/assistants", json={"model": "gpt-4"})).json()
        await client.delete(f"/assistants/{deleted['id']}")
    first.state.store.close()

    second = make_emulator(db=db)
    async with second.client() as client:
        assert (await client.get(f"/assistants/{created['id']}")).json() == created
        assert [a["id"] for a in (await client.get("/assistants")).json()["data"]] == [created["id"]]
        assert (await client.get(f"/files/{file['id']}/content")).content == b"abc"
        # the tombstone of the deleted assistant still works as a cursor after the restart
        assert (await client.get("/assistants", params={"after": deleted["id"]})).status_code == 200


def test_live_server_restart_keeps_state(
    tmp_path: Path, make_live_emulator: Callable[..., LiveEmulator]
) -> None:
    db = tmp_path / "live.sqlite3"
    first = make_live_emulator(db=db)
    with first.client() as client:
        created = client.post("/assistants", json={"model": "gpt-4", "name": "kept"}).json()
    first.close()
    first.server.stop()
    second = make_live_emulator(db=db)
    with second.client() as client:
        assert client.get(f"/assistants/{created['id']}").json()["name"] == "kept"


def test_concurrent_writers_on_one_file(tmp_path: Path) -> None:
    """Several stores (as several processes would have) write the same file at once."""
    db = tmp_path / "shared.sqlite3"
    stores = [Store(db) for _ in range(4)]
    fields: dict[str, Any] = {
        "name": None,
        "description": None,
        "model": "gpt-4",
        "instructions": None,
        "tools": [],
        "metadata": {},
        "top_p": 1.0,
        "temperature": 1.0,
        "response_format": "auto",
    }
    errors: list[BaseException] = []

    def writer(store: Store, n: int) -> None:
        try:
            for i in range(25):
                created = store.create_assistant({**fields, "name": f"{n}-{i}"}, [])
                if i % 5 == 0:
                    store.update_assistant(created["id"], {"metadata": {"i": str(i)}}, None)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(store, n)) for n, store in enumerate(stores * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    page = stores[0].list_assistants(limit=100, order="asc")
    rest = stores[1].list_assistants(limit=100, order="asc", after=page.data[-1]["id"])
    names = {a["name"] for a in page.data + rest.data}
    assert len(names) == 200 and not rest.has_more
    for store in stores:
        store.close()


@pytest.mark.anyio
async def test_concurrent_requests_over_http(live_emulator: LiveEmulator) -> None:
    async with live_emulator.async_client() as client:
        responses = await asyncio.gather(
            *(client.post("/assistants", json={"model": "gpt-4", "name": f"c{i}"}) for i in range(40))
        )
        assert {r.status_code for r in responses} == {200}
        listed = (await client.get("/assistants", params={"limit": 100})).json()["data"]
    assert sorted(a["name"] for a in listed) == sorted(f"c{i}" for i in range(40))


@pytest.mark.anyio
async def test_local_app_layout(tmp_path: Path) -> None:
    app = local_app(tmp_path)
    folder = tmp_path / ".reconciler"
    assert (folder / ".gitignore").read_text() == "*\n"
    async with httpx.AsyncClient(
        transport=InProcessTransport(app),
        base_url="http://reconciler.local/v1",
        headers={"Authorization": "Bearer anything", "OpenAI-Beta": "assistants=v1"},
    ) as client:
        assert (await client.post("/assistants", json={"model": "gpt-4"})).status_code == 200
    app.state.emulator.store.close()
    assert (folder / "local.sqlite3").is_file()
    again = local_app(tmp_path)
    assert again.state.emulator.store.counts()["assistants"] == 1
    again.state.emulator.store.close()
