"""Accepting drift: the manifest edits that make a manifest ask for what the server holds now, field by field.

Pure but for reading the manifest files it rewrites (`manifest_text`: as the loader reads them, since one may
have been replaced since it was loaded). `edits_for` turns one Change's drifted fields
(`Change.drift`, `reconciler.drift`) into `Edit`s, each written where the environment's value comes from:

- a field the environment overrides (`environments.ENV.FIELD`, or for metadata `environments.ENV.metadata.K`)
  is written in that override (`null` when the server holds the default: null removes);
- any other field in the base manifest (removed when the server holds the API default, as an omitted field
  means the default; `model` is always written), and the Edit names the other environments that get the
  base value too (`also`);
- `instructions` read from `instructions_file` are written to that file (the text and a final newline, which
  the loader drops);
- metadata is edited key by key (user keys only; the reserved ones are the tool's).

What cannot be written back is an `AcceptError` naming the manifest and field: `file_ids` of a manifest with
`files:` (a server file cannot be mapped back to a local file), instructions removed (or holding a carriage
return) while `instructions_file` names a file, and any value holding the API key.

`rewrite` applies a file's edits through the ruamel.yaml round trip of `reconciler.layout`, so comments,
order and the canonical layout are kept; a new top-level field goes to its place in `layout.ORDER`.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml.comments import CommentedMap

from reconciler import dialect, layout
from reconciler.formatter import split_preamble
from reconciler.manifest.errors import Path_, format_field_path
from reconciler.manifest.overrides import ENVIRONMENTS, ONLY
from reconciler.manifest.reading import ReadError, display, read_manifest
from reconciler.plan import Change
from reconciler.redact import secret_forms

if TYPE_CHECKING:
    from reconciler.manifest import Loaded, Selected


class AcceptError(Exception):
    """A drifted field that cannot be written back (one line: `FILE: FIELD: why`), or a manifest that can no
    longer be read (`FILE: why`)."""


#: The value of an Edit that removes its key.
REMOVE = object()
#: A field path an override does not set.
_ABSENT = object()
_FILES_REFUSAL = (
    "file_ids: edited outside reconciler, but this manifest attaches knowledge files (files:) and a server "
    "file cannot be mapped back to a local one; edit files: by hand, or apply to overwrite"
)


@dataclass(frozen=True)
class Edit:
    """One value to write: at field path `where` of document `document` of manifest `path`, or, with `where`
    empty, the whole text of `path` (an instructions file). `value` is REMOVE to delete the key. `also`: the
    other environments a base edit reaches."""

    path: Path
    where: Path_
    value: Any
    document: int = 0
    also: tuple[str, ...] = ()

    @property
    def shown(self) -> str:
        """The field path as written in the manifest (`environments.production.model`), or `instructions`
        for an instructions file."""
        return format_field_path(self.where) if self.where else "instructions"


def edits_for(
    change: Change, loaded: Loaded, selected: Selected | None, secret: str | None = None
) -> list[Edit]:
    """The edits accepting `change.drifted_fields` into `loaded` (the manifest as merged for the environment
    `selected`, None without environments), the server's values being `change.before`. Raises AcceptError
    for a field that cannot be written back, or whose value holds `secret` (the API key)."""
    data = _document(loaded)
    environments = _others(selected)
    edits: list[Edit] = []
    for field in change.drifted_fields:
        value = change.before.get(field)
        if secret and any(form in dialect.canonical_json(value) for form in secret_forms(secret)):
            raise AcceptError(
                f"{display(loaded.path)}: {field}: the server's value holds the API key; not written"
            )
        if field == "metadata":
            edits += _metadata_edits(value or {}, loaded, data, environments)
        elif field == "instructions" and loaded.manifest.instructions_file is not None:
            edits.append(_instructions_file_edit(value, loaded, data, environments))
        elif field == "file_ids" and getattr(loaded.manifest, "files", None):
            raise AcceptError(f"{display(loaded.path)}: {_FILES_REFUSAL}")
        else:
            edits.append(_field_edit(field, value, loaded, data, environments))
    return edits


def _field_edit(
    field: str, value: Any, loaded: Loaded, data: Mapping[str, Any], environments: Sequence[str]
) -> Edit:
    """A top-level field: in the environment's override when it sets the field, else in the base."""
    written = loaded.moved.get((field,))
    if written is not None:
        return Edit(loaded.path, written, value, loaded.document)
    removed = field != "model" and layout.is_default(field, value)
    also = _also(data, environments, (field,))
    return Edit(loaded.path, (field,), REMOVE if removed else value, loaded.document, also)


def _metadata_edits(
    value: Mapping[str, Any], loaded: Loaded, data: Mapping[str, Any], environments: Sequence[str]
) -> list[Edit]:
    """One edit per user metadata key whose value differs between the manifest and the server."""
    server = {k: v for k, v in value.items() if not dialect.is_reserved_metadata_key(k)}
    wanted = loaded.api_fields().get("metadata") or {}
    edits = []
    for key in [*wanted, *(k for k in server if k not in wanted)]:
        if wanted.get(key) == server.get(key) and (key in wanted) == (key in server):
            continue
        written = loaded.moved.get(("metadata", key))
        if written is not None:
            edits.append(Edit(loaded.path, written, server.get(key), loaded.document))
        else:
            also = _also(data, environments, ("metadata", key))
            edits.append(Edit(loaded.path, ("metadata", key), server.get(key, REMOVE), loaded.document, also))
    return edits


def _instructions_file_edit(
    value: Any, loaded: Loaded, data: Mapping[str, Any], environments: Sequence[str]
) -> Edit:
    """The instructions file, rewritten with the server's text (and the final newline the loader drops);
    when the base names it, the other environments that read it too are `also`."""
    name = loaded.manifest.instructions_file
    where = f"{display(loaded.path)}: instructions (from instructions_file {name})"
    if not isinstance(value, str) or not value:
        raise AcceptError(f"{where}: removed outside reconciler; remove instructions_file by hand")
    if "\r" in value or value.startswith("\ufeff"):
        raise AcceptError(
            f"{where}: the server's text holds a carriage return or a byte order mark, which a file would "
            "not read back exactly; edit it by hand"
        )
    also: tuple[str, ...] = ()
    if ("instructions_file",) not in loaded.moved:
        shared = set(_also(data, environments, ("instructions",)))
        also = tuple(e for e in _also(data, environments, ("instructions_file",)) if e in shared)
    path = instructions_path(loaded)
    assert path is not None  # the manifest names one
    return Edit(path, (), value + "\n", also=also)


def instructions_path(loaded: Loaded) -> Path | None:
    """The `instructions_file` of `loaded`, `..` folded (`prompts/a.md`, not `assistants/../prompts/a.md`),
    or None when it names none."""
    name = loaded.manifest.instructions_file
    return None if name is None else Path(os.path.normpath(loaded.path.parent / str(name)))


def manifest_text(path: Path) -> str:
    """The text of manifest `path`, read again as the loader read it: a regular file only (a FIFO swapped in
    since the load would block, `/dev/zero` never end), never a blocking open, at most `MAX_MANIFEST_BYTES`.
    AcceptError, with the loader's words, when it cannot be."""
    try:
        return read_manifest(path).decode("utf-8")
    except ReadError as err:
        raise AcceptError(f"{display(path)}: {err}") from None
    except UnicodeDecodeError as err:
        raise AcceptError(f"{display(path)}: invalid UTF-8 (byte 0x{err.object[err.start]:02x})") from None


def _document(loaded: Loaded) -> Mapping[str, Any]:
    """The manifest's document as written (environments and only included), as plain data."""
    text = manifest_text(loaded.path).removeprefix("\ufeff")
    docs = list(layout.new_yaml().load_all(split_preamble(text)[1]))
    doc = docs[loaded.document] if loaded.document < len(docs) else None
    return layout.plain(doc) if isinstance(doc, Mapping) else {}


def _others(selected: Selected | None) -> tuple[str, ...]:
    """The configured environments other than the one accepted."""
    return tuple(n for n in selected.names if n != selected.name) if selected is not None else ()


def _also(data: Mapping[str, Any], environments: Sequence[str], where: Path_) -> tuple[str, ...]:
    """Of the other `environments`, those the assistant exists in (`only:`) that take the base value at
    `where` (no override of theirs sets it)."""
    only = data.get(ONLY)
    blocks = data.get(ENVIRONMENTS)
    blocks = blocks if isinstance(blocks, Mapping) else {}
    out = []
    for name in environments:
        if isinstance(only, list) and name not in only:
            continue
        node: Any = blocks.get(name)
        for part in where:
            node = node.get(part, _ABSENT) if isinstance(node, Mapping) else _ABSENT
        if node is _ABSENT:
            out.append(name)
    return tuple(out)


def rewrite(text: str, edits: Collection[Edit]) -> str:
    """`text` (a manifest file) with `edits` applied through the round trip, comments and layout kept."""
    preamble, body = split_preamble(text.removeprefix("\ufeff"))
    docs = list(layout.new_yaml().load_all(body))
    for edit in edits:
        _set(docs[edit.document], edit.where, edit.value)
    return preamble + layout.dump_all(docs)


def _set(doc: CommentedMap, where: Path_, value: Any) -> None:
    """Set (or, with REMOVE, delete) the value at `where`, making the mappings on the way."""
    node = doc
    for part in where[:-1]:
        child = node.get(part)
        if not isinstance(child, CommentedMap):
            child = CommentedMap()
            _insert(node, part, child, top=node is doc)
        node = child
    key = where[-1]
    if value is REMOVE:
        node.pop(key, None)
        return
    styled = layout.style_instructions(value) if key == "instructions" and isinstance(value, str) else None
    new = styled if styled is not None else layout.to_node(value)
    if key in node:
        node[key] = new
    else:
        _insert(node, key, new, top=node is doc)


def _insert(node: CommentedMap, key: Any, value: Any, *, top: bool) -> None:
    """Add `key`: at the top level in its `layout.ORDER` place (before `only`/`environments` and unknown
    fields), elsewhere at the end."""
    if not top or key not in layout.ORDER:
        node[key] = value
        return
    rank = layout.ORDER.index(key)
    keys = list(node.keys())
    later = [i for i, k in enumerate(keys) if k not in layout.ORDER or layout.ORDER.index(k) > rank]
    node.insert(later[0] if later else len(keys), key, value)
