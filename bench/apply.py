"""Apply 200 updates against the emulator over real HTTP at 50 ms injected latency per request.

Run: `python -m bench.apply` (prints `name: value unit` lines), or as part of `python -m bench`. Figures only,
no asserts.

The emulator runs in its own process (`reconciler emulator`), as teams run it as a CI sandbox, so its work and
the client's do not share one interpreter lock. Figures, at each parallelism:

- wall: `Executor.run` end to end for the 200 updates (the plan is made before the clock starts).
- service p50/p95: the emulator's own time per request in the same run (`/_emulator/stats` "service").
- floor: ceil(changes / parallelism) × (latency + p50 service time), the best any client could do with that
  many requests in flight against this emulator; wall / floor says how close the apply gets (1.0 is perfect).
  Target: wall / floor <= TARGET_RATIO; `holds` says whether it does.
- CPU per request, client and emulator (process CPU time during the run / requests): the larger one is the
  bound once requests overlap (`bound`).
- calls: requests the apply sent (the emulator's own count) against the minimum, one write per change.
- httpx alone: the same 200 `POST /assistants/{id}` bodies sent by a bare `httpx.AsyncClient` with the same
  number in flight (a semaphore), nothing else: what the HTTP library itself reaches (wall / floor, and its
  CPU per request) against the same emulator, in the same run (no target).
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import ChildEmulator, Figure, ratio
from reconciler.apply import Executor
from reconciler.client import Client
from reconciler.dialect import MARKER_KEY
from reconciler.manifest import load_directory
from reconciler.options import PlanOptions
from reconciler.usecases.planning import plan_with

NAME = "apply"
CHANGES = 200
LATENCY_MS = 50.0
PARALLELISMS = (8, 32)
API_KEY = "sk-bench-apply"
TARGET_RATIO = 1.5


async def measure(emulator: ChildEmulator, directory: Path, parallelism: int) -> dict[str, Any]:
    """Seed CHANGES managed assistants (latency off), then time applying one update to each."""
    emulator.call("POST", "reset")
    async with Client(api_key=API_KEY, base_url=emulator.base_url) as client:
        for i in range(CHANGES):
            body = {"model": "gpt-4", "instructions": "v1", "metadata": {MARKER_KEY: f"bot-{i:03d}"}}
            await client.create_assistant(body)
        result = load_directory(directory)
        plan = await plan_with(client, result.manifests, PlanOptions())
        assert plan.summary["update"] == CHANGES, plan.summary
        emulator.call("POST", "faults", {"latency_ms": LATENCY_MS})
        emulator.call("POST", "stats/reset")
        cpu, child_cpu = time.process_time(), emulator.cpu_seconds()
        started = time.perf_counter()
        report = await Executor(client, parallelism=parallelism).run(plan)
        wall = time.perf_counter() - started
        cpu, child_after = time.process_time() - cpu, emulator.cpu_seconds()
        stats = emulator.call("GET", "stats")
        bodies = [(c.id, dict(c.after)) for c in plan.changes]
    assert report.ok and report.counts["updated"] == CHANGES, report.counts
    alone_wall, alone_cpu = await httpx_alone(emulator.base_url, bodies, parallelism)
    return {
        "wall": wall,
        "calls": stats["total"],
        "service": stats["service"],
        "client_cpu": cpu,
        "emulator_cpu": None if child_cpu is None or child_after is None else child_after - child_cpu,
        "alone_wall": alone_wall,
        "alone_cpu": alone_cpu,
    }


async def httpx_alone(
    base_url: str, bodies: list[tuple[str | None, dict[str, Any]]], parallelism: int
) -> tuple[float, float]:
    """Wall and CPU seconds of sending `bodies` (`POST /assistants/{id}`) with a bare httpx client,
    `parallelism` at a time (the latency still on)."""
    headers = {"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": "assistants=v1"}
    gate = asyncio.Semaphore(parallelism)
    async with httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", headers=headers) as http:

        async def send(assistant_id: str | None, body: dict[str, Any]) -> None:
            async with gate:
                answer = await http.post(f"assistants/{assistant_id}", json=body)
                answer.raise_for_status()
                answer.json()

        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(send(i, b) for i, b in bodies))
        return time.perf_counter() - started, time.process_time() - cpu


def figures_for(parallelism: int, got: dict[str, Any]) -> list[Figure]:
    label = f"{CHANGES} updates, parallelism {parallelism}"
    p50, p95 = got["service"]["p50_s"], got["service"]["p95_s"]
    floor = math.ceil(CHANGES / parallelism) * (LATENCY_MS / 1000 + p50)
    wall_ratio = round(ratio(got["wall"], floor) or 0, 2)
    calls = got["calls"]
    client_ms = got["client_cpu"] / calls * 1000
    emulator_ms = None if got["emulator_cpu"] is None else got["emulator_cpu"] / calls * 1000
    bound = "?" if emulator_ms is None else ("client" if client_ms >= emulator_ms else "emulator")
    return [
        Figure(NAME, f"{label}: wall", round(got["wall"], 3), "s"),
        Figure(NAME, f"{label}: service p50", round(p50 * 1000, 2), "ms", "emulator, per request"),
        Figure(NAME, f"{label}: service p95", round(p95 * 1000, 2), "ms", "emulator, per request"),
        Figure(
            NAME, f"{label}: floor", round(floor, 3), "s", "ceil(changes / parallelism) × (latency + p50)"
        ),
        Figure(NAME, f"{label}: wall / floor", wall_ratio, "x", f"target <= {TARGET_RATIO}"),
        Figure(NAME, f"{label}: holds", wall_ratio <= TARGET_RATIO),
        Figure(NAME, f"{label}: client CPU per request", round(client_ms, 2), "ms"),
        Figure(
            NAME,
            f"{label}: emulator CPU per request",
            None if emulator_ms is None else round(emulator_ms, 2),
            "ms",
        ),
        Figure(NAME, f"{label}: bound", bound),
        Figure(NAME, f"{label}: calls", calls, "calls", f"minimum {CHANGES}"),
        Figure(NAME, f"{label}: calls / minimum", round(calls / CHANGES, 2), "x"),
        Figure(
            NAME,
            f"{label}: httpx alone, wall / floor",
            round(ratio(got["alone_wall"], floor) or 0, 2),
            "x",
            "the same requests from a bare httpx client (no target)",
        ),
        Figure(
            NAME,
            f"{label}: httpx alone, CPU per request",
            round(got["alone_cpu"] / CHANGES * 1000, 2),
            "ms",
        ),
    ]


def run() -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory() as tmp, ChildEmulator(API_KEY) as emulator:
        directory = Path(tmp)
        for i in range(CHANGES):
            (directory / f"bot-{i:03d}.yaml").write_text("model: gpt-4\ninstructions: v2\n")
        for parallelism in PARALLELISMS:
            figures += figures_for(parallelism, asyncio.run(measure(emulator, directory, parallelism)))
    return figures


if __name__ == "__main__":
    for figure in run():
        print(f"{figure.name}: {figure.value} {figure.unit}")
