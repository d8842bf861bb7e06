"""The fast reader: YAML text → plain data straight from libyaml's event stream, and the nesting limit.

`read` walks the events once, without recursion, so it also enforces `MAX_DEPTH` on any text before
anything recursive (ruamel's composer, the converter) sees it: a document nested 100,000 levels deep is one
error, not a stack overflow. It builds the data of well-formed documents itself; as soon as a document
needs more than plain data (a tag, an alias, a merge key, a duplicate or non-string key, an empty or
non-mapping document, a scalar that can't be read, a syntax error), it gives up on the data and returns
None: the caller then reads the file with `composer`, which reports every such problem with its position.
Both readers share `yaml12`, so a document they both read gives the same data.
"""

from __future__ import annotations

import functools
from typing import Any

from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from ruamel.yaml.main import CParser

from reconciler.manifest.yaml12 import CORE, MAX_DEPTH, MAX_NODES, SCALAR_TAGS, plain_tag, scalar_value

Position = tuple[int, int]
#: One document read fast: its data (a mapping) and where its root starts.
Document = tuple[dict[str, Any], Position]

_STR = CORE + "str"
_NO_KEY = object()
_GIVE_UP = object()


class NestingError(Exception):
    """The text nests collections deeper than `MAX_DEPTH`; `position` is where the limit is crossed."""

    def __init__(self, position: Position) -> None:
        super().__init__(f"nesting deeper than {MAX_DEPTH} levels")
        self.position = position


class _GiveUp(Exception):
    """The fast reader can't build this data; the position-tracking reader must."""


def read(text: str) -> list[Document] | None:
    """Every document's data, or None when `composer` must read the text (see the module docstring).

    Raises NestingError, whatever else is wrong with the text, when the events nest too deep before any
    syntax error.
    """
    if CParser is None:  # pragma: no cover - ruamel.yaml.clib missing: always the careful path
        _check_nesting(text)
        return None
    parser = CParser(text)
    try:
        return _build(parser)
    except _GiveUp:
        _check_nesting(text)
        return None
    except YAMLError:
        return None  # the composer reports it (the events up to the error were within the limit)
    finally:
        parser.dispose()


def _check_nesting(text: str) -> None:
    """Raise NestingError when the events of `text` nest deeper than `MAX_DEPTH` before any syntax error."""
    if CParser is None:  # pragma: no cover
        return
    parser = CParser(text)
    depth = 0
    try:
        while True:
            event = parser.get_event()
            kind = type(event)
            if kind is MappingStartEvent or kind is SequenceStartEvent or kind is ScalarEvent:
                if depth > MAX_DEPTH:
                    raise NestingError((event.start_mark.line + 1, event.start_mark.column + 1))
                depth += kind is not ScalarEvent
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                depth -= 1
            elif kind is StreamEndEvent:
                return
    except YAMLError:
        return
    finally:
        parser.dispose()


@functools.lru_cache(maxsize=4096)
def _plain(text: str) -> Any:
    """The value of a plain scalar, or _GIVE_UP when only the careful reader can say what is wrong."""
    tag = plain_tag(text)
    if tag == _STR:
        return text
    if tag not in SCALAR_TAGS:
        return _GIVE_UP  # a plain '<<' or '=' outside a key
    try:
        return scalar_value(tag, text)
    except ValueError:
        return _GIVE_UP


def _build(parser: Any) -> list[Document]:
    """Documents from the events of `parser`, with an explicit stack (a frame per open collection:
    [container, pending mapping key]). One function, locals only: this loop is the load time."""
    get_event = parser.get_event
    documents: list[Document] = []
    stack: list[list[Any]] = []
    root: Any = _NO_KEY
    start: Position = (1, 1)
    count = 0
    while True:
        event = get_event()
        kind = type(event)
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            value = stack.pop()[0]
        elif kind is ScalarEvent or kind is MappingStartEvent or kind is SequenceStartEvent:
            count += 1
            if len(stack) > MAX_DEPTH:
                raise NestingError((event.start_mark.line + 1, event.start_mark.column + 1))
            if event.ctag is not None or count > MAX_NODES:  # `ctag`: `tag` is a property building a str
                raise _GiveUp
            if not stack:
                start = (event.start_mark.line + 1, event.start_mark.column + 1)
            if kind is not ScalarEvent:
                stack.append([{} if kind is MappingStartEvent else [], _NO_KEY])
                continue
            value = _plain(event.value) if event.implicit[0] else event.value
            if value is _GIVE_UP:
                raise _GiveUp
        elif kind is DocumentStartEvent:
            root, count = _NO_KEY, 0
            continue
        elif kind is DocumentEndEvent:
            if type(root) is not dict or not root:
                raise _GiveUp  # empty, scalar or list documents get the careful messages
            documents.append((root, start))
            continue
        elif kind is StreamEndEvent:
            if not documents:
                raise _GiveUp  # comments only: the careful reader says so
            return documents
        elif kind is AliasEvent:
            raise _GiveUp
        else:
            continue
        if not stack:
            root = value
            continue
        frame = stack[-1]
        container = frame[0]
        if type(container) is list:
            container.append(value)
        elif frame[1] is _NO_KEY:
            if type(value) is not str or value == "<<" or value in container:
                raise _GiveUp  # non-string, merge or duplicate key (a quoted '<<' is rare enough)
            frame[1] = value
            count += 1  # as the composer's converter counts: one per pair
        else:
            container[frame[1]] = value
            frame[1] = _NO_KEY
