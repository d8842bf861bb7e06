"""Plan over 1,000 managed assistants with 20 changed, against the in-process emulator at 20 ms per request,
beside a naive baseline measured in the same run (one GET per assistant, deepdiff on every pair).

Run: `python -m bench.plan` (prints a table), or as part of `python -m bench`. Figures only, no asserts.

- API calls: requests the plan sends (the emulator's own count).
- wall: `plan_with` end to end (list pages + at most one models call + planning), 20 ms latency per request.
- diff CPU: process CPU seconds spent comparing the 1,000 pairs (normalise + hash-first compare + deepdiff on
  the changed ones) against the naive deepdiff of every pair (`ignore_order=True`, no hashing).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from deepdiff import DeepDiff

from bench.common import Figure, print_figures, ratio
from reconciler import diff
from reconciler.client import Client
from reconciler.dialect import create_body, desired_state, marker_of, normalise
from reconciler.emulator import FaultConfig, InProcessTransport, create_app
from reconciler.manifest import LoadedManifest, load_directory
from reconciler.options import PlanOptions
from reconciler.usecases.planning import plan_with

NAME = "plan"
MANAGED = 1_000
CHANGED = 20
LATENCY_MS = 20.0
API_KEY = "sk-bench-plan"

INSTRUCTIONS = "\n".join(
    f"  Rule {i}: answer questions about topic {i} briefly and cite sources." for i in range(12)
)


def manifest_text(i: int, changed: bool) -> str:
    model = "gpt-4-turbo" if changed else "gpt-4"
    return (
        f"name: Assistant {i}\nmodel: {model}\ninstructions: |\n{INSTRUCTIONS}\n"
        "tools:\n  - type: retrieval\n  - type: function\n    function:\n"
        f"      name: lookup_{i}\n      parameters: {{type: object, properties: {{q: {{type: string}}}}}}\n"
        f"metadata: {{team: team-{i % 7}}}\ntemperature: 0.7\n"
    )


def write(directory: Path, changed: int) -> list[LoadedManifest]:
    directory.mkdir(parents=True)
    for i in range(MANAGED):
        (directory / f"bot-{i:04d}.yaml").write_text(manifest_text(i, i < changed))
    result = load_directory(directory)
    assert not result.errors, result.errors[:3]
    return result.manifests


async def measure(workdir: Path) -> dict[str, Any]:
    app = create_app(db=None, api_key=API_KEY, faults=None)
    emulator = app.state.emulator

    def client() -> Client:
        return Client(api_key=API_KEY, base_url="http://bench.local/v1", transport=InProcessTransport(app))

    original = write(workdir / "original", 0)
    async with client() as c:
        for m in original:
            await c.create_assistant(create_body(desired_state(m.api_fields(), m.key)))
    loaded = write(workdir / "changed", CHANGED)
    emulator.faults.configure(FaultConfig(latency_ms=LATENCY_MS))

    # Optimised: the real plan.
    emulator.reset_stats()
    async with client() as c:
        start = time.perf_counter()
        plan = await plan_with(c, loaded, PlanOptions())
        wall = time.perf_counter() - start
    calls = emulator.stats()["total"]
    assert plan.summary["update"] == CHANGED, plan.summary

    # Naive: list, then GET every assistant one by one.
    emulator.reset_stats()
    async with client() as c:
        start = time.perf_counter()
        listed = await c.list_assistants()
        fetched = [await c.retrieve_assistant(a["id"]) for a in listed]
        naive_wall_fetch = time.perf_counter() - start
    naive_calls = emulator.stats()["total"]

    by_key = {marker_of(a): a for a in fetched}
    desired = [(desired_state(m.api_fields(), m.key), by_key[m.key]) for m in loaded]

    # Diff CPU, optimised: normalise the existing side, hash-first compare, deepdiff only where hashes differ.
    start_cpu = time.process_time()
    changed = sum(1 for want, have in desired if diff.compare(want, normalise(have)).changed)
    diff_cpu = time.process_time() - start_cpu
    assert changed == CHANGED

    # Diff CPU, naive: deepdiff on every pair, ignoring order inside.
    start_cpu = time.process_time()
    naive_changed = sum(1 for want, have in desired if DeepDiff(normalise(have), want, ignore_order=True))
    naive_cpu = time.process_time() - start_cpu
    assert naive_changed == CHANGED

    return {
        "calls": calls,
        "naive_calls": naive_calls,
        "wall": wall,
        "naive_wall": naive_wall_fetch + naive_cpu,
        "diff_cpu": diff_cpu,
        "naive_cpu": naive_cpu,
    }


def run() -> list[Figure]:
    """Measure once (a fresh emulator and temporary manifests) and return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(measure(Path(tmp)))
    note = f"{MANAGED:,} managed, {CHANGED} changed, {LATENCY_MS:g} ms/request"
    return [
        Figure(NAME, "API calls, plan", r["calls"], "", note),
        Figure(NAME, "API calls, naive", r["naive_calls"], "", "list + GET each"),
        Figure(NAME, "API calls, naive / plan", round(ratio(r["naive_calls"], r["calls"]) or 0, 1), "x"),
        Figure(NAME, "wall, plan", round(r["wall"], 3), "s"),
        Figure(NAME, "wall, naive", round(r["naive_wall"], 3), "s", "sequential GETs + deepdiff"),
        Figure(NAME, "wall, naive / plan", round(ratio(r["naive_wall"], r["wall"]) or 0, 1), "x"),
        Figure(NAME, "diff CPU, plan", round(r["diff_cpu"], 4), "s", "hash-first, deepdiff on 20"),
        Figure(NAME, "diff CPU, naive", round(r["naive_cpu"], 4), "s", "deepdiff ignore_order on all"),
        Figure(NAME, "diff CPU, naive / plan", round(ratio(r["naive_cpu"], r["diff_cpu"]) or 0, 1), "x"),
    ]


def main() -> None:
    print_figures(run())


if __name__ == "__main__":
    main()
