"""The saved-agent dialect: normal form, desired state, changed fields and request bodies, as tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from reconciler import agent_dialect as d
from reconciler import agents_facts as facts
from reconciler import dialect

#: What the server reads back for an agent created with `{"model": "m"}` (docs/agents-api.md §5).
BARE: dict[str, Any] = {
    "name": None,
    "model": "m",
    "instructions": None,
    "tools": [],
    "metadata": {},
    "reasoning": {"effort": None, "summary": None},
    "service_tier": "auto",
    "text": {"format": {"type": "text"}, "verbosity": "medium"},
    "multi_agent": {"enabled": False, "max_concurrent_subagents": None},
}


def test_the_public_names_mirror_the_assistants_dialect() -> None:
    for name in (
        "FIELDS", "DEFAULTS", "WHOLE_FIELDS", "MARKER_KEY", "RESERVED_PREFIX", "BETA_HEADER", "MAX_NAME",
        "MAX_INSTRUCTIONS", "MAX_METADATA_PAIRS", "MAX_METADATA_KEY", "MAX_METADATA_VALUE",
        "is_reserved_metadata_key", "marker_of", "claim_order", "canonical_json", "canonical_hash",
        "normalise", "normalise_tool", "desired_state", "changed_fields", "create_body", "update_body",
    ):  # fmt: skip
        assert hasattr(d, name), name
    assert d.MARKER_KEY == dialect.MARKER_KEY == "reconciler_key"
    assert d.canonical_json is dialect.canonical_json and d.canonical_hash is dialect.canonical_hash
    assert d.BETA_HEADER == ("OpenAI-Beta", "agents=v1")


def test_fields_and_defaults_come_from_the_facts() -> None:
    assert set(d.FIELDS) == {f.name for f in facts.FIELDS}
    assert d.WHOLE_FIELDS == ("metadata", "tools")
    assert (d.MAX_NAME, d.MAX_INSTRUCTIONS, d.MAX_METADATA_PAIRS) == (128, 1_048_576, 16)
    assert d.TOOL_TYPES == (
        "function", "tool_search", "programmatic_tool_calling", "mcp", "web_search", "computer_use"
    )  # fmt: skip
    assert d.normalise({"model": "m"}) == BARE
    assert {k: v for k, v in BARE.items() if k != "model"} == d.DEFAULTS
    assert d.NULL_RESETS == ("name", "metadata", "reasoning", "tools")


def test_defaults_are_never_shared() -> None:
    first = d.normalise({"model": "m"})
    first["metadata"]["x"] = "y"
    first["text"]["format"]["type"] = "changed"
    assert d.normalise({"model": "m"}) == BARE


NORMAL_TOOLS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"type": "function", "name": "f", "description": "", "parameters": {}},
        {"type": "function", "name": "f", "description": "", "parameters": {}, "defer_loading": False},
    ),
    ({"type": "tool_search"}, {"type": "tool_search"}),
    ({"type": "programmatic_tool_calling"}, {"type": "programmatic_tool_calling", "enabled": True}),
    (
        {"type": "programmatic_tool_calling", "enabled": False},
        {"type": "programmatic_tool_calling", "enabled": False},
    ),
    (
        {"type": "web_search"},
        {
            "type": "web_search",
            "allowed_domains": None,
            "context_size": "medium",
            "location": None,
            "mode": "live",
        },
    ),
    (
        {"type": "web_search", "context_size": None, "mode": None, "location": {"country": "FR"}},
        {
            "type": "web_search",
            "allowed_domains": None,
            "context_size": "medium",
            "location": {"city": None, "country": "FR", "region": None, "timezone": None},
            "mode": "live",
        },
    ),
    ({"type": "computer_use"}, {"type": "computer_use", "include_screenshots": False}),
    (
        {"type": "mcp", "server_label": "s", "transport": {"type": "http", "server_url": "u"}},
        {
            "type": "mcp",
            "server_label": "s",
            "transport": {"type": "http", "server_url": "u", "headers": {}},
            "allowed_tools": None,
            "connection_origin": "service",
            "credential_id": None,
            "request_metadata": {},
            "required": False,
        },
    ),
    (
        {"type": "mcp", "server_label": "s", "transport": {"type": "stdio", "command": "c", "cwd": "/"}},
        {
            "type": "mcp",
            "server_label": "s",
            "transport": {"type": "stdio", "command": "c", "cwd": "/", "args": [], "env_vars": []},
            "allowed_tools": None,
            "connection_origin": "service",
            "credential_id": None,
            "request_metadata": {},
            "required": False,
        },
    ),
]


@pytest.mark.parametrize(("written", "normal"), NORMAL_TOOLS)
def test_a_tool_as_written_equals_what_the_server_reads_back(
    written: dict[str, Any], normal: dict[str, Any]
) -> None:
    assert d.normalise_tool(written) == normal
    assert d.normalise_tool(normal) == normal  # idempotent: the read-back is already normal


NORMAL_FIELDS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"name": None, "metadata": None, "tools": None}, {}),
    ({"reasoning": {"effort": "low"}}, {"reasoning": {"effort": "low", "summary": None}}),
    ({"reasoning": None}, {}),
    ({"text": {"verbosity": "high"}}, {"text": {"format": {"type": "text"}, "verbosity": "high"}}),
    (
        {"text": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
        {"text": {"format": {"type": "json_schema", "schema": {"type": "object"}}, "verbosity": "medium"}},
    ),
    ({"multi_agent": {"enabled": True}}, {"multi_agent": {"enabled": True, "max_concurrent_subagents": 6}}),
    (
        {"multi_agent": {"enabled": True, "max_concurrent_subagents": 2}},
        {"multi_agent": {"enabled": True, "max_concurrent_subagents": 2}},
    ),
    # a disabled multi_agent reads back a null cap, whatever was written
    ({"multi_agent": {"enabled": False, "max_concurrent_subagents": 3}}, {}),
    ({"service_tier": "flex"}, {"service_tier": "flex"}),
    ({"id": "agent_1", "object": "agent", "created_at": 1, "updated_at": 2}, {}),
]


@pytest.mark.parametrize(("given", "differs"), NORMAL_FIELDS)
def test_normal_form(given: dict[str, Any], differs: dict[str, Any]) -> None:
    assert d.normalise({"model": "m", **given}) == {**BARE, **differs}


def test_tools_keep_their_order_and_a_move_is_a_change() -> None:
    a, b = {"type": "tool_search"}, {"type": "computer_use"}
    first = d.normalise({"model": "m", "tools": [a, b]})
    second = d.normalise({"model": "m", "tools": [b, a]})
    assert [t["type"] for t in first["tools"]] == ["tool_search", "computer_use"]
    assert d.changed_fields(first, second) == ["tools"]


def test_desired_state_adds_the_marker_and_ownership_is_the_assistants_rule() -> None:
    desired = d.desired_state({"model": "m", "metadata": {"team": "x"}}, "k")
    assert desired["metadata"] == {"team": "x", "reconciler_key": "k"}
    assert d.marker_of({"metadata": desired["metadata"]}) == "k"
    assert d.marker_of({"metadata": {}}) is None
    assert d.is_reserved_metadata_key("Reconciler_x")
    assert d.claim_order({"id": "b", "created_at": 3}) == (3, "b")


def test_typed_agent_objects_read_like_dicts() -> None:
    @dataclass(frozen=True)
    class Remote:
        id: str
        created_at: int
        model: str
        metadata: dict[str, str]
        tools: tuple[dict[str, Any], ...]

    remote = Remote("agent_1", 5, "m", {"reconciler_key": "k"}, ({"type": "web_search"},))
    assert d.claim_order(remote) == (5, "agent_1")
    assert d.marker_of(remote) == "k"
    assert d.normalise(remote) == d.normalise(
        {**BARE, "metadata": remote.metadata, "tools": [{"type": "web_search"}]}
    )


CHANGES: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = [
    ({}, {}, []),
    ({}, {"name": "n"}, ["name"]),
    ({"service_tier": "auto"}, {}, []),
    ({"tools": [{"type": "web_search"}]}, {"tools": [{"type": "web_search", "mode": "live"}]}, []),
    ({"reasoning": {"effort": "low"}}, {"text": {"verbosity": "low"}}, ["reasoning", "text"]),
    (
        {"multi_agent": {"enabled": True}},
        {"multi_agent": {"enabled": True, "max_concurrent_subagents": 6}},
        [],
    ),
    ({"metadata": {"a": "1"}}, {"metadata": {"a": "1.0"}}, ["metadata"]),
]


@pytest.mark.parametrize(("before", "after", "changed"), CHANGES)
def test_changed_fields(before: dict[str, Any], after: dict[str, Any], changed: list[str]) -> None:
    left, right = d.normalise({"model": "m", **before}), d.normalise({"model": "m", **after})
    assert d.changed_fields(left, right) == changed


CREATES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {"model": "m", "metadata": {"reconciler_key": "k"}}),
    ({"service_tier": "auto", "reasoning": {}, "text": {"verbosity": "medium"}}, {}),
    ({"multi_agent": {"enabled": True}}, {"multi_agent": {"enabled": True, "max_concurrent_subagents": 6}}),
    ({"name": "N", "instructions": "I"}, {"name": "N", "instructions": "I"}),
    # the tool goes whole, its assumed defaults explicit
    (
        {"tools": [{"type": "mcp", "server_label": "s", "transport": {"type": "http", "server_url": "u"}}]},
        {"tools": [NORMAL_TOOLS[7][1]]},
    ),
]


@pytest.mark.parametrize(("fields", "extra"), CREATES)
def test_create_body_sends_the_model_and_what_differs_from_the_defaults(
    fields: dict[str, Any], extra: dict[str, Any]
) -> None:
    body = d.create_body(d.desired_state({"model": "m", **fields}, "k"))
    assert body == {"model": "m", "metadata": {"reconciler_key": "k"}, **extra}


UPDATES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    # back to the default: null where null documentedly clears or resets
    ({"name": None}, {"name": None}),
    ({"reasoning": None}, {"reasoning": None}),
    ({"tools": []}, {"tools": None}),
    # elsewhere the default itself (null for instructions, whose default is null)
    ({"instructions": None}, {"instructions": None}),
    ({"service_tier": None}, {"service_tier": "auto"}),
    ({"text": None}, {"text": {"format": {"type": "text"}, "verbosity": "medium"}}),
    ({"multi_agent": None}, {"multi_agent": {"enabled": False}}),
    # a value: whole
    ({"reasoning": {"effort": "high"}}, {"reasoning": {"effort": "high", "summary": None}}),
    ({"name": "N"}, {"name": "N"}),
    ({"tools": [{"type": "tool_search"}]}, {"tools": [{"type": "tool_search"}]}),
]


@pytest.mark.parametrize(("fields", "body"), UPDATES)
def test_update_body(fields: dict[str, Any], body: dict[str, Any]) -> None:
    desired = d.desired_state({"model": "m", **fields}, "k")
    assert d.update_body(desired, list(body)) == body


def test_update_body_sends_metadata_whole_and_never_clears_the_marker() -> None:
    desired = d.desired_state({"model": "m"}, "k")
    assert d.update_body(desired, ["metadata"]) == {"metadata": {"reconciler_key": "k"}}
    assert d.update_body(desired, []) == {}
