"""Cursor pagination of assistants and assistant files: order, after/before, limit bounds, ties in
`created_at`, empty pages past the end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator.testing import InProcessEmulator


async def create(client: httpx.AsyncClient, n: int) -> list[str]:
    ids = []
    for i in range(n):
        response = await client.post("/assistants", json={"model": "gpt-4", "name": f"a{i}"})
        ids.append(response.json()["id"])
    return ids


async def page(client: httpx.AsyncClient, path: str = "/assistants", **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def walk(client: httpx.AsyncClient, path: str = "/assistants", **params: Any) -> list[str]:
    """Follow `after` like SDK v1.20.0: until an empty page, ignoring has_more."""
    seen: list[str] = []
    after: str | None = None
    while True:
        body = await page(client, path, **params, **({"after": after} if after else {}))
        if not body["data"]:
            return seen
        seen += [a["id"] for a in body["data"]]
        after = body["last_id"]


@pytest.fixture
def tied(emulator: InProcessEmulator) -> InProcessEmulator:
    """Every object gets the same `created_at`."""
    emulator.state.store.clock = lambda: 1_700_000_000
    return emulator


@pytest.mark.anyio
async def test_order_and_cursors_with_tied_timestamps(tied: InProcessEmulator) -> None:
    async with tied.client() as client:
        ids = await create(client, 25)
        assert {a["created_at"] for a in (await page(client, limit=100))["data"]} == {1_700_000_000}

        assert await walk(client, limit=10) == ids[::-1]
        assert await walk(client, limit=10, order="asc") == ids
        assert await walk(client, limit=1, order="asc") == ids

        first = await page(client)
        assert len(first["data"]) == 20
        assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[24], ids[5], True)
        second = await page(client, after=first["last_id"])
        assert ([a["id"] for a in second["data"]], second["has_more"]) == (ids[4::-1], False)
        assert await page(client, after=ids[0]) == {
            "object": "list",
            "data": [],
            "first_id": None,
            "last_id": None,
            "has_more": False,
        }


@pytest.mark.anyio
async def test_before_returns_the_adjacent_page_in_list_order(tied: InProcessEmulator) -> None:
    async with tied.client() as client:
        ids = await create(client, 10)
        desc = await page(client, before=ids[2], limit=3)  # desc: the 3 newer ones just above ids[2]
        assert ([a["id"] for a in desc["data"]], desc["has_more"]) == ([ids[5], ids[4], ids[3]], True)
        asc = await page(client, before=ids[2], order="asc", limit=5)
        assert ([a["id"] for a in asc["data"]], asc["has_more"]) == ([ids[0], ids[1]], False)
        both = await page(client, after=ids[1], before=ids[6], order="asc")
        assert [a["id"] for a in both["data"]] == ids[2:6]
        assert (await page(client, before=ids[9]))["data"] == []


@pytest.mark.anyio
async def test_cursor_survives_deletion(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        ids = await create(client, 5)
        await client.delete(f"/assistants/{ids[2]}")
        body = await page(client, after=ids[2], order="asc")
        assert [a["id"] for a in body["data"]] == ids[3:]
        response = await client.get("/assistants", params={"after": "asst_unknown"})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "after"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("limit", "message", "code"),
    [
        (
            "0",
            "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 instead.",
            "integer_below_min_value",
        ),
        (
            "101",
            "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead.",
            "integer_above_max_value",
        ),
        (
            "ten",
            "Invalid type for 'limit': expected an integer, but got a string instead ('ten').",
            "invalid_type",
        ),
    ],
)
async def test_limit_bounds(emulator: InProcessEmulator, limit: str, message: str, code: str) -> None:
    async with emulator.client() as client:
        for path in ("/assistants", f"/assistants/{(await create(client, 1))[0]}/files"):
            response = await client.get(path, params={"limit": limit})
            assert response.status_code == 400
            assert response.json()["error"] == {
                "message": message,
                "type": "invalid_request_error",
                "param": "limit",
                "code": code,
            }


@pytest.mark.anyio
async def test_limit_edges_and_order_value(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        ids = await create(client, 101)
        assert len((await page(client, limit=1))["data"]) == 1
        full = await page(client, limit=100)
        assert (len(full["data"]), full["has_more"]) == (100, True)
        assert len((await page(client))["data"]) == 20  # the default
        response = await client.get("/assistants", params={"order": "newest"})
        assert response.json()["error"]["message"] == (
            "Invalid value: 'newest'. Supported values are: 'asc' and 'desc'."
        )
        assert await walk(client, limit=100, order="asc") == ids


@pytest.mark.anyio
async def test_assistant_files_paginate(tied: InProcessEmulator) -> None:
    async with tied.client() as client:
        file_ids = []
        for i in range(7):
            upload = await client.post(
                "/files", files={"file": (f"{i}.txt", b"x")}, data={"purpose": "assistants"}
            )
            file_ids.append(upload.json()["id"])
        assistant = (
            await client.post(
                "/assistants", json={"model": "gpt-4", "tools": [{"type": "retrieval"}], "file_ids": file_ids}
            )
        ).json()
        assert assistant["file_ids"] == file_ids
        path = f"/assistants/{assistant['id']}/files"
        assert await walk(client, path, limit=3, order="asc") == file_ids
        assert await walk(client, path, limit=2) == file_ids[::-1]
        first = await page(client, path, limit=3)
        assert (first["first_id"], first["last_id"], first["has_more"]) == (file_ids[6], file_ids[4], True)
