"""Applying a plan's knowledge files (`reconciler.knowledge`): uploads before the assistant changes, deletes
after them. Used by `apply.Executor`; nothing here prints (progress lines go to a `notes` callback).

Contracts:

- **Once per content.** Before uploading, the uploaded files are listed again (one `GET /files` call): content
  uploaded since the plan was made (by an earlier, partly failed apply of the same saved plan, say) is reused.
  Each distinct content is uploaded at most once, under `knowledge.remote_name`.
- **Exactly once.** An upload whose outcome is unknown (`AmbiguousWriteError`) is looked up by content (a
  listing; after `settle_seconds`, another) before it is sent again, at most `upload_attempts` times: never
  two uploads of one content (`reconciler.exactly_once`).
- **Changed since plan.** Each path a change uploads from must still hash to the planned sha256; the bytes
  uploaded are hashed as read. Otherwise that change fails with `PATH changed since plan (...)`.
- **Isolation.** A failed upload fails only the changes that need that content; the others run.
- **One copy across runs.** Racing runs may each upload a content. After its uploads' horizon (the last
  upload returned + `settle_window` + 1 s, `reconciler.exactly_once`) a run lists the files again and attaches
  the canonical copy of each content it uploaded (the oldest by `(created_at, id)`), whoever uploaded it;
  after the assistant changes it deletes the other copies of those contents that no assistant references in
  a fresh listing (`ResolvedUploads.copies`). A copy another run attached in between is left alone.
- **Prune.** A planned file delete runs after the assistant changes, only if a fresh listing of assistants
  shows none (managed or not) still referencing it; a 404 (already gone) counts as deleted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import fsio, knowledge
from reconciler.dialect import MAX_FILE_BYTES
from reconciler.errors import ReconcilerError
from reconciler.exactly_once import wait_for_horizon, write_once
from reconciler.knowledge import RemoteIndex, UploadedFile, human_size, short_hash
from reconciler.plan import PLACEHOLDER_PREFIX, PlanFile
from reconciler.results import FileResult, FileStatus, remedy_for

if TYPE_CHECKING:
    from reconciler.client import Client
    from reconciler.plan import Change, Plan

#: Progress lines (`notes`) are written for uploads of at least this many bytes.
LARGE_FILE = 1 << 20

Notes = Callable[[str], None]


@dataclass(frozen=True)
class ResolvedUploads:
    """The outcome of `upload_missing`: the plan with every resolvable placeholder replaced by its file id,
    the changes that cannot run (`blocked`: key → one-line reason; `needs_new_plan`: those blocked because a
    local file changed or vanished since the plan), one result per planned upload, and the other copies of
    the contents this run uploaded (`copies`, with the full sha256 of each), for `delete_unused`."""

    plan: Plan
    blocked: Mapping[str, str]
    needs_new_plan: frozenset[str]
    results: tuple[FileResult, ...]
    copies: tuple[tuple[UploadedFile, str], ...] = ()


def hash_file(path: Path) -> str:
    """The hex sha256 of the regular file at `path`, read in 1 MiB chunks; OSError when it cannot be read,
    is no longer a regular file (a FIFO swapped in since the plan must not hang apply) or is over
    `MAX_FILE_BYTES`."""
    digest = hashlib.sha256()
    for chunk in fsio.read_chunks(path, MAX_FILE_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


def _read(path: Path) -> tuple[bytes, str]:
    data = fsio.read_bounded(path, MAX_FILE_BYTES)
    return data, hashlib.sha256(data).hexdigest()


def _changed(path: str, planned: str, hashed: str) -> str:
    return (
        f"{path} changed since plan (planned {short_hash(planned)}, now {short_hash(hashed)}); "
        "make a new plan and review it"
    )


async def upload_missing(
    client: Client,
    plan: Plan,
    *,
    parallelism: int = 4,
    notes: Notes | None = None,
    upload_attempts: int = 3,
    settle_seconds: float = 0.5,
    settle_window: float = 0.0,
) -> ResolvedUploads:
    """Upload each planned content not uploaded yet (see the module docstring) and resolve placeholders;
    with `settle_window` > 0, attach the canonical copy of each content uploaded (module docstring).

    Makes no call when the plan uploads nothing. Never raises for a failing upload or listing: the changes
    needing that content are `blocked` instead.
    """
    planned = [f for f in plan.files if f.action == "upload"]
    if not planned:
        return ResolvedUploads(plan, {}, frozenset(), ())
    run = _UploadRun(client, notes, upload_attempts, settle_seconds)
    try:
        run.index = RemoteIndex(await client.list_files(knowledge.PURPOSE))
    except ReconcilerError as err:
        reason = f"cannot list the uploaded files ({err})"
        results = tuple(FileResult("upload", f.label, f.sha256, "failed", error=reason) for f in planned)
        return await _resolve(plan, results, run)
    gate = asyncio.Semaphore(max(parallelism, 1))

    async def upload_gated(item: PlanFile) -> FileResult:
        async with gate:
            return await run.upload(item)

    results = tuple(await asyncio.gather(*(upload_gated(item) for item in planned)))
    copies: tuple[tuple[UploadedFile, str], ...] = ()
    if settle_window > 0 and run.returned is not None:
        results, copies = await run.keep_canonical(planned, results, settle_window)
    resolved = await _resolve(plan, results, run)
    return dataclasses.replace(resolved, copies=copies)


@dataclass
class _UploadRun:
    """One apply's uploads: the client and rules, the listing they start from, and each local path's sha256
    at apply time (`hashed`) or why it cannot be read (`unreadable`)."""

    client: Client
    notes: Notes | None
    attempts: int
    settle: float
    index: RemoteIndex = field(default_factory=RemoteIndex)
    hashed: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    #: When the last upload that got through returned (monotonic), None before any.
    returned: float | None = None

    async def keep_canonical(
        self, planned: list[PlanFile], results: tuple[FileResult, ...], window: float
    ) -> tuple[tuple[FileResult, ...], tuple[tuple[UploadedFile, str], ...]]:
        """At the uploads' horizon, one listing: each uploaded content's result names its canonical copy;
        also returns the other copies of those contents (with their full sha256). When the listing fails,
        the run attaches its own copies (the next plan with --prune deletes unused ones)."""
        assert self.returned is not None
        await wait_for_horizon(self.returned, window)
        try:
            index = RemoteIndex(await self.client.list_files(knowledge.PURPOSE))
        except ReconcilerError:
            return results, ()
        settled: list[FileResult] = []
        copies: list[tuple[UploadedFile, str]] = []
        for item, result in zip(planned, results, strict=True):
            found = index.copies(item.sha256, item.size) if result.status == "uploaded" else []
            if found:
                result = dataclasses.replace(result, id=found[0].id)
                copies += [(copy, item.sha256) for copy in found[1:]]
            settled.append(result)
        return tuple(settled), tuple(copies)

    async def current(self, path: str) -> str | None:
        """The sha256 of `path` now (hashed once), or None when it cannot be read."""
        if path not in self.hashed and path not in self.unreadable:
            try:
                self.hashed[path] = await asyncio.to_thread(hash_file, Path(path))
            except OSError as err:
                self.unreadable[path] = f"cannot read {path}: {err.strerror or err}"
        return self.hashed.get(path)

    async def upload(self, item: PlanFile) -> FileResult:
        """Reuse, or upload exactly once (`exactly_once.write_once`, looked up by content), one content."""
        started = time.monotonic()

        def result(status: FileStatus, **kw: Any) -> FileResult:
            return FileResult(
                "upload", item.label, item.sha256, status, seconds=time.monotonic() - started, **kw
            )

        found = self.index.find(item.sha256, item.size)
        if found is not None:
            return result("reused", id=found.id)
        data = await _planned_content(item, self.hashed, self.unreadable)
        if isinstance(data, str):
            return result("failed", error=data, remedy="replan")
        large = len(data) >= LARGE_FILE
        if large and self.notes is not None:
            self.notes(f"Uploading {item.label} ({human_size(len(data))}, {short_hash(item.sha256)})...")

        async def look_up() -> str | None:
            listing = RemoteIndex(await self.client.list_files(knowledge.PURPOSE))
            found = listing.find(item.sha256, item.size)
            return found.id if found is not None else None

        try:
            written = await write_once(
                lambda: self.client.upload_file(item.filename, data, knowledge.PURPOSE),
                look_up,
                attempts=self.attempts,
                settle=self.settle,
                by="content",
            )
        except ReconcilerError as err:
            return result("failed", error=str(err), remedy=remedy_for(err))
        self.returned = max(self.returned or 0.0, time.monotonic())
        if written.found is not None:  # the lost upload did happen
            return result("uploaded", id=written.found)
        response = written.response
        if response is None or not response.id:
            return result("failed", error="POST /files: the response carries no file id")
        file_id = response.id
        warnings = []
        if response.filename not in (None, item.filename) and not _recognised(response.filename, item.sha256):
            warnings.append(
                f"{item.label} ({file_id}): the server renamed the upload to "
                f"{response.filename!r} (sent {item.filename!r}); later plans cannot recognise it "
                "and will upload it again"
            )
        if large and self.notes is not None:
            seconds = time.monotonic() - started
            self.notes(f"Uploaded {item.label} as {file_id} ({human_size(len(data))} in {seconds:.1f} s)")
        return result("uploaded", id=file_id, warnings=tuple(warnings))


def _recognised(filename: str, sha256: str) -> bool:
    """Whether later plans know an upload the server named `filename` as the content `sha256` (its name still
    carries the hash: the server changed other characters only)."""
    parsed = knowledge.parse_name(filename)
    return parsed is not None and parsed[1] == sha256[: knowledge.NAME_HASH_DIGITS]


async def _planned_content(item: PlanFile, hashed: dict[str, str], unreadable: dict[str, str]) -> bytes | str:
    """The bytes of the first of `item.paths` that still hashes to the planned sha256, or why none does
    (recording each path's hash in `hashed`, or why it cannot be read in `unreadable`)."""
    problems = []
    for path in item.paths:
        try:
            content, digest = await asyncio.to_thread(_read, Path(path))
        except OSError as err:
            unreadable[path] = f"cannot read {path}: {err.strerror or err}"
            problems.append(unreadable[path])
            continue
        hashed[path] = digest
        if digest == item.sha256:
            return content
        problems.append(_changed(path, item.sha256, digest))
    return "; ".join(problems)


async def _resolve(plan: Plan, results: tuple[FileResult, ...], run: _UploadRun) -> ResolvedUploads:
    """Replace placeholders by ids; block changes whose upload failed or whose own path changed."""
    ids = {r.sha256: r.id for r in results if r.id}
    errors = {r.sha256: r.error for r in results if r.failed}
    blocked: dict[str, str] = {}
    needs_new_plan: set[str] = set()
    changes = []
    for change in plan.changes:
        pending = [ref for ref in change.files if ref.status == "upload"]
        if not pending or change.action == "delete":
            changes.append(change)
            continue
        problems: list[str] = []
        for ref in pending:
            digest = await run.current(ref.path)
            if digest is None:
                problems.append(run.unreadable.get(ref.path, f"cannot read {ref.path}"))
                needs_new_plan.add(change.key)
            elif digest != ref.sha256:
                problems.append(_changed(ref.path, ref.sha256, digest))
                needs_new_plan.add(change.key)
            elif ref.sha256 not in ids:
                problems.append(f"upload of {ref.path} failed: {errors.get(ref.sha256) or 'not uploaded'}")
        if problems:
            blocked[change.key] = "; ".join(dict.fromkeys(problems))
            changes.append(change)
        else:
            changes.append(_with_ids(change, ids))
    replanned = dataclasses.replace(plan, changes=tuple(changes))
    return ResolvedUploads(replanned, blocked, frozenset(needs_new_plan), results)


def _with_ids(change: Change, ids: Mapping[str, str]) -> Change:
    """`change` with its placeholders (in `desired`, `after` and its FileRefs) replaced by file ids."""

    def resolve(values: Iterable[str]) -> list[str]:
        prefix = len(PLACEHOLDER_PREFIX)
        return sorted(ids.get(v[prefix:], v) if knowledge.is_placeholder(v) else v for v in values)

    desired = {**change.desired, "file_ids": resolve(change.desired.get("file_ids") or ())}
    after = dict(change.after)
    if "file_ids" in after:
        after["file_ids"] = resolve(after["file_ids"] or ())
    files = tuple(
        dataclasses.replace(r, id=ids[r.sha256]) if r.status == "upload" and r.sha256 in ids else r
        for r in change.files
    )
    return dataclasses.replace(change, desired=desired, after=after, files=files)


async def delete_unused(
    client: Client,
    plan: Plan,
    *,
    parallelism: int = 4,
    copies: Sequence[tuple[UploadedFile, str]] = (),
) -> tuple[FileResult, ...]:
    """Run the plan's file deletes (after its assistant changes) and delete the extra `copies` of contents
    this run uploaded (`ResolvedUploads.copies`): one listing of assistants, then each file no assistant
    references is deleted. One result per planned delete (a referenced one fails) and per copy deleted (a
    referenced copy is left alone, without a result). Never raises."""
    deletes = [f for f in plan.files if f.action == "delete" and f.id]
    extra = [PlanFile("delete", sha256, copy.size, copy.filename, id=copy.id) for copy, sha256 in copies]
    if not deletes and not extra:
        return ()
    try:
        assistants = await client.list_assistants()
    except ReconcilerError as err:
        error = f"not deleted: cannot list assistants ({err})"
        return tuple(FileResult("delete", f.filename, f.sha256, "failed", f.id, error) for f in deletes)
    users: dict[str, list[str]] = {}
    for assistant in assistants:
        for file_id in assistant.file_ids:
            users.setdefault(file_id, []).append(assistant.id)
    gate = asyncio.Semaphore(max(parallelism, 1))

    async def delete_one(item: PlanFile) -> FileResult:
        assert item.id is not None
        started = time.monotonic()
        holders = users.get(item.id)
        if holders:
            error = f"not deleted: still attached to {', '.join(sorted(holders))}"
            return FileResult("delete", item.filename, item.sha256, "failed", item.id, error, remedy="replan")
        async with gate:
            try:
                response = await client.delete_file(item.id, missing_ok=True)
            except ReconcilerError as err:
                failed = FileResult("delete", item.filename, item.sha256, "failed", item.id, str(err))
                return dataclasses.replace(failed, remedy=remedy_for(err))
        if response.get("deleted") is False:
            error = f"DELETE /files/{item.id}: the server answered deleted: false"
            return FileResult("delete", item.filename, item.sha256, "failed", item.id, error)
        return FileResult(
            "delete", item.filename, item.sha256, "deleted", item.id, seconds=time.monotonic() - started
        )

    unheld = [item for item in extra if item.id not in users]
    return tuple(await asyncio.gather(*(delete_one(item) for item in (*deletes, *unheld))))
