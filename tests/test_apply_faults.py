"""Apply under faults: 200 changes against an emulator that fails 20% of requests, drops 10% of writes after
committing them and rate-limits at 20 requests/s. Repeated applies converge to the manifests, no assistant is
ever duplicated, and each run's report matches what the emulator holds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from apply_support import client_for, managed_body, markers, plan_dir, seed
from plan_support import write_manifests

from reconciler import dialect
from reconciler.apply import Executor
from reconciler.client import Client, RemoteAssistant
from reconciler.emulator.testing import InProcessEmulator
from reconciler.plan import Plan
from reconciler.results import ApplyReport

pytestmark = pytest.mark.anyio

CREATES, UPDATES, DELETES, UNCHANGED = 80, 70, 50, 30
MAX_RUNS = 6


async def _hold(emulator: InProcessEmulator, client: Client, faults: dict[str, Any]) -> list[RemoteAssistant]:
    """What the emulator holds, read with faults off (then back on)."""
    emulator.set_faults()
    try:
        return await client.list_assistants()
    finally:
        emulator.set_faults(**faults)


def _check_report(the_plan: Plan, report: ApplyReport, held: list[RemoteAssistant]) -> None:
    """Every success the report claims is true of what the emulator holds; no key is held twice."""
    by_id = {a.id: a for a in held}
    desired = {c.key: c.desired for c in the_plan.changes}
    assert len(report.results) == len(the_plan.actionable)
    for result in report.results:
        if result.status in ("created", "updated"):
            assistant = by_id[result.id or ""]
            assert dialect.marker_of(assistant) == result.key
            assert dialect.normalise(assistant) == desired[result.key], result
        elif result.status == "deleted":
            assert result.id not in by_id, result
        else:
            assert result.error, result
    counts = markers(held)
    assert max(counts.values(), default=1) == 1, [k for k, n in counts.items() if n > 1]


async def test_repeated_applies_converge_under_faults(emulator: InProcessEmulator, tmp_path: Path) -> None:
    async with client_for(emulator, max_retries=5) as client:
        await seed(
            client,
            *(managed_body(f"u-{i:03d}", instructions="v1") for i in range(UPDATES)),
            *(managed_body(f"d-{i:03d}") for i in range(DELETES)),
            *(managed_body(f"k-{i:03d}", instructions="same") for i in range(UNCHANGED)),
            {"model": "gpt-4", "name": "someone else's"},
        )
        manifests = {f"c-{i:03d}": f"name: c-{i}\nmodel: gpt-4\ninstructions: new\n" for i in range(CREATES)}
        manifests |= {
            f"u-{i:03d}": "model: gpt-4\ninstructions: v2\ntemperature: 0.5\n" for i in range(UPDATES)
        }
        manifests |= {f"k-{i:03d}": "model: gpt-4\ninstructions: same\n" for i in range(UNCHANGED)}
        write_manifests(tmp_path, manifests)

        runs: list[tuple[dict[str, int], int, int]] = []
        for run in range(1, MAX_RUNS + 1):
            faults: dict[str, Any] = {
                "fail_rate": 0.2,
                "drop_rate": 0.1,
                "rate_limit_rps": 20,
                "seed": 1000 + run,
            }
            emulator.set_faults(**faults)
            the_plan = await plan_dir(client, tmp_path, prune=True)
            if run == 1:
                assert the_plan.summary == {"create": 80, "update": 70, "delete": 50, "no-op": 30}
            if not the_plan.has_changes:
                break
            executor = Executor(client, settle_window=0, parallelism=8)
            report = await executor.run(the_plan)
            held = await _hold(emulator, client, faults)
            _check_report(the_plan, report, held)
            runs.append((report.counts, report.total_calls, executor.lookups))
            if run == 1:
                first_failures = report.failed
        else:
            pytest.fail(f"no convergence after {MAX_RUNS} applies: {runs}")

        emulator.set_faults()
        held = await client.list_assistants()
    assert markers(held) == dict.fromkeys(manifests, 1)
    assert sum(1 for a in held if dialect.marker_of(a) is None) == 1  # the unmanaged one, untouched
    first = runs[0][0]
    assert first["created"] + first["updated"] + first["deleted"] + first["failed"] == 200
    print(f"\nfault test: {len(runs)} applies to converge; per run (counts, calls, look-up listings): {runs}")
    statuses = Counter(r["status"] for r in emulator.requests())
    print(f"fault test: responses by status over all runs: {dict(sorted(statuses.items(), key=str))}")
    failures = [r.error for r in first_failures]
    print(f"fault test: first run's failures: {failures}")
