"""`reconciler fmt`: rewrite manifests into the canonical layout of `reconciler.layout`, keeping comments.

Contract:

- `format_text` is pure and idempotent (`format_text(format_text(t)) == format_text(t)`); the data a file
  holds never changes (checked on every run: a file whose data would change is left alone and reported).
- Top-level fields are put in `layout.ORDER` (unknown fields after, in their order). Each field moves with
  its comments: the comment lines between the previous field's value and the field belong to it, as does
  an end-of-line comment; the header (the modeline, and comments separated from the first field by a blank
  line) and trailing comments stay in place. The yaml-language-server modeline is added when missing (naming
  `schema/agent.json` for an agent manifest, one in a directory named `agents`; else `schema/manifest.json`).
  Agent manifests take the same layout: their fields outside `layout.ORDER` keep their order after it.
- The ruamel.yaml round trip then rewrites indentation and string styles (`layout.restyle`): instructions
  become a block literal where exact, other multi-line strings too; numbers are written canonically.
- A document holding aliases keeps its field order (moving fields could put an alias before its anchor).
- `run_fmt` prints `reformatted FILE` (or, with `check`, `would reformat FILE`) on stdout, errors as
  `FILE:LINE:COL: message` and a summary on stderr, and returns False when a file would change (`check`)
  or could not be formatted.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
)
from ruamel.yaml.reader import ReaderError

from reconciler import layout
from reconciler.fsio import write_atomic
from reconciler.manifest.listing import manifest_files
from reconciler.manifest.reading import ReadError, read_manifest

#: Where the modeline's schema lives, relative to the repository root.
SCHEMA_PATH = Path("schema") / "manifest.json"
#: The schema of agent manifests: those in a directory named `AGENTS_DIRECTORY`.
AGENT_SCHEMA_PATH = Path("schema") / "agent.json"
AGENTS_DIRECTORY = "agents"
_COMMENT = re.compile(r"^\s*#")
#: Passes of the round trip allowed to reach a fixed point (one is the rule; ruamel occasionally moves a
#: comment once).
MAX_PASSES = 3


class FormatError(Exception):
    """A file that cannot be formatted; `line`/`col` are 1-based when known."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col

    def where(self, path: str) -> str:
        """`FILE:LINE:COL: message` (line and column when known)."""
        place = path
        if self.line is not None:
            place += f":{self.line}"
            if self.col is not None:
                place += f":{self.col}"
        return f"{place}: {self.message}"


# --------------------------------------------------------------------------------------------- text spans


@dataclass
class _Field:
    """A top-level field of a document: its key and the lines it spans (0-based, inclusive)."""

    key: str
    key_line: int
    last_line: int
    keeps_trailing_blanks: bool = False
    lead_start: int = 0


@dataclass
class _Document:
    fields: list[_Field]
    reorderable: bool


class _FieldScanner:
    """Finds the top-level fields of every document from the parser's events (marks are 0-based): one
    method per situation, the state in attributes."""

    def __init__(self) -> None:
        self.docs: list[_Document] = []
        self._start_document()

    def _start_document(self) -> None:
        self.fields: list[_Field] = []
        self.reorderable = True
        self.depth = 0
        self.flow: list[bool] = []
        self.expecting_key = True
        self.current: _Field | None = None
        self.last_end: tuple[int, int] | None = None
        self.root_seen = False

    def scan(self, text: str) -> list[_Document]:
        event: Event
        for event in layout.new_yaml().parse(text):
            if isinstance(event, DocumentStartEvent):
                self._start_document()
            elif isinstance(event, DocumentEndEvent):
                self.docs.append(_Document(self.fields, self.reorderable and bool(self.fields)))
            else:
                if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
                    self.reorderable = False
                if self.depth == 0:
                    self._root(event)
                elif self.depth == 1 and not self.flow:
                    self._top_level(event)
                else:
                    self._nested(event)
        return self.docs

    def _finish_value(self, end: tuple[int, int], keeps: bool = False) -> None:
        current = self.current
        assert current is not None
        line, col = end
        current.last_line = max(current.key_line, line if col > 0 else line - 1)
        current.keeps_trailing_blanks = keeps
        self.fields.append(current)
        self.current = None
        self.expecting_key = True

    def _open(self, event: Event) -> None:
        self.depth += 1
        self.flow.append(bool(getattr(event, "flow_style", False)))

    def _root(self, event: Event) -> None:
        if self.root_seen:
            return
        self.root_seen = True
        if isinstance(event, MappingStartEvent) and not event.flow_style:
            self.depth = 1
            return
        self.reorderable = False
        if isinstance(event, CollectionStartEvent):
            self.depth = 1
            self.flow.append(True)  # treated as opaque

    def _top_level(self, event: Event) -> None:
        if isinstance(event, CollectionEndEvent):  # the end of the top-level mapping
            self.depth = 0
        elif self.expecting_key:
            self._key(event)
        elif isinstance(event, ScalarEvent):  # the value of `current`
            empty = event.value == "" and not event.style
            end = self.last_end if empty and self.last_end else (event.end_mark.line, event.end_mark.column)
            # Blank lines after a block scalar may be its content (`|+`): they stay with it.
            keeps = bool(event.style and event.style in "|>" and event.value.endswith("\n"))
            self._finish_value(end, keeps)
        elif isinstance(event, AliasEvent):
            self._finish_value((event.end_mark.line, event.end_mark.column))
        elif isinstance(event, CollectionStartEvent):
            self._open(event)
            self.last_end = (event.end_mark.line, event.end_mark.column)

    def _key(self, event: Event) -> None:
        self.expecting_key = False
        if not isinstance(event, ScalarEvent):
            self.reorderable = False
            self.current = _Field("?", event.start_mark.line, event.start_mark.line)
            if isinstance(event, CollectionStartEvent):
                self._open(event)
            return
        self.current = _Field(str(event.value), event.start_mark.line, event.start_mark.line)
        self.last_end = (event.end_mark.line, event.end_mark.column)

    def _nested(self, event: Event) -> None:
        """An event inside a top-level value."""
        if isinstance(event, CollectionStartEvent):
            self._open(event)
        elif isinstance(event, CollectionEndEvent):
            self.depth -= 1
            if self.flow.pop():
                self.last_end = (event.end_mark.line, event.end_mark.column)
            if self.depth == 1 and self.current is not None:
                assert self.last_end is not None
                self._finish_value(self.last_end)
        elif isinstance(event, ScalarEvent | AliasEvent):
            self.last_end = (event.end_mark.line, event.end_mark.column)


def _documents(text: str) -> list[_Document]:
    """The top-level fields of every document of `text`, from the parser's events (marks are 0-based)."""
    return _FieldScanner().scan(text)


def _is_blank(line: str) -> bool:
    return not line.strip()


def reorder(text: str) -> str:
    """`text` with the top-level fields of each document in `layout.ORDER`, each moving with its comments
    (see the module docstring). Other lines stay where they are."""
    lines = text.split("\n")
    docs = _documents(text)
    replacements: list[tuple[int, int, list[str]]] = []
    for doc in docs:
        if not doc.reorderable:
            continue
        fields = doc.fields
        first = fields[0]
        start = first.key_line
        while (
            start > 0
            and _COMMENT.match(lines[start - 1])
            and not layout.MODELINE_PATTERN.match(lines[start - 1].strip())
        ):
            start -= 1
        first.lead_start = start
        for prev, field in itertools.pairwise(fields):
            field.lead_start = prev.last_line + 1
        order = layout.order_keys([f.key for f in fields])
        if order == [f.key for f in fields]:
            continue
        by_key = {f.key: f for f in fields}
        block: list[str] = []
        for key in order:
            field = by_key[key]
            span = lines[field.lead_start : field.last_line + 1]
            separated = bool(span) and _is_blank(span[0])
            while span and _is_blank(span[0]):
                span.pop(0)
            if not field.keeps_trailing_blanks:
                while span and _is_blank(span[-1]):
                    span.pop()
            if separated and block:
                block.append("")
            block.extend(span)
        replacements.append((first.lead_start, fields[-1].last_line, block))
    for begin, end, block in reversed(replacements):
        lines[begin : end + 1] = block
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- formatting


def _yaml_error(err: Exception) -> FormatError:
    if isinstance(err, MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "malformed YAML"
        if mark is not None:
            return FormatError(f"invalid YAML: {problem}", mark.line + 1, mark.column + 1)
        return FormatError(f"invalid YAML: {problem}")
    if isinstance(err, ReaderError):
        return FormatError(f"invalid YAML: unacceptable character #x{err.character:04x}")
    return FormatError(f"invalid YAML: {' '.join(str(err).split())}")


def _load_all(text: str) -> list[Any]:
    try:
        return list(layout.new_yaml().load_all(text))
    except (YAMLError, RecursionError, ValueError) as err:
        from reconciler.manifest.events import long_integer

        found = long_integer(text) if isinstance(err, ValueError) else None  # ruamel says not where
        raise (FormatError(found[0], *found[1]) if found else _yaml_error(err)) from None


def _refuse_as_validate_does(text: str) -> None:
    """Raise FormatError for what the manifest readers refuse before reading (`events.LimitError`): a
    `%YAML 1.1` directive above all, under which ruamel's round trip would read `yes` as true and rewrite
    it so, where validate reads the string 'yes'."""
    from reconciler.manifest import events

    try:
        events.read(text)
    except events.LimitError as err:
        raise FormatError(str(err), *err.position) from None


def _has_modeline(text: str) -> bool:
    for line in text.split("\n"):
        stripped = line.strip()
        if layout.MODELINE_PATTERN.match(stripped):
            return True
        if stripped and not stripped.startswith(("#", "---", "%")):
            return False
    return False


def _with_modeline(text: str, modeline: str) -> str:
    """`text` with `# {modeline}` added: first, or after the header comment (the comment lines that start the
    file, followed by a blank line), which stays at the top."""
    lines = text.split("\n")
    end = 0
    while end < len(lines) and _COMMENT.match(lines[end]):
        end += 1
    if 0 < end < len(lines) and _is_blank(lines[end]):
        return "\n".join([*lines[:end], f"# {modeline}", *lines[end:]])
    return f"# {modeline}\n{text}"


def _one_pass(text: str, docs: list[Any] | None = None, modeline: str | None = layout.MODELINE) -> str:
    """One round trip: reorder the text, add the modeline (unless None), load, restyle, dump. `docs` is
    `text` already loaded (restyled in place when the text needs no reordering)."""
    if docs is None:
        docs = _load_all(text)
    if not docs or all(d is None for d in docs):
        raise FormatError("empty file: no YAML document, expected a manifest (at least 'model:')")
    for number, doc in enumerate(docs, 1):
        if not isinstance(doc, dict):
            where = f"document {number}: " if len(docs) > 1 else ""
            raise FormatError(
                f"{where}a manifest must be a mapping of fields, got {type(doc).__name__}", 1, 1
            )
    in_order = all(list(doc) == layout.order_keys(doc) for doc in docs)
    new_text = text if in_order else reorder(text)
    if modeline is not None and not _has_modeline(new_text):
        new_text = _with_modeline(new_text, modeline)
    preamble, body = split_preamble(new_text)
    if body != text:
        docs = _load_all(body)
    for doc in docs:
        layout.restyle(doc)
    return preamble + layout.dump_all(docs)


def split_preamble(text: str) -> tuple[str, str]:
    """(the comment lines before a leading `---` or directive, the rest). ruamel drops comments that
    precede the start of the first document, so they are kept aside; without `---` the preamble is empty."""
    lines = text.split("\n")
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith(("---", "%")) and number:
            head = [ln for ln in lines[:number] if ln.strip()]
            return "\n".join(head) + "\n", "\n".join(lines[number:])
        break
    return "", text


def format_text(text: str, modeline: str | None = layout.MODELINE) -> str:
    """The canonical form of a manifest file's text, with `# {modeline}` added when it has none (None: add
    none). Raises FormatError (invalid YAML, not a mapping, or a result that would not hold the same data)."""
    source = text.removeprefix("\ufeff").replace("\r\n", "\n")
    _refuse_as_validate_does(source)
    docs = _load_all(source)
    before = [layout.plain(d) for d in docs]
    result = source
    for number in range(MAX_PASSES):
        formatted = _one_pass(result, docs if number == 0 else None, modeline)
        if formatted == result:
            break
        result = formatted
    else:
        raise FormatError("cannot format this file stably (please report it); left unchanged")
    if result != source and [layout.plain(d) for d in _load_all(result)] != before:
        raise FormatError("formatting would change the data (please report it); left unchanged")
    return result


# --------------------------------------------------------------------------------------------- files


def collect(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """The files to format: each path given that is not a directory, and the `*.yaml`/`*.yml` entries
    directly in each directory given (sorted), as `validate` lists them; plus an error line per path that
    does not exist or cannot be listed. What is not a regular file (a FIFO...) is listed: `format_file`
    says what it is."""
    files: list[Path] = []
    errors: list[str] = []
    for path in paths:
        try:
            if path.is_dir():
                files.extend(manifest_files(path))
            elif os.path.lexists(path):
                files.append(path)
            else:
                errors.append(f"{path}: no such file or directory")
        except OSError as err:
            errors.append(f"{path}: cannot read directory: {err.strerror or err}")
    return list(dict.fromkeys(files)), errors


def schema_modeline(path: Path) -> str | None:
    """The modeline for manifest `path`: `$schema=` the relative path from its folder to the repository's
    `schema/manifest.json` (`schema/agent.json` for a manifest in a directory named `agents`), or None when
    that file does not exist (`reconciler schema [--kind agent]` writes it)."""
    from reconciler.manifest import repository_root

    folder = path.absolute().parent
    schema_path = AGENT_SCHEMA_PATH if folder.name == AGENTS_DIRECTORY else SCHEMA_PATH
    schema = repository_root(path.parent) / schema_path
    if not schema.is_file():
        return None
    relative = os.path.relpath(schema, path.parent.resolve())
    return f"yaml-language-server: $schema={Path(relative).as_posix()}"


def format_file(path: Path) -> tuple[str, str]:
    """(current text, canonical text) of a file, read as `validate` reads a manifest (a regular file only,
    never a blocking open, at most `MAX_MANIFEST_BYTES`); raises FormatError, with its messages."""
    data = _read(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise FormatError(
            f"invalid UTF-8 (byte 0x{data[err.start]:02x}); manifests must be UTF-8", line
        ) from None
    return text, format_text(text, schema_modeline(path))


def _read(path: Path) -> bytes:
    """The bytes of manifest file `path` (`reading.read_manifest`); FormatError, with its reason, when they
    cannot be read."""
    try:
        return read_manifest(path)
    except ReadError as err:
        raise FormatError(str(err)) from None


def run_fmt(
    paths: Sequence[Path], *, check: bool, out: TextIO | None = None, err: TextIO | None = None
) -> bool:
    """Format `paths` (files, or the manifests in directories). With `check`, change nothing. Returns True
    when every file was (or, with `check`, already is) canonical; see the module docstring for output."""
    out = out or sys.stdout
    err = err or sys.stderr
    files, errors = collect(paths)
    for line in errors:
        print(line, file=err)
    changed = unchanged = failed = 0
    for path in files:
        try:
            text, formatted = format_file(path)
        except FormatError as problem:
            print(problem.where(str(path)), file=err)
            failed += 1
            continue
        if formatted == text:
            unchanged += 1
            continue
        if check:
            changed += 1
            print(f"would reformat {path}", file=out)
            continue
        try:
            write_atomic(path, formatted.encode("utf-8"))
        except OSError as problem:
            print(f"{path}: cannot write it: {problem.strerror or problem}", file=err)
            failed += 1
            continue
        changed += 1  # counted once written: a file that failed to write is not reformatted
        print(f"reformatted {path}", file=out)
    failed += len(errors)
    print(_summary(changed, unchanged, failed, check=check), file=err)
    return failed == 0 and not (check and changed)


def _summary(changed: int, unchanged: int, failed: int, *, check: bool) -> str:
    def files(n: int) -> str:
        return f"{n} file{'' if n == 1 else 's'}"

    parts = []
    if check:
        if changed:
            parts.append(f"{files(changed)} would be reformatted")
        parts.append(f"{files(unchanged)} already formatted")
    else:
        if changed:
            parts.append(f"{files(changed)} reformatted")
        parts.append(f"{files(unchanged)} left unchanged")
    if failed:
        parts.append(f"{files(failed)} with errors")
    return ", ".join(parts) + "."
