"""The emulator's answers are the same bytes whichever path made them: stored assistant and agent texts,
and pages spliced from them, equal `json.dumps` of the API objects with starlette's `JSONResponse` options,
as the app always answered; a state file from before the stored texts is served the same."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_emulator_fidelity import upload

from reconciler import agents_facts as facts
from reconciler.emulator.responses import dumps, list_body
from reconciler.emulator.testing import InProcessEmulator

MakeEmulator = Callable[..., InProcessEmulator]

TRICKY = 'Café ☕ 日本語 "quoted" back\\slash\nnew line\ttab \x01 \u2028 😀 </script>'
FUNCTION = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": TRICKY,
        "parameters": {
            "type": "object",
            "properties": {
                "q": {"type": "string", "enum": ["ä", "ß", None, True, 2.5, -3, 1e-07]},
                "nested": {"type": "array", "items": {"type": "object", "properties": {}}},
            },
            "required": ["q"],
        },
    },
}


def old_json(obj: Any) -> bytes:
    """What the app answered before stored texts: starlette's `JSONResponse.render`."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def envelope(objects: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": objects,
        "first_id": objects[0]["id"] if objects else None,
        "last_id": objects[-1]["id"] if objects else None,
        "has_more": has_more,
    }


def expected(made: dict[str, Any], sent: dict[str, Any], file_ids: list[str]) -> dict[str, Any]:
    """The assistant object built independently: the server's id and created_at, the sent fields, the
    defaults, in the API's key order."""
    return {
        "id": made["id"],
        "object": "assistant",
        "created_at": made["created_at"],
        "name": sent.get("name"),
        "description": sent.get("description"),
        "model": sent["model"],
        "instructions": sent.get("instructions"),
        "tools": sent.get("tools", []),
        "file_ids": file_ids,
        "metadata": sent.get("metadata", {}),
        "top_p": float(sent.get("top_p", 1.0)),
        "temperature": float(sent.get("temperature", 1.0)),
        "response_format": sent.get("response_format", "auto"),
    }


def assert_answer(response: httpx.Response, obj: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.content == old_json(obj)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))


#: (query, the objects of the page, has_more)
Pages = list[tuple[dict[str, str | int], list[dict[str, Any]], bool]]


async def assert_pages(client: httpx.AsyncClient, path: str, pages: Pages) -> None:
    """Each list page, as the bytes of its whole list object; then each object's own answer."""
    for params, want, more in pages:
        assert_answer(await client.get(path, params=params), envelope(want, more))
    for obj in pages[0][1]:
        assert_answer(await client.get(f"{path}/{obj['id']}"), obj)


async def assert_lists(client: httpx.AsyncClient, objects: list[dict[str, Any]]) -> None:
    """Every page, both orders, after and before cursors."""
    pages: Pages = [
        ({"order": "asc"}, objects, False),
        ({"order": "desc"}, objects[::-1], False),
        ({"order": "asc", "limit": 2}, objects[:2], True),
        ({"order": "asc", "limit": 2, "after": objects[1]["id"]}, objects[2:4], len(objects) > 4),
        ({"order": "asc", "limit": 2, "before": objects[-1]["id"]}, objects[-3:-1], True),
        ({"order": "desc", "after": objects[0]["id"]}, [], False),
        ({"order": "asc", "after": objects[-1]["id"]}, [], False),
    ]
    await assert_pages(client, "/assistants", pages)


@pytest.mark.anyio
async def test_assistants_are_answered_byte_for_byte_as_json_dumps(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        first, second = await upload(client, "a.txt"), await upload(client, "b.md")
        bodies: list[tuple[dict[str, Any], list[str]]] = [
            ({"model": "gpt-4"}, []),
            (
                {
                    "model": "gpt-4-1106-preview",
                    "name": TRICKY[:200],
                    "description": "",
                    "instructions": TRICKY * 20,
                    "tools": [{"type": "retrieval"}, {"type": "code_interpreter"}, FUNCTION],
                    "file_ids": [second, first],
                    "metadata": {"ключ": "値 ☕", "empty": "", "quote": '"'},
                    "top_p": 0.3333333333333333,
                    "temperature": 1e-05,
                    "response_format": {"type": "json_object"},
                },
                [first, second],  # by the files' creation, not as given
            ),
            ({"model": "gpt-3.5-turbo", "temperature": 2, "metadata": {"k": "v"}, "name": None}, []),
            ({"model": "gpt-4", "instructions": "x" * 32_768, "tools": [FUNCTION]}, []),
            ({"model": "gpt-4", "name": "last"}, []),
        ]
        objects = []
        for sent, file_ids in bodies:
            response = await client.post("/assistants", json=sent)
            objects.append(expected(response.json(), sent, file_ids))
            assert_answer(response, objects[-1])
        await assert_lists(client, objects)

        # every write that changes what an assistant answers changes its stored text
        response = await client.post(f"/assistants/{objects[0]['id']}", json={"name": "renamed é"})
        objects[0]["name"] = "renamed é"
        assert_answer(response, objects[0])
        held = f"/assistants/{objects[1]['id']}"
        for write, file_ids in (
            (client.delete(f"{held}/files/{first}"), [second]),
            (client.delete(f"/files/{second}"), []),
            (client.post(f"{held}/files", json={"file_id": first}), [first]),
        ):
            response = await write
            assert response.status_code == 200, response.text
            objects[1]["file_ids"] = file_ids
            assert_answer(await client.get(held), objects[1])
        assert (await client.delete(f"/assistants/{objects[2]['id']}")).status_code == 200
        del objects[2]
        await assert_lists(client, objects)
        association = response.json()
        assert_answer(
            await client.get(f"/assistants/{objects[1]['id']}/files"), envelope([association], False)
        )


@pytest.mark.anyio
async def test_agents_are_answered_byte_for_byte_as_json_dumps(emulator: InProcessEmulator) -> None:
    """Agents are kept as texts too: a page is its objects' texts as created or updated, in the agent's key
    order (the reference's `RESPONSE_FIELDS`, server-set fields first)."""
    async with emulator.client(kind="agents") as client:
        bodies: list[dict[str, Any]] = [
            {"model": "gpt-5"},
            {"model": "gpt-5", "name": TRICKY[:64], "instructions": TRICKY, "metadata": {"ключ": "値 ☕"}},
            {"model": "gpt-5", "reasoning": {"effort": "high"}, "tools": [{"type": "tool_search"}]},
        ]
        agents = []
        for body in bodies:
            response = await client.post("/agents", json=body)
            agents.append(response.json())
            assert_answer(response, agents[-1])
        assert list(agents[0])[:4] == ["id", "object", "created_at", "updated_at"]
        assert sorted(agents[0]) == list(facts.RESPONSE_FIELDS)
        response = await client.post(f"/agents/{agents[0]['id']}", json={"name": "renamed é"})
        agents[0] = response.json()
        assert agents[0]["name"] == "renamed é"
        assert_answer(response, agents[0])
        pages: Pages = [
            ({"order": "asc"}, agents, False),
            ({"order": "desc", "limit": 2}, agents[:0:-1], True),
            ({"order": "asc", "after": agents[0]["id"]}, agents[1:], False),
        ]
        await assert_pages(client, "/agents", pages)


@pytest.mark.anyio
async def test_a_state_file_from_before_stored_texts_is_served_the_same(
    tmp_path: Path, make_emulator: MakeEmulator
) -> None:
    db = tmp_path / "old.sqlite3"
    first = make_emulator(db=db)
    async with first.client() as client:
        file_id = await upload(client, "a.txt")
        made = [
            (await client.post("/assistants", json=body)).json()
            for body in (
                {"model": "gpt-4", "name": TRICKY, "tools": [{"type": "retrieval"}], "file_ids": [file_id]},
                {"model": "gpt-4", "tools": [FUNCTION], "metadata": {"ключ": "値"}},
            )
        ]
        gone = (await client.post("/assistants", json={"model": "gpt-4"})).json()
        await client.delete(f"/assistants/{gone['id']}")
    async with first.client(kind="agents") as client:
        agent = (await client.post("/agents", json={"model": "gpt-5", "name": TRICKY[:64]})).json()
    first.state.store.close()
    conn = sqlite3.connect(db)
    for table in ("assistants", "agents"):  # the tables as earlier versions made them
        conn.execute(f"ALTER TABLE {table} DROP COLUMN body")
    conn.close()

    second = make_emulator(db=db)
    async with second.client() as client:
        assert_answer(await client.get("/assistants", params={"order": "asc"}), envelope(made, False))
        assert_answer(await client.get(f"/assistants/{made[0]['id']}"), made[0])
        assert (await client.get("/assistants", params={"after": gone["id"]})).status_code == 200
    async with second.client(kind="agents") as client:
        assert_answer(await client.get("/agents"), envelope([agent], False))
        assert_answer(await client.get(f"/agents/{agent['id']}"), agent)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(st.dictionaries(st.text(), JSON, max_size=5), max_size=5), st.booleans())
def test_a_spliced_page_is_json_dumps_of_the_list_object(
    objects: list[dict[str, Any]], has_more: bool
) -> None:
    items = [{"id": f"obj_{i}", **o} for i, o in enumerate(objects)]
    spliced = list_body([o["id"] for o in items], [dumps(o) for o in items], has_more)
    options: dict[str, Any] = {"ensure_ascii": False, "allow_nan": False, "separators": (",", ":")}
    assert spliced == json.dumps(envelope(items, has_more), **options)
