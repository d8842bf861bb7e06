"""A loaded manifest: the validated model, where it came from, its knowledge files and its positions.

Positions (field path → 1-based line and column) are lazy: a manifest read by the fast path has none until
a message asks for one, then its file is read again with the position-tracking composer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from reconciler import agent_dialect, dialect
from reconciler.errors import ReconcilerError
from reconciler.manifest import composer, events
from reconciler.manifest.errors import ManifestError, Path_, parse_field_path
from reconciler.manifest.model import Manifest
from reconciler.manifest.overrides import move_positions
from reconciler.manifest.reading import (
    MAX_MANIFEST_BYTES,
    ReadError,
    open_regular,
    read_bounded,
    read_instructions,
)
from reconciler.manifest.reading import display as display_path

if TYPE_CHECKING:  # the agent model is imported when agents are loaded (`agent_kind`), not by every plan
    from reconciler.manifest.agent_model import AgentManifest

#: An instructions file may hold at most this many bytes (4 per character, a BOM and a final newline).
MAX_INSTRUCTIONS_BYTES = 4 * dialect.MAX_INSTRUCTIONS + 2


@dataclass(frozen=True)
class LocalFile:
    """A knowledge file named by `files:` (checked to exist, be regular, readable and small enough)."""

    path: Path
    display: str
    size: int
    _digest: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def sha256(self) -> str:
        """Hex SHA-256 of the content, streamed in chunks on first call and cached. ReconcilerError (one
        line) when the file was replaced since the load by one that is not a regular file or cannot be read
        (it is opened without blocking: a FIFO swapped in must not hang the plan)."""
        if not self._digest:
            digest = hashlib.sha256()
            try:
                fd, _ = open_regular(self.path, follow=False)  # resolved and checked at load
            except (ReadError, OSError) as err:
                why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
                raise ReconcilerError(
                    f"{display_path(self.path)}: {why} (replaced since the manifests were loaded)"
                ) from None
            with os.fdopen(fd, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            self._digest.append(digest.hexdigest())
        return self._digest[0]


@dataclass(frozen=True)
class Loaded:
    """A valid manifest of any kind with where it came from (`LoadedManifest`, `LoadedAgent`).

    `instructions_text` holds the content of `instructions_file` as read at load time (None otherwise).
    `positions` maps field paths to 1-based (line, col) for later messages: given at load time when known,
    else computed on first use from `source` (the file) and `document` (its index in the file), with the
    fields an environment overrides (`moved`: merged path → written path) pointing at their overrides.
    """

    #: The API fields of this kind (`dialect.FIELDS`), which `api_fields` returns.
    FIELDS: ClassVar[tuple[str, ...]] = ()
    #: At most this many bytes are read from an `instructions_file`.
    MAX_INSTRUCTIONS_BYTES: ClassVar[int] = 0

    key: str
    path: Path
    line: int
    manifest: Any = field(kw_only=True)
    files: tuple[LocalFile, ...] = ()
    instructions_text: str | None = field(default=None, repr=False, compare=False)
    known_positions: Mapping[Path_, tuple[int, int]] | None = field(default=None, repr=False, compare=False)
    source: Path | None = field(default=None, repr=False, compare=False)
    document: int = field(default=0, repr=False, compare=False)
    moved: Mapping[Path_, Path_] = field(default_factory=dict, repr=False, compare=False)

    def api_fields(self) -> dict[str, Any]:
        """The `FIELDS` the manifest sets, as API values; omitted fields are absent.

        `instructions` comes from `instructions_file` when that is set; an assistant's `files` is not
        included (uploads turn them into file ids later); `file_ids` only as written.
        """
        m = self.manifest
        written = m.model_fields_set  # a property: read once, not once per field
        out: dict[str, Any] = {}
        for name in self.FIELDS:
            if name == "instructions" and m.instructions_file is not None:
                out[name] = self._instructions()
            elif name in written:
                out[name] = _api_value(getattr(m, name))
        return out

    def _instructions(self) -> str:
        if self.instructions_text is not None:
            return self.instructions_text
        assert self.manifest.instructions_file is not None
        return read_instructions(
            self.path.parent / self.manifest.instructions_file, self.MAX_INSTRUCTIONS_BYTES
        )

    @property
    def positions(self) -> Mapping[Path_, tuple[int, int]]:
        """Field path → 1-based (line, col): the key's where there is one, else the value's."""
        if self.known_positions is None:
            found = document_positions(self.source, self.document) if self.source is not None else {}
            move_positions(found, dict(self.moved))
            object.__setattr__(self, "known_positions", found)
        assert self.known_positions is not None
        return self.known_positions

    def position(self, field_path: str) -> tuple[int, int]:
        """1-based (line, col) of a field such as `tools[1].function.name`: its nearest written ancestor,
        else the document start."""
        parts = parse_field_path(field_path)
        positions = self.positions
        while parts:
            if parts in positions:
                return positions[parts]
            parts = parts[:-1]
        return (self.line, 1)

    def value_position(self, field: str) -> tuple[int, int]:
        """1-based (line, col) of a top-level field's value as written, for messages about the value itself
        (read again from `source`); `position(field)` when that is not known."""
        values = document_positions(self.source, self.document, values=True) if self.source else {}
        return values.get((field,)) or self.position(field)


@dataclass(frozen=True)
class LoadedManifest(Loaded):
    """A valid assistant manifest (`Manifest`) with where it came from (see `Loaded`)."""

    FIELDS: ClassVar[tuple[str, ...]] = dialect.FIELDS
    MAX_INSTRUCTIONS_BYTES: ClassVar[int] = MAX_INSTRUCTIONS_BYTES

    manifest: Manifest = field(kw_only=True)


@dataclass(frozen=True)
class LoadedAgent(Loaded):
    """A valid agent manifest (`AgentManifest`) with where it came from (see `Loaded`); never has files."""

    FIELDS: ClassVar[tuple[str, ...]] = agent_dialect.FIELDS
    MAX_INSTRUCTIONS_BYTES: ClassVar[int] = 4 * agent_dialect.MAX_INSTRUCTIONS + 2

    manifest: AgentManifest = field(kw_only=True)


def document_positions(path: Path, document: int, *, values: bool = False) -> dict[Path_, tuple[int, int]]:
    """The positions in document `document` of manifest file `path` (empty if it can no longer be read):
    keys' where there is one, else values'; with `values`, the values' only."""
    try:
        text = read_bounded(path, MAX_MANIFEST_BYTES).decode("utf-8-sig")
        events.read(text)  # the nesting limit, before the composer recurses
        roots = list(composer.compose(text))
        converter = composer.Converter()
        converter.convert(roots[document])  # type: ignore[arg-type]
    except Exception:  # the file changed or went away since it was loaded: no positions
        return {}
    return dict(converter.values) if values else converter.positions()


def _api_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        written = value.model_fields_set
        return {
            (info.alias or k): _api_value(getattr(value, k))
            for k, info in type(value).model_fields.items()
            if k in written and getattr(value, k) is not None
        }
    if isinstance(value, list):
        return [_api_value(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


L = TypeVar("L", bound=Loaded)


@dataclass
class LoadResult(Generic[L]):
    """Every valid manifest of a directory (`LoadedManifest`s, or `LoadedAgent`s), and every problem found."""

    manifests: list[L]
    errors: list[ManifestError]
    #: Lines worth showing that are not errors (YAML files in subfolders, which are not read).
    notes: list[str] = field(default_factory=list)
