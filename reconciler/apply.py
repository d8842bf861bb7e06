"""The Executor: runs a Plan's Changes against the API and reports what happened, one result per change.

Contracts:

- **Only the planned calls.** A create sends `dialect.create_body(desired)` (every field plus the ownership
  marker); an update sends `dialect.update_body(desired, changed_fields)` (only the changed top-level fields,
  `tools`/`file_ids`/`metadata` whole); a delete is sent only for a planned delete. A no-op makes no call.
- **Bounded concurrency.** At most `parallelism` changes are in flight; the client's retry rules apply to each
  call and its shared 429 gate slows every worker down together.
- **Exactly once.** A create whose outcome is unknown (`AmbiguousWriteError`) is looked up by its key before
  any retry: if an assistant carrying the key exists, that is the created assistant (modified if it does not
  match the desired state); only if none exists is the create sent again, at most `create_attempts` times.
  Concurrent look-ups share listings (single flight): a look-up only ever joins a listing that starts after
  it was asked for, so it always sees every create that was committed before it asked.
- **Idempotent deletes.** A delete answered 404 (already gone, e.g. by an attempt whose answer was lost)
  is done.
- **Read back.** Each write's response is normalised and compared with the desired state on the fields it
  sent (all fields for a create); a field the server did not keep becomes a warning on that change's result.
- **Partial failure.** A failing change never stops the others; every change gets exactly one `ChangeResult`.
- **Knowledge files** (`reconciler.uploads`): missing contents are uploaded first (once each); a change whose
  upload failed, or whose file changed since the plan, fails without a call; the others then set their whole
  `file_ids` in their one create/modify call. Planned file deletes (`--prune`) run last. `ApplyReport.files`
  holds one `FileResult` per planned upload or delete.

`check_stale` re-lists the API and refuses a saved plan whose fingerprints no longer match, writing nothing.
Nothing here prints; rendering lives in `reconciler.render.report`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler import dialect, uploads
from reconciler.client import AmbiguousWriteError, Client
from reconciler.errors import ReconcilerError, StalePlanError
from reconciler.plan import ABSENT, Change, Plan

__all__ = [
    "ApplyReport",
    "ChangeResult",
    "Executor",
    "Progress",
    "check_stale",
]

Status = Literal["created", "updated", "deleted", "failed"]
STATUSES: tuple[Status, ...] = ("created", "updated", "deleted", "failed")
_DONE: dict[str, Status] = {"create": "created", "update": "updated", "delete": "deleted"}

#: How many stale keys a StalePlanError names before saying "and N more".
STALE_NAMED = 3
#: Longest value shown in a read-back warning.
_VALUE_LIMIT = 60


@dataclass(frozen=True)
class ChangeResult:
    """What happened to one planned change.

    `id` is the assistant's id (for a create: the new id, or None when it failed before one was known);
    `error` is the one-line reason when `status == "failed"`; `warnings` name fields the server did not keep.
    """

    key: str
    id: str | None
    action: str
    status: Status
    error: str | None = None
    warnings: tuple[str, ...] = ()
    #: Seconds spent on this change (all its calls, retries and look-ups included).
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def data(self) -> dict[str, Any]:
        """The JSON form (stable keys: key, id, action, status, error, warnings)."""
        return {
            "key": self.key,
            "id": self.id,
            "action": self.action,
            "status": self.status,
            "error": self.error,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ApplyReport:
    """Every change's result, in plan order, and the API calls made (by `"METHOD /route"`)."""

    results: tuple[ChangeResult, ...]
    calls: Mapping[str, int] = field(default_factory=dict)
    #: Wall time of the run in seconds.
    seconds: float = 0.0
    #: One result per planned knowledge-file upload (first) and delete (last).
    files: tuple[uploads.FileResult, ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        """`{"created": n, "updated": n, "deleted": n, "failed": n}`."""
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for result in self.results:
            counts[result.status] += 1
        return counts

    @property
    def failed(self) -> tuple[ChangeResult, ...]:
        return tuple(r for r in self.results if r.failed)

    @property
    def warnings(self) -> tuple[str, ...]:
        return (*(w for f in self.files for w in f.warnings), *(w for r in self.results for w in r.warnings))

    @property
    def ok(self) -> bool:
        """True when every change and file operation succeeded and the server kept every field (exit 0)."""
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
        }


#: Called after each change finishes: `progress(done, total, result)`.
Progress = Callable[[int, int, ChangeResult], None]


class _Listings:
    """Single-flight listings of all assistants for exactly-once look-ups.

    `fresh()` returns a listing that *started after* it was called: callers arriving while no listing runs
    start one; callers arriving while one runs share the next one, which starts as soon as the current one
    ends. So a burst of N look-ups costs about two listings, never N, and none can miss an earlier commit.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._next: asyncio.Future[list[dict[str, Any]]] | None = None
        self._driver: asyncio.Task[None] | None = None
        self.count = 0

    async def fresh(self) -> list[dict[str, Any]]:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        future = self._next
        if self._driver is None or self._driver.done():
            self._driver = asyncio.ensure_future(self._drive())
        return await asyncio.shield(future)

    async def _drive(self) -> None:
        while self._next is not None:
            future, self._next = self._next, None
            self.count += 1
            try:
                listing = await self._client.list_assistants()
            except Exception as err:  # handed to every waiter
                future.set_exception(err)
                future.exception()  # marks it retrieved: waiters that were cancelled must not warn
            else:
                future.set_result(listing)


class Executor:
    """Runs a Plan's changes with at most `parallelism` in flight; see the module docstring for contracts.

    `create_attempts` bounds how many times one create is sent when its outcome keeps being unknown and the
    look-up finds nothing; by default the client's retry budget (`--max-retries`) plus one, as for any call.
    Before a create is sent again, the key is looked up twice, `settle_seconds` × attempt apart, so a create
    the server was still committing when the connection broke is found rather than duplicated.
    `progress(done, total, result)` is called after each change.
    """

    def __init__(
        self,
        client: Client,
        *,
        parallelism: int = 8,
        progress: Progress | None = None,
        create_attempts: int | None = None,
        notes: uploads.Notes | None = None,
        settle_seconds: float = 0.5,
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be >= 1")
        if create_attempts is None:
            create_attempts = client.max_retries + 1
        if create_attempts < 1:
            raise ValueError("create_attempts must be >= 1")
        self.client = client
        self.parallelism = parallelism
        self.progress = progress
        self.create_attempts = create_attempts
        self.settle_seconds = settle_seconds
        self.notes = notes
        self._listings = _Listings(client)

    async def run(self, plan: Plan) -> ApplyReport:
        """Apply every actionable change of `plan`; returns one result per change, in plan order.

        Never raises for a failing change (it becomes a `failed` result); the plan is not checked for
        staleness or safety here (the caller does that first).
        """
        started = time.monotonic()
        calls_before = Counter(self.client.calls)
        staged = await uploads.upload_missing(
            self.client, plan, parallelism=self.parallelism, notes=self.notes
        )
        plan = staged.plan
        changes = plan.actionable
        results: list[ChangeResult | None] = [None] * len(changes)
        pending = iter(enumerate(changes))
        done = 0

        async def worker() -> None:
            nonlocal done
            for index, change in pending:  # a shared iterator: each change is taken by exactly one worker
                blocked = staged.blocked.get(change.key)
                if blocked is not None:
                    result = self._failed(change, change.id, blocked, time.monotonic())
                else:
                    result = await self._run_one(change)
                results[index] = result
                done += 1
                if self.progress is not None:
                    self.progress(done, len(changes), result)

        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.parallelism, len(changes)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
        deleted = await uploads.delete_unused(self.client, plan, parallelism=self.parallelism)
        calls = Counter(self.client.calls)
        calls.subtract(calls_before)
        return ApplyReport(
            results=tuple(r for r in results if r is not None),
            calls={route: n for route, n in calls.items() if n > 0},
            seconds=time.monotonic() - started,
            files=(*staged.results, *deleted),
        )

    async def _run_one(self, change: Change) -> ChangeResult:
        started = time.monotonic()
        assistant_id = change.id
        try:
            if change.action == "create":
                assistant_id, warnings = await self._create(change)
            elif change.action == "update":
                assert change.id is not None, "an update has an id"
                warnings = await self._update(change, change.id)
            elif change.action == "delete":
                assert change.id is not None, "a delete has an id"
                await self._delete(change.id)
                warnings = ()
            else:
                raise ReconcilerError(f"cannot apply action {change.action!r}")
        except _CreateFailed as err:
            return self._failed(change, err.id, str(err.cause), started)
        except ReconcilerError as err:
            return self._failed(change, assistant_id, str(err), started)
        except Exception as err:  # a bug must not stop the other changes; it is reported on this one
            return self._failed(change, assistant_id, f"internal error: {type(err).__name__}: {err}", started)
        return ChangeResult(
            key=change.key,
            id=assistant_id,
            action=change.action,
            status=_DONE[change.action],
            warnings=warnings,
            seconds=time.monotonic() - started,
        )

    @staticmethod
    def _failed(change: Change, assistant_id: str | None, error: str, started: float) -> ChangeResult:
        return ChangeResult(
            key=change.key,
            id=assistant_id,
            action=change.action,
            status="failed",
            error=error,
            seconds=time.monotonic() - started,
        )

    async def _create(self, change: Change) -> tuple[str, tuple[str, ...]]:
        """Create exactly once; returns the new id and read-back warnings."""
        desired = change.desired
        body = dialect.create_body(desired)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.client.create_assistant(body)
            except AmbiguousWriteError as err:
                try:
                    found = await self.lookup(change.key)
                    if found is None:
                        # A server may still be committing a create whose connection it lost: give it a
                        # moment and look again before sending the create a second time.
                        await asyncio.sleep(self.settle_seconds * attempt)
                        found = await self.lookup(change.key)
                except ReconcilerError as lookup_err:
                    raise _CreateFailed(
                        None,
                        ReconcilerError(
                            f"{err}; looking it up by key failed too ({lookup_err}); "
                            "the next plan will show whether it exists"
                        ),
                    ) from None
                if found is not None:
                    # The lost create did happen: converge it instead of creating a duplicate.
                    fields = dialect.changed_fields(dialect.normalise(found), desired)
                    if not fields:
                        return found["id"], ()
                    try:
                        response = await self.client.modify_assistant(
                            found["id"], dialect.update_body(desired, fields)
                        )
                    except ReconcilerError as modify_err:
                        raise _CreateFailed(found["id"], modify_err) from None
                    return found["id"], self._read_back(change, found["id"], response, fields)
                if attempt >= self.create_attempts:
                    raise _CreateFailed(
                        None,
                        ReconcilerError(f"{err}; not found by key after {attempt} attempts, giving up"),
                    ) from None
                continue
            assistant_id = str(response.get("id") or "")
            if not assistant_id:
                raise ReconcilerError("the create response carries no assistant id")
            return assistant_id, self._read_back(change, assistant_id, response, dialect.FIELDS)

    async def _update(self, change: Change, assistant_id: str) -> tuple[str, ...]:
        fields = list(change.changed_fields)
        response = await self.client.modify_assistant(
            assistant_id, dialect.update_body(change.desired, fields)
        )
        return self._read_back(change, assistant_id, response, fields)

    async def _delete(self, assistant_id: str) -> None:
        response = await self.client.delete_assistant(assistant_id, missing_ok=True)
        if response.get("deleted") is False:
            raise ReconcilerError(f"DELETE /assistants/{assistant_id}: the server answered deleted: false")

    async def lookup(self, key: str) -> dict[str, Any] | None:
        """The managed assistant carrying `key` in a listing started after this call (None if absent).

        With several (duplicates made by someone else), the oldest is returned.
        """
        listing = await self._listings.fresh()
        found = [a for a in listing if dialect.marker_of(a) == key]
        return min(found, key=lambda a: a.get("created_at") or 0) if found else None

    @property
    def lookups(self) -> int:
        """How many look-up listings this executor made."""
        return self._listings.count

    @staticmethod
    def _read_back(
        change: Change,
        assistant_id: str,
        response: Mapping[str, Any],
        fields: tuple[str, ...] | list[str],
    ) -> tuple[str, ...]:
        """Warnings for each of `fields` whose value in the response differs from the desired state."""
        got = dialect.normalise(response)
        wanted = dialect.normalise(change.desired)
        warnings = []
        for name in dialect.changed_fields(got, wanted):
            if name not in fields:
                continue
            warnings.append(
                f"{change.key} ({assistant_id}): the server did not keep {name}: "
                f"sent {_short(wanted[name])}, got {_short(got[name])}"
            )
        return tuple(warnings)


class _CreateFailed(Exception):
    """A create failed; `id` is the assistant's id when one is known (found by look-up)."""

    def __init__(self, assistant_id: str | None, cause: Exception) -> None:
        super().__init__(str(cause))
        self.id = assistant_id
        self.cause = cause


def _short(value: Any) -> str:
    text = dialect.canonical_json(value)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


# ------------------------------------------------------------------------------------------ staleness


def fingerprint(existing: Mapping[str, Any]) -> str:
    """The fingerprint of an existing API assistant: the canonical hash of its normal form."""
    return dialect.canonical_hash(dialect.normalise(existing))


def stale_reasons(plan: Plan, existing: list[dict[str, Any]]) -> list[str]:
    """Why `plan` no longer matches `existing` (the API's assistants), one phrase per key; [] when current.

    - a change planned against an assistant whose normal form changed: `KEY changed`;
    - one whose assistant is gone: `KEY deleted`;
    - a create whose key now has a managed assistant, or another change's key a second one: `KEY appeared`;
    - with a `--prune` plan, a (targeted) managed assistant no change accounts for: `KEY appeared`.
    """
    by_id = {a["id"]: a for a in existing if a.get("id")}
    by_marker: dict[str, list[dict[str, Any]]] = {}
    for assistant in existing:
        marker = dialect.marker_of(assistant)
        if marker is not None:
            by_marker.setdefault(marker, []).append(assistant)
    reasons: list[str] = []
    for change in plan.changes:
        if change.fingerprint == ABSENT or change.id is None:
            if change.key in by_marker:
                ids = ", ".join(a["id"] for a in by_marker[change.key])
                reasons.append(f"{change.key} appeared ({ids})")
            continue
        others = [a["id"] for a in by_marker.get(change.key, []) if a["id"] != change.id]
        if others:
            reasons.append(f"{change.key} appeared ({', '.join(others)})")
        current = by_id.get(change.id)
        if current is None:
            reasons.append(f"{change.key} deleted ({change.id})")
        elif fingerprint(current) != change.fingerprint:
            reasons.append(f"{change.key} changed ({change.id})")
    if plan.prune:
        accounted = {c.id for c in plan.changes if c.id} | {o.id for o in plan.orphans}
        keys = {c.key for c in plan.changes}
        for marker, assistants in sorted(by_marker.items()):
            if marker in keys or (plan.targets and marker not in plan.targets):
                continue
            for assistant in assistants:
                if assistant["id"] not in accounted:
                    reasons.append(f"{marker} appeared ({assistant['id']})")
    return reasons


async def check_stale(client: Client, plan: Plan) -> None:
    """Re-list the API (read only) and raise StalePlanError when any of `plan`'s fingerprints no longer
    matches, e.g. `plan is stale: hr-helper changed (asst_1), faq deleted (asst_2) and 1 more; run plan
    again`."""
    reasons = stale_reasons(plan, await client.list_assistants())
    if not reasons:
        return
    named = ", ".join(reasons[:STALE_NAMED])
    more = f" and {len(reasons) - STALE_NAMED} more" if len(reasons) > STALE_NAMED else ""
    noun = "assistant" if len(reasons) == 1 else "assistants"
    raise StalePlanError(
        f"plan is stale: {len(reasons)} {noun} changed since it was made: {named}{more}; "
        "make a new plan and review it"
    )
