"""The Assistants v1 dialect: how a manifest maps to v1 payloads and how v1 objects are compared.

Everything v1-specific lives here (fields, defaults, limits, the ownership marker, payload shapes), so a v2
dialect can be added beside it without touching the Plan, the diff or the renderers.

The *normal form* of an assistant is a plain dict with exactly the keys of `FIELDS`, every default filled in,
`file_ids` sorted, `tools` sorted by their canonical JSON, numbers canonical (1 and 1.0 are the same), and
`metadata` a dict. Two assistants are equal exactly when their normal forms are equal; `canonical_hash` hashes
that form.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

API_VERSION = "v1"
BETA_HEADER = ("OpenAI-Beta", "assistants=v1")

#: The reserved metadata entry that marks an assistant as managed; its value is the manifest key.
MARKER_KEY = "reconciler_key"
#: Metadata keys starting with this prefix (case-insensitive) are reserved for the tool.
RESERVED_PREFIX = "reconciler"

#: The assistant fields a manifest manages, in the order people write and read them.
FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "model",
    "instructions",
    "tools",
    "file_ids",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
)

#: API defaults: an omitted manifest field, or a field the server does not return, counts as this.
DEFAULTS: dict[str, Any] = {
    "name": None,
    "description": None,
    "instructions": None,
    "tools": [],
    "file_ids": [],
    "metadata": {},
    "temperature": 1.0,
    "top_p": 1.0,
    "response_format": "auto",
}

#: Fields added to v1 requests only in its last revision (2024-04-16). Older v1 servers reject them, so a
#: create leaves them out while they equal their defaults.
LATE_FIELDS: tuple[str, ...] = ("temperature", "top_p", "response_format")

#: Fields the API replaces wholesale on modify: when any part changes, the whole value is sent.
WHOLE_FIELDS: tuple[str, ...] = ("tools", "file_ids", "metadata")

# Limits of the v1 API (docs/api-v1.md §4); the prose-only ones included.
MAX_NAME = 256
MAX_DESCRIPTION = 512
MAX_INSTRUCTIONS = 256_000
MAX_TOOLS = 128
MAX_FILE_IDS = 20
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
TEMPERATURE_RANGE = (0.0, 2.0)
TOP_P_RANGE = (0.0, 1.0)
FUNCTION_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
MAX_FILE_BYTES = 512 * 1024 * 1024
RESPONSE_FORMAT_STRINGS = ("auto", "none")
RESPONSE_FORMAT_TYPES = ("text", "json_object")
TOOL_TYPES = ("code_interpreter", "retrieval", "function")
#: Models of the v1 era (the spec's documented enum); the emulator serves these from `/models`.
MODELS: tuple[str, ...] = (
    "gpt-4-turbo",
    "gpt-4-turbo-2024-04-09",
    "gpt-4-0125-preview",
    "gpt-4-turbo-preview",
    "gpt-4-1106-preview",
    "gpt-4-vision-preview",
    "gpt-4",
    "gpt-4-0314",
    "gpt-4-0613",
    "gpt-4-32k",
    "gpt-4-32k-0314",
    "gpt-4-32k-0613",
    "gpt-3.5-turbo",
    "gpt-3.5-turbo-16k",
    "gpt-3.5-turbo-0613",
    "gpt-3.5-turbo-1106",
    "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-16k-0613",
)


def is_reserved_metadata_key(key: str) -> bool:
    """True for metadata keys that manifests may not set."""
    return key.lower().startswith(RESERVED_PREFIX)


def marker_of(assistant: Mapping[str, Any]) -> str | None:
    """The key an existing assistant is managed under, or None when it is unmanaged."""
    metadata = assistant.get("metadata") or {}
    value = metadata.get(MARKER_KEY) if isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) and value else None


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no whitespace and canonical numbers: equal values give equal text."""
    return json.dumps(_canon_numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_hash(value: Any) -> str:
    """`sha256:<hex>` of `canonical_json(value)`."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


def _canon_numbers(value: Any) -> Any:
    """Integral floats become ints (JSON does not tell 1 from 1.0); containers are walked.

    Leaves (strings, ints and bools, None) are tested first and plain dicts before the `Mapping` ABC, whose
    check is slow: most of what a normal form holds is strings.
    """
    if isinstance(value, (str, int)) or value is None:
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, (dict, Mapping)):
        return {str(k): _canon_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canon_numbers(v) for v in value]
    return value


def normalise_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool in normal form: function `description`/`parameters` dropped when null, numbers canonical."""
    tool = dict(tool)
    if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
        function = {k: v for k, v in tool["function"].items() if v is not None}
        tool["function"] = _canon_numbers(function)
    return tool


def normalise(assistant: Mapping[str, Any]) -> dict[str, Any]:
    """The normal form (see module docstring) of an API assistant object or of a desired state.

    Unknown keys (`id`, `object`, `created_at`...) are dropped; missing or null fields take their defaults
    (a null `tools`/`file_ids`/`metadata` is empty; a null `name` stays null).
    """
    out: dict[str, Any] = {}
    for field in FIELDS:
        value = assistant.get(field)
        if value is None:
            value = DEFAULTS.get(field)
        out[field] = value
    out["tools"] = sorted((normalise_tool(t) for t in out["tools"] or []), key=canonical_json)
    out["file_ids"] = sorted(out["file_ids"] or [])
    out["metadata"] = dict(out["metadata"] or {})
    for field in ("temperature", "top_p"):
        if isinstance(out[field], (int, float)) and not isinstance(out[field], bool):
            out[field] = float(out[field])
    if isinstance(out["response_format"], Mapping):
        out["response_format"] = dict(out["response_format"])
    return out


def desired_state(fields: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The normal form a manifest asks for: its fields plus the ownership marker in `metadata`.

    `fields` holds the manifest's API fields (any subset of `FIELDS`, instructions already read from
    `instructions_file`); omitted ones converge to their defaults.
    """
    state = normalise(fields)
    state["metadata"] = {**state["metadata"], MARKER_KEY: key}
    return state


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The top-level fields whose normal forms differ, in `FIELDS` order (cheap exact check, no deepdiff)."""
    return [f for f in FIELDS if canonical_json(before.get(f)) != canonical_json(after.get(f))]


def create_body(desired: Mapping[str, Any]) -> dict[str, Any]:
    """The body of `POST /assistants` for a desired normal form: every field, except late-v1 fields left at
    their defaults and null optional strings (omitted means the same to the API)."""
    body: dict[str, Any] = {}
    for field in FIELDS:
        value = desired[field]
        if field in LATE_FIELDS and canonical_json(value) == canonical_json(DEFAULTS[field]):
            continue
        if value is None:
            continue
        body[field] = value
    return body


def update_body(desired: Mapping[str, Any], fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The body of `POST /assistants/{id}`: only `fields`, each whole, nulls sent as null (to clear them)."""
    return {field: desired[field] for field in fields}
