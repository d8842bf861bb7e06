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
        return _Builder(parser).run()
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


class _Builder:
    """Builds documents from events with an explicit stack (one frame per open collection)."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.documents: list[Document] = []
        # Open collections: [container, pending mapping key or _NO_KEY].
        self.stack: list[list[Any]] = []
        self.root: Any = _NO_KEY
        self.start: Position = (1, 1)
        self.count = 0

    def run(self) -> list[Document]:
        get_event = self.parser.get_event
        while True:
            event = get_event()
            kind = type(event)
            if kind is ScalarEvent:
                self._node(event)
                self._add(self._scalar(event))
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                self._node(event)
                if event.tag is not None:
                    raise _GiveUp
                self.stack.append([{} if kind is MappingStartEvent else [], _NO_KEY])
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                self._add(self.stack.pop()[0])
            elif kind is DocumentStartEvent:
                self.root = _NO_KEY
                self.count = 0
            elif kind is DocumentEndEvent:
                if not isinstance(self.root, dict) or not self.root:
                    raise _GiveUp  # empty, scalar or list documents get the careful messages
                self.documents.append((self.root, self.start))
            elif kind is AliasEvent:
                raise _GiveUp
            elif kind is StreamEndEvent:
                if not self.documents:
                    raise _GiveUp  # comments only: the careful path says so
                return self.documents

    def _node(self, event: Any) -> None:
        depth = len(self.stack)
        if depth > MAX_DEPTH:
            raise NestingError((event.start_mark.line + 1, event.start_mark.column + 1))
        self.count += 1
        if self.count > MAX_NODES:
            raise _GiveUp
        if depth == 0:
            self.start = (event.start_mark.line + 1, event.start_mark.column + 1)

    @staticmethod
    def _scalar(event: Any) -> Any:
        if event.tag is not None:
            raise _GiveUp
        if not event.implicit[0]:
            return event.value  # quoted or block: a string
        tag = plain_tag(event.value)
        if tag == _STR:
            return event.value
        if tag not in SCALAR_TAGS:
            raise _GiveUp  # a plain '<<' or '=' outside a key
        try:
            return scalar_value(tag, event.value)
        except ValueError:
            raise _GiveUp from None

    def _add(self, value: Any) -> None:
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        container = frame[0]
        if type(container) is list:
            container.append(value)
        elif frame[1] is _NO_KEY:
            if type(value) is not str or value == "<<" or value in container:
                raise _GiveUp  # non-string, merge or duplicate key (a quoted '<<' is rare enough)
            frame[1] = value
            self.count += 1  # as the composer's converter counts: one per pair
        else:
            container[frame[1]] = value
            frame[1] = _NO_KEY
