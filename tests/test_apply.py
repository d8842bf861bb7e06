"""The Executor against the in-process emulator: calls made, request bodies, exactly-once creates, read-back,
partial failure, and check_stale."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from apply_support import (
    ENTRY,
    FILES_NOT_FOUND,
    as_json,
    client_for,
    managed_body,
    markers,
    plan_and_apply,
    plan_dir,
    seed,
    writes,
)
from plan_support import write_manifests

from reconciler import dialect
from reconciler.apply import Executor
from reconciler.emulator.faults import FaultConfig, FaultInjector
from reconciler.emulator.testing import InProcessEmulator
from reconciler.errors import StalePlanError
from reconciler.planfile import check_stale
from reconciler.render.report import render_report, render_report_json
from reconciler.results import ApplyReport, ChangeResult

pytestmark = pytest.mark.anyio


async def test_every_action_sends_exactly_the_planned_calls(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    async with client_for(emulator) as client:
        [kept, edited, orphan] = await seed(
            client,
            managed_body("kept", name="Kept", instructions="same"),
            managed_body("edited", name="Edited", instructions="old"),
            managed_body("orphan", name="Orphan"),
        )
        write_manifests(
            tmp_path,
            {
                "kept": "name: Kept\nmodel: gpt-4\ninstructions: same\n",
                "edited": "name: Edited\nmodel: gpt-4\ninstructions: new\n",
                "fresh": "name: Fresh\nmodel: gpt-4-turbo\ntemperature: 0.5\ntools:\n  - type: retrieval\n",
            },
        )
        emulator.reset_stats()
        the_plan, report = await plan_and_apply(client, tmp_path, prune=True)

        assert the_plan.summary == {"create": 1, "update": 1, "delete": 1, "no-op": 1}
        fresh = next(r for r in report.results if r.key == "fresh")
        assert [(r.key, r.action, r.status, r.error, r.warnings) for r in report.results] == [
            ("fresh", "create", "created", None, ()),
            ("edited", "update", "updated", None, ()),
            ("orphan", "delete", "deleted", None, ()),
        ]
        assert fresh.id and fresh.id.startswith("asst_")
        assert sorted(writes(emulator.requests()), key=str) == sorted(
            [
                (
                    "POST",
                    "/v1/assistants",
                    {
                        "name": "Fresh",
                        "model": "gpt-4-turbo",
                        "tools": [{"type": "retrieval"}],
                        "file_ids": [],
                        "metadata": {dialect.MARKER_KEY: "fresh", dialect.APPLIED_KEY: ENTRY},
                        "temperature": 0.5,
                    },
                ),
                (
                    "POST",
                    f"/v1/assistants/{edited.id}",
                    {
                        "instructions": "new",
                        "metadata": {dialect.MARKER_KEY: "edited", dialect.APPLIED_KEY: ENTRY},
                    },
                ),
                ("DELETE", f"/v1/assistants/{orphan.id}", None),
            ],
            key=str,
        )
        assert report.ok
        assert report.counts == {"created": 1, "updated": 1, "deleted": 1, "failed": 0}
        # plan (1 list) + 3 writes; the no-op `kept` made no call
        assert report.calls == {"POST /assistants": 1, "POST /assistants/{assistant_id}": 1,
                                "DELETE /assistants/{assistant_id}": 1}  # fmt: skip
        assert kept.id not in json.dumps(writes(emulator.requests()))

        again = await plan_dir(client, tmp_path, prune=True)
        assert not again.has_changes


async def test_update_sends_whole_tools_metadata_and_file_ids_only_when_changed(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    async with client_for(emulator) as client:
        [existing] = await seed(
            client,
            managed_body(
                "bot",
                name="Bot",
                tools=[{"type": "retrieval"}, {"type": "code_interpreter"}],
                metadata={"team": "a", "tier": "1"},
            ),
        )
        write_manifests(
            tmp_path,
            {
                "bot": """
                name: Bot
                model: gpt-4
                tools: [{type: retrieval}, {type: code_interpreter}]
                metadata: {team: b, tier: "1"}
                description: now described
                """
            },
        )
        emulator.reset_stats()
        _, report = await plan_and_apply(client, tmp_path)
    assert report.ok
    assert writes(emulator.requests()) == [
        (
            "POST",
            f"/v1/assistants/{existing.id}",
            {
                "description": "now described",
                "metadata": {"team": "b", "tier": "1", dialect.MARKER_KEY: "bot", dialect.APPLIED_KEY: ENTRY},
            },
        )
    ]


async def test_no_op_plan_makes_no_write(emulator: InProcessEmulator, tmp_path: Path) -> None:
    async with client_for(emulator) as client:
        await seed(client, managed_body("a", name="A"), managed_body("b", name="B"))
        write_manifests(tmp_path, {"a": "name: A\nmodel: gpt-4\n", "b": "name: B\nmodel: gpt-4\n"})
        emulator.reset_stats()
        the_plan, report = await plan_and_apply(client, tmp_path)
    assert not the_plan.has_changes
    assert report.results == ()
    assert report.calls == {}
    assert emulator.stats()["by_route"] == {"GET /v1/assistants": 1}


async def test_dropped_creates_are_looked_up_not_duplicated(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    keys = [f"bot-{i:02d}" for i in range(20)]
    write_manifests(tmp_path, {k: f"name: {k}\nmodel: gpt-4\n" for k in keys})
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, tmp_path)
        emulator.set_faults(drop_rate=1, seed=7)  # every write commits, then the connection drops
        executor = Executor(client, settle_window=0, parallelism=20)
        report = await executor.run(the_plan)
        emulator.set_faults()
        held = await client.list_assistants()
    assert [r.status for r in report.results] == ["created"] * 20
    assert markers(held) == dict.fromkeys(keys, 1)
    assert {r.id for r in report.results} == {a.id for a in held}
    # one create each, never retried; the 20 look-ups shared at most two listings
    assert report.calls["POST /assistants"] == 20
    assert executor.lookups <= 2
    assert report.calls["GET /assistants"] <= 2


async def test_create_whose_outcome_is_unknown_is_retried_after_a_look_up(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    write_manifests(tmp_path, {"solo": "name: Solo\nmodel: gpt-4\n"})
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, tmp_path)
        emulator.reset_stats()
        emulator.inject(500, route="POST /v1/assistants")  # answered 500 without running: nothing created
        report = await Executor(client, settle_window=0).run(the_plan)
        held = await client.list_assistants()
    assert [(r.status, r.id) for r in report.results] == [("created", held[0].id)]
    assert markers(held) == {"solo": 1}
    assert [(r["method"], r["route"], r["status"]) for r in emulator.requests()] == [
        ("POST", "/v1/assistants", 500),
        ("GET", "/v1/assistants", 200),  # look-up: not there
        ("GET", "/v1/assistants", 200),  # again after the settle delay: still not there
        ("POST", "/v1/assistants", 200),
        ("GET", "/v1/assistants", 200),
    ]


async def test_create_gives_up_after_its_attempt_budget(emulator: InProcessEmulator, tmp_path: Path) -> None:
    write_manifests(tmp_path, {"solo": "name: Solo\nmodel: gpt-4\n"})
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, tmp_path)
        emulator.inject(500, route="POST /v1/assistants", times=10)
        report = await Executor(client, settle_window=0, create_attempts=3).run(the_plan)
    [result] = report.results
    assert result.status == "failed"
    assert result.id is None
    assert result.error is not None
    assert "outcome unknown" in result.error
    assert result.error.endswith("not found by key after 3 attempts, giving up")
    assert report.calls["POST /assistants"] == 3


async def test_delete_of_an_assistant_already_gone_counts_as_done(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    async with client_for(emulator) as client:
        [gone, dropped, _kept] = await seed(
            client, managed_body("gone"), managed_body("dropped"), managed_body("kept")
        )
        write_manifests(tmp_path, {"kept": "model: gpt-4\n"})
        the_plan = await plan_dir(client, tmp_path, prune=True)
        await client.delete_assistant(gone.id)  # someone else deleted it after the plan
        # the first DELETE (of `dropped`) commits but its answer is lost; the retry gets 404
        emulator.set_faults(drop_rate=0.5, seed=_seed_dropping_first_of_three())
        report = await Executor(client, settle_window=0, parallelism=1).run(the_plan)
        emulator.set_faults()
        assert [a.id for a in await client.list_assistants()] == [_kept.id]
    assert [(r.key, r.status, r.error) for r in report.results] == [
        ("dropped", "deleted", None),
        ("gone", "deleted", None),
    ]
    assert report.ok
    assert [(r["path"], r["status"], r["dropped"]) for r in emulator.requests() if r["method"] == "DELETE"][
        -3:
    ] == [
        (f"/v1/assistants/{dropped.id}", 200, True),
        (f"/v1/assistants/{dropped.id}", 404, False),
        (f"/v1/assistants/{gone.id}", 404, False),
    ]


def _seed_dropping_first_of_three() -> int:
    """A seed whose drop decisions for three writes at drop_rate 0.5 are: drop, keep, keep."""
    for candidate in range(1000):
        injector = FaultInjector(FaultConfig(drop_rate=0.5, seed=candidate))
        if [injector.decide("DELETE").drop for _ in range(3)] == [True, False, False]:
            return candidate
    raise AssertionError("no seed found")


async def test_a_field_the_server_did_not_keep_is_a_warning(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    """A server that answers 200 to a modify but ignores a field: the injected answer is the unchanged object,
    which is exactly what such a server returns."""
    async with client_for(emulator) as client:
        [existing] = await seed(client, managed_body("hr", name="HR", instructions="old"))
        write_manifests(tmp_path, {"hr": "name: HR\nmodel: gpt-4\ninstructions: new\n"})
        the_plan = await plan_dir(client, tmp_path)
        emulator.inject(200, route="POST /v1/assistants/{assistant_id}", body=as_json(existing))
        report = await Executor(client, settle_window=0).run(the_plan)
    [result] = report.results
    assert result.status == "updated"
    assert result.warnings == (
        f'hr ({existing.id}): the server did not keep instructions: sent "new", got "old"',
    )
    assert not report.ok
    out = io.StringIO()
    render_report(report, out)
    assert out.getvalue() == (
        f"~ hr: updated ({existing.id})\n"
        "\n"
        f'Warning: hr ({existing.id}): the server did not keep instructions: sent "new", got "old"\n'
        "\n"
        "Apply complete! Assistants: 0 added, 1 changed, 0 destroyed.\n"
        "Apply finished with 1 warning: the server did not keep every field (see above).\n"
    )


async def test_create_read_back_warns_about_a_dropped_late_field(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    """A v1 server from before 2024-04 answers without temperature: it counts as the default, 1."""
    write_manifests(tmp_path, {"warm": "name: Warm\nmodel: gpt-4\ntemperature: 0.2\n"})
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, tmp_path)
        old_style = {
            "id": "asst_old",
            "object": "assistant",
            "created_at": 1,
            "name": "Warm",
            "description": None,
            "model": "gpt-4",
            "instructions": None,
            "tools": [],
            "file_ids": [],
            "metadata": {dialect.MARKER_KEY: "warm"},
        }
        emulator.inject(200, route="POST /v1/assistants", body=old_style)
        report = await Executor(client, settle_window=0).run(the_plan)
    [result] = report.results
    assert (result.status, result.id) == ("created", "asst_old")
    assert result.warnings == ("warm (asst_old): the server did not keep temperature: sent 0.2, got 1",)


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (503, "Run apply again to retry; nothing applied is lost."),
        (
            404,
            "Make a new plan and review it (run plan, or apply without a saved plan); "
            "nothing applied is lost.",
        ),
        (400, "Fix what the errors above name, then plan and apply again; nothing applied is lost."),
    ],
)
async def test_the_advice_after_a_failure_fits_it(
    emulator: InProcessEmulator, tmp_path: Path, status: int, advice: str
) -> None:
    """ "Run apply again" only when a retry can help: a refused request needs a fix, a vanished one a plan."""
    async with client_for(emulator) as client:
        await seed(client, managed_body("bot", instructions="v1"))
        write_manifests(tmp_path, {"bot": "model: gpt-4\ninstructions: v2\n"})
        the_plan = await plan_dir(client, tmp_path)
        route = "POST /v1/assistants/{assistant_id}"
        emulator.inject(status, route=route, headers={"x-should-retry": "false"})
        report = await Executor(client, settle_window=0).run(the_plan)
    out = io.StringIO()
    render_report(report, out)
    assert out.getvalue().splitlines()[-1] == (
        f"Apply failed: 1 of 1 change failed (0 added, 0 changed, 0 destroyed). {advice}"
    )


async def test_partial_failure_goes_on_and_a_rerun_converges(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    async with client_for(emulator) as client:
        await seed(client, *(managed_body(f"bot-{i}", instructions="v1") for i in range(4)))
        write_manifests(tmp_path, {f"bot-{i}": "model: gpt-4\ninstructions: v2\n" for i in range(4)})
        write_manifests(tmp_path, {"bad": "model: gpt-4\n"})
        the_plan = await plan_dir(client, tmp_path)
        # unknown file ids are refused at plan time now: the server refuses the create as it would them
        emulator.inject(400, route="POST /v1/assistants", body=FILES_NOT_FOUND)
        emulator.inject(503, route="POST /v1/assistants/{assistant_id}", headers={"x-should-retry": "false"})
        report = await Executor(client, settle_window=0, parallelism=2).run(the_plan)
        statuses = sorted((r.key, r.status) for r in report.results)
        failed = report.failed
        assert len(failed) == 2
        bad = next(r for r in failed if r.key == "bad")
        assert (bad.error or "").startswith(
            "POST /assistants: 400 invalid_request_error (param 'file_ids'): "
            "Files [file-missing] were not found [req_"
        )
        assert [s for _, s in statuses].count("updated") == 3
        out = io.StringIO()
        render_report(report, out)
        assert out.getvalue().splitlines()[-1] == (
            "Apply failed: 2 of 5 changes failed (0 added, 3 changed, 0 destroyed). "
            "Fix what the errors above name, then plan and apply again; nothing applied is lost."
        )
        assert f"! bad: create failed: {bad.error}" in out.getvalue()

        # the bad manifest is fixed; the rerun converges and repeats none of the applied updates
        write_manifests(tmp_path, {"bad": "model: gpt-4\n"})
        emulator.reset_stats()
        again, rerun = await plan_and_apply(client, tmp_path)
        assert again.summary == {"create": 1, "update": 1, "delete": 0, "no-op": 3}
        assert rerun.ok
        assert not (await plan_dir(client, tmp_path)).has_changes


async def test_many_changes_run_concurrently_within_the_bound(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    emulator.set_faults(latency_ms=30)
    write_manifests(tmp_path, {f"bot-{i:02d}": "model: gpt-4\n" for i in range(24)})
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, tmp_path)
        seen: list[tuple[int, int]] = []
        loop = asyncio.get_running_loop()
        started = loop.time()
        report = await Executor(
            client, settle_window=0, parallelism=8, progress=lambda d, t, r: seen.append((d, t))
        ).run(the_plan)
        elapsed = loop.time() - started
    assert report.ok and len(report.results) == 24
    assert seen == [(i, 24) for i in range(1, 25)]
    assert elapsed < 24 * 0.030 / 2  # serial would take 0.72 s; 8 at a time about 0.09 s


async def test_check_stale_names_changed_deleted_and_appeared(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    async with client_for(emulator) as client:
        [changed, deleted, _same] = await seed(
            client, managed_body("changed"), managed_body("deleted"), managed_body("same")
        )
        write_manifests(
            tmp_path,
            {k: "model: gpt-4-turbo\n" for k in ("changed", "deleted", "same", "new")},
        )
        the_plan = await plan_dir(client, tmp_path)
        await check_stale(client, the_plan)  # fresh: passes

        await client.modify_assistant(changed.id, {"name": "edited by hand"})
        await client.delete_assistant(deleted.id)
        [appeared] = await seed(client, managed_body("new"))
        emulator.reset_stats()
        with pytest.raises(StalePlanError) as err:
            await check_stale(client, the_plan)
    assert str(err.value) == (
        "plan is stale: 3 assistants changed since it was made: "
        f"new appeared ({appeared.id}), changed changed ({changed.id}), "
        f"deleted deleted ({deleted.id}); "
        "make a new plan and review it"
    )
    assert emulator.stats()["by_route"] == {"GET /v1/assistants": 1}


async def test_check_stale_with_prune_refuses_a_new_managed_orphan(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    async with client_for(emulator) as client:
        await seed(client, managed_body("kept"), managed_body("old"))
        write_manifests(tmp_path, {"kept": "model: gpt-4\n"})
        pruning = await plan_dir(client, tmp_path, prune=True)
        keeping = await plan_dir(client, tmp_path)
        [stray] = await seed(client, managed_body("stray"))
        await check_stale(client, keeping)  # without --prune a new orphan is left alone anyway
        with pytest.raises(StalePlanError, match=rf"stray appeared \({stray.id}\)"):
            await check_stale(client, pruning)


def test_report_json_has_stable_keys() -> None:
    report = ApplyReport(
        results=(
            ChangeResult("a", "asst_1", "create", "created"),
            ChangeResult("b", None, "create", "failed", error="POST /assistants: 400 ...: bad"),
        ),
        calls={"POST /assistants": 2},
    )
    out = io.StringIO()
    render_report_json(report, out)
    assert json.loads(out.getvalue()) == {
        "format_version": "1",
        "ok": False,
        "results": [
            {
                "key": "a",
                "id": "asst_1",
                "action": "create",
                "status": "created",
                "error": None,
                "warnings": [],
            },
            {
                "key": "b",
                "id": None,
                "action": "create",
                "status": "failed",
                "error": "POST /assistants: 400 ...: bad",
                "warnings": [],
            },
        ],
        "summary": {"created": 1, "updated": 0, "deleted": 0, "failed": 1},
        "warnings": 0,
        "calls": {"total": 2, "by_route": {"POST /assistants": 2}},
    }


async def test_create_still_committing_after_a_lost_response_is_found_not_duplicated(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    """A server that commits a create only after the connection broke (here 80 ms later, after the first
    look-up) must not get the create twice: the second look-up, a settle delay later, finds it."""
    write_manifests(tmp_path, {"late": "name: Late\nmodel: gpt-4\n"})
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, tmp_path)
        emulator.reset_stats()
        emulator.set_faults(drop_rate=1, commit_delay_ms=80, seed=1)
        report = await Executor(client, settle_window=0, settle_seconds=0.2).run(the_plan)
        emulator.set_faults()
        held = await client.list_assistants()
    assert markers(held) == {"late": 1}
    assert [(r.status, r.id) for r in report.results] == [("created", held[0].id)]
    assert [(r["method"], r["route"]) for r in emulator.requests()][:3] == [
        ("POST", "/v1/assistants"),  # dropped, committed 80 ms later
        ("GET", "/v1/assistants"),  # look-up: not there yet
        ("GET", "/v1/assistants"),  # 200 ms later: there, so no second create
    ]


async def test_a_key_whose_duplicate_is_deleted_while_its_update_runs(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    """The canonical assistant's update and its duplicate's delete share a key and run at once: both finish,
    and the executor tells them apart while they run (a regression: the second to finish raised KeyError)."""
    async with client_for(emulator) as client:
        seeded = await seed(
            client, managed_body("hr", instructions="old"), managed_body("hr", instructions="old")
        )
        kept, extra = sorted(seeded, key=dialect.claim_order)
        emulator.set_faults(latency_ms=20)  # both in flight together
        write_manifests(tmp_path, {"hr": "model: gpt-4\ninstructions: new\n"})
        the_plan, report = await plan_and_apply(client, tmp_path)
        emulator.set_faults()
        held = await client.list_assistants()
    assert sorted((c.action, c.id) for c in the_plan.actionable) == [
        ("delete", extra.id),
        ("update", kept.id),
    ]
    assert sorted((r.status, r.id) for r in report.results) == [("deleted", extra.id), ("updated", kept.id)]
    assert [(a.id, a.instructions) for a in held] == [(kept.id, "new")]
