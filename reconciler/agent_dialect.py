"""The saved-agent dialect (`/v1/agents`, `OpenAI-Beta: agents=v1`): how an agent manifest maps to request
bodies and how agents are compared. It mirrors `reconciler.dialect` (the Assistants v1 dialect) name for name,
so the engine treats both kinds alike; every fact comes from `reconciler.agents_facts` (docs/agents-api.md).

The *normal form* of an agent is a plain dict with exactly the keys of `FIELDS`, every default filled in:

- `metadata` a dict; `name` and `instructions` a string or None;
- `reasoning` `{effort, summary}`, `text` `{format, verbosity}` and `multi_agent` `{enabled,
  max_concurrent_subagents}` with every member present (a disabled `multi_agent` reads back a null cap; an
  enabled one without a cap reads back `MAX_CONCURRENT_SUBAGENTS_DEFAULT`);
- each tool with every field of its variant filled with its default (§8.2), so `{"type": "web_search"}` in a
  manifest equals what the server reads back; MCP transports likewise.
- **Tools keep their written order.** The reference says nothing about order, and the order is what the
  model is shown: a reordered list is a change (the whole list is sent again).

Where the reference leaves a default unknown (`agents_facts.UNKNOWN`), the normal form uses
`ASSUMED_DEFAULTS` and the bodies always send that value explicitly, so what the server stores matches the
normal form whatever its real default is. `reasoning` is the exception (its default is the model's): omitted
means both members null, and a reset is sent as null.

Ownership (the marker, reserved metadata keys) and canonical JSON are the Assistants dialect's own
functions: the agent's metadata has the same shape and limits. Every function reading an agent takes a plain
dict or a typed object with the same attributes (`dialect.field_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler import agents_facts as facts
from reconciler import dialect
from reconciler.dialect import (
    MARKER_KEY,
    RESERVED_PREFIX,
    canonical_hash,
    canonical_json,
    field_of,
    is_reserved_metadata_key,
)

__all__ = [
    "ASSUMED_DEFAULTS",
    "BETA_HEADER",
    "DEFAULTS",
    "FIELDS",
    "MARKER_KEY",
    "RESERVED_PREFIX",
    "WHOLE_FIELDS",
    "canonical_hash",
    "canonical_json",
    "changed_fields",
    "claim_order",
    "create_body",
    "desired_state",
    "is_reserved_metadata_key",
    "marker_of",
    "normalise",
    "normalise_tool",
    "update_body",
]

API_VERSION = "agents=v1"
BETA_HEADER = facts.BETA_HEADER

_BY_NAME = {field.name: field for field in facts.FIELDS}

#: The agent fields a manifest manages, in the order people write and read them.
FIELDS: tuple[str, ...] = (
    "name",
    "model",
    "instructions",
    "tools",
    "metadata",
    "reasoning",
    "service_tier",
    "text",
    "multi_agent",
)

#: Defaults the reference leaves unknown (agents_facts.UNKNOWN), as this dialect assumes them. The bodies
#: always send these explicitly, so a server with another default still stores what the normal form says.
ASSUMED_DEFAULTS: dict[str, Any] = {
    "reasoning.effort": None,
    "reasoning.summary": None,
    "mcp.connection_origin": "service",
    "mcp.request_metadata": {},
    "http.headers": {},
    "stdio.args": [],
    "stdio.env_vars": [],
}


def _default(owner: str, field: facts.SubField) -> Any:
    if field.default is facts.UNKNOWN:
        return ASSUMED_DEFAULTS[f"{owner}.{field.name}"]
    return field.default


#: Nested objects: member → default, per field.
REASONING_DEFAULT: dict[str, Any] = {f.name: _default("reasoning", f) for f in facts.REASONING_FIELDS}
TEXT_DEFAULT: dict[str, Any] = dict(facts.DEFAULT_TEXT)
MULTI_AGENT_DEFAULT: dict[str, Any] = dict(facts.DEFAULT_MULTI_AGENT)

#: API defaults: an omitted manifest field, or a field the server does not return, counts as this.
DEFAULTS: dict[str, Any] = {
    "name": _BY_NAME["name"].default,
    "instructions": _BY_NAME["instructions"].default,
    "tools": [],
    "metadata": {},
    "reasoning": REASONING_DEFAULT,
    "service_tier": _BY_NAME["service_tier"].default,
    "text": TEXT_DEFAULT,
    "multi_agent": MULTI_AGENT_DEFAULT,
}

#: Fields the API replaces wholesale on update: when any part changes, the whole value is sent. The nested
#: objects are sent whole too (whether a partial one merges is unknown, §11.6).
WHOLE_FIELDS: tuple[str, ...] = tuple(f.name for f in facts.FIELDS if f.replaces_whole)

# Limits (docs/agents-api.md §4), named as in `reconciler.dialect`.
MAX_NAME = facts.NAME_MAX_LENGTH
MAX_MODEL = facts.MODEL_MAX_LENGTH
MAX_INSTRUCTIONS = facts.INSTRUCTIONS_MAX_LENGTH
MAX_METADATA_PAIRS = facts.METADATA_MAX_PAIRS
MAX_METADATA_KEY = facts.METADATA_KEY_MAX_LENGTH
MAX_METADATA_VALUE = facts.METADATA_VALUE_MAX_LENGTH
MAX_TOOLS_JSON_BYTES = facts.TOOLS_MAX_JSON_BYTES
MAX_CONCURRENT_SUBAGENTS_RANGE = facts.MAX_CONCURRENT_SUBAGENTS_RANGE
TOOL_TYPES: tuple[str, ...] = tuple(variant.type for variant in facts.TOOL_VARIANTS)
TRANSPORT_TYPES: tuple[str, ...] = tuple(variant.type for variant in facts.MCP_TRANSPORTS)

_TOOL_DEFAULTS: dict[str, dict[str, Any]] = {
    v.type: {f.name: _default(v.type, f) for f in v.fields if not f.required} for v in facts.TOOL_VARIANTS
}
_TRANSPORT_DEFAULTS: dict[str, dict[str, Any]] = {
    v.type: {f.name: _default(v.type, f) for f in v.fields if not f.required} for v in facts.MCP_TRANSPORTS
}
_LOCATION_DEFAULT = {f.name: f.default for f in facts.WEB_SEARCH_LOCATION_FIELDS}


def marker_of(agent: Any) -> str | None:
    """The key an existing agent is managed under (`dialect.marker_of`), or None when it is unmanaged."""
    return dialect.marker_of(agent)


def claim_order(agent: Any) -> tuple[int, str]:
    """The order among agents claiming one key: `(created_at, id)`; the minimum is the canonical one."""
    return int(field_of(agent, "created_at") or 0), str(field_of(agent, "id"))


def _filled(value: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """`value` with every optional field of its variant present: a missing or null one takes its default
    (null itself for the fields that read back null)."""
    out = dict(value)
    for name, default in defaults.items():
        if out.get(name) is None:
            out[name] = _copy(default)
    return out


def normalise_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool in normal form: every field of its variant present, defaults filled (a tool of an unknown
    type is kept as it is)."""
    kind = str(tool.get("type"))
    out = _filled(tool, _TOOL_DEFAULTS.get(kind, {}))
    transport = out.get("transport")
    if kind == "mcp" and isinstance(transport, Mapping):
        transport_type = str(transport.get("type"))
        out["transport"] = _filled(transport, _TRANSPORT_DEFAULTS.get(transport_type, {}))
    location = out.get("location")
    if kind == "web_search" and isinstance(location, Mapping):
        out["location"] = {**_LOCATION_DEFAULT, **location}
    return out


def _nested(value: Any, default: Mapping[str, Any]) -> dict[str, Any]:
    """A nested object with every member present (null members take their defaults)."""
    given = value if isinstance(value, Mapping) else {}
    return {name: given[name] if given.get(name) is not None else _copy(d) for name, d in default.items()}


def normalise(agent: Any) -> dict[str, Any]:
    """The normal form (see module docstring) of an API agent object (a dict, or a typed object with the same
    attributes) or of a desired state. Other keys (`id`, `object`, `created_at`...) are dropped; missing or
    null fields take their defaults.
    """
    out: dict[str, Any] = {}
    for field in FIELDS:
        value = field_of(agent, field)
        out[field] = _copy(DEFAULTS.get(field)) if value is None else value
    out["tools"] = [normalise_tool(t) if isinstance(t, Mapping) else t for t in out["tools"]]
    out["metadata"] = dict(out["metadata"])

    out["reasoning"] = _nested(out["reasoning"], REASONING_DEFAULT)
    out["text"] = _nested(out["text"], TEXT_DEFAULT)
    multi = _nested(out["multi_agent"], MULTI_AGENT_DEFAULT)
    if not multi["enabled"]:
        multi["max_concurrent_subagents"] = None  # reads back null while disabled (§5)
    elif multi["max_concurrent_subagents"] is None:
        multi["max_concurrent_subagents"] = facts.MAX_CONCURRENT_SUBAGENTS_DEFAULT
    out["multi_agent"] = multi
    return out


def desired_state(fields: Mapping[str, Any], key: str) -> dict[str, Any]:
    """What an agent manifest asks for, in normal form, with the ownership marker (`MARKER_KEY: key`) added to
    its metadata. `fields` is `LoadedAgent.api_fields()`: omitted fields converge to their defaults."""
    state = normalise(fields)
    state["metadata"] = {**state["metadata"], MARKER_KEY: key}
    return state


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Of two normal forms, the fields that differ (in `FIELDS` order); a tool moved in the list counts."""
    return [f for f in FIELDS if canonical_json(before.get(f)) != canonical_json(after.get(f))]


def _is_default(field: str, value: Any) -> bool:
    return canonical_json(value) == canonical_json(DEFAULTS.get(field))


def _request_value(field: str, value: Any) -> Any:
    """A normal-form value as the request types take it: a disabled `multi_agent` without its null cap (the
    request type has no null there)."""
    if field == "multi_agent" and value.get("max_concurrent_subagents") is None:
        return {k: v for k, v in value.items() if k != "max_concurrent_subagents"}
    return value


def create_body(desired: Mapping[str, Any]) -> dict[str, Any]:
    """The body of `POST /agents` for a desired normal form: `model`, and every other field that differs
    from its default (the server fills those in; an omitted field and its default are the same on create)."""
    body: dict[str, Any] = {}
    for field in FIELDS:
        value = desired[field]
        if field == "model" or not _is_default(field, value):
            body[field] = _request_value(field, value)
    return body


#: Fields whose documented update rule for null is "clear" or "reset": back to the default is sent as null.
NULL_RESETS: tuple[str, ...] = tuple(
    f.name
    for f in facts.FIELDS
    if f.update_when_null[0] in ("clear", "reset_default") and f.update_when_null[1] == "documented"
)


def update_body(desired: Mapping[str, Any], fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The body of `POST /agents/{id}`: only `fields`, each whole (an omitted field stays unchanged). A field
    going back to its default is sent as null where null documentedly clears or resets it (`NULL_RESETS`);
    elsewhere the default value itself is sent (null for `instructions`, whose default is null)."""
    body: dict[str, Any] = {}
    for field in fields:
        value = desired[field]
        if field in NULL_RESETS and _is_default(field, value):
            body[field] = None
        else:
            body[field] = _request_value(field, value)
    return body


def _copy(value: Any) -> Any:
    """A fresh copy of a default (defaults are shared module values: never hand them out to be mutated)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
