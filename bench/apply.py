"""Apply 200 updates against the emulator over real HTTP at 50 ms injected latency per request.

Run: `python -m bench.apply` (prints `name: value unit` lines), or as part of `python -m bench`. Figures only,
no asserts.

- wall: `Executor.run` end to end for the 200 updates (the plan is made before the clock starts).
- floor: changes / parallelism × latency, the best any client could do with that many requests in flight;
  the ratio wall / floor says how close the executor gets (1.0 is perfect).
- calls: requests the apply sent (the emulator's own count) against the minimum, one write per change.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import Figure, ratio
from reconciler.apply import Executor
from reconciler.client import Client
from reconciler.dialect import MARKER_KEY
from reconciler.emulator import FaultConfig
from reconciler.emulator.server import EmulatorServer
from reconciler.manifest import load_directory
from reconciler.options import PlanOptions
from reconciler.usecases.planning import plan_with

NAME = "apply"
CHANGES = 200
LATENCY_MS = 50.0
PARALLELISMS = (8, 32)
API_KEY = "sk-bench-apply"


async def measure(server: EmulatorServer, directory: Path, parallelism: int) -> dict[str, float]:
    """Seed CHANGES managed assistants (latency off), then time applying one update to each."""
    emulator = server.app.state.emulator
    emulator.store.reset()
    emulator.faults.configure(FaultConfig())
    async with Client(api_key=API_KEY, base_url=server.base_url) as client:
        for i in range(CHANGES):
            body = {"model": "gpt-4", "instructions": "v1", "metadata": {MARKER_KEY: f"bot-{i:03d}"}}
            await client.create_assistant(body)
        result = load_directory(directory)
        plan = await plan_with(client, result.manifests, PlanOptions())
        assert plan.summary["update"] == CHANGES, plan.summary
        emulator.faults.configure(FaultConfig(latency_ms=LATENCY_MS))
        emulator.reset_stats()
        started = time.perf_counter()
        report = await Executor(client, parallelism=parallelism).run(plan)
        wall = time.perf_counter() - started
    assert report.ok and report.counts["updated"] == CHANGES, report.counts
    return {"wall": wall, "calls": float(emulator.stats()["total"])}


def run() -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory() as tmp, EmulatorServer(api_key=API_KEY) as server:
        directory = Path(tmp)
        for i in range(CHANGES):
            (directory / f"bot-{i:03d}.yaml").write_text("model: gpt-4\ninstructions: v2\n")
        for parallelism in PARALLELISMS:
            got = asyncio.run(measure(server, directory, parallelism))
            floor = CHANGES / parallelism * LATENCY_MS / 1000
            label = f"{CHANGES} updates, parallelism {parallelism}"
            figures += [
                Figure(NAME, f"{label}: wall", round(got["wall"], 3), "s"),
                Figure(NAME, f"{label}: floor", round(floor, 3), "s", "changes / parallelism × latency"),
                Figure(NAME, f"{label}: wall / floor", round(ratio(got["wall"], floor) or 0, 2), "x"),
                Figure(NAME, f"{label}: calls", int(got["calls"]), "calls", f"minimum {CHANGES}"),
                Figure(NAME, f"{label}: calls / minimum", round(got["calls"] / CHANGES, 2), "x"),
            ]
    return figures


if __name__ == "__main__":
    for figure in run():
        print(f"{figure.name}: {figure.value} {figure.unit}")
