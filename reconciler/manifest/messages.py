"""Human messages for pydantic's validation errors, and where in the data each error is.

`message` looks the error's type up in `RULES`: each type has a few rules tried in order, each returning a
message or None (not its case); when none applies pydantic's own text is kept. `data_path` maps pydantic's
`loc` onto the manifest's data.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler import dialect
from reconciler.manifest.errors import Path_, describe
from reconciler.manifest.model import MAX_USER_METADATA_PAIRS, field_names_at

#: Marks "no input" (a missing field).
MISSING = object()

_FIELD_MESSAGES = {
    "key": "must be lowercase letters, digits, '-', '_' or '.', starting with a letter or digit, "
    "at most 63 characters",
    "id": "must be an assistant id like asst_abc123",
    "name": "must be 1-64 letters, digits, '_' or '-'",
}
#: The rule for keys, shared by `key:` and file stems.
KEY_RULE = _FIELD_MESSAGES["key"]

_RANGES = {"temperature": dialect.TEMPERATURE_RANGE, "top_p": dialect.TOP_P_RANGE}
#: Tool types of later API versions, with what v1 calls them.
_LATER_TOOL_TYPES = {"file_search": "retrieval"}


@dataclass(frozen=True)
class PydanticError:
    """One pydantic error, its `path` already mapped onto the data."""

    kind: str
    default: str
    ctx: Mapping[str, Any]
    path: Path_
    value: Any
    data: Any

    @property
    def last(self) -> str | int | None:
        return self.path[-1] if self.path else None

    @property
    def got(self) -> str:
        return describe(self.value) if self.value is not MISSING else "nothing"


Rule = Callable[[PydanticError], "str | None"]


def _pattern(e: PydanticError) -> str | None:
    if e.path[:1] == ("file_ids",):
        return f"'{e.value}' does not look like a file id (e.g. file-abc123)"
    if isinstance(e.last, str) and e.last in _FIELD_MESSAGES:
        return f"'{e.value}' {_FIELD_MESSAGES[e.last]}"
    return None


def _unknown_field(e: PydanticError) -> str | None:
    if not isinstance(e.last, str):
        return None
    close = difflib.get_close_matches(e.last, field_names_at(e.path[:-1], e.data), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown field '{e.last}'{hint}"


def _missing(e: PydanticError) -> str:
    return f"required field '{e.last}' is missing" if isinstance(e.last, str) else "required field is missing"


def _unknown_tool(e: PydanticError) -> str:
    tag = e.ctx.get("tag")
    later = _LATER_TOOL_TYPES.get(str(tag))
    hint = f"; v1 calls it {later}" if later else ""
    return f"unknown tool type '{tag}' (expected {_or_list(dialect.TOOL_TYPES)}{hint})"


def _no_tool_type(e: PydanticError) -> str:
    return f"a tool needs a type ({_or_list(dialect.TOOL_TYPES)})"


def _mapping(e: PydanticError) -> str:
    if e.path[:1] == ("tools",) and len(e.path) == 2:
        return f"expected a tool like {{type: retrieval}}, got {e.got}"
    return f"expected a mapping, got {e.got}"


def _response_format(e: PydanticError) -> str | None:
    if e.path[:1] != ("response_format",):
        return None
    if len(e.path) == 1:
        shown = f"'{e.value}'" if isinstance(e.value, str) else e.got
        return f"expected 'auto', 'none', {{type: text}} or {{type: json_object}}, got {shown}"
    return (
        f"expected 'text' or 'json_object', got {e.value!r}" if isinstance(e.value, str) else f"got {e.got}"
    )


def _literal_type(e: PydanticError) -> str | None:
    return f"expected type {e.ctx.get('expected')}, got {e.value!r}" if e.last == "type" else None


def _range(e: PydanticError) -> str | None:
    if e.last not in _RANGES:
        return None
    low, high = _RANGES[str(e.last)]
    return f"must be between {low:g} and {high:g}, got {e.value}"


def _string_type(e: PydanticError) -> str:
    hint = " (quote it)" if isinstance(e.value, (int, float, bool)) else ""
    return f"expected a string, got {e.got}{hint}"


def _metadata_too_long(e: PydanticError) -> str | None:
    if e.path != ("metadata",):
        return None
    return (
        f"at most {MAX_USER_METADATA_PAIRS} pairs (the API allows {dialect.MAX_METADATA_PAIRS}; two are "
        f"reserved, for the ownership marker '{dialect.MARKER_KEY}' and the drift entry "
        f"'{dialect.APPLIED_KEY}'), got {_length(e)}"
    )


def _string_too_long(e: PydanticError) -> str | None:
    if not isinstance(e.value, str):
        return None
    return f"at most {e.ctx.get('max_length'):,} characters, got {len(e.value):,}"


#: Pydantic error type → rules tried in order.
RULES: dict[str, tuple[Rule, ...]] = {
    "string_pattern_mismatch": (_pattern,),
    "extra_forbidden": (_unknown_field,),
    "missing": (_missing,),
    "union_tag_invalid": (_unknown_tool,),
    "union_tag_not_found": (_no_tool_type,),
    "model_attributes_type": (_mapping,),
    "model_type": (_mapping,),
    "dict_type": (_mapping,),
    "literal_error": (_response_format, _literal_type),
    "greater_than_equal": (_range,),
    "less_than_equal": (_range,),
    "string_type": (_string_type,),
    "float_type": (lambda e: f"expected a number, got {e.got}",),
    "float_parsing": (lambda e: f"expected a number, got {e.got}",),
    "finite_number": (lambda e: "expected a finite number",),
    "list_type": (lambda e: f"expected a list, got {e.got}",),
    "too_long": (_metadata_too_long, lambda e: f"at most {e.ctx.get('max_length')} items, got {_length(e)}"),
    "string_too_long": (_string_too_long,),
    "string_too_short": (lambda e: "must not be empty",),
}


def message(error: PydanticError) -> str:
    """A human message for one pydantic error (pydantic's own when no rule applies)."""
    for rule in RULES.get(error.kind, ()):
        text = rule(error)
        if text is not None:
            return text
    return error.default


def data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path_, bool]:
    """Map a pydantic `loc` onto the data: union tags and model names are dropped; `[key]` marks a key."""
    path: list[str | int] = []
    current = data
    previous: Any = None
    for part in loc:
        if part == "[key]":
            return tuple(path), True
        is_tag = isinstance(previous, int) and part in dialect.TOOL_TYPES and path[:1] == ["tools"]
        previous = part
        if is_tag and len(path) == 2:
            continue  # the tool union's tag: not part of the data
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        ):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str):
            path.append(part)  # a missing field
            current = None
        # else: a model name: not part of the data
    return tuple(path), False


def _length(e: PydanticError) -> Any:
    return len(e.value) if isinstance(e.value, (list, dict)) else e.ctx.get("actual_length")


def _or_list(items: tuple[str, ...]) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1]
