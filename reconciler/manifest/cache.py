"""A content-addressed cache of what the fast reader (`events.read`) makes of a manifest's text.

Reading YAML is most of what loading costs; the rest (the model, keys, paths, knowledge files) always runs,
so a cached load gives exactly the manifests and errors of an uncached one. The cache is on only when the
folder `.reconciler/cache/` exists at the repository root (`mkdir -p .reconciler/cache`, or a CI cache
action restoring it); it holds one JSON file, `manifests.json`, and deleting it is always safe.

An entry maps the sha256 of a file's text to its documents, `[[data, [line, col]], ...]`; only texts the fast
reader accepts are stored (their mappings have string keys and plain scalar values, so JSON keeps them
exactly). The file is tagged with a digest of the reader's own source and the YAML library's version: any
change to either starts an empty cache. The cache is rewritten (atomically) only when a load added an entry
or left one unused, so it holds exactly the manifests of the last load. Any problem reading or writing it is
ignored: the cache can make a load faster, never different or failing. It is read as manifests are (a regular
file only, opened without blocking, bounded by `MAX_CACHE_BYTES`): a FIFO or `/dev/zero` in its place is no
cache, not a hang.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from reconciler import fastjson
from reconciler.fsio import write_atomic
from reconciler.manifest import events, yaml12
from reconciler.manifest.reading import ReadError, open_regular, read_open

#: Where the cache lives, under the repository root.
CACHE_DIR = Path(".reconciler") / "cache"
CACHE_FILE = "manifests.json"
#: A cache file larger than this is not read (it holds what the YAML reader made of the manifests: 43 MB for
#: 10,000 with 4 KB instructions). Like a FIFO or a device in its place, it is no cache: never a hang.
MAX_CACHE_BYTES = 512 * 1024 * 1024


def _reader_tag() -> str:
    """A digest of the fast reader's source and the YAML library's version (what its output depends on)."""
    from ruamel.yaml import __version__ as yaml_version

    digest = hashlib.sha256(yaml_version.encode())
    for module in (events, yaml12):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


class ReadCache:
    """The documents of manifest texts already read, by the sha256 of the text (see the module docstring)."""

    def __init__(self, root: Path, shared: MutableMapping[str, str] | None = None) -> None:
        self.path = root / CACHE_DIR / CACHE_FILE
        self.enabled = self.path.parent.is_dir()
        self.tag = _reader_tag() if self.enabled else ""
        self.stored: dict[str, Any] = self._load() if self.enabled else {}
        if shared is not None:
            _share_instructions(self.stored, shared)
        self.used: dict[str, Any] = {}
        self.added = False

    def read(self, text: str) -> list[events.Document] | None:
        """`events.read(text)`, from the cache when it holds this text (NestingError propagates likewise)."""
        if not self.enabled:
            return events.read(text)
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        documents = _documents(self.stored.get(digest))
        if documents is not None:
            self.used[digest] = self.stored[digest]
            return documents
        documents = events.read(text)
        if documents is not None:
            self.used[digest] = [[data, list(start)] for data, start in documents]
            self.added = True
        return documents

    def save(self) -> None:
        """Write the entries this load used, when they differ from what was stored."""
        if not self.enabled or (not self.added and self.used.keys() == self.stored.keys()):
            return
        with contextlib.suppress(OSError, ValueError):  # the cache can make a load faster, never failing
            write_atomic(self.path, self._pieces())

    def _pieces(self) -> Iterator[bytes]:
        """The cache file an entry at a time: one JSON text of all 10,000 entries of a large repository
        held with its encoding doubled the peak memory of the load that wrote it (265 MB for 137)."""
        yield b'{"reader":' + json.dumps(self.tag).encode() + b',"entries":{'
        for index, (digest, entry) in enumerate(self.used.items()):
            text = json.dumps(entry, ensure_ascii=False)
            yield (b"," if index else b"") + json.dumps(digest).encode() + b":" + text.encode("utf-8")
        yield b"}}"

    def _load(self) -> dict[str, Any]:
        try:
            fd, size = open_regular(self.path)
            if size > MAX_CACHE_BYTES:
                os.close(fd)
                return {}
            data = read_open(fd, size, MAX_CACHE_BYTES)
            stored = fastjson.loads(data) if len(data) <= MAX_CACHE_BYTES else None
        except (OSError, ReadError, ValueError, RecursionError):
            return {}
        if not isinstance(stored, dict) or stored.get("reader") != self.tag:
            return {}
        entries = stored.get("entries")
        return entries if isinstance(entries, dict) else {}


def _share_instructions(entries: dict[str, Any], shared: MutableMapping[str, str]) -> None:
    """Each stored document's `instructions` text taken from `shared` when it holds an equal one (else added),
    as `load_directory` does with `shared`: read all at once, the cache would otherwise hold a second copy of
    every text the listing holds too."""
    for entry in entries.values():
        for item in entry if isinstance(entry, list) else ():
            data = item[0] if isinstance(item, list) and item and isinstance(item[0], dict) else {}
            text = data.get("instructions")
            if type(text) is str:
                data["instructions"] = shared.setdefault(text, text)


def _documents(entry: Any) -> list[events.Document] | None:
    """A stored entry as documents, or None when it is not of the stored shape."""
    if not isinstance(entry, list) or not entry:
        return None
    documents: list[events.Document] = []
    for item in entry:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], dict)):
            return None
        start = item[1]
        if not (isinstance(start, list) and len(start) == 2 and all(type(n) is int for n in start)):
            return None
        documents.append((item[0], (start[0], start[1])))
    return documents
