"""The position-tracking reader: YAML text → plain data, with the (line, col) of every key and value.

Slower than `events` (it builds ruamel's node tree), so it reads only the files whose fast read failed or
whose errors need positions, and a manifest's positions when a later message asks for them. It must only
see text that `events.read` accepted (no LimitError): ruamel's C composer recurses once per level, and
the alias expansion a document may hold is bounded there, at the alias that passes the bound.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.manifest.errors import Path_, describe
from reconciler.manifest.yaml12 import (
    CORE,
    MAX_DEPTH,
    MAX_NODES,
    SCALAR_TAGS,
    TooManyDigits,
    Yaml12Resolver,
    scalar_value,
    too_many_nodes,
)

Position = tuple[int, int]

#: What a merge key (`<<:`) gets.
MERGE_KEY_MESSAGE = "merge keys (<<) are not supported; repeat the fields instead"


class DocumentError(Exception):
    """A problem that stops the conversion of one document (alias bomb, nesting)."""

    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node


def mark(node: Node) -> Position:
    """1-based (line, col) where `node` starts."""
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class Converter:
    """Turns a composed YAML node tree into plain data, recording positions and problems."""

    def __init__(self) -> None:
        self.values: dict[Path_, Position] = {}
        self.keys: dict[Path_, Position] = {}
        self.problems: list[tuple[Position, Path_, str]] = []
        self.count = 0
        #: Paths of the scalars that could not be read (a problem says why; the model need not say more).
        self.unreadable: set[Path_] = set()
        self._seen: set[int] = set()  # ids of the nodes converted: a node met twice came through an alias
        self._aliased = False

    def positions(self) -> dict[Path_, Position]:
        """Field path → position: the key's where there is one, else the value's."""
        return {**self.values, **self.keys}

    def convert(self, node: Node, path: Path_ = (), depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise DocumentError(node, too_many_nodes(self._aliased))
        if id(node) in self._seen:
            self._aliased = True
        self._seen.add(id(node))
        if depth > MAX_DEPTH:
            raise DocumentError(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.values.setdefault(path, mark(node))
        tag = node.tag if isinstance(node.tag, str) else str(getattr(node.tag, "value", node.tag))
        if isinstance(node, ScalarNode):
            if tag not in SCALAR_TAGS:
                self._tag_problem(node, tag, path)
                return node.value
            return self._scalar(node, tag, path)
        if isinstance(node, SequenceNode):
            if tag != CORE + "seq":
                self._tag_problem(node, tag, path)
            return [self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if tag != CORE + "map":
                self._tag_problem(node, tag, path)
            return self._mapping(node, path, depth)
        raise DocumentError(node, f"unsupported YAML node {type(node).__name__}")  # pragma: no cover

    def _mapping(self, node: MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            self.count += 1
            if isinstance(key_node, ScalarNode) and key_node.value == "<<" and not key_node.style:
                self.problems.append((mark(key_node), path, MERGE_KEY_MESSAGE))
                continue
            key = self.convert(key_node, (*path, "<key>"), depth + 1)
            self.values.pop((*path, "<key>"), None)
            if not isinstance(key, str):
                message = f"mapping keys must be strings, got {describe(key)} (quote it)"
                self.problems.append((mark(key_node), path, message))
                continue
            child: Path_ = (*path, key)
            if key in out:
                first = self.keys[child]
                message = f"duplicate key (first defined on line {first[0]})"
                self.problems.append((mark(key_node), child, message))
                continue
            self.keys[child] = mark(key_node)
            out[key] = self.convert(value_node, child, depth + 1)
        return out

    def _tag_problem(self, node: Node, tag: str, path: Path_) -> None:
        shown = "!!" + tag[len(CORE) :] if tag.startswith(CORE) else tag
        self.problems.append(
            (mark(node), path, f"YAML tag '{shown}' is not allowed (manifests are plain data)")
        )

    def _scalar(self, node: ScalarNode, tag: str, path: Path_) -> Any:
        try:
            return scalar_value(tag, node.value)
        except TooManyDigits as err:
            problem = str(err)
        except ValueError:
            problem = f"cannot read '{node.value}' as {tag[len(CORE) :]}"
        self.problems.append((mark(node), path, problem))
        self.unreadable.add(path)
        return node.value


_yaml = YAML(typ="safe")
_yaml.Resolver = Yaml12Resolver


def compose(text: str) -> Iterator[Node | None]:
    """Yield the root node of each document (None for an empty one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a reused anchor is legal YAML 1.2; ruamel only warns
        yield from _yaml.compose_all(text)


def is_empty_document(root: Node | None) -> bool:
    """True for a document holding nothing (or only `~`)."""
    return root is None or (
        isinstance(root, ScalarNode) and root.tag == CORE + "null" and root.value in ("", "~")
    )


def tab_indentation(text: str) -> Position | None:
    """Line and column of the first tab in a line's indentation, if any (tabs inside block scalars
    are legal, so this only explains a parse error, it is not a check of its own)."""
    if "\t" not in text:
        return None
    for number, line in enumerate(text.split("\n"), 1):
        indent = len(line) - len(line.lstrip(" \t"))
        if "\t" in line[:indent] and line.strip():
            return number, line.index("\t") + 1
    return None


def offset_position(text: str, offset: int) -> Position:
    """1-based (line, col) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return (line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def yaml_problem(text: str, err: MarkedYAMLError) -> tuple[str, Position | None]:
    """The message and position for invalid YAML `text` (`err` from ruamel), shared by manifests and
    reconciler.yaml: a tab indentation, an unterminated quote and a `key: value: more` line get a hint."""
    tab = tab_indentation(text)
    if tab is not None:
        # libyaml's message for this ("found character that cannot start any token") misleads.
        return "tab used for indentation (YAML needs spaces)", tab
    problem = err.problem or err.context or "malformed YAML"
    mark = err.problem_mark or err.context_mark
    if err.context == "while scanning a quoted scalar" and err.context_mark is not None:
        mark = err.context_mark
        problem = "unterminated quoted string (the quote opens here)"
    elif mark is not None and _colon_in_value(text, mark.line, mark.column, problem):
        problem += " (the value holds ': '): quote the value or use a block scalar (|)"
    return f"invalid YAML: {problem}", (mark.line + 1, mark.column + 1) if mark is not None else None


def _colon_in_value(text: str, line: int, col: int, problem: str) -> bool:
    """True when a "mapping values are not allowed" error is a `key: value: more` line (an unquoted ': '
    inside a value), not a mis-indented key."""
    if "mapping values are not allowed" not in problem:
        return False
    lines = text.split("\n")
    return line < len(lines) and ": " in lines[line][:col]
