"""Human messages for pydantic's validation errors, and where in the data each error is.

`message` looks the error's type up in `RULES`: each type has a few rules tried in order, each returning a
message or None (not its case); when none applies pydantic's own text is kept. `data_path` maps pydantic's
`loc` onto the manifest's data.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler import dialect
from reconciler.manifest.errors import Path_, describe
from reconciler.manifest.model import MAX_USER_METADATA_PAIRS, field_names_at
from reconciler.manifest.yaml12 import decimal_digits

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
#: An integer with more digits is shown by how many it has (`a number of 5,000 digits`), not digit by digit.
_SHOWN_DIGITS = 30
#: Tool types of later API versions, with what v1 calls them.
_LATER_TOOL_TYPES = {"file_search": "retrieval"}


@dataclass(frozen=True)
class Vocabulary:
    """What messages say differently per kind of manifest: the types of each tagged union (by the field that
    holds it: `tools`' items, `transport`, `format`), hints for tool types the kind does not have, the field
    names allowed at a path (for did-you-mean) and an example tool."""

    unions: Mapping[str, tuple[str, ...]]
    hints: Mapping[str, str]
    field_names_at: Callable[[Path_, Any], list[str]]
    example_tool: str
    #: (parent field: "" at the top, `tools[]` in a tool; unknown field) → why the kind has no such field.
    field_hints: Mapping[tuple[str, str], str] = field(default_factory=dict)


ASSISTANT_WORDS = Vocabulary(
    unions={"tool": dialect.TOOL_TYPES},
    hints={tool: f"v1 calls it {v1}" for tool, v1 in _LATER_TOOL_TYPES.items()},
    field_names_at=field_names_at,
    example_tool="{type: retrieval}",
)


@dataclass(frozen=True)
class PydanticError:
    """One pydantic error, its `path` already mapped onto the data."""

    kind: str
    default: str
    ctx: Mapping[str, Any]
    path: Path_
    value: Any
    data: Any
    words: Vocabulary = ASSISTANT_WORDS

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
    parent = _parent_name(e.path)
    why = e.words.field_hints.get((parent, e.last))
    if why:
        return f"unknown field '{e.last}' ({why})"
    close = difflib.get_close_matches(e.last, e.words.field_names_at(e.path[:-1], e.data), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown field '{e.last}'{hint}"


def _parent_name(path: Path_) -> str:
    """The field holding the last element of `path`: `""` at the top, `tools[]` for a list item's field."""
    if len(path) > 2 and isinstance(path[-2], int) and isinstance(path[-3], str):
        return f"{path[-3]}[]"
    return path[-2] if len(path) > 1 and isinstance(path[-2], str) else ""


def _missing(e: PydanticError) -> str:
    return f"required field '{e.last}' is missing" if isinstance(e.last, str) else "required field is missing"


def _union(e: PydanticError) -> tuple[str, tuple[str, ...]]:
    """The tagged union an error is about (`tool`, `transport`, `format`) and its types."""
    what = str(e.last) if e.last in e.words.unions else "tool"
    return what, e.words.unions[what]


def _unknown_tool(e: PydanticError) -> str:
    tag = e.ctx.get("tag")
    what, types = _union(e)
    hint = e.words.hints.get(str(tag)) if what == "tool" else None
    return f"unknown {what} type '{tag}' (expected {_or_list(types)}{f'; {hint}' if hint else ''})"


def _no_tool_type(e: PydanticError) -> str:
    what, types = _union(e)
    return f"a {what} needs a type ({_or_list(types)})"


def _mapping(e: PydanticError) -> str:
    if e.path[:1] == ("tools",) and len(e.path) == 2:
        return f"expected a tool like {e.words.example_tool}, got {e.got}"
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
    return f"must be between {low:g} and {high:g}, got {_number(e.value)}"


def _bound(e: PydanticError) -> str | None:
    """A bound of an integer field (`multi_agent.max_concurrent_subagents`)."""
    if "ge" in e.ctx:
        return f"must be at least {e.ctx['ge']:,}, got {_number(e.value)}"
    if "le" in e.ctx:
        return f"must be at most {e.ctx['le']:,}, got {_number(e.value)}"
    return None


def _float_type(e: PydanticError) -> str:
    if type(e.value) is int:  # too large for a float: more than 308 digits
        return f"too large: {_number(e.value)}"
    return f"expected a number, got {e.got}"


def _number(value: Any) -> str:
    """A number as messages show it: its digits, or how many there are when that is more than a line holds."""
    if type(value) is not int or -(10**_SHOWN_DIGITS) < value < 10**_SHOWN_DIGITS:
        return f"{value}"
    return f"a number of {decimal_digits(value):,} digits"


def _enum(e: PydanticError) -> str | None:
    shown = repr(e.value) if isinstance(e.value, str) else e.got
    return f"expected {e.ctx.get('expected')}, got {shown}" if "expected" in e.ctx else None


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
    "literal_error": (_response_format, _literal_type, _enum),
    "greater_than_equal": (_range, _bound),
    "less_than_equal": (_range, _bound),
    "string_type": (_string_type,),
    "float_type": (_float_type,),
    "float_parsing": (lambda e: f"expected a number, got {e.got}",),
    "finite_number": (lambda e: "expected a finite number",),
    "list_type": (lambda e: f"expected a list, got {e.got}",),
    "bool_type": (lambda e: f"expected true or false, got {e.got}",),
    "int_type": (lambda e: f"expected an integer, got {e.got}",),
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
    tagged: Any = None  # the object whose union tag was just skipped (a tag appears once per object)
    for part in loc:
        if part == "[key]":
            return tuple(path), True
        is_tag = isinstance(previous, int) and part in dialect.TOOL_TYPES and path[:1] == ["tools"]
        previous = part
        if is_tag and len(path) == 2:
            tagged = current
            continue  # the tool union's tag: not part of the data
        if isinstance(current, dict) and current is not tagged and current.get("type") == part not in current:
            tagged = current
            continue  # another tagged union's tag (an agent's tools, MCP transports, text formats)
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
