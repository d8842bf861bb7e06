"""The reference documentation generated from the model: the field table of `docs/manifest.md` (kept true
by a test) and, through `json_schema`, `schema/manifest.json`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler import agent_dialect, dialect
from reconciler.manifest import agent_model
from reconciler.manifest.model import json_schema


def reference_table(kind: str = "assistant") -> str:
    """The Markdown table of every field of an assistant (or, with `kind="agent"`, an agent) manifest (type,
    limit, default, description), derived from the model's JSON Schema; `docs/manifest.md` holds a copy of
    each, kept true by a test."""
    agent = kind == "agent"
    schema = agent_model.json_schema() if agent else json_schema()
    defaults = agent_dialect.DEFAULTS if agent else dialect.DEFAULTS
    defs = schema.get("$defs", {})
    rows = ["| field | type | limits | default | description |", "| --- | --- | --- | --- | --- |"]
    required = set(schema.get("required", []))
    for name, prop in schema["properties"].items():
        default = "required" if name in required else _md_default(name, prop, defaults)
        rows.append(
            f"| `{name}` | {_md_type(prop, defs)} | {_md_limits(name, prop, defs)} | {default} | "
            f"{prop.get('description', '')} |"
        )
    return "\n".join(rows)


def _md_default(name: str, prop: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """The default shown: the model's, or the API default (`defaults`) where the model's is null."""
    if name in ("key",):
        return "the file's stem"
    if "default" not in prop or prop["default"] is None:
        if name not in defaults:
            return "none"
        return f"`{json.dumps(defaults[name])}`"
    return f"`{json.dumps(prop['default'])}`"


def _md_type(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    options = prop.get("anyOf") or [prop]
    names = []
    for option in options:
        if "$ref" in option:
            names.append("{" + option["$ref"].rsplit("/", 1)[-1] + "}")
        elif "enum" in option:
            names.append(" \\| ".join(f"`{v}`" for v in option["enum"]))
        elif option.get("type") == "array":
            items = option.get("items", {})
            inner = "tool" if "oneOf" in items or "discriminator" in items else items.get("type", "any")
            names.append(f"list of {inner}")
        elif option.get("type") == "object":
            nested = (option.get("additionalProperties") or {}).get("type") == "object"  # `environments`
            names.append("mapping of name to fields" if nested else "mapping of string to string")
        elif option.get("type") != "null":
            names.append(str(option.get("type")))
    if prop.get("anyOf") and any(o.get("type") == "null" for o in options):
        names.append("null")
    return " \\| ".join(names)


def _md_limits(name: str, prop: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    options = prop.get("anyOf") or [prop]
    limits: list[str] = []
    for option in options:
        for word, label in (("maxLength", "≤ {} characters"), ("maxItems", "≤ {} items")):
            if word in option:
                limits.append(label.format(f"{option[word]:,}"))
        if "maxProperties" in option:
            limits.append(f"≤ {option['maxProperties']} pairs")
        if "propertyNames" in option and "maxLength" in option["propertyNames"]:
            limits.append(f"keys ≤ {option['propertyNames']['maxLength']}")
        extra = option.get("additionalProperties")
        if isinstance(extra, dict) and "maxLength" in extra:
            limits.append(f"values ≤ {extra['maxLength']}")
        if "minimum" in option or "maximum" in option:
            limits.append(f"{option.get('minimum')} to {option.get('maximum')}")
        if "pattern" in option:
            limits.append(f"`{option['pattern']}`")
        items = option.get("items", {})
        if isinstance(items, dict) and "pattern" in items:
            limits.append(f"each `{items['pattern']}`")
    return ", ".join(limits) or "—"
