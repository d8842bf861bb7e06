"""The Executor: runs a Plan's Changes against the API and reports what happened, one result per change.

Contracts:

- **Only the planned calls.** Each change is of its own `Kind` (assistant, agent: `reconciler.kinds`), whose
  collection it writes to. A create sends `kind.create_body(desired)` (every field plus the ownership marker);
  an update sends `kind.update_body(desired, changed_fields)` (only the changed top-level fields, the whole
  fields whole); a delete is sent only for a planned delete. A no-op makes no call.
- **What was applied is recorded in the same write** (for a kind with a drift scheme, `Kind.drift`:
  assistants). Every create and modify body carries the whole desired `metadata` with the drift entry
  (`drift.stamped`: a hash per field of the whole desired state, and the time from `clock`), so the server
  stores the fields and their record together or neither.
- **Bounded concurrency.** At most `parallelism` changes are in flight; the client's retry rules apply to each
  call and its shared 429 gate slows every worker down together.
- **Exactly once.** A create whose outcome is unknown (`AmbiguousWriteError`) is looked up by its key before
  any retry: if an assistant carrying the key exists, that is the created assistant (modified if it does not
  match the desired state); only if none exists is the create sent again, at most `create_attempts` times.
  Concurrent look-ups share listings (single flight): a look-up only ever joins a listing that starts after
  it was asked for, so it always sees every create that was committed before it asked.
- **Canonical across runs.** Runs that race on a key (no lock, no conditional write) converge by one rule
  (`reconciler.exactly_once`, docs/design.md "Exactly once across runs"): after every create has returned,
  the executor waits for the horizon (the last create's return + `settle_window` + 1 s), takes one fresh
  listing and, per created key, keeps the minimum claimant by `(created_at, id)`: its own assistant, or
  another run's, which it then converges to the desired state and reports. Every other claimant of the key
  in that listing is deleted (404 counts as deleted). No wait and no listing when nothing was created, nor
  with `settle_window` 0 (a single writer: nothing else can race).
- **Idempotent deletes.** A delete answered 404 (already gone, e.g. by an attempt whose answer was lost)
  is done.
- **Read back.** Each write's response is normalised and compared with the desired state on the fields it
  sent (all fields for a create); a field the server did not keep becomes a warning on that change's result.
- **Partial failure.** A failing change never stops the others; every change gets exactly one `ChangeResult`.
- **Stopping.** After `stop()` no further change is started and planned file deletes are skipped; the
  changes running then (`in_flight`, by `in_flight_key`) finish or are cancelled by the caller.
- **Knowledge files** (`reconciler.uploads`): missing contents are uploaded first (once each); a change whose
  upload failed, or whose file changed since the plan, fails without a call; the others then set their whole
  `file_ids` in their one create/modify call. Planned file deletes (`--prune`) run last. `ApplyReport.files`
  holds one `FileResult` per planned upload or delete.

Nothing here prints; rendering lives in `reconciler.render.report`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import dialect, drift, uploads
from reconciler.client import Client
from reconciler.errors import ReconcilerError
from reconciler.exactly_once import (
    DEFAULT_SETTLE_SECONDS,
    canonical,
    others,
    wait_for_horizon,
    write_once,
)
from reconciler.kinds import DEFAULT, Kind, kind_named
from reconciler.plan import Change, Plan
from reconciler.remote import Remote
from reconciler.results import ApplyReport, ChangeResult, FileResult, Progress, Remedy, Status, remedy_for

__all__ = ["Executor", "InFlightKey", "in_flight_key"]

_STATUS_OF_ACTION: dict[str, Status] = {"create": "created", "update": "updated", "delete": "deleted"}

#: Longest value shown in a read-back warning.
_VALUE_LIMIT = 60


#: What tells a running change from every other of its plan: `(kind, key, action, id)`.
InFlightKey = tuple[str, str, str, "str | None"]


def in_flight_key(change: Change) -> InFlightKey:
    """What tells a running change from every other of its plan: a key may have several changes at once (the
    deletes of its duplicates beside its canonical change, each with its own id), and of several kinds."""
    return change.kind, change.key, change.action, change.id


class _Listings:
    """Single-flight listings of every object of one kind for exactly-once look-ups.

    `fresh()` returns a listing that *started after* it was called: callers arriving while no listing runs
    start one; callers arriving while one runs share the next one, which starts as soon as the current one
    ends. So a burst of N look-ups costs about two listings, never N, and none can miss an earlier commit.
    """

    def __init__(self, client: Client, kind: Kind) -> None:
        self._client = client
        self._kind = kind
        self._next: asyncio.Future[list[Remote]] | None = None
        self._driver: asyncio.Task[None] | None = None
        self.count = 0

    async def fresh(self) -> list[Remote]:
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
                listing = await self._client.list_objects(self._kind)
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
    `settle_window` is W of the canonical step (module docstring): how long after it was sent a create is
    surely listed. `progress(done, total, result)` is called after each change.
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
        settle_window: float = DEFAULT_SETTLE_SECONDS,
        clock: Callable[[], float] = time.time,
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
        if settle_window < 0:
            raise ValueError("settle_window must be >= 0")
        self.settle_window = settle_window
        self.notes = notes
        self.clock = clock
        self._listings: dict[str, _Listings] = {}
        self.stopping = False
        #: The changes running now, by kind and key (what is unknown if the run is cancelled).
        self.in_flight: dict[InFlightKey, Change] = {}

    def stop(self) -> None:
        """Start no further change (see the module docstring); `run` then returns what was done."""
        self.stopping = True

    async def run(self, plan: Plan) -> ApplyReport:
        """Apply every actionable change of `plan`; returns one result per change, in plan order.

        Never raises for a failing change (it becomes a `failed` result); the plan is not checked for
        staleness or safety here (the caller does that first).
        """
        started = time.monotonic()
        calls_before = Counter(self.client.calls)
        uploaded = await uploads.upload_missing(
            self.client,
            plan,
            parallelism=self.parallelism,
            notes=self.notes,
            settle_seconds=self.settle_seconds,
            settle_window=self.settle_window,
        )
        plan = uploaded.plan
        results = _Results(len(plan.actionable), self.progress)
        claims = await self._run_changes(plan.actionable, uploaded, results)
        for kind_claims in _by_kind(claims).values():  # only with a settle window: the canonical step
            settled = await self._settle(list(kind_claims.values()))
            for index, result in zip(kind_claims, settled, strict=True):
                results.finish(index, result)
        for claim in claims.values():
            self.in_flight.pop(in_flight_key(claim.change), None)
        deleted: tuple[FileResult, ...] = ()
        if not self.stopping:
            deleted = await uploads.delete_unused(
                self.client, plan, parallelism=self.parallelism, copies=uploaded.copies
            )
        calls = Counter(self.client.calls)
        calls.subtract(calls_before)
        return ApplyReport(
            results=results.done(),
            calls={route: n for route, n in calls.items() if n > 0},
            seconds=time.monotonic() - started,
            files=(*uploaded.results, *deleted),
        )

    async def _run_changes(
        self, changes: Sequence[Change], uploaded: uploads.ResolvedUploads, results: _Results
    ) -> dict[int, _Claim]:
        """Run `changes` with at most `parallelism` in flight, recording each result in `results`, except
        the creates that got through: their claims (by index) wait for the canonical step."""
        pending = iter(enumerate(changes))
        claims: dict[int, _Claim] = {}

        async def worker() -> None:
            for index, change in pending:  # a shared iterator: each change is taken by exactly one worker
                if self.stopping:
                    return
                blocked = uploaded.blocked.get(change.key) if kind_named(change.kind).has_files else None
                if blocked is not None:
                    remedy: Remedy = "replan" if change.key in uploaded.needs_new_plan else "retry"
                    results.finish(index, self._failed(change, change.id, blocked, time.monotonic(), remedy))
                    continue
                self.in_flight[in_flight_key(change)] = change
                outcome = await self._run_one(change)
                if isinstance(outcome, _Claim) and self.settle_window > 0:
                    claims[index] = outcome  # in flight until settled: which assistant stays is not known yet
                    continue
                del self.in_flight[in_flight_key(change)]
                if isinstance(outcome, _Claim):  # a single writer (no settle window): its own assistant stays
                    outcome = outcome.result()
                results.finish(index, outcome)

        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.parallelism, len(changes)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
        return claims

    async def _run_one(self, change: Change) -> ChangeResult | _Claim:
        """The change's result, or for a create that got through its `_Claim` (settled by `_settle`)."""
        started = time.monotonic()
        assistant_id = change.id
        try:
            if change.action == "create":
                return await self._create(change, started)
            elif change.action == "update":
                assert change.id is not None, "an update has an id"
                warnings = await self._update(change, change.id)
            elif change.action == "delete":
                assert change.id is not None, "a delete has an id"
                await self._delete(kind_named(change.kind), change.id)
                warnings = ()
            else:
                raise ReconcilerError(f"cannot apply action {change.action!r}")
        except _CreateFailed as err:
            return self._failed(change, err.id, str(err.cause), started, remedy_for(err.cause))
        except ReconcilerError as err:
            return self._failed(change, assistant_id, str(err), started, remedy_for(err))
        except Exception as err:  # a bug must not stop the other changes; it is reported on this one
            error = f"internal error: {type(err).__name__}: {err}"
            return self._failed(change, assistant_id, error, started, "fix")
        return ChangeResult(
            key=change.key,
            id=assistant_id,
            action=change.action,
            status=_STATUS_OF_ACTION[change.action],
            warnings=warnings,
            seconds=time.monotonic() - started,
            kind=change.kind,
        )

    @staticmethod
    def _failed(
        change: Change, assistant_id: str | None, error: str, started: float, remedy: Remedy
    ) -> ChangeResult:
        return ChangeResult(
            key=change.key,
            id=assistant_id,
            action=change.action,
            status="failed",
            error=error,
            seconds=time.monotonic() - started,
            remedy=remedy,
            kind=change.kind,
        )

    async def _create(self, change: Change, started: float) -> _Claim:
        """Create exactly once (`exactly_once.write_once`, looked up by key): the run's own object, with
        read-back warnings. A create whose lost answer is found is converged instead of duplicated."""
        kind = kind_named(change.kind)
        body = self._stamped(kind, change, kind.create_body(change.desired))
        written = await write_once(
            lambda: self.client.create_object(kind, body),
            lambda: self.lookup(change.key, kind),
            attempts=self.create_attempts,
            settle=self.settle_seconds,
            by="key",
        )
        returned = time.monotonic()
        found = written.found
        if found is not None:
            try:
                warnings = await self._converge(change, found)
            except ReconcilerError as modify_err:
                raise _CreateFailed(found.id, modify_err) from None
            return _Claim(change, found.id, warnings, returned, started)
        created = written.response
        if created is None or not created.id:
            raise ReconcilerError(f"the create response carries no {kind.name} id")
        warnings = self._read_back(change, created.id, created, kind.fields)
        return _Claim(change, created.id, warnings, returned, started)

    async def _converge(self, change: Change, existing: Remote) -> tuple[str, ...]:
        """Modify `existing` to `change.desired` when it differs (only the differing fields); read-back
        warnings."""
        kind = kind_named(change.kind)
        fields = kind.changed_fields(kind.normalise(existing), change.desired)
        if not fields:
            return ()
        body = self._stamped(kind, change, kind.update_body(change.desired, fields))
        response = await self.client.modify_object(kind, existing.id, body)
        return self._read_back(change, existing.id, response, fields)

    async def _settle(self, claims: Sequence[_Claim]) -> list[ChangeResult]:
        """The canonical step of every create (module docstring): one listing started at the horizon of the
        last create, then per key keep the minimum claimant and delete the others. One result per claim
        (every claim of one kind)."""
        kind = kind_named(claims[0].change.kind)
        await wait_for_horizon(max(c.returned for c in claims), self.settle_window)
        try:
            listing = await self._listings_of(kind).fresh()
        except ReconcilerError as err:
            reason = f"listing to check for duplicates failed ({err}); the next plan shows any duplicate"
            return [
                self._failed(c.change, c.id, f"created {c.id}, but {reason}", c.started, "replan")
                for c in claims
            ]
        by_key: dict[str, list[Remote]] = {}
        for assistant in listing:
            by_key.setdefault(kind.marker_of(assistant) or "", []).append(assistant)
        gate = asyncio.Semaphore(self.parallelism)

        async def settle_one(claim: _Claim) -> ChangeResult:
            async with gate:
                return await self._keep_canonical(claim, by_key.get(claim.change.key, []))

        return list(await asyncio.gather(*(settle_one(c) for c in claims)))

    async def _keep_canonical(self, claim: _Claim, claimants: Sequence[Remote]) -> ChangeResult:
        """Keep the minimum of `claimants` (converged to the desired state when it is not the run's own),
        delete the others; the create's result names the one kept."""
        change = claim.change
        kind = kind_named(change.kind)
        keep = canonical(claimants, kind.claim_order)
        if keep is None:
            error = (
                f"created {claim.id}, but it is not listed {self.settle_window:g} s later; "
                "raise --settle-seconds (the next plan shows it)"
            )
            return self._failed(change, claim.id, error, claim.started, "replan")
        kept = keep.id
        warnings = claim.warnings
        try:
            if kept != claim.id:
                warnings = await self._converge(change, keep)
            for duplicate in others(claimants, kind.claim_order):
                await self._delete(kind, duplicate.id)
        except ReconcilerError as err:
            error = f"kept {kept} (oldest of {len(claimants)} claiming {change.key!r}), but {err}"
            return self._failed(change, kept, error, claim.started, remedy_for(err))
        return claim.result(kept, warnings)

    async def _update(self, change: Change, assistant_id: str) -> tuple[str, ...]:
        kind = kind_named(change.kind)
        fields = list(change.changed_fields)
        body = self._stamped(kind, change, kind.update_body(change.desired, fields))
        response = await self.client.modify_object(kind, assistant_id, body)
        return self._read_back(change, assistant_id, response, fields)

    def _stamped(self, kind: Kind, change: Change, body: dict[str, Any]) -> dict[str, Any]:
        """`body` with `metadata` whole carrying the drift entry, for a kind that records what was applied."""
        if kind.drift is None:
            return body
        return drift.stamped(kind.drift, body, change.desired, self.clock())

    async def _delete(self, kind: Kind, object_id: str) -> None:
        response = await self.client.delete_object(kind, object_id, missing_ok=True)
        if response.get("deleted") is False:
            raise ReconcilerError(f"DELETE {kind.path}/{object_id}: the server answered deleted: false")

    def _listings_of(self, kind: Kind) -> _Listings:
        """The single-flight listings of `kind` (one per kind, made on first use)."""
        listings = self._listings.get(kind.name)
        if listings is None:
            listings = self._listings[kind.name] = _Listings(self.client, kind)
        return listings

    async def lookup(self, key: str, kind: Kind | None = None) -> Remote | None:
        """The managed object of `kind` (default: assistants) carrying `key` in a listing started after this
        call (None if absent).

        With several (duplicates made by someone else), the canonical one (`Kind.claim_order`'s minimum).
        """
        kind = kind or DEFAULT
        listing = await self._listings_of(kind).fresh()
        return canonical((a for a in listing if kind.marker_of(a) == key), kind.claim_order)

    @property
    def lookups(self) -> int:
        """How many look-up listings this executor made (every kind)."""
        return sum(listings.count for listings in self._listings.values())

    @staticmethod
    def _read_back(
        change: Change,
        assistant_id: str,
        response: Remote,
        fields: tuple[str, ...] | list[str],
    ) -> tuple[str, ...]:
        """Warnings for each of `fields` whose value in the response differs from the desired state."""
        kind = kind_named(change.kind)
        got = kind.normalise(response)
        wanted = kind.normalise(change.desired)
        warnings = []
        for name in kind.changed_fields(got, wanted):
            if name not in fields:
                continue
            warnings.append(
                f"{change.key} ({assistant_id}): the server did not keep {name}: "
                f"sent {_short(wanted[name])}, got {_short(got[name])}"
            )
        return tuple(warnings)


class _Results:
    """One result slot per actionable change, filled in any order; `progress` is told of each."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self._slots: list[ChangeResult | None] = [None] * total
        self._progress = progress
        self._done = 0

    def finish(self, index: int, result: ChangeResult) -> None:
        self._slots[index] = result
        self._done += 1
        if self._progress is not None:
            self._progress(self._done, len(self._slots), result)

    def done(self) -> tuple[ChangeResult, ...]:
        """The results, in plan order."""
        return tuple(r for r in self._slots if r is not None)


@dataclass(frozen=True)
class _Claim:
    """A create that got through: the run's own assistant `id` for `change.key` and its read-back
    `warnings`, when its last attempt `returned` and the change `started` (monotonic seconds)."""

    change: Change
    id: str
    warnings: tuple[str, ...]
    returned: float
    started: float

    def result(self, kept: str | None = None, warnings: tuple[str, ...] | None = None) -> ChangeResult:
        """The create's result: `kept` (default: the run's own assistant) with `warnings` (default: own)."""
        return ChangeResult(
            key=self.change.key,
            id=kept or self.id,
            action="create",
            status="created",
            warnings=self.warnings if warnings is None else warnings,
            seconds=time.monotonic() - self.started,
            kind=self.change.kind,
        )


class _CreateFailed(Exception):
    """A create failed; `id` is the assistant's id when one is known (found by look-up)."""

    def __init__(self, assistant_id: str | None, cause: Exception) -> None:
        super().__init__(str(cause))
        self.id = assistant_id
        self.cause = cause


def _by_kind(claims: dict[int, _Claim]) -> dict[str, dict[int, _Claim]]:
    """`claims` grouped by their change's kind (each group keeps plan order)."""
    groups: dict[str, dict[int, _Claim]] = {}
    for index, claim in claims.items():
        groups.setdefault(claim.change.kind, {})[index] = claim
    return groups


def _short(value: Any) -> str:
    text = dialect.canonical_json(value)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"
