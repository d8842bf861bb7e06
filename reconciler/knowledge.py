"""Knowledge files: the `files:` of manifests, tracked by content. Pure planning logic (no I/O but hashing).

**Identity by content, stateless.** reconciler uploads a file under a name that carries its content hash:

    <stem>.sha256-<first 16 hex digits of the sha256>[<.ext>]    e.g. leave-policy.sha256-3f2a9c1b7d4e5f60.md

(the original base name stays readable on the dashboard and the extension stays last, so retrieval still
recognises the file type). A listed file (`GET /files?purpose=assistants`, one call) *is* a local file when
its name matches that pattern with the same 16-digit hash prefix (64 bits) **and** its `bytes` equal the local
size; contents are never downloaded to compare. Identical content is uploaded once and shared by every
assistant that names it, whatever its path. Files whose names match the pattern are the ones reconciler
uploaded; only those are ever deleted (with `--prune`, when no manifest and no assistant uses them).

**In a Plan.** A manifest's desired `file_ids` is its `file_ids` ∪ the ids of uploaded files matching its
`files:` hashes. Content not uploaded yet has no id: its entry in `file_ids` is the placeholder
`sha256:<64 hex>` (never a valid file id), shown as `(known after apply)` and replaced by the real id at apply
time. Each Change carries `FileRef`s (its files, by path) and the Plan carries `PlanFile`s (each distinct
content to upload or keep, and each unused upload to delete).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from reconciler.plan import FileRef, PlanFile, RefStatus

if TYPE_CHECKING:
    from reconciler.manifest import LoadedManifest, LocalFile
    from reconciler.remote import RemoteFile

#: The purpose every knowledge file is uploaded and listed with.
PURPOSE = "assistants"
#: Hex digits of the sha256 carried in the uploaded file's name.
NAME_HASH_DIGITS = 16
#: Hex digits of the sha256 shown to people (`sha256:ab12cd34`).
SHORT_HASH_DIGITS = 8

_NAME_RE = re.compile(
    rf"^(?P<stem>.*)\.sha256-(?P<hash>[0-9a-f]{{{NAME_HASH_DIGITS}}})(?P<ext>\.[^./\\]+)?$", re.DOTALL
)
_PLACEHOLDER_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


# ----------------------------------------------------------------------------------------------- naming


def remote_name(original: str, sha256: str) -> str:
    """The name a file with base name `original` and content hash `sha256` is uploaded under."""
    base = PurePath(original).name or "file"
    suffix = PurePath(base).suffix
    stem = base[: -len(suffix)] if suffix else base
    if not stem:  # ".env": the whole name is the stem
        stem, suffix = base, ""
    return f"{stem}.sha256-{sha256[:NAME_HASH_DIGITS]}{suffix}"


def parse_name(filename: str) -> tuple[str, str] | None:
    """`(original base name, 16-hex hash prefix)` for a name made by `remote_name`, else None."""
    match = _NAME_RE.match(filename)
    if match is None or not match["stem"]:
        return None
    return match["stem"] + (match["ext"] or ""), match["hash"]


def is_placeholder(value: str) -> bool:
    """True for a `placeholder` (an id known only after apply)."""
    return bool(_PLACEHOLDER_RE.match(value))


def short_hash(sha256: str) -> str:
    """`sha256:ab12cd34`."""
    return f"sha256:{sha256[:SHORT_HASH_DIGITS]}"


def human_size(size: int) -> str:
    """`512 B`, `12 KB`, `3.4 MB`, `1.2 GB` (binary units, as file browsers show them)."""
    if size < 1024:
        return f"{size} B"
    for unit, scale in (("KB", 2**10), ("MB", 2**20), ("GB", 2**30)):
        value = size / scale
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "KB" or value >= 100 else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def display_path(path: Path) -> str:
    """`path` relative to the current directory when under it (how plans name local files), else absolute."""
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(absolute)


# ------------------------------------------------------------------------------------------ remote index


@dataclass(frozen=True)
class UploadedFile:
    """A listed file that reconciler uploaded (its name matches the pattern)."""

    id: str
    filename: str
    original: str
    hash_prefix: str
    size: int
    created_at: int


class RemoteIndex:
    """The files reconciler uploaded, from one `GET /files?purpose=assistants` listing, by content."""

    def __init__(self, listing: Iterable[RemoteFile] = ()) -> None:
        self.files: list[UploadedFile] = []
        for item in listing:
            parsed = parse_name(item.filename or "")
            if parsed is None or item.status == "error" or (item.purpose or PURPOSE) != PURPOSE:
                continue
            self.files.append(
                UploadedFile(
                    id=item.id,
                    filename=item.filename or "",
                    original=parsed[0],
                    hash_prefix=parsed[1],
                    size=item.bytes or 0,
                    created_at=item.created_at or 0,
                )
            )
        self.files.sort(key=lambda f: (f.created_at, f.id))
        self.by_id = {f.id: f for f in self.files}

    def find(self, sha256: str, size: int) -> UploadedFile | None:
        """The canonical copy of this content: the oldest by `(created_at, id)`, or None."""
        return next(iter(self.copies(sha256, size)), None)

    def copies(self, sha256: str, size: int) -> list[UploadedFile]:
        """Every uploaded file with this content (hash prefix and size both match), oldest first."""
        prefix = sha256[:NAME_HASH_DIGITS]
        return [f for f in self.files if f.hash_prefix == prefix and f.size == size]


# ------------------------------------------------------------------------------------------- planning


def distinct(files: Iterable[LocalFile]) -> dict[str, list[LocalFile]]:
    """Local files grouped by content hash (first-seen order); duplicates by content collapse to one."""
    out: dict[str, list[LocalFile]] = {}
    for local in files:
        out.setdefault(local.sha256(), []).append(local)
    return out


def _same(remote: UploadedFile, sha256: str, size: int) -> bool:
    return remote.hash_prefix == sha256[:NAME_HASH_DIGITS] and remote.size == size


def manifest_files(
    loaded: LoadedManifest, index: RemoteIndex, existing_ids: Sequence[str]
) -> tuple[list[str], tuple[FileRef, ...]]:
    """The desired `file_ids` of a manifest (its `file_ids` ∪ its files' ids or placeholders) and its
    FileRefs (desired files by path, then tool uploads attached now that it no longer names)."""
    existing = set(existing_ids)
    refs: list[FileRef] = []
    for sha, locals_ in distinct(loaded.files).items():
        first = locals_[0]
        attached = [
            index.by_id[i]
            for i in existing_ids
            if i in index.by_id and _same(index.by_id[i], sha, first.size)
        ]
        found = attached[0] if attached else index.find(sha, first.size)
        if found is None:
            status: RefStatus = "upload"
        else:
            status = "unchanged" if found.id in existing else "attach"
        refs.append(FileRef(display_path(first.path), sha, first.size, found.id if found else None, status))
    manual = list(loaded.manifest.file_ids)
    wanted = set(manual) | {r.file_id for r in refs}
    for file_id in sorted(existing - wanted):
        remote = index.by_id.get(file_id)
        if remote is not None:
            refs.append(FileRef(remote.original, remote.hash_prefix, remote.size, file_id, "detach"))
    return sorted(wanted), tuple(refs)


def plan_files(
    refs_by_key: Mapping[str, Sequence[FileRef]],
    all_manifests: Sequence[LoadedManifest],
    index: RemoteIndex,
    still_used: Iterable[str],
    *,
    prune: bool,
) -> tuple[PlanFile, ...]:
    """The plan's PlanFiles: each distinct content the planned manifests name (`refs_by_key`: key → its
    FileRefs), then, with `prune`, every upload neither any manifest (`all_manifests`) nor `still_used` (the
    file ids assistants will reference once the plan is applied) uses."""
    by_sha: dict[str, tuple[FileRef, list[str], list[str]]] = {}
    for key, refs in sorted(refs_by_key.items()):
        for ref in refs:
            if ref.status == "detach":
                continue
            _, paths, keys = by_sha.setdefault(ref.sha256, (ref, [], []))
            if ref.path not in paths:
                paths.append(ref.path)
            keys.append(key)
    out: list[PlanFile] = []
    for sha, (ref, paths, keys) in sorted(by_sha.items(), key=lambda item: sorted(item[1][1])[0]):
        paths = sorted(paths)
        remote = index.by_id.get(ref.id) if ref.id else None
        out.append(
            PlanFile(
                action="no-op" if ref.id else "upload",
                sha256=sha,
                size=ref.size,
                filename=remote.filename if remote else remote_name(paths[0], sha),
                paths=tuple(paths),
                id=ref.id,
                used_by=tuple(sorted(set(keys))),
            )
        )
    if prune:
        named = {(local.sha256()[:NAME_HASH_DIGITS], local.size) for m in all_manifests for local in m.files}
        used = set(still_used)
        for remote in index.files:
            if remote.id in used or (remote.hash_prefix, remote.size) in named:
                continue
            out.append(
                PlanFile(
                    action="delete",
                    sha256=remote.hash_prefix,
                    size=remote.size,
                    filename=remote.filename,
                    id=remote.id,
                )
            )
    return tuple(out)


def needs_listing(loaded: Sequence[LoadedManifest], *, prune: bool) -> bool:
    """Whether planning needs the files listing: a manifest names files, or unused uploads may be pruned."""
    return prune or any(m.files for m in loaded)
