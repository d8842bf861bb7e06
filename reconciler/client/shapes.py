"""The JSON shapes the tool reads, checked once at the client boundary.

Every answer a `Client` method returns is checked here first; assistants and files then become the typed
values of `reconciler.client.objects`, so the rest of the tool reads them without guarding against a broken
or hostile server. A mismatch is one line
naming the endpoint and the first problem, e.g.
`GET /assistants: the server's answer is not an assistant list: data[3] has no "id"`.

Only `id` is required (servers differ in what else they send); every other field the tool reads is checked
for its type when present, and `object`, when present, must name the kind expected (an assistant list served
at `/models` is no model list). Unknown fields are allowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler import dialect

__all__ = [
    "AGENT",
    "ASSISTANT",
    "ASSISTANT_FILE",
    "BY_KIND",
    "DELETED",
    "FILE",
    "MODEL",
    "Shape",
    "ShapeError",
    "check_deletion",
    "check_page",
]


class ShapeError(ValueError):
    """The problem with a value, e.g. `data[3] has no "id"`."""


Check = Callable[[Any], bool]


def _kind(value: Any) -> str:
    """How a JSON value is named in a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _string(value: Any) -> bool:
    return isinstance(value, str)


def _optional_string(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_integer(value: Any) -> bool:
    return value is None or _integer(value)


def _optional_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _response_format(value: Any) -> bool:
    return value is None or isinstance(value, (str, dict))


def _boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _strings(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _tools(value: Any) -> bool:
    return value is None or (
        isinstance(value, list) and all(isinstance(t, dict) and isinstance(t.get("type"), str) for t in value)
    )


def _optional_object(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _metadata(value: Any) -> bool:
    return value is None or (
        isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    )


#: What each check accepts, for messages.
_EXPECTED: dict[Check, str] = {
    _string: "a string",
    _optional_string: "a string or null",
    _integer: "an integer",
    _optional_integer: "an integer or null",
    _optional_number: "a number or null",
    _response_format: "a string, an object or null",
    _boolean: "a boolean",
    _strings: "a list of strings",
    _tools: 'a list of objects with a "type"',
    _metadata: "an object of strings",
    _optional_object: "an object or null",
}


@dataclass(frozen=True)
class Shape:
    """An API object: its name in messages (`an assistant`, and of a list of them) and a check per field
    the tool reads."""

    name: str
    list_name: str
    fields: Mapping[str, Check]
    object: str | None = None  # the `object` value of this kind (checked when sent), None: not checked

    def check(self, value: Any, where: str = "") -> None:
        """Raise `ShapeError` naming the first problem (`where` prefixes field names, e.g. `data[3]`)."""
        if not isinstance(value, dict):
            raise ShapeError(f"{where or 'the answer'} is {_kind(value)}, not an object")
        if not isinstance(value.get("id"), str):
            problem = "has no" if "id" not in value else f"has {_kind(value['id'])} as its"
            raise ShapeError(f'{where or "it"} {problem} "id"')
        if not dialect.is_object_id(value["id"]):  # every id an API hands out is a token of printable ASCII
            raise ShapeError(f'{where or "it"} has an "id" that is not a token of printable characters')
        sent = value.get("object")
        if self.object is not None and sent is not None and sent != self.object:
            shown = repr(sent[:40]) if isinstance(sent, str) else _kind(sent)
            raise ShapeError(f"{where + '.' if where else ''}object is {shown}, not {self.object!r}")
        for name, accepts in self.fields.items():
            if name in value and not accepts(value[name]):
                field = f"{where}.{name}" if where else f'"{name}"'
                raise ShapeError(f"{field} is {_kind(value[name])}, not {_EXPECTED[accepts]}")


ASSISTANT = Shape(
    "an assistant",
    "an assistant list",
    {
        "created_at": _integer,
        "name": _optional_string,
        "description": _optional_string,
        "model": _string,
        "instructions": _optional_string,
        "tools": _tools,
        "file_ids": _strings,
        "metadata": _metadata,
        "temperature": _optional_number,
        "top_p": _optional_number,
        "response_format": _response_format,
    },
    "assistant",
)
AGENT = Shape(
    "an agent",
    "an agent list",
    {
        "created_at": _integer,
        "name": _optional_string,
        "model": _string,
        "instructions": _optional_string,
        "tools": _tools,
        "metadata": _metadata,
        "reasoning": _optional_object,
        "service_tier": _optional_string,
        "text": _optional_object,
        "multi_agent": _optional_object,
    },
    "agent",
)
#: The shape of one object of each kind, by kind name (`reconciler.kinds`).
BY_KIND: dict[str, Shape] = {"assistant": ASSISTANT, "agent": AGENT}
FILE = Shape(
    "a file",
    "a file list",
    {
        "filename": _string,
        "bytes": _optional_integer,
        "purpose": _string,
        "created_at": _integer,
        "status": _optional_string,
    },
    "file",
)
ASSISTANT_FILE = Shape(
    "an assistant file",
    "an assistant file list",
    {"assistant_id": _string, "created_at": _integer},
    "assistant.file",
)
MODEL = Shape("a model", "a model list", {}, "model")
DELETED = Shape("a deletion", "a deletion list", {"deleted": _boolean})


def check_deletion(answer: dict[str, Any], asked: str, deleted_object: str) -> None:
    """Raise `ShapeError` unless `answer` (checked as `DELETED`) is the deletion of `asked`: its `id`, a
    `deleted` field (`deleted: false` is the caller's to report), and `deleted_object` when it says what it
    is. A server answering with another object's deletion had the delete counted as done."""
    sent = answer.get("object")
    if answer.get("id") != asked:
        raise ShapeError(f'its "id" is {json.dumps(answer.get("id"))[:80]}, not {asked}')
    if "deleted" not in answer:
        raise ShapeError('it has no "deleted"')
    if sent is not None and sent != deleted_object:
        raise ShapeError(f'its "object" is {json.dumps(sent)[:80]}, not {deleted_object!r}')


def check_page(page: dict[str, Any], item: Shape) -> list[dict[str, Any]]:
    """The items of a list page (`data`; absent or null means none), each checked as `item`."""
    data = page.get("data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise ShapeError(f'"data" is {_kind(data)}, not a list')
    for index, value in enumerate(data):
        item.check(value, f"data[{index}]")
    for name, accepts in (("has_more", _boolean), ("last_id", _optional_string)):
        if name in page and not accepts(page[name]):
            raise ShapeError(f'"{name}" is {_kind(page[name])}, not {_EXPECTED[accepts]}')
    return data
