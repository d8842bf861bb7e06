"""What apply did: one result record per planned change and per knowledge-file operation, and the report.

Pure data, made by `reconciler.apply` and `reconciler.uploads`, read by `reconciler.render.report`.
Every record shares `Outcome`: a `status` (`failed` or a past-tense verb), the one-line `error` of a
failure, `warnings` naming what the server did not keep, and the `seconds` spent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from reconciler.plan import tally

Status = Literal["created", "updated", "deleted", "failed"]
STATUSES: tuple[Status, ...] = ("created", "updated", "deleted", "failed")
FileStatus = Literal["uploaded", "reused", "deleted", "failed"]
#: What a failure needs: sending again (`retry`), a fix to the manifests or settings (`fix`), or a new plan
#: because what the plan was made against changed (`replan`).
Remedy = Literal["retry", "fix", "replan"]


class Outcome:
    """The part every result shares (its dataclasses declare the fields)."""

    #: The fields of the JSON form, in order.
    JSON_KEYS: ClassVar[tuple[str, ...]]
    status: str
    error: str | None
    warnings: tuple[str, ...]
    remedy: Remedy

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def data(self) -> dict[str, Any]:
        """The JSON form: `JSON_KEYS` in order."""
        out = {key: getattr(self, key) for key in self.JSON_KEYS}
        out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True)
class ChangeResult(Outcome):
    """What happened to one planned change.

    `id` is the assistant's id (for a create: the new id, or None when it failed before one was known);
    `error` is the one-line reason when `status == "failed"`; `warnings` name fields the server did not keep.
    """

    JSON_KEYS = ("key", "id", "action", "status", "error", "warnings")
    key: str
    id: str | None
    action: str
    status: Status
    error: str | None = None
    warnings: tuple[str, ...] = ()
    #: Seconds spent on this change (all its calls, retries and look-ups included).
    seconds: float = 0.0
    #: For a failure: what it needs (see `Remedy`).
    remedy: Remedy = "retry"
    #: The name of the change's `Kind`; the JSON form names it only when it is not an assistant.
    kind: str = "assistant"

    def data(self) -> dict[str, Any]:
        out = super().data()
        if self.kind != "assistant":
            out["kind"] = self.kind
        return out


@dataclass(frozen=True)
class FileResult(Outcome):
    """What happened to one planned file upload or delete.

    `path` is the first local path (upload) or the uploaded name (delete); `status` is `uploaded`, `reused`
    (found already uploaded at apply time), `deleted` or `failed` (`error` says why); `warnings` name what the
    server did not keep (e.g. a renamed upload, which later plans could not recognise).
    """

    JSON_KEYS = ("action", "path", "sha256", "id", "status", "error", "warnings")
    action: Literal["upload", "delete"]
    path: str
    sha256: str
    status: FileStatus
    id: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    remedy: Remedy = "retry"


@dataclass(frozen=True)
class Pending:
    """A planned change with no result: running when apply stopped waiting (its outcome is unknown), or
    never started."""

    key: str
    action: str
    id: str | None
    kind: str = "assistant"

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "action": self.action, "id": self.id}
        if self.kind != "assistant":
            out["kind"] = self.kind
        return out


@dataclass(frozen=True)
class Interruption:
    """Apply was stopped (Ctrl-C, SIGTERM): the changes whose outcome is `unknown` and those `not_started`."""

    unknown: tuple[Pending, ...] = ()
    not_started: tuple[Pending, ...] = ()

    def data(self) -> dict[str, Any]:
        return {
            "unknown": [p.data() for p in self.unknown],
            "not_started": [p.data() for p in self.not_started],
        }


@dataclass(frozen=True)
class ApplyReport:
    """Every change's result, in plan order, and the API calls made (by `"METHOD /route"`)."""

    results: tuple[ChangeResult, ...]
    calls: Mapping[str, int] = field(default_factory=dict)
    #: Wall time of the run in seconds.
    seconds: float = 0.0
    #: One result per planned knowledge-file upload (first) and delete (last).
    files: tuple[FileResult, ...] = ()
    #: Set when apply was stopped by a signal before every change had a result.
    interrupted: Interruption | None = None

    @property
    def counts(self) -> dict[str, int]:
        """`{"created": n, "updated": n, "deleted": n, "failed": n}`."""
        return tally(STATUSES, (result.status for result in self.results))

    @property
    def failed(self) -> tuple[ChangeResult, ...]:
        return tuple(r for r in self.results if r.failed)

    @property
    def warnings(self) -> tuple[str, ...]:
        return (*(w for f in self.files for w in f.warnings), *(w for r in self.results for w in r.warnings))

    @property
    def ok(self) -> bool:
        """True when every change and file operation succeeded and the server kept every field (exit 0)."""
        if self.interrupted is not None:
            return False
        return not self.failed and not self.warnings and not any(f.failed for f in self.files)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def data(self) -> dict[str, Any]:
        """The JSON report: `{"format_version", "ok", "results": [...], "summary": {...}, "warnings": n,
        "calls": {"total": n, "by_route": {...}}}` (keys documented in `render/report.py`)."""
        return {
            "format_version": "1",
            "ok": self.ok,
            "results": [r.data() for r in self.results],
            "summary": self.counts,
            "warnings": len(self.warnings),
            "calls": {"total": self.total_calls, "by_route": dict(sorted(self.calls.items()))},
            **({"files": [f.data() for f in self.files]} if self.files else {}),
            **({"interrupted": self.interrupted.data()} if self.interrupted else {}),
        }


def remedy_for(err: BaseException) -> Remedy:
    """What a failed call needs, from its HTTP status when it has one (`APIError.status`): 408, 409, 429,
    5xx and failures without an answer (connection, timeout, unknown outcome) are worth a retry; 404 means
    the plan's object is gone (a new plan); any other 4xx a fix (the request itself is refused)."""
    status = getattr(err, "status", None)
    if not isinstance(status, int) or status in (408, 409, 429) or status >= 500:
        return "retry"
    return "replan" if status == 404 else "fix"


#: Called after each change finishes: `progress(done, total, result)`.
Progress = Callable[[int, int, ChangeResult], None]
