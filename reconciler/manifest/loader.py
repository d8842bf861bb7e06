"""Loading a directory of manifests: files → `LoadedManifest`s and `ManifestError`s, never an exception.

Each file is read fast first (`events`: libyaml events straight to data, no positions). Only a file that
fails somewhere (YAML, the model, its key, its paths) is read again with the position-tracking `composer`,
which then reports every problem at FILE:LINE:COL; both readers give the same data.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import Node
from ruamel.yaml.reader import ReaderError

from reconciler import dialect
from reconciler.manifest import composer, events, overrides, secrets
from reconciler.manifest.cache import ReadCache
from reconciler.manifest.errors import ManifestError, Path_, describe, format_field_path
from reconciler.manifest.kinds import ASSISTANT, ManifestKind
from reconciler.manifest.listing import case_note, entries, subfolder_note
from reconciler.manifest.loaded import Loaded, LoadedAgent, LoadedManifest, LoadResult, LocalFile
from reconciler.manifest.messages import KEY_RULE, MISSING, PydanticError, data_path, message
from reconciler.manifest.model import KEY_PATTERN
from reconciler.manifest.reading import (
    DecodeError,
    NotRegularError,
    ReadError,
    decode_yaml,
    display,
    instructions_text,
    is_within,
    open_regular,
    outside_message,
    printable,
    read_manifest,
    read_open,
    repository_root,
)

_KEY_RE = re.compile(KEY_PATTERN)

Position = tuple[int, int]


class _Retry(Exception):
    """Raised by an error found on the fast path: the file is read again with positions."""


#: Why a file a manifest names is refused when its path holds what `printable` escapes.
UNSHOWN_PATH = (
    "a path with a line break, a control character or a direction override; rename the file "
    "(plans and PR comments show it on one line)"
)


@dataclass
class LoadContext:
    """What the loaders of one directory share: the repository root, whether to try the fast reader, and
    the knowledge and instructions files already checked (resolved path → size), each checked once."""

    root: Path
    fast: bool = True
    #: The kind of manifest the directory holds (assistants or agents).
    kind: ManifestKind = ASSISTANT
    #: The environment being loaded (overrides merged, `only:` honoured); no name: no environments.
    selected: overrides.Selected = field(default_factory=lambda: overrides.Selected(None))
    #: What the fast reader made of texts already read (on when the repository has `.reconciler/cache/`).
    cache: ReadCache | None = None
    checked: dict[Path, int] = field(default_factory=dict)
    #: (manifest directory, path as written) → resolved path, for paths found inside the repository.
    resolved: dict[tuple[Path, str], Path] = field(default_factory=dict)
    #: Instructions texts by themselves: an equal text already there is kept instead (`load_directory`).
    shared: MutableMapping[str, str] | None = None


class FileLoader:
    """Loads one manifest file into LoadedManifests and errors."""

    def __init__(self, path: Path, display: str, context: LoadContext, source: Path | None = None) -> None:
        self.path = path
        self.context = context
        self.try_fast = context.fast
        self.display = display
        self.root = context.root
        self.source = source or path.absolute()
        self.errors: list[ManifestError] = []
        self.loaded: list[tuple[Loaded, Position | None]] = []
        #: The position-tracking converter of the document at hand; None on the fast path.
        self.conv: composer.Converter | None = None
        self.fast = False
        #: Merged field path → where it was written (an environment's override), for messages.
        self.moved: dict[Path_, Path_] = {}

    def error(self, message: str, pos: Position | None = None, fld: Path_ | str | None = None) -> None:
        """Record an error; one without a better position points at the file's start (1:1), so every
        line is FILE:LINE:COL and editors and CI annotations can place it."""
        if self.fast:
            raise _Retry
        name = format_field_path(overrides.written_path(fld, self.moved)) if isinstance(fld, tuple) else fld
        line, col = pos or (1, 1)
        self.errors.append(ManifestError(self.display, line, col, name or None, message))

    def load(self) -> None:
        text = self._read()
        if text is None:
            return
        if not text or text.isspace():
            self.error("empty file: expected a manifest (at least 'model:')")
            return
        try:
            documents = self.context.cache.read(text) if self.context.cache else events.read(text)
        except events.LimitError as err:
            self.error(str(err), err.position)
            return
        if documents is not None and self.try_fast and self._load_fast(documents):
            return
        self._load_careful(text)

    def _load_fast(self, documents: list[events.Document]) -> bool:
        """Load documents read without positions; False (nothing kept) at the first error."""
        self.fast = True
        self.conv = None
        try:
            for number, (data, start) in enumerate(documents, 1):
                self._document(data, start, number, len(documents) > 1)
        except _Retry:
            self.loaded.clear()
            return False
        finally:
            self.fast = False
        return True

    def _load_careful(self, text: str) -> None:
        roots: list[Node | None] = []
        try:
            roots.extend(composer.compose(text))
        except MarkedYAMLError as err:
            self._yaml_error(text, err)
        except ReaderError as err:
            pos = composer.offset_position(text, err.position)
            self.error(f"invalid YAML: unacceptable character #x{err.character:04x}", pos)
        except YAMLError as err:
            self.error(f"invalid YAML: {err}")
        if not roots:
            if not self.errors:
                self.error("empty file: no YAML document, expected a manifest (at least 'model:')")
            return
        several = len(roots) > 1
        for number, root in enumerate(roots, 1):
            self._careful_document(root, number, several)

    def _yaml_error(self, text: str, err: MarkedYAMLError) -> None:
        self.error(*composer.yaml_problem(text, err))

    def _read(self) -> str | None:
        try:
            data = read_manifest(self.path, self.root)
        except ReadError as err:
            self.error(str(err))
            return None
        return self._decode(data)

    def _decode(self, data: bytes) -> str | None:
        try:
            return decode_yaml(data)
        except DecodeError as err:
            self.error(str(err), err.position)
            return None

    def _careful_document(self, root: Node | None, number: int, several: bool) -> None:
        label = f"document {number}: " if several else ""
        if composer.is_empty_document(root):
            pos = composer.mark(root) if root is not None else None
            self.error(f"{label}empty document, expected a manifest (at least 'model:')", pos)
            return
        assert root is not None
        start = composer.mark(root)
        self.conv = composer.Converter()
        try:
            data = self.conv.convert(root)
        except composer.DocumentError as err:
            self.error(str(err), composer.mark(err.node))
            return
        for pos, path, problem in self.conv.problems:
            self.error(problem, pos, path)
        if not isinstance(data, dict):
            self.error(f"{label}a manifest must be a mapping of fields, got {describe(data)}", start)
            return
        self._document(data, start, number, several)

    def _document(self, data: dict[str, Any], start: Position, number: int, several: bool) -> None:
        before = len(self.errors)
        self.moved = {}
        merged = overrides.merge(data, self.context.selected, self._override_problem)
        if merged.data is None:
            return  # not in this environment (`only:`)
        data = merged.data
        self.moved = merged.moved
        text = data.get("instructions")
        if self.context.shared is not None and type(text) is str:
            data["instructions"] = self.context.shared.setdefault(text, text)
        if self.conv is not None:
            overrides.move_positions(self.conv.keys, merged.moved)
            overrides.move_positions(self.conv.values, merged.moved)
        kind = self.context.kind
        manifest: Any = None
        try:
            manifest = kind.model.model_validate(data)
        except ValidationError as err:
            for item in err.errors():
                self._pydantic_error(item, data, start)
        key = self._key(data, several, start)
        instructions_text = self._instructions_file(data)
        files = self._files(data) if kind.has_files else []
        problems = self.conv is not None and self.conv.problems
        if manifest is None or key is None or len(self.errors) > before or problems:
            return
        loaded = kind.loaded(
            key=key,
            path=Path(self.display),
            line=start[0],
            manifest=manifest,
            files=tuple(files),
            instructions_text=instructions_text,
            known_positions=self.conv.positions() if self.conv is not None else None,
            source=self.source,
            document=number - 1,
            moved=self.moved,
        )
        self.loaded.append((loaded, self._pos(("key",), keys=True)))

    def _override_problem(self, message: str, path: Path_, at_key: bool) -> None:
        self.error(message, self._pos(path, keys=at_key) or self._pos(path), path)

    def _pos(self, path: Path_, keys: bool = False) -> Position | None:
        """The position of a value (or, with `keys`, of a key); None on the fast path."""
        if self.conv is None:
            return None
        return (self.conv.keys if keys else self.conv.values).get(path)

    def _key(self, data: dict[str, Any], several: bool, start: Position) -> str | None:
        key = data.get("key")
        if isinstance(key, str):
            return key if _KEY_RE.fullmatch(key) else None  # a bad key is reported by the model
        if key is not None:
            return None
        if several:
            self.error("required when a file holds several documents", start, "key")
            return None
        stem = self.path.stem
        if not _KEY_RE.fullmatch(stem):
            self.error(f"file name '{printable(stem)}' {KEY_RULE}; rename the file or set key:", start)
            return None
        return stem

    def _instructions_file(self, data: dict[str, Any]) -> str | None:
        rel = data.get("instructions_file")
        if not isinstance(rel, str) or not rel:
            return None
        where: Path_ = ("instructions_file",)
        pos = self._pos(where)
        named = self._named_file(rel, pos, where)
        if named is None:
            return None
        target, size = named
        kind = self.context.kind
        limit = kind.loaded.MAX_INSTRUCTIONS_BYTES
        if size > limit:
            self.error(
                f"'{rel}' is too large ({size:,} bytes; instructions may have at most "
                f"{kind.max_instructions:,} characters)",
                pos,
                where,
            )
            return None
        try:
            text = instructions_text(read_open(*open_regular(target, follow=False), limit))
        except UnicodeDecodeError:
            self.error(f"'{rel}' is not valid UTF-8", pos, where)
            return None
        except (OSError, NotRegularError) as err:  # replaced since it was checked
            self.error(f"cannot read '{rel}': {getattr(err, 'strerror', None) or err}", pos, where)
            return None
        if len(text) > kind.max_instructions:
            self.error(
                f"'{rel}' has {len(text):,} characters; instructions may have at most "
                f"{kind.max_instructions:,}",
                pos,
                where,
            )
            return None
        problem = secrets.token_problem(text) if kind.refuses_secrets else None
        if problem is not None:
            self.error(f"'{rel}' {problem}", pos, where)
            return None
        return text if self.context.shared is None else self.context.shared.setdefault(text, text)

    def _files(self, data: dict[str, Any]) -> list[LocalFile]:
        names = data.get("files")
        if not isinstance(names, list):
            return []
        out: list[LocalFile] = []
        tools = _tool_types(data.get("tools"))
        for index, rel in enumerate(names):
            if isinstance(rel, str) and rel:
                local = self._file(rel, ("files", index), tools)
                if local is not None:
                    out.append(local)
        return out

    def _file(self, rel: str, where: Path_, tools: list[str]) -> LocalFile | None:
        pos = self._pos(where)
        named = self._named_file(rel, pos, where)
        if named is None:
            return None
        target, size = named
        if size > dialect.MAX_FILE_BYTES:
            limit = dialect.MAX_FILE_BYTES // 2**20
            self.error(f"'{rel}' is too large ({size:,} bytes; at most {limit} MB)", pos, where)
            return None
        if size == 0:
            self.error(f"'{rel}' is empty", pos, where)
            return None
        refusal = _file_type_refusal(tools, rel)
        if refusal is not None:
            self.error(
                f"'{rel}': the API refuses this file type for the tools enabled: \"{refusal}\"", pos, where
            )
            return None
        return LocalFile(path=target, display=rel, size=size)

    def _named_file(self, rel: str, pos: Position | None, where: Path_) -> tuple[Path, int] | None:
        """The resolved path and size of the regular file a manifest names as `rel`, or None after reporting
        why it can't be used (a name no line can show, outside the repository, missing, not a regular file,
        unreadable)."""
        if printable(rel) != rel:  # it would break or reorder the plan's lines (and the PR comment's)
            self.error(f"'{printable(rel)}': {UNSHOWN_PATH}", pos, where)
            return None
        target = self._inside(rel, pos, where)
        if target is None:
            return None
        try:
            return target, self._size(target)
        except NotRegularError as err:
            self.error(f"'{rel}' {err}", pos, where)
        except PermissionError:
            self.error(f"cannot read '{rel}': permission denied", pos, where)
        except OSError as err:
            self.error(f"cannot read '{rel}': {err.strerror or err}", pos, where)
        return None

    def _size(self, target: Path) -> int:
        """The size of regular file `target`, checked (and opened) once per directory load."""
        size = self.context.checked.get(target)
        if size is None:
            fd, size = open_regular(target, follow=False)
            os.close(fd)
            self.context.checked[target] = size
        return size

    def _inside(self, rel: str, pos: Position | None, where: Path_) -> Path | None:
        """The resolved path of `rel` (relative to the manifest) if it stays inside the repository and
        exists; otherwise report why and return None."""
        known = self.context.resolved.get((self.path.parent, rel))
        if known is not None:
            return known
        if PurePath(rel).is_absolute() or re.match(r"^[A-Za-z]:[\\/]", rel):
            self.error(f"'{rel}' must be relative to the manifest, not absolute", pos, where)
            return None
        base = self.path.parent.absolute()
        written = Path(os.path.normpath(base / rel))
        try:
            inside = is_within(written, self.root) or is_within(written.resolve(), self.root)
            resolved = (base / rel).resolve()
        except (OSError, RuntimeError) as err:  # a symlink loop, or a link replaced while it was resolved
            self.error(f"cannot read '{rel}': {getattr(err, 'strerror', None) or err}", pos, where)
            return None
        if not inside:
            self.error(f"'{rel}' is outside the repository ({self.root})", pos, where)
            return None
        if not is_within(resolved, self.root):
            self.error(
                f"'{rel}' resolves outside the repository through a symlink (to {resolved})", pos, where
            )
            return None
        private = _private_folder(written, self.root) or _private_folder(resolved, self.root)
        if private is not None:
            self.error(f"'{rel}' is in {private}/, {_PRIVATE[private]}: not read", pos, where)
            return None
        if not resolved.exists():
            self.error(f"'{rel}' not found", pos, where)
            return None
        self.context.resolved[(self.path.parent, rel)] = resolved
        return resolved

    def _pydantic_error(self, item: Any, data: dict[str, Any], start: Position) -> None:
        ctx = item.get("ctx") or {}
        path, is_key = data_path(item["loc"], data)
        subpath = ctx.get("subpath")
        if isinstance(subpath, tuple):
            path = (*path, *subpath)
        if self.conv is not None and path in self.conv.unreadable:
            return  # the reader said why this value can't be read: one line for it
        kind = item["type"]
        words = self.context.kind.words
        error = PydanticError(kind, item["msg"], ctx, path, item.get("input", MISSING), data, words)
        text = message(error)
        self.error(text, self._error_position(kind, path, is_key or ctx.get("at_key", False), start), path)

    def _error_position(self, kind: str, path: Path_, at_key: bool, start: Position) -> Position:
        conv = self.conv
        if conv is None:
            return start
        if kind == "missing":
            if not path[:-1]:  # a top-level field; known only when an override removed it (null)
                return conv.keys.get(path, start)
            return conv.keys.get(path[:-1]) or conv.values.get(path[:-1]) or start
        if at_key or kind == "extra_forbidden":
            return conv.keys.get(path) or conv.values.get(path) or start
        return _best_position(conv, path, start)


#: Folders of a repository no manifest may read from (instructions, knowledge files), and what they hold.
_PRIVATE = {
    ".git": "git's own files (a checkout's credentials may be there)",
    ".reconciler": "reconciler's own state",
}


def _private_folder(path: Path, root: Path) -> str | None:
    """The `_PRIVATE` folder `path` (inside `root`) is in, at any depth (a submodule's `.git` too)."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    return next((part for part in parts if part in _PRIVATE), None)


def _tool_types(tools: Any) -> list[str]:
    """The `type` of each tool in a manifest's raw `tools` value (whatever its shape)."""
    if not isinstance(tools, list):
        return []
    return [t["type"] for t in tools if isinstance(t, dict) and isinstance(t.get("type"), str)]


def _file_type_refusal(tools: list[str], rel: str) -> str | None:
    """The API's refusal of knowledge file `rel` for these tool types, judged on its extension as v1 did
    (`dialect.v1_file_refusal`): None when accepted, or when no file tool is enabled (the model reports that
    once, at `files:`)."""
    if not any(tool in dialect.V1_FILE_TOOLS for tool in tools):
        return None
    return dialect.v1_file_refusal(tools, [PurePath(rel).name])


def _best_position(conv: composer.Converter, path: Path_, start: Position) -> Position:
    """The value's position for scalars; the key's when the value is a collection; else nearest ancestor."""
    probe = path
    while probe:
        key_pos = conv.keys.get(probe)
        value_pos = conv.values.get(probe)
        if value_pos is not None and key_pos is not None and value_pos[0] != key_pos[0]:
            return key_pos
        if value_pos is not None:
            return value_pos
        if key_pos is not None:
            return key_pos
        probe = probe[:-1]
    return start


def load_directory(
    directory: Path,
    fast: bool = True,
    selected: overrides.Selected | None = None,
    shared: MutableMapping[str, str] | None = None,
) -> LoadResult[LoadedManifest]:
    """Load and validate every assistant manifest in `directory`. Never raises for bad input: each problem
    is a ManifestError (sorted by file, then line). Only manifests without any error are returned; YAML
    files in subfolders (not read) are named in a note. With `selected`, each manifest is that
    environment's (`overrides.merge`); those not in it are left out. With `shared`, each instructions text
    (inline or from `instructions_file`) is the one `shared` holds when it holds an equal one (else it is
    added), so a plan keeps one copy of what the manifests and the listed assistants have in common.

    `fast=False` reads every file with the position-tracking reader (the same result, slower: for tests)."""
    return _load(directory, fast, selected, ASSISTANT, shared)


def load_agents(
    directory: Path,
    fast: bool = True,
    selected: overrides.Selected | None = None,
    shared: MutableMapping[str, str] | None = None,
) -> LoadResult[LoadedAgent]:
    """`load_directory` for agent manifests (`agents/`): the same rules, the agent model."""
    from reconciler.manifest.agent_kind import AGENT

    return _load(directory, fast, selected, AGENT, shared)


def _load(
    directory: Path,
    fast: bool,
    selected: overrides.Selected | None,
    kind: ManifestKind,
    shared: MutableMapping[str, str] | None,
) -> LoadResult[Any]:
    result: LoadResult[Any] = LoadResult(manifests=[], errors=[])
    shown = display(directory)
    absolute = directory.absolute()
    found = entries(absolute, shown)  # absolute paths: each file's one Path is both read and kept as source
    if isinstance(found, ManifestError):
        result.errors.append(found)
        return result
    root = repository_root(directory)
    if not is_within(resolved := absolute.resolve(), root):  # a link to a folder outside the repository
        result.errors.append(ManifestError(shown, None, None, None, outside_message(resolved, root)))
        return result
    cache = ReadCache(root, shared) if fast else None
    context = LoadContext(root, fast, kind, selected or overrides.Selected(None), cache, shared=shared)
    prefix = "" if shown == "." else shown + os.sep
    seen_keys: dict[str, Loaded] = {}
    seen_ids: dict[str, Loaded] = {}
    for entry in found:
        loader = FileLoader(entry, prefix + printable(entry.name), context, entry)
        loader.load()
        for loaded, key_pos in loader.loaded:
            if _unique(loader, loaded, key_pos, seen_keys, seen_ids):
                result.manifests.append(loaded)
        loader.errors.sort(key=lambda e: (e.line or 0, e.col or 0))
        result.errors.extend(loader.errors)
    if context.cache is not None:
        context.cache.save()
    result.notes.extend(subfolder_note(directory, shown) + case_note(directory, shown))
    return result


def _unique(
    loader: FileLoader,
    loaded: Loaded,
    key_pos: Position | None,
    seen_keys: dict[str, Loaded],
    seen_ids: dict[str, Loaded],
) -> bool:
    """Record `loaded` unless its key or adopted id was seen before (then report it and return False)."""
    first = seen_keys.get(loaded.key)
    if key_pos is None and first is not None and "key" in loaded.manifest.model_fields_set:
        key_pos = loaded.positions.get(("key",))
    pos = key_pos or (loaded.line, 1)
    if first is not None:
        where = "key" if key_pos else None
        loader.error(f"duplicate key '{loaded.key}': also defined in {first.path}:{first.line}", pos, where)
        return False
    seen_keys[loaded.key] = loaded
    asst = getattr(loaded.manifest, "id", None)  # agents adopt nothing
    if asst is None:
        return True
    other = seen_ids.get(asst)
    if other is not None:
        message = f"id '{asst}' is also adopted by '{other.key}' ({other.path}:{other.line})"
        loader.error(message, loaded.positions.get(("id",), pos), "id")
        return False
    seen_ids[asst] = loaded
    return True


def check_text(
    path: Path, text: str, kind: ManifestKind, selected: overrides.Selected | None = None
) -> list[ManifestError]:
    """The errors manifest `path` would load with (in environment `selected`) if it held `text`: what a
    command checks before it writes a manifest (`reconciler accept`)."""
    context = LoadContext(repository_root(path.parent), True, kind, selected or overrides.Selected(None))
    loader = _TextLoader(path, display(path), context, path.absolute())
    loader.text = text
    loader.load()
    return loader.errors


class _TextLoader(FileLoader):
    """A FileLoader that reads `text` instead of its file."""

    text = ""

    def _read(self) -> str | None:
        return self.text
