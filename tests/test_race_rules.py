"""The rules behind exactly once across runs, one by one (docs/design.md, "Exactly once across runs"): the
canonical claimant, the horizon, the executor's canonical step, the plan's duplicate deletes, the saved
plan's staleness, and the local apply lock."""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import time
from pathlib import Path
from typing import Any

import pytest
from apply_support import ENTRY, client_for, managed_body, plan_dir, seed, writes
from plan_support import assistant, write_manifests

from reconciler import dialect, knowledge, lock
from reconciler.apply import Executor
from reconciler.client import AmbiguousWriteError, RemoteAssistant
from reconciler.dialect import claim_order
from reconciler.emulator.testing import InProcessEmulator
from reconciler.errors import ReconcilerError
from reconciler.exactly_once import STAMP_RESOLUTION, canonical, horizon, others
from reconciler.options import ConnectionOptions
from reconciler.plan import Change, Plan
from reconciler.planfile import stale_reasons
from reconciler.render import render_plan

# ------------------------------------------------------------------------------------ the canonical rule

CANONICAL = [
    # (created_at, id) of the claimants -> the canonical one's id
    ([(5, "asst_b")], "asst_b"),
    ([(5, "asst_b"), (4, "asst_z")], "asst_z"),  # older wins over a smaller id
    ([(5, "asst_b"), (5, "asst_a")], "asst_a"),  # same second: the smaller id
    ([(7, "asst_c"), (5, "asst_b"), (5, "asst_c"), (6, "asst_a")], "asst_b"),
]


@pytest.mark.parametrize(("claimants", "kept"), CANONICAL)
def test_canonical_is_the_minimum_by_created_at_then_id(claimants: list[tuple[int, str]], kept: str) -> None:
    objects = [assistant("k", id=i, created_at=c) for c, i in claimants]
    for order in itertools.permutations(objects):  # whatever order the listing has
        found = canonical(order, claim_order)
        assert found is not None and found.id == kept
        assert sorted(a.id for a in others(order, claim_order)) == sorted(
            i for _, i in claimants if i != kept
        )
    assert canonical([], claim_order) is None


# ---------------------------------------------------------------------------------------- the horizon


def test_horizon_is_the_last_return_plus_the_window_plus_one_second() -> None:
    assert horizon(100.0, 3.0) == 104.0
    assert horizon(100.0, 0.5) == 101.5
    assert STAMP_RESOLUTION == 1.0


# Times in seconds on one real clock. Our create commits at `ours` (stamped floor(ours)) and returns at
# `returned`; another claimant is sent at `sent` and commits (is stamped, becomes listable) `lag` <= W later.
HORIZON_CASES = [
    # (ours, returned, sent, lag, window)
    (10.2, 10.3, 10.9, 0.5, 0.5),  # sent after ours, same second, smaller id: must be seen
    (10.2, 10.3, 10.9, 3.0, 3.0),  # ... and committing as late as the window allows
    (10.9, 11.0, 10.0, 0.9, 1.0),  # sent before ours, committed a little later
    (10.0, 12.5, 9.5, 0.1, 0.2),  # our answer came late (retries): the horizon counts from the return
    (10.0, 10.0, 10.99, 2.5, 2.5),
]


@pytest.mark.parametrize(("ours", "returned", "sent", "lag", "window"), HORIZON_CASES)
def test_a_listing_at_the_horizon_sees_every_claimant_that_could_be_smaller(
    ours: float, returned: float, sent: float, lag: float, window: float
) -> None:
    """Assumption V: stamped no earlier than sent, listable within W of sending. Whatever the ids, a
    claimant whose created_at is not after ours is listable by the horizon of our last return."""
    stamped = sent + lag  # committed (and stamped) `lag` after sending, listable from then on
    if math.floor(stamped) <= math.floor(ours):  # it could precede ours in (created_at, id) order
        assert stamped <= horizon(returned, window)
    # and it is so for every claimant the assumption allows: sent before ours' second ended
    latest_sent = math.floor(ours) + STAMP_RESOLUTION
    assert latest_sent + window <= horizon(returned, window)


@pytest.mark.anyio
async def test_the_emulator_keeps_assumption_v(emulator: InProcessEmulator) -> None:
    """A dropped write with a commit delay is not listed at first, is listed once the delay (< W) passed,
    and its created_at is stamped no earlier than the request was sent."""
    emulator.set_faults(drop_rate=1.0, commit_delay_ms=300)
    async with client_for(emulator, max_retries=0) as client:
        sent = time.time()
        with pytest.raises(AmbiguousWriteError):
            await client.create_assistant(managed_body("v"))
        emulator.set_faults()
        assert await client.list_assistants() == []
        await asyncio.sleep(0.5)
        (late,) = await client.list_assistants()
        assert (late.created_at or 0) >= math.floor(sent)


# -------------------------------------------------------------------------------- the executor's step


async def _older_claimant(emulator: InProcessEmulator, client: Any, body: dict[str, Any]) -> RemoteAssistant:
    """Create `body` as another run would, stamped a second before anything created after it (whatever the
    ids); the emulator's clock stays one second later."""
    emulator.state.store.clock = lambda: 1_700_000_000.0
    (theirs,) = await seed(client, body)
    emulator.state.store.clock = lambda: 1_700_000_001.0
    return theirs


@pytest.mark.anyio
async def test_a_create_that_finds_an_older_claimant_keeps_it(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    """Another run created the key (older, different state) after this plan: this run's create is deleted,
    the older one converged to the manifest and reported."""
    write_manifests(tmp_path, {"hr": "model: gpt-4\ninstructions: Mine.\n"})
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, tmp_path)
        theirs = await _older_claimant(emulator, client, managed_body("hr", instructions="Theirs."))
        emulator.reset_stats()
        report = await Executor(client, settle_window=0.01).run(the_plan)
        (result,) = report.results
        assert (result.status, result.id, result.error) == ("created", theirs.id, None)
        made = [r for r in emulator.requests() if r["method"] == "POST" and r["path"] == "/v1/assistants"]
        own = made[0]
        assert own["status"] == 200
        calls = writes(emulator.requests())
        assert calls[1:] == [
            (
                "POST",
                f"/v1/assistants/{theirs.id}",
                {"instructions": "Mine.", "metadata": {dialect.MARKER_KEY: "hr", dialect.APPLIED_KEY: ENTRY}},
            ),
            ("DELETE", calls[2][1], None),
        ]
        (left,) = await client.list_assistants()
        assert (left.id, left.instructions) == (theirs.id, "Mine.")
        assert calls[2][1] != f"/v1/assistants/{theirs.id}"


@pytest.mark.anyio
async def test_without_a_race_the_step_costs_one_listing(emulator: InProcessEmulator, tmp_path: Path) -> None:
    write_manifests(tmp_path, {"a": "model: gpt-4\n", "b": "model: gpt-4\n"})
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, tmp_path)
        report = await Executor(client, settle_window=0.01).run(the_plan)
        assert report.ok and report.counts["created"] == 2
        assert report.calls == {"POST /assistants": 2, "GET /assistants": 1}


@pytest.mark.anyio
async def test_a_failing_check_fails_the_create_and_names_it(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    """The listing at the horizon fails: the create happened, but whether it has a duplicate is unknown."""
    write_manifests(tmp_path, {"hr": "model: gpt-4\n"})
    async with client_for(emulator, max_retries=0) as client:
        the_plan = await plan_dir(client, tmp_path)
        emulator.inject(500, route="GET /v1/assistants", body={"error": {"message": "boom"}})
        (result,) = (await Executor(client, settle_window=0.01).run(the_plan)).results
        (made,) = await client.list_assistants()
        assert (result.status, result.id, result.remedy) == ("failed", made.id, "replan")
        assert result.error is not None
        assert result.error.startswith(f"created {made.id}, but listing to check for duplicates failed (")
        assert result.error.endswith("); the next plan shows any duplicate")


@pytest.mark.anyio
async def test_a_failing_duplicate_delete_fails_the_create(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    write_manifests(tmp_path, {"hr": "model: gpt-4\n"})
    async with client_for(emulator, max_retries=0) as client:
        the_plan = await plan_dir(client, tmp_path)
        theirs = await _older_claimant(emulator, client, managed_body("hr"))
        emulator.inject(
            500, route="DELETE /v1/assistants/{assistant_id}", body={"error": {"message": "boom"}}
        )
        (result,) = (await Executor(client, settle_window=0.01).run(the_plan)).results
        assert (result.status, result.id) == ("failed", theirs.id)
        assert result.error is not None
        assert result.error.startswith(f"kept {theirs.id} (oldest of 2 claiming 'hr'), but DELETE ")
        assert len(await client.list_assistants()) == 2  # the next plan deletes the duplicate


#: A seed whose first upload is dropped (committed 800 ms later) and whose second gets through.
DROP_FIRST_SEED = 3


@pytest.mark.anyio
async def test_a_late_committed_upload_leaves_one_copy(emulator: InProcessEmulator, tmp_path: Path) -> None:
    """The first upload commits after the look-ups gave up on it, so the run uploads again: two copies.
    At the uploads' horizon the run attaches the canonical copy and, after its changes, deletes the other."""
    write_manifests(tmp_path, {"hr": "model: gpt-4\ntools: [{type: retrieval}]\nfiles: [docs/a.md]\n"})
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_bytes(b"Leave policy.\n")
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, tmp_path)
        emulator.set_faults(drop_rate=0.5, commit_delay_ms=800, seed=DROP_FIRST_SEED)
        report = await Executor(client, settle_window=1.0, settle_seconds=0.01).run(the_plan)
        emulator.set_faults()
        uploads = [r for r in emulator.requests() if r["method"] == "POST" and r["path"] == "/v1/files"]
        assert [bool(r["dropped"]) for r in uploads] == [True, False]
        assert report.ok
        (upload, delete) = report.files
        (kept,) = await client.list_files(knowledge.PURPOSE)
        assert (upload.action, upload.status, upload.id) == ("upload", "uploaded", kept.id)
        assert (delete.action, delete.status) == ("delete", "deleted") and delete.id != kept.id
        (made,) = await client.list_assistants()
        assert made.file_ids == (kept.id,)


# ------------------------------------------------------------------------------------ plan and staleness


def _duplicate_plan() -> Plan:
    kept = assistant("hr", id="asst_x", created_at=1)
    dup = assistant("hr", id="asst_y", created_at=2)
    from reconciler.planner import build_plan

    return build_plan([], [dup, kept])


def test_a_duplicate_is_planned_as_a_delete_with_its_reason() -> None:
    the_plan = _duplicate_plan()
    (change,) = the_plan.changes
    reason = "duplicate of hr, keeping asst_x (oldest)"
    assert (change.action, change.id, change.reason) == ("delete", "asst_y", reason)
    assert the_plan.data()["changes"][0]["reason"] == reason
    text, markdown = io.StringIO(), io.StringIO()
    render_plan(the_plan, text, "text")
    render_plan(the_plan, markdown, "markdown")
    line = f'assistant "hr" (asst_y) will be destroyed ({reason})'
    assert f"  # {line}\n" in text.getvalue()
    assert line in markdown.getvalue()


def test_a_duplicate_that_appeared_after_the_plan_is_not_stale() -> None:
    planned = Change("hr", "asst_x", "no-op", fingerprint=_fingerprint(assistant("hr", id="asst_x")))
    the_plan = Plan(changes=(planned,))
    assert stale_reasons(the_plan, [assistant("hr", id="asst_x"), assistant("hr", id="asst_y")]) == []
    # a duplicate's delete whose assistant is gone already reached its goal
    gone = Change("hr", "asst_y", "delete", fingerprint="sha256:0", reason="duplicate of hr, keeping asst_x")
    assert stale_reasons(Plan(changes=(gone,)), [assistant("hr", id="asst_x")]) == []


def test_a_create_whose_key_appeared_is_stale_unless_in_the_planned_state() -> None:
    from reconciler.dialect import desired_state, normalise

    desired = desired_state({"model": "gpt-4", "name": "HR"}, "hr")
    create = Plan(changes=(Change("hr", None, "create", desired=desired),))
    same = assistant("hr", id="asst_x", name="HR")
    assert normalise(same) == normalise(desired)
    assert stale_reasons(create, [same]) == []
    assert stale_reasons(create, [assistant("hr", id="asst_z", name="Other")]) == ["hr appeared (asst_z)"]


def _fingerprint(existing: RemoteAssistant) -> str:
    from reconciler.planfile import fingerprint

    return fingerprint(existing)


# ------------------------------------------------------------------------------------------ the lock


def test_a_second_apply_on_the_same_target_is_refused_or_waits(tmp_path: Path) -> None:
    target = ConnectionOptions(base_url="http://user:pw@127.0.0.1:9/v1", project="proj", state_root=tmp_path)
    assert lock.target_of(target) == "http://127.0.0.1:9/v1 proj"
    notes: list[str] = []
    with lock.hold(target, 0, notes.append):
        assert lock.lock_path(target).read_text() == f"{_pid()}\n"
        with pytest.raises(ReconcilerError) as refused, lock.hold(target, 0, notes.append):
            pass  # pragma: no cover
        assert str(refused.value) == (
            f"another apply on http://127.0.0.1:9/v1 proj is running (pid {_pid()}); wait for it to finish, "
            "or pass --lock-timeout SECONDS to wait"
        )
        late = r"\(pid \d+\) still runs after 0.2 s \(--lock-timeout\)$"
        with pytest.raises(ReconcilerError, match=late), lock.hold(target, 0.2, notes.append):
            pass  # pragma: no cover
        assert notes == [f"waiting for another apply on http://127.0.0.1:9/v1 proj (pid {_pid()}) ..."]
        other = ConnectionOptions(local=True, state_root=tmp_path)
        with lock.hold(other, 0, notes.append):  # another target: its own lock
            pass
    with lock.hold(target, 0, notes.append):  # released
        pass


def _pid() -> int:
    import os

    return os.getpid()
