"""Saved agents on the emulator (`/v1/agents`, docs/agents-api.md): round trips with the exact bodies,
defaults filled on read, omit / null / value on update, every limit at and one past its boundary, enums,
tool variants, pagination, the per-route beta header, faults on agent routes, several processes on one file,
and the official SDK when it has an agents resource."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from process_support import EmulatorProcess

from reconciler import agents_facts as facts
from reconciler.emulator.testing import InProcessEmulator, LiveEmulator

AGENT_ID = re.compile(r"agent_[A-Za-z0-9]{24}")
NOW = 1_800_000_000


def defaults(**fields: Any) -> dict[str, Any]:
    """The fields of an agent created with only `model` (§5), updated with `fields`."""
    return {
        "model": "gpt-5",
        "instructions": None,
        "name": None,
        "metadata": {},
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "auto",
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "multi_agent": {"enabled": False, "max_concurrent_subagents": None},
        "tools": [],
        **fields,
    }


def error(
    message: str, param: str | None = None, code: str | None = None, type: str = "invalid_request_error"
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@pytest.fixture
def clock(emulator: InProcessEmulator) -> list[int]:
    """The store's clock, in whole seconds, moved by the test."""
    now = [NOW]
    emulator.state.store.clock = lambda: now[0]
    return now


@pytest.fixture
async def client(emulator: InProcessEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with emulator.client(kind="agents") as client:
        yield client


async def ok(response: Any) -> dict[str, Any]:
    answer = await response
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def refused(response: Any, status: int = 400) -> dict[str, Any]:
    answer = await response
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


# -- round trips --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_create_retrieve_update_list_delete(client: httpx.AsyncClient, clock: list[int]) -> None:
    created = await ok(client.post("/agents", json={"model": "gpt-5"}))
    assert AGENT_ID.fullmatch(created["id"])
    assert created == {
        "id": created["id"],
        "object": "agent",
        "created_at": NOW,
        "updated_at": NOW,
        **defaults(),
    }
    assert sorted(created) == list(facts.RESPONSE_FIELDS)
    agent_id = created["id"]
    assert await ok(client.get(f"/agents/{agent_id}")) == created

    clock[0] += 5
    updated = await ok(
        client.post(f"/agents/{agent_id}", json={"name": "helper", "instructions": "Be brief."})
    )
    assert updated == {
        **created,
        "updated_at": NOW + 5,
        "name": "helper",
        "instructions": "Be brief.",
    }
    assert await ok(client.get(f"/agents/{agent_id}")) == updated
    assert await ok(client.get("/agents")) == {
        "object": "list",
        "data": [updated],
        "first_id": agent_id,
        "last_id": agent_id,
        "has_more": False,
    }

    assert await ok(client.delete(f"/agents/{agent_id}")) == {
        "id": agent_id,
        "object": "agent.deleted",
        "deleted": True,
    }
    missing = error(f"No agent found with id '{agent_id}'.")
    assert await refused(client.get(f"/agents/{agent_id}"), 404) == missing
    assert await refused(client.post(f"/agents/{agent_id}", json={}), 404) == missing
    assert await refused(client.delete(f"/agents/{agent_id}"), 404) == missing
    assert (await ok(client.get("/agents")))["data"] == []


@pytest.mark.anyio
async def test_an_unknown_agent_is_404_before_its_body_is_read(client: httpx.AsyncClient) -> None:
    body = await refused(client.post("/agents/agent_nope", json={"bogus": 1}), 404)
    assert body == error("No agent found with id 'agent_nope'.")


@pytest.mark.anyio
async def test_every_field_given_on_create_reads_back(client: httpx.AsyncClient) -> None:
    sent = {
        "model": "gpt-5",
        "instructions": "Answer in French.",
        "name": "translator",
        "metadata": {"team": "docs"},
        "reasoning": {"effort": "xhigh", "summary": "detailed"},
        "service_tier": "priority",
        "text": {"format": {"type": "json_schema", "schema": {"type": "object"}}, "verbosity": "high"},
        "multi_agent": {"enabled": True, "max_concurrent_subagents": 3},
        "tools": [{"type": "tool_search"}],
    }
    created = await ok(client.post("/agents", json=sent))
    assert {key: created[key] for key in sent} == sent


# -- update: omitted, null, value ---------------------------------------------------------------------

#: (field, a value, how it reads back, how it reads back after an update with null)
FIELD_CASES: list[tuple[str, Any, Any, Any]] = [
    ("instructions", "Be brief.", "Be brief.", None),
    ("name", "helper", "helper", None),
    ("metadata", {"a": "1"}, {"a": "1"}, {}),
    ("reasoning", {"effort": "high"}, {"effort": "high", "summary": None}, {"effort": None, "summary": None}),
    ("service_tier", "flex", "flex", "auto"),
    ("text", {"verbosity": "low"}, {"format": {"type": "text"}, "verbosity": "low"}, facts.DEFAULT_TEXT),
    (
        "multi_agent",
        {"enabled": True, "max_concurrent_subagents": 2},
        {"enabled": True, "max_concurrent_subagents": 2},
        facts.DEFAULT_MULTI_AGENT,
    ),
    ("tools", [{"type": "tool_search"}], [{"type": "tool_search"}], []),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "value", "read", "after_null"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES]
)
async def test_update_omitted_keeps_null_resets_value_replaces(
    client: httpx.AsyncClient, clock: list[int], field: str, value: Any, read: Any, after_null: Any
) -> None:
    created = await ok(client.post("/agents", json={"model": "gpt-5", field: value}))
    assert created == {**created, **defaults(**{field: read})}
    path = f"/agents/{created['id']}"

    clock[0] += 1
    kept = await ok(client.post(path, json={}))
    assert kept == {**created, "updated_at": NOW + 1}  # omitted: unchanged; updated_at moves all the same

    cleared = await ok(client.post(path, json={field: None}))
    assert cleared == {**kept, field: after_null}
    assert after_null == defaults()[field]  # null: back to what a create without the field gives

    again = await ok(client.post(path, json={field: value}))
    assert again == {**kept, field: read}


@pytest.mark.anyio
async def test_model_update_and_null(client: httpx.AsyncClient) -> None:
    agent_id = (await ok(client.post("/agents", json={"model": "gpt-5"})))["id"]
    assert (await ok(client.post(f"/agents/{agent_id}", json={"model": "gpt-5-mini"})))[
        "model"
    ] == "gpt-5-mini"
    assert (await ok(client.post(f"/agents/{agent_id}", json={})))["model"] == "gpt-5-mini"
    assert await refused(client.post(f"/agents/{agent_id}", json={"model": None})) == error(
        "Invalid type for 'model': expected a string, but got null instead.", "model", "invalid_type"
    )
    # the requested model name is kept as sent, with no resolution or check (§4.1 notes)
    assert (await ok(client.post(f"/agents/{agent_id}", json={"model": "my-model-2099"})))["model"] == (
        "my-model-2099"
    )


@pytest.mark.anyio
async def test_metadata_tools_and_nested_objects_are_replaced_whole(client: httpx.AsyncClient) -> None:
    created = await ok(
        client.post(
            "/agents",
            json={
                "model": "gpt-5",
                "metadata": {"a": "1", "b": "2"},
                "tools": [{"type": "tool_search"}, {"type": "computer_use"}],
                "reasoning": {"effort": "high", "summary": "auto"},
                "text": {"format": {"type": "json_schema", "schema": {}}, "verbosity": "low"},
                "multi_agent": {"enabled": True, "max_concurrent_subagents": 3},
            },
        )
    )
    updated = await ok(
        client.post(
            f"/agents/{created['id']}",
            json={
                "metadata": {"c": "3"},
                "tools": [{"type": "computer_use", "include_screenshots": True}],
                "reasoning": {"summary": "concise"},
                "text": {"verbosity": "high"},
                "multi_agent": {"enabled": True},
            },
        )
    )
    assert updated["metadata"] == {"c": "3"}
    assert updated["tools"] == [{"type": "computer_use", "include_screenshots": True}]
    assert updated["reasoning"] == {"effort": None, "summary": "concise"}
    assert updated["text"] == {"format": {"type": "text"}, "verbosity": "high"}
    assert updated["multi_agent"] == {"enabled": True, "max_concurrent_subagents": 6}
    assert (await ok(client.post(f"/agents/{created['id']}", json={"metadata": {}})))["metadata"] == {}


@pytest.mark.anyio
async def test_multi_agent_reads_null_concurrency_while_disabled(client: httpx.AsyncClient) -> None:
    sent = {"model": "gpt-5", "multi_agent": {"enabled": False, "max_concurrent_subagents": 4}}
    created = await ok(client.post("/agents", json=sent))
    assert created["multi_agent"] == {"enabled": False, "max_concurrent_subagents": None}


# -- tools read back with every field filled ----------------------------------------------------------

TOOLS_READ_BACK: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"type": "function", "name": "lookup", "description": "Look up.", "parameters": {"type": "object"}},
        {"defer_loading": False},
    ),
    ({"type": "tool_search"}, {}),
    ({"type": "programmatic_tool_calling"}, {"enabled": True}),
    (
        {
            "type": "mcp",
            "server_label": "docs",
            "transport": {"type": "http", "server_url": "https://x.test"},
        },
        {
            "transport": {"type": "http", "server_url": "https://x.test", "headers": {}},
            "allowed_tools": None,
            "connection_origin": "service",
            "credential_id": None,
            "request_metadata": {},
            "required": False,
        },
    ),
    (
        {"type": "mcp", "server_label": "fs", "transport": {"type": "stdio", "command": "srv", "cwd": "/"}},
        {
            "transport": {"type": "stdio", "command": "srv", "cwd": "/", "args": [], "env_vars": []},
            "allowed_tools": None,
            "connection_origin": "service",
            "credential_id": None,
            "request_metadata": {},
            "required": False,
        },
    ),
    (
        {"type": "web_search"},
        {"allowed_domains": None, "context_size": "medium", "location": None, "mode": "live"},
    ),
    (
        {"type": "web_search", "location": {"city": "Paris"}, "mode": None},
        {
            "allowed_domains": None,
            "context_size": "medium",
            "location": {"city": "Paris", "country": None, "region": None, "timezone": None},
            "mode": "live",
        },
    ),
    ({"type": "computer_use"}, {"include_screenshots": False}),
]


@pytest.mark.anyio
async def test_tools_read_back_with_every_field_filled(client: httpx.AsyncClient) -> None:
    tools = [sent for sent, _ in TOOLS_READ_BACK]
    created = await ok(client.post("/agents", json={"model": "gpt-5", "tools": tools}))
    assert created["tools"] == [{**sent, **filled} for sent, filled in TOOLS_READ_BACK]
    assert len(created["tools"][5]) == 5  # {"type": "web_search"} reads back with five keys (§8.2)
    assert (await ok(client.get(f"/agents/{created['id']}")))["tools"] == created["tools"]


@pytest.mark.anyio
async def test_fully_specified_tools_read_back_as_sent(client: httpx.AsyncClient) -> None:
    tools: list[dict[str, Any]] = [
        {
            "type": "mcp",
            "server_label": "docs",
            "transport": {"type": "http", "server_url": "https://x.test", "headers": {"X-Team": "docs"}},
            "allowed_tools": ["search"],
            "connection_origin": "environment",
            "credential_id": "cred_1",
            "request_metadata": {"k": "v"},
            "required": True,
        },
        {
            "type": "mcp",
            "server_label": "fs",
            "transport": {
                "type": "stdio",
                "command": "srv",
                "cwd": "/w",
                "args": ["-v"],
                "env_vars": ["HOME"],
            },
            "allowed_tools": [],
            "connection_origin": None,
            "credential_id": None,
            "request_metadata": None,
            "required": False,
        },
        {
            "type": "web_search",
            "allowed_domains": ["example.com"],
            "context_size": "high",
            "location": {"city": "Paris", "country": "FR", "region": None, "timezone": "Europe/Paris"},
            "mode": "cached",
        },
        {"type": "function", "name": "f", "description": "", "parameters": {}, "defer_loading": True},
        {"type": "programmatic_tool_calling", "enabled": False},
    ]
    created = await ok(client.post("/agents", json={"model": "gpt-5", "tools": tools}))
    assert created["tools"][0] == tools[0]
    assert created["tools"][1] == {**tools[1], "connection_origin": "service", "request_metadata": {}}
    assert created["tools"][2:] == tools[2:]


# -- limits -------------------------------------------------------------------------------------------


def too_long(param: str, limit: int) -> dict[str, Any]:
    return error(
        f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, but got a "
        f"string with length {limit + 1} instead.",
        param,
        "string_above_max_length",
    )


def metadata_with(pairs: int = 1, key: int = 1, value: int = 1) -> dict[str, str]:
    return {f"{i:0{key}d}": "v" * value for i in range(pairs)}


LIMITS = [
    ("name", lambda n: "n" * n, facts.NAME_MAX_LENGTH, too_long("name", facts.NAME_MAX_LENGTH)),
    (
        "instructions",
        lambda n: "i" * n,
        facts.INSTRUCTIONS_MAX_LENGTH,
        too_long("instructions", facts.INSTRUCTIONS_MAX_LENGTH),
    ),
    ("model", lambda n: "m" * n, facts.MODEL_MAX_LENGTH, too_long("model", facts.MODEL_MAX_LENGTH)),
    (
        "metadata",
        lambda n: metadata_with(pairs=n),
        facts.METADATA_MAX_PAIRS,
        error(
            "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got "
            "an object with 17 properties instead.",
            "metadata",
            "object_above_max_properties",
        ),
    ),
    (
        "metadata",
        lambda n: metadata_with(key=n),
        facts.METADATA_KEY_MAX_LENGTH,
        error(
            "Invalid 'metadata': key too long. Expected a key with maximum length 64, but got a key with "
            "length 65 instead.",
            "metadata",
            "string_above_max_length",
        ),
    ),
    (
        "metadata",
        lambda n: {"k": "v" * n},
        facts.METADATA_VALUE_MAX_LENGTH,
        too_long("metadata.k", facts.METADATA_VALUE_MAX_LENGTH),
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "make", "limit", "refusal"),
    LIMITS,
    ids=["name", "instructions", "model", "metadata-pairs", "metadata-key", "metadata-value"],
)
async def test_limits_at_and_one_past(
    client: httpx.AsyncClient, field: str, make: Any, limit: int, refusal: dict[str, Any]
) -> None:
    body = {"model": "gpt-5", field: make(limit)}
    created = await ok(client.post("/agents", json=body))
    assert created[field] == body[field]
    assert await refused(client.post("/agents", json={**body, field: make(limit + 1)})) == refusal
    assert await refused(client.post(f"/agents/{created['id']}", json={field: make(limit + 1)})) == refusal
    assert (await ok(client.get("/agents")))["data"] == [created]  # nothing written by the refusals


def tools_of_size(size: int) -> list[dict[str, Any]]:
    """One function tool whose list is exactly `size` bytes of compact UTF-8 JSON (with a 2-byte é)."""
    tool = {"type": "function", "name": "f", "description": "é", "parameters": {}}
    base = len(json.dumps([tool], separators=(",", ":"), ensure_ascii=False).encode())
    tool["description"] = "é" + "d" * (size - base)
    return [tool]


@pytest.mark.anyio
async def test_tools_fit_in_three_mebibytes_of_compact_json(client: httpx.AsyncClient) -> None:
    limit = facts.TOOLS_MAX_JSON_BYTES
    tools = tools_of_size(limit)
    created = await ok(client.post("/agents", json={"model": "gpt-5", "tools": tools}))
    assert created["tools"] == [{**tools[0], "defer_loading": False}]
    assert await refused(
        client.post("/agents", json={"model": "gpt-5", "tools": tools_of_size(limit + 1)})
    ) == (
        error(
            "Invalid 'tools': the tool list is too large. Expected at most 3145728 bytes of JSON, but got "
            "3145729 bytes instead.",
            "tools",
            "array_above_max_size",
        )
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "message", "code"),
    [
        (
            0,
            "integer below minimum value. Expected a value >= 1, but got 0 instead.",
            "integer_below_min_value",
        ),
        (
            4_294_967_296,
            "integer above maximum value. Expected a value <= 4294967295, but got 4294967296 instead.",
            "integer_above_max_value",
        ),
    ],
)
async def test_max_concurrent_subagents_range(
    client: httpx.AsyncClient, value: int, message: str, code: str
) -> None:
    low, high = facts.MAX_CONCURRENT_SUBAGENTS_RANGE
    for edge in (low, high):
        created = await ok(
            client.post(
                "/agents",
                json={"model": "m", "multi_agent": {"enabled": True, "max_concurrent_subagents": edge}},
            )
        )
        assert created["multi_agent"]["max_concurrent_subagents"] == edge
    param = "multi_agent.max_concurrent_subagents"
    body = {"model": "m", "multi_agent": {"enabled": True, "max_concurrent_subagents": value}}
    assert await refused(client.post("/agents", json=body)) == error(
        f"Invalid '{param}': {message}", param, code
    )


# -- enums, types, required and unknown fields --------------------------------------------------------


def bad_value(param: str, value: str, supported: str) -> dict[str, Any]:
    return error(f"Invalid value: '{value}'. Supported values are: {supported}.", param, "invalid_value")


MCP = {"type": "mcp", "server_label": "s", "transport": {"type": "http", "server_url": "https://x.test"}}
REFUSALS = [
    (
        {"service_tier": "ultrafast"},
        bad_value("service_tier", "ultrafast", "'auto', 'default', 'flex', 'priority', and 'fast'"),
    ),
    (
        {"reasoning": {"effort": "extreme"}},
        bad_value(
            "reasoning.effort", "extreme", "'none', 'minimal', 'low', 'medium', 'high', 'xhigh', and 'max'"
        ),
    ),
    (
        {"reasoning": {"summary": "long"}},
        bad_value("reasoning.summary", "long", "'concise', 'detailed', and 'auto'"),
    ),
    ({"text": {"verbosity": "loud"}}, bad_value("text.verbosity", "loud", "'low', 'medium', and 'high'")),
    (
        {"text": {"format": {"type": "json_object"}}},
        bad_value("text.format.type", "json_object", "'text' and 'json_schema'"),
    ),
    (
        {"text": {"format": {"type": "json_schema"}}},
        error(
            "Missing required parameter: 'text.format.schema'.",
            "text.format.schema",
            "missing_required_parameter",
        ),
    ),
    (
        {"text": {"format": {"type": "json_schema", "schema": {}, "strict": True}}},
        error("Unknown parameter: 'text.format.strict'.", "text.format.strict", "unknown_parameter"),
    ),
    (
        {"tools": [{"type": "web_search", "context_size": "huge"}]},
        bad_value("tools[0].context_size", "huge", "'low', 'medium', and 'high'"),
    ),
    (
        {"tools": [{"type": "web_search", "mode": "offline"}]},
        bad_value("tools[0].mode", "offline", "'disabled', 'cached', and 'live'"),
    ),
    (
        {"tools": [{**MCP, "connection_origin": "vault"}]},
        bad_value("tools[0].connection_origin", "vault", "'service' and 'environment'"),
    ),
    (
        {"tools": [{"type": "retrieval"}]},
        bad_value(
            "tools[0].type",
            "retrieval",
            "'function', 'tool_search', 'programmatic_tool_calling', 'mcp', 'web_search', and 'computer_use'",
        ),
    ),
    (
        {"tools": [{"type": "mcp", "server_label": "s", "transport": {"type": "sse", "server_url": "u"}}]},
        bad_value("tools[0].transport.type", "sse", "'http' and 'stdio'"),
    ),
    (
        {"tools": [{"name": "f"}]},
        error("Missing required parameter: 'tools[0].type'.", "tools[0].type", "missing_required_parameter"),
    ),
    (
        {"tools": [{"type": "function", "name": "f", "parameters": {}}]},
        error(
            "Missing required parameter: 'tools[0].description'.",
            "tools[0].description",
            "missing_required_parameter",
        ),
    ),
    (
        {"tools": [{"type": "function", "description": "d", "parameters": {}, "name": "f", "strict": True}]},
        error("Unknown parameter: 'tools[0].strict'.", "tools[0].strict", "unknown_parameter"),
    ),
    (
        {"tools": [{"type": "mcp", "server_label": "s"}]},
        error(
            "Missing required parameter: 'tools[0].transport'.",
            "tools[0].transport",
            "missing_required_parameter",
        ),
    ),
    (
        {"tools": [{"type": "mcp", "server_label": "s", "transport": {"type": "stdio", "command": "c"}}]},
        error(
            "Missing required parameter: 'tools[0].transport.cwd'.",
            "tools[0].transport.cwd",
            "missing_required_parameter",
        ),
    ),
    (  # credential-bearing transport fields exist on session tools only (§8.3)
        {"tools": [{**MCP, "transport": {"type": "http", "server_url": "u", "authorization": "Bearer x"}}]},
        error(
            "Unknown parameter: 'tools[0].transport.authorization'.",
            "tools[0].transport.authorization",
            "unknown_parameter",
        ),
    ),
    (
        {"tools": [{**MCP, "transport": {"type": "stdio", "command": "c", "cwd": "/", "env": {"K": "v"}}}]},
        error("Unknown parameter: 'tools[0].transport.env'.", "tools[0].transport.env", "unknown_parameter"),
    ),
    (
        {"tools": [{**MCP, "required": None}]},
        error(
            "Invalid type for 'tools[0].required': expected a boolean, but got null instead.",
            "tools[0].required",
            "invalid_type",
        ),
    ),
    (
        {"tools": [{**MCP, "allowed_tools": ["a", 1]}]},
        error(
            "Invalid type for 'tools[0].allowed_tools[1]': expected a string, but got an integer instead.",
            "tools[0].allowed_tools[1]",
            "invalid_type",
        ),
    ),
    (
        {"tools": [{"type": "web_search", "location": {"planet": "Mars"}}]},
        error(
            "Unknown parameter: 'tools[0].location.planet'.", "tools[0].location.planet", "unknown_parameter"
        ),
    ),
    (
        {"tools": {"type": "tool_search"}},
        error(
            "Invalid type for 'tools': expected an array, but got an object instead.", "tools", "invalid_type"
        ),
    ),
    (
        {"multi_agent": {"max_concurrent_subagents": 2}},
        error(
            "Missing required parameter: 'multi_agent.enabled'.",
            "multi_agent.enabled",
            "missing_required_parameter",
        ),
    ),
    (
        {"multi_agent": {"enabled": "yes"}},
        error(
            "Invalid type for 'multi_agent.enabled': expected a boolean, but got a string instead.",
            "multi_agent.enabled",
            "invalid_type",
        ),
    ),
    (
        {"reasoning": "high"},
        error(
            "Invalid type for 'reasoning': expected an object, but got a string instead.",
            "reasoning",
            "invalid_type",
        ),
    ),
    (
        {"multi_agent": {"enabled": True, "max_concurrent_subagents": 1.5}},
        error(
            "Invalid type for 'multi_agent.max_concurrent_subagents': expected an integer, but got a number "
            "instead.",
            "multi_agent.max_concurrent_subagents",
            "invalid_type",
        ),
    ),
    ({"description": "d"}, error("Unknown parameter: 'description'.", "description", "unknown_parameter")),
    ({"temperature": 1}, error("Unknown parameter: 'temperature'.", "temperature", "unknown_parameter")),
    (
        {"name": 7},
        error(
            "Invalid type for 'name': expected a string, but got an integer instead.", "name", "invalid_type"
        ),
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("fields", "refusal"), REFUSALS, ids=[f"refusal-{i}" for i in range(len(REFUSALS))])
async def test_bad_bodies_are_refused_with_the_error_envelope(
    client: httpx.AsyncClient, fields: dict[str, Any], refusal: dict[str, Any]
) -> None:
    assert await refused(client.post("/agents", json={"model": "gpt-5", **fields})) == refusal
    agent_id = (await ok(client.post("/agents", json={"model": "gpt-5"})))["id"]
    assert await refused(client.post(f"/agents/{agent_id}", json=fields)) == refusal


@pytest.mark.anyio
async def test_model_is_required_on_create_and_the_body_must_be_an_object(client: httpx.AsyncClient) -> None:
    assert await refused(client.post("/agents", json={"name": "x"})) == error(
        "Missing required parameter: 'model'.", "model", "missing_required_parameter"
    )
    assert await refused(client.post("/agents", json=["gpt-5"])) == error(
        "Invalid type for request body: expected an object, but got an array instead.", code="invalid_type"
    )
    invalid_json = await refused(
        client.post("/agents", content=b"{model", headers={"content-type": "application/json"})
    )
    assert invalid_json["error"]["message"].startswith("We could not parse the JSON body of your request.")
    # unknown fields are checked before the missing model: the first problem wins
    assert await refused(client.post("/agents", json={"bogus": True})) == error(
        "Unknown parameter: 'bogus'.", "bogus", "unknown_parameter"
    )


# -- pagination ---------------------------------------------------------------------------------------


async def create_agents(client: httpx.AsyncClient, n: int) -> list[str]:
    return [
        (await ok(client.post("/agents", json={"model": "gpt-5", "name": f"a{i}"})))["id"] for i in range(n)
    ]


async def page(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return await ok(client.get("/agents", params=params))


@pytest.mark.anyio
async def test_pagination(client: httpx.AsyncClient, clock: list[int]) -> None:
    ids = await create_agents(client, 25)  # all within the same second: ordered by insertion
    first = await page(client)
    assert [a["id"] for a in first["data"]] == ids[:4:-1]  # newest first, 20 by default
    assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[24], ids[5], True)
    rest = await page(client, after=first["last_id"])
    assert ([a["id"] for a in rest["data"]], rest["has_more"]) == (ids[4::-1], False)

    asc = await page(client, order="asc", limit=10)
    assert ([a["id"] for a in asc["data"]], asc["first_id"], asc["last_id"], asc["has_more"]) == (
        ids[:10],
        ids[0],
        ids[9],
        True,
    )
    assert [a["id"] for a in (await page(client, order="asc", limit=100, after=ids[9]))["data"]] == ids[10:]
    empty = await page(client, after=ids[0])  # past the end: an empty page, null ids
    assert (empty["data"], empty["first_id"], empty["last_id"], empty["has_more"]) == ([], None, None, False)

    await ok(client.delete(f"/agents/{ids[12]}"))  # a deleted agent still works as a cursor
    after_deleted = await page(client, order="asc", after=ids[12], limit=3)
    assert ([a["id"] for a in after_deleted["data"]], after_deleted["has_more"]) == (ids[13:16], True)
    assert ids[12] not in [a["id"] for a in (await page(client, limit=100))["data"]]


@pytest.mark.anyio
async def test_list_parameters_are_checked(client: httpx.AsyncClient) -> None:
    ids = await create_agents(client, 2)
    assert await refused(client.get("/agents", params={"after": "agent_unknown"})) == error(
        "Invalid 'after': no agent found with id 'agent_unknown'.", "after"
    )
    assert await refused(client.get("/agents", params={"before": ids[1]})) == error(
        "Unknown parameter: 'before'.", "before", "unknown_parameter"
    )
    assert await refused(client.get("/agents", params={"limit": 101})) == error(
        "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead.",
        "limit",
        "integer_above_max_value",
    )
    assert await refused(client.get("/agents", params={"limit": 0})) == error(
        "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 instead.",
        "limit",
        "integer_below_min_value",
    )
    assert await refused(client.get("/agents", params={"order": "newest"})) == error(
        "Invalid value: 'newest'. Supported values are: 'asc' and 'desc'.", "order", "invalid_value"
    )
    assert len((await page(client, limit=1))["data"]) == 1


# -- the beta header, per route -----------------------------------------------------------------------

AGENTS_BETA_MISSING = error(
    "You must provide the 'OpenAI-Beta' header to access the Agents API. Please try again by setting the "
    "header 'OpenAI-Beta: agents=v1'.",
    code="invalid_beta",
)
ASSISTANTS_BETA_MISSING = error(
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by setting the "
    "header 'OpenAI-Beta: assistants=v1'.",
    code="invalid_beta",
)
#: (method, path, status with the right header: agent_x does not exist)
AGENT_ROUTES = [
    ("GET", "/agents", 200),
    ("POST", "/agents", 200),
    ("GET", "/agents/agent_x", 404),
    ("POST", "/agents/agent_x", 404),
    ("DELETE", "/agents/agent_x", 404),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "path", "status"), AGENT_ROUTES)
async def test_agent_routes_need_the_agents_beta_header(
    emulator: InProcessEmulator, method: str, path: str, status: int
) -> None:
    body = {"model": "gpt-5"} if method == "POST" else None
    async with emulator.client(beta=False) as client:
        for beta in (None, "assistants=v1", "agents"):
            headers = {} if beta is None else {"OpenAI-Beta": beta}
            response = await client.request(method, path, json=body, headers=headers)
            assert (response.status_code, response.json()) == (400, AGENTS_BETA_MISSING)
        other_version = await client.request(method, path, json=body, headers={"OpenAI-Beta": "agents=v2"})
        assert (other_version.status_code, other_version.json()) == (
            404,
            error(f"Invalid URL ({method} /v1{path})"),
        )
        both = await client.request(
            method, path, json=body, headers={"OpenAI-Beta": "assistants=v1, agents=v1"}
        )
        assert both.status_code == status  # one header may carry both tokens
    assert emulator.stats()["objects"]["agents"] == (1 if path == "/agents" and method == "POST" else 0)


@pytest.mark.anyio
async def test_agent_routes_check_the_key_first_and_know_their_methods(emulator: InProcessEmulator) -> None:
    async with emulator.client(kind="agents") as client:
        unauthenticated = await client.get("/agents", headers={"Authorization": ""})
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["www-authenticate"] == 'Bearer realm="OpenAI API"'
        wrong_key = await client.post(
            "/agents", json={"model": "m"}, headers={"Authorization": "Bearer sk-x"}
        )
        assert (wrong_key.status_code, wrong_key.json()["error"]["code"]) == (401, "invalid_api_key")
        for method, path in (("PUT", "/agents"), ("PATCH", "/agents/agent_x"), ("GET", "/agents/a/b")):
            response = await client.request(method, path)
            assert (response.status_code, response.json()) == (
                404,
                error(f"Invalid URL ({method} /v1{path})"),
            )
    assert emulator.stats()["by_route"] == {
        "GET /v1/agents": 1,
        "POST /v1/agents": 1,
        "PUT /v1/agents": 1,
        "PATCH /v1/agents/agent_x": 1,
        "GET /v1/agents/a/b": 1,
    }


@pytest.mark.anyio
async def test_assistant_routes_refuse_the_agents_header(emulator: InProcessEmulator) -> None:
    async with emulator.client(kind="agents") as client:
        response = await client.post("/assistants", json={"model": "gpt-4"})
        assert (response.status_code, response.json()) == (400, ASSISTANTS_BETA_MISSING)
        assert (await client.get("/models")).status_code == 200  # no beta header needed
    async with emulator.client() as client:  # assistants=v1
        assert (await client.get("/agents")).json() == AGENTS_BETA_MISSING
        assert (await client.get("/assistants")).status_code == 200


# -- faults, stats and reset on agent routes ----------------------------------------------------------


@pytest.mark.anyio
async def test_stats_inject_and_reset_cover_agents(
    emulator: InProcessEmulator, client: httpx.AsyncClient
) -> None:
    created = await ok(client.post("/agents", json={"model": "gpt-5"}))
    await ok(client.get(f"/agents/{created['id']}"))
    emulator.inject(409, route="POST /v1/agents", headers={"x-should-retry": "false"})
    conflict = await client.post("/agents", json={"model": "gpt-5"})
    assert (conflict.status_code, conflict.headers["x-should-retry"]) == (409, "false")
    assert (await ok(client.get("/agents")))["data"] == [created]  # the injected answer ran nothing
    stats = emulator.stats()
    assert stats["by_route"] == {
        "GET /v1/agents": 1,
        "GET /v1/agents/{agent_id}": 1,
        "POST /v1/agents": 2,
    }
    assert stats["objects"]["agents"] == 1
    assert [entry["headers"]["openai-beta"] for entry in emulator.requests()] == ["agents=v1"] * 4
    emulator.reset()
    assert emulator.stats()["objects"]["agents"] == 0
    assert await refused(client.get(f"/agents/{created['id']}"), 404)
    # a reset wipes tombstones too: the old id is no cursor any more
    assert (await refused(client.get("/agents", params={"after": created["id"]})))["error"][
        "param"
    ] == "after"


@pytest.mark.anyio
async def test_failures_latency_and_rate_limit_on_agent_routes(
    emulator: InProcessEmulator, client: httpx.AsyncClient
) -> None:
    emulator.set_faults(fail_rate=1, seed=3)
    failed = await client.post("/agents", json={"model": "gpt-5"})
    assert failed.status_code in (500, 503)
    assert failed.json()["error"]["type"] == "server_error"
    emulator.set_faults(latency_ms=20)
    started = time.perf_counter()
    await ok(client.post("/agents", json={"model": "gpt-5"}))
    assert time.perf_counter() - started >= 0.02  # a lower bound, as in test_emulator_faults.py
    emulator.set_faults(rate_limit_rps=1)
    await ok(client.get("/agents"))
    limited = await client.get("/agents")
    assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limit_exceeded")
    assert "retry-after-ms" in limited.headers
    assert emulator.stats()["objects"]["agents"] == 1  # the failed create did nothing


@pytest.mark.anyio
async def test_dropped_agent_writes_commit_in_process(
    emulator: InProcessEmulator, client: httpx.AsyncClient
) -> None:
    emulator.set_faults(drop_rate=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/agents", json={"model": "gpt-5", "name": "ghost"})
    listed = (await ok(client.get("/agents")))["data"]
    assert [a["name"] for a in listed] == ["ghost"]
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(f"/agents/{listed[0]['id']}", json={"name": "renamed"})
    with pytest.raises(httpx.RemoteProtocolError):
        await client.delete(f"/agents/{listed[0]['id']}")
    assert (await ok(client.get("/agents")))["data"] == []
    assert [(r["method"], r["route"], r["status"], r["dropped"]) for r in emulator.requests()] == [
        ("POST", "/v1/agents", 200, True),
        ("GET", "/v1/agents", 200, False),
        ("POST", "/v1/agents/{agent_id}", 200, True),
        ("DELETE", "/v1/agents/{agent_id}", 200, True),
        ("GET", "/v1/agents", 200, False),
    ]


def test_agents_over_http_with_dropped_writes(live_emulator: LiveEmulator) -> None:
    live_emulator.set_faults(drop_rate=1)
    with live_emulator.client(kind="agents") as client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            client.post("/agents", json={"model": "gpt-5", "name": "ghost"})
        live_emulator.set_faults()
        listed = client.get("/agents").json()["data"]
        assert [a["name"] for a in listed] == ["ghost"]
        assert client.get(f"/agents/{listed[0]['id']}").json() == listed[0]
    assert live_emulator.stats()["objects"]["agents"] == 1
    live_emulator.reset()
    assert live_emulator.stats()["objects"]["agents"] == 0


# -- several processes on one file --------------------------------------------------------------------


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[EmulatorProcess]]:
    procs = [EmulatorProcess(tmp_path / "agents.sqlite3", tmp_path / f"emulator-{i}.log") for i in range(2)]
    try:
        yield [proc.wait_ready() for proc in procs]
    finally:
        for proc in procs:
            proc.stop()


def test_two_processes_create_agents_on_one_file_without_loss(processes: list[EmulatorProcess]) -> None:
    """Two `reconciler emulator --db` processes on one file, 4 client threads each creating 15 agents at
    once: all 120 exist, once each, in the same order through both processes, with nothing refused."""
    per_thread, threads = 15, 8
    barrier = threading.Barrier(threads, timeout=20)
    failures: list[str] = []
    created: list[str] = []
    lock = threading.Lock()

    def agents_client(proc: EmulatorProcess) -> httpx.Client:
        client = proc.client()
        client.headers["OpenAI-Beta"] = "agents=v1"
        return client

    def worker(n: int) -> None:
        with agents_client(processes[n % 2]) as client:
            barrier.wait()
            for i in range(per_thread):
                response = client.post("/agents", json={"model": "gpt-5", "name": f"t{n}-{i}"})
                with lock:
                    if response.status_code == 200:
                        created.append(response.json()["id"])
                    else:
                        failures.append(response.text)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(worker, n) for n in range(threads)]:
            future.result(timeout=60)
    assert failures == []
    assert len(created) == len(set(created)) == per_thread * threads

    walks = []
    for proc in processes:
        with agents_client(proc) as client:
            seen: list[str] = []
            after: dict[str, str] = {}
            while True:
                body = client.get("/agents", params={"order": "asc", "limit": 17, **after}).json()
                seen += [a["id"] for a in body["data"]]
                if not body["has_more"]:
                    break
                after = {"after": body["last_id"]}
            walks.append(seen)
    assert walks[0] == walks[1]
    assert sorted(walks[0]) == sorted(created)


@pytest.mark.anyio
async def test_a_state_file_from_before_agents_gains_the_table(tmp_path: Path, make_emulator: Any) -> None:
    """An existing `--db` or `--local` file with no `agents` table keeps its assistants and serves agents."""
    db = tmp_path / "old.sqlite3"
    first = make_emulator(db=db)
    async with first.client() as client:
        assistant = (await client.post("/assistants", json={"model": "gpt-4"})).json()
    first.state.store.close()
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE agents")
    conn.commit()
    conn.close()

    again = make_emulator(db=db)
    async with again.client(kind="agents") as client:
        created = await ok(client.post("/agents", json={"model": "gpt-5"}))
        assert (await ok(client.get("/agents")))["data"] == [created]
    assert again.stats()["objects"] == {"assistants": 1, "files": 0, "assistant_files": 0, "agents": 1}
    async with again.client() as client:
        assert (await ok(client.get(f"/assistants/{assistant['id']}")))["id"] == assistant["id"]


# -- the official SDK ---------------------------------------------------------------------------------


def test_the_official_sdk_parses_the_answers(live_emulator: LiveEmulator) -> None:
    openai = pytest.importorskip("openai")
    with live_emulator.client(headers={}) as http_client:
        sdk = openai.OpenAI(
            api_key=live_emulator.api_key,
            base_url=live_emulator.base_url,
            http_client=http_client,
            max_retries=0,
        )
        agents = getattr(sdk.beta, "agents", None)
        if agents is None:
            pytest.skip(f"openai {openai.__version__} has no beta.agents resource")
        created = agents.create(model="gpt-5", name="sdk", tools=[{"type": "web_search"}])
        assert created.id.startswith("agent_")
        assert agents.retrieve(created.id).tools[0].context_size == "medium"
        assert [a.id for a in agents.list()] == [created.id]
        assert agents.update(created.id, name=None).name is None
        assert agents.delete(created.id).deleted is True
