"""The fast reader: YAML text → plain data straight from libyaml's event stream, and the structure limits.

`read` walks the events once, without recursion, so it also enforces `MAX_DEPTH` on any text before
anything recursive (ruamel's composer, the converter) sees it: a document nested 100,000 levels deep is one
error, not a stack overflow. Likewise the bounds on what aliases expand a document to (`MAX_EXPANDED_BYTES`
characters, `MAX_NODES` nodes), before anything expands one: a 600 KB file repeating a 100 KB anchor 10,000
times is one error at the alias that passes the bound, not 1 GB to plan.

It builds the data of well-formed documents itself; as soon as a document needs more than plain data (a
tag, an alias, a merge key, a duplicate or non-string key, an empty or non-mapping document, a scalar that
can't be read, a syntax error), it gives up on the data and returns None: the caller then reads the file
with `composer`, which reports every such problem with its position. Both readers share `yaml12`, so a
document they both read gives the same data.
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

from reconciler.manifest.yaml12 import (
    CORE,
    MAX_DEPTH,
    MAX_EXPANDED_BYTES,
    MAX_NODES,
    SCALAR_TAGS,
    TooManyDigits,
    plain_tag,
    scalar_value,
    too_many_nodes,
)

Position = tuple[int, int]
#: One document read fast: its data (a mapping) and where its root starts.
Document = tuple[dict[str, Any], Position]

_STR = CORE + "str"
_INT = CORE + "int"
_NO_KEY = object()
_GIVE_UP = object()


class LimitError(Exception):
    """The text is refused before it is read: it passes a limit on its structure, or declares a YAML version
    the readers do not read (VersionError); `position` is where, `str(err)` the one-line message."""

    def __init__(self, message: str, position: Position) -> None:
        super().__init__(message)
        self.position = position


class NestingError(LimitError):
    """The text nests collections deeper than `MAX_DEPTH`."""

    def __init__(self, position: Position) -> None:
        super().__init__(f"nesting deeper than {MAX_DEPTH} levels", position)


class ExpansionError(LimitError):
    """The aliases of a document repeat more than `MAX_EXPANDED_BYTES` characters; `position` is the alias
    that passes the limit."""

    def __init__(self, position: Position, added: int) -> None:
        super().__init__(
            f"aliases expand this document past {MAX_EXPANDED_BYTES // 2**20} MB "
            f"({added:,} characters repeated by this alias and those before it)",
            position,
        )


class VersionError(LimitError):
    """A `%YAML` directive names a version other than 1.2. Every reader of manifests reads YAML 1.2, where
    `yes`, `no`, `on` and `off` are strings and `017` is 17: a file written for YAML 1.1 would not mean
    what its author wrote (and `fmt`'s round trip would read it the 1.1 way, rewriting its meaning)."""

    def __init__(self, version: tuple[int, int], position: Position) -> None:
        super().__init__(
            f"%YAML {version[0]}.{version[1]}: reconciler reads YAML 1.2 only, where yes, no, on and off are "
            "strings and 017 is 17; remove the directive",
            position,
        )


class _GiveUp(Exception):
    """The fast reader can't build this data; the position-tracking reader must."""


def read(text: str) -> list[Document] | None:
    """Every document's data, or None when `composer` must read the text (see the module docstring).

    Raises a LimitError, whatever else is wrong with the text, when before any syntax error the events nest
    too deep (NestingError), a document's aliases expand it too far (ExpansionError) or a document declares
    a YAML version other than 1.2 (VersionError).
    """
    if CParser is None:  # pragma: no cover - ruamel.yaml.clib missing: always the careful path
        _check_limits(text)
        return None
    parser = CParser(text)
    try:
        return _build(parser)
    except _GiveUp:
        _check_limits(text)
        return None
    except YAMLError:
        return None  # the composer reports it (the events up to the error were within the limits)
    finally:
        parser.dispose()


def _check_limits(text: str) -> None:
    """Raise a LimitError when the events of `text`, before any syntax error, nest deeper than `MAX_DEPTH`
    or expand a document through its aliases too far (`_Expansion`)."""
    if CParser is None:  # pragma: no cover
        return
    parser = CParser(text)
    expansion = _Expansion()
    try:
        while True:
            event = parser.get_event()
            kind = type(event)
            if kind is MappingStartEvent or kind is SequenceStartEvent or kind is ScalarEvent:
                if len(expansion.frames) > MAX_DEPTH:
                    raise NestingError(_position(event))
                if kind is ScalarEvent:
                    expansion.scalar(event.anchor, len(event.value))
                else:
                    expansion.open(event.anchor, kind is MappingStartEvent)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                expansion.close()
            elif kind is AliasEvent:
                expansion.alias(event.anchor)
            elif kind is DocumentStartEvent:
                _check_version(event)
                expansion = _Expansion()  # anchors and counts belong to their document
                continue
            elif kind is StreamEndEvent:
                return
            else:
                continue
            expansion.check(_position(event))
    except YAMLError:
        return
    finally:
        parser.dispose()


class _Expansion:
    """What one document expands to, aliases included, counted from its events without building anything.

    An alias adds what its anchor holds: the characters of its scalars (keys and values) and its YAML
    nodes, counted as `composer.Converter` counts them (one per node, one per mapping pair). `check` raises
    ExpansionError once the aliases added more than `MAX_EXPANDED_BYTES` characters, and the node bound's
    alias message once the document passes `MAX_NODES` after an alias; a document passing it without one
    is left to the readers (the message and position of a plain document do not depend on aliases).
    """

    def __init__(self) -> None:
        self.anchors: dict[str, tuple[int, int]] = {}  # anchor → (characters, nodes) its node expands to
        self.frames: list[list[Any]] = []  # per open collection: [anchor, characters, nodes, mapping, items]
        self.added = 0  # characters the aliases added
        self.nodes = 0  # nodes so far, aliases expanded
        self.aliased = False  # an alias came before the node bound was passed

    def scalar(self, anchor: str | None, characters: int) -> None:
        self.nodes += 1
        self._finished(anchor, characters, 1)

    def open(self, anchor: str | None, mapping: bool) -> None:
        self.nodes += 1
        self.frames.append([anchor, 0, 1, mapping, 0])

    def close(self) -> None:
        anchor, characters, nodes, _, _ = self.frames.pop()
        self._finished(anchor, characters, nodes)

    def alias(self, anchor: str) -> None:
        characters, nodes = self.anchors.get(anchor, (0, 0))  # undefined: the composer reports it
        self.aliased = self.aliased or self.nodes <= MAX_NODES
        self.added += characters
        self.nodes += nodes
        self._finished(None, characters, nodes)

    def check(self, position: Position) -> None:
        if self.added > MAX_EXPANDED_BYTES:
            raise ExpansionError(position, self.added)
        if self.aliased and self.nodes > MAX_NODES:
            raise LimitError(too_many_nodes(aliased=True), position)

    def _finished(self, anchor: str | None, characters: int, nodes: int) -> None:
        """A node is complete: record what its anchor stands for, and add it to the collection holding it."""
        if anchor is not None:
            self.anchors[anchor] = (characters, nodes)
        if self.frames:
            frame = self.frames[-1]
            frame[4] += 1
            pair = 1 if frame[3] and frame[4] % 2 else 0  # a mapping's key: the converter counts the pair
            frame[1] += characters
            frame[2] += nodes + pair
            self.nodes += pair


def long_integer(text: str) -> tuple[str, Position] | None:
    """The first integer of `text` past `MAX_INT_DIGITS` (the message and where it starts), or None: for a
    reader that fails on one without saying where (`reconciler fmt`'s round trip)."""
    if CParser is None:  # pragma: no cover
        return None
    parser = CParser(text)
    try:
        while type(event := parser.get_event()) is not StreamEndEvent:
            if type(event) is not ScalarEvent:
                continue
            tag = plain_tag(event.value) if event.implicit[0] else event.tag
            if tag == _INT:
                try:
                    scalar_value(tag, event.value)
                except TooManyDigits as err:
                    return str(err), _position(event)
                except ValueError:
                    pass
    except YAMLError:
        pass
    finally:
        parser.dispose()
    return None


def _check_version(event: Any) -> None:
    """Raise VersionError when the document `event` starts declares a YAML version other than 1.2."""
    if event.version is not None and tuple(event.version) != (1, 2):
        raise VersionError(tuple(event.version), _position(event))


def _position(event: Any) -> Position:
    """1-based (line, col) where `event` starts."""
    return (event.start_mark.line + 1, event.start_mark.column + 1)


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
                raise NestingError(_position(event))
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
            _check_version(event)
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
