"""Validation of the saved-agent request bodies (`/v1/agents`, docs/agents-api.md §4, §8), resolved to what
a read returns.

The fields, limits, enums and tool variants are the data of `reconciler.agents_facts`. The reference
documents no error text for these routes (§10), so every refusal reuses the generic validator texts of
`reconciler.emulator.validation` (`Invalid 'name': string too long. ...`, `Unknown parameter: 'x'.`), and
docs/emulator.md lists each as unverified. The first problem found wins: unknown fields first, then a
missing `model` on create, then the fields in `agents_facts.FIELDS` order.

Every value is resolved on the way in to the form a read shows (§5, §8.2): omitted nested fields take their
defaults, and `null` on a nullable field means its create default (`instructions`/`name` null, `metadata`
{}, `tools` [], `service_tier` "auto", ...). A nested object (`reasoning`, `text`, `multi_agent`) given on
update replaces the stored one whole, like `metadata` and `tools` (§11.6 is unknown: this emulator's choice).
Where the reference gives no default (`UNKNOWN` in agents_facts), `CHOSEN_DEFAULTS` holds the emulator's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from reconciler import agents_facts as facts
from reconciler.agents_facts import AgentField, SubField, Variant
from reconciler.emulator.pages import PageQuery
from reconciler.emulator.validation import (
    TYPE_NAMES,
    MetadataLimits,
    bad,
    check_integer_range,
    check_string,
    invalid_type,
    invalid_value,
    json_type,
    missing_parameter,
    require_object,
    unknown_parameter,
    validate_list_params,
    validate_metadata,
)

AGENT_METADATA: MetadataLimits = (
    facts.METADATA_MAX_PAIRS,
    facts.METADATA_KEY_MAX_LENGTH,
    facts.METADATA_VALUE_MAX_LENGTH,
)

#: The emulator's values where the reference documents no default (docs/agents-api.md §11.7-9), by field
#: name (each name is used by one object only). All unverified (docs/emulator.md).
CHOSEN_DEFAULTS: dict[str, Any] = {
    "effort": None,  # reasoning.effort: "null when the model selects its own default"
    "summary": None,  # reasoning.summary: null means summaries are off
    "connection_origin": "service",
    "request_metadata": {},
    "headers": {},
    "args": [],
    "env_vars": [],
}
#: What an agent reads back as when a create omits `reasoning` (or an update sends it null).
DEFAULT_REASONING = {field.name: CHOSEN_DEFAULTS[field.name] for field in facts.REASONING_FIELDS}

TEXT_FORMATS = (Variant("text", ()), Variant("json_schema", facts.JSON_SCHEMA_FORMAT_FIELDS))

#: Integer fields with a documented range.
_RANGES = {"max_concurrent_subagents": facts.MAX_CONCURRENT_SUBAGENTS_RANGE}


def validate_agent_body(body: Any, *, create: bool) -> dict[str, Any]:
    """The fields of an AgentCreateParams (`create=True`) or AgentUpdateParams body, resolved to their read
    form. On create every field is present (defaults filled); on update only the fields given."""
    obj = require_object(body)
    known = {field.name: field for field in facts.FIELDS}
    for key in obj:
        if key not in known:
            raise unknown_parameter(key)
    if create and "model" not in obj:
        raise missing_parameter("model")
    fields = {}
    for field in facts.FIELDS:
        if field.name in obj:
            fields[field.name] = _top_level(field, obj[field.name])
        elif create:
            fields[field.name] = agent_default(field)
    return fields


def validate_agent_list_params(query: Mapping[str, str]) -> PageQuery:
    """`after`, `limit` (1..100, default 20, as for assistants: the reference gives neither) and `order`.
    `before` is not part of the agents list (§7): refused as an unknown parameter."""
    if "before" in query:
        raise unknown_parameter("before")
    return validate_list_params(query)


def agent_default(field: AgentField) -> Any:
    """What `field` reads back as after a create that omits it."""
    if field.name == "reasoning":
        return copy.deepcopy(DEFAULT_REASONING)
    return copy.deepcopy(field.default)


def _top_level(field: AgentField, value: Any) -> Any:
    name = field.name
    if value is None:
        if not field.request_nullable:
            raise invalid_type(name, TYPE_NAMES[field.json_type], value)
        return agent_default(field)
    if field.json_type == "string":
        return _enum(name, check_string(name, value, max_length=field.max_length), field.enum)
    return _OBJECT_FIELDS[name](value)


def _enum(param: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if allowed and value not in allowed:
        raise invalid_value(param, value, allowed)
    return value


def _object(param: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    return value


def _multi_agent(value: Any) -> dict[str, Any]:
    """`max_concurrent_subagents` reads back null while disabled, and 6 when enabled without one (§5)."""
    config = fields_of("multi_agent", value, facts.MULTI_AGENT_FIELDS)
    if not config["enabled"]:
        config["max_concurrent_subagents"] = None
    return config


def _tools(value: Any) -> list[dict[str, Any]]:
    """The list fits in `TOOLS_MAX_JSON_BYTES` of compact UTF-8 JSON as sent; each tool one of §8's six."""
    if not isinstance(value, list):
        raise invalid_type("tools", "an array", value)
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > facts.TOOLS_MAX_JSON_BYTES:
        raise bad(
            f"Invalid 'tools': the tool list is too large. Expected at most {facts.TOOLS_MAX_JSON_BYTES} "
            f"bytes of JSON, but got {size} bytes instead.",
            param="tools",
            code="array_above_max_size",
        )
    return [variant_of(f"tools[{i}]", tool, facts.TOOL_VARIANTS) for i, tool in enumerate(value)]


def variant_of(param: str, value: Any, variants: tuple[Variant, ...]) -> dict[str, Any]:
    """A member of a union discriminated by `type`, with every field of its variant filled."""
    obj = _object(param, value)
    if "type" not in obj:
        raise missing_parameter(f"{param}.type")
    kind = obj["type"]
    if not isinstance(kind, str):
        raise invalid_type(f"{param}.type", "a string", kind)
    by_type = {variant.type: variant for variant in variants}
    if kind not in by_type:
        raise invalid_value(f"{param}.type", kind, tuple(by_type))
    return {"type": kind, **fields_of(param, obj, by_type[kind].fields, extra=("type",))}


def fields_of(
    param: str, value: Any, fields: tuple[SubField, ...], *, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An object of `fields` (plus the `extra` keys, checked by the caller), every field filled: omitted or
    null (where nullable) means the default; unknown keys, missing required fields and wrong types are
    refused."""
    obj = _object(param, value)
    names = {*extra, *(field.name for field in fields)}
    for key in obj:
        if key not in names:
            raise unknown_parameter(f"{param}.{key}")
    out: dict[str, Any] = {}
    for field in fields:
        where = f"{param}.{field.name}"
        given = obj.get(field.name)
        if given is not None:
            out[field.name] = _sub_value(where, field, given)
        elif field.name in obj and not field.request_nullable:
            raise invalid_type(where, TYPE_NAMES[field.json_type], None)
        elif field.required:
            raise missing_parameter(where)
        else:
            out[field.name] = _sub_default(field)
    return out


def _sub_default(field: SubField) -> Any:
    return copy.deepcopy(CHOSEN_DEFAULTS[field.name] if field.default is facts.UNKNOWN else field.default)


def _sub_value(param: str, field: SubField, value: Any) -> Any:
    """A non-null value of `field`, checked against its type, enum, range or nested object."""
    nested = _NESTED.get(field.name)
    if nested is not None:
        return nested(param, value)
    kind = field.json_type
    if kind == "string":
        return _enum(param, check_string(param, value), field.enum)
    if kind == "array":
        return _strings(param, value)
    if kind == "object":
        return _object(param, value)
    if json_type(value) != kind:  # boolean or integer
        raise invalid_type(param, TYPE_NAMES[kind], value)
    if field.name in _RANGES:
        check_integer_range(param, value, _RANGES[field.name])
    return value


def _strings(param: str, value: Any) -> list[str]:
    """An array of strings (every array field of a saved agent is one)."""
    if not isinstance(value, list):
        raise invalid_type(param, "an array", value)
    for i, item in enumerate(value):
        check_string(f"{param}[{i}]", item)
    return value


def _string_map(param: str, value: Any) -> dict[str, str]:
    """A map of strings (an HTTP transport's `headers`)."""
    for key, item in _object(param, value).items():
        check_string(f"{param}.{key}", item)
    return dict(value)


#: Fields whose value is a further object, by field name (each name is used by one object only).
_NESTED: dict[str, Callable[[str, Any], Any]] = {
    "transport": lambda param, value: variant_of(param, value, facts.MCP_TRANSPORTS),
    "location": lambda param, value: fields_of(param, value, facts.WEB_SEARCH_LOCATION_FIELDS),
    "format": lambda param, value: variant_of(param, value, TEXT_FORMATS),
    "headers": _string_map,
}

#: The top-level fields that are not plain strings.
_OBJECT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "metadata": lambda value: validate_metadata(value, AGENT_METADATA),
    "reasoning": lambda value: fields_of("reasoning", value, facts.REASONING_FIELDS),
    "text": lambda value: fields_of("text", value, facts.TEXT_FIELDS),
    "multi_agent": _multi_agent,
    "tools": _tools,
}
