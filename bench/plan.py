"""`reconciler plan` over 1,000 managed assistants (20 changed) as a whole CLI process, against the emulator
in its own process at 20 ms per request, beside what a user would run instead, all measured in one run.

Run: `python -m bench.plan` (prints a table), or as part of `python -m bench`. Figures only, no asserts.

- plan wall: median of `RUNS` runs of `reconciler plan --format json` (a fresh process each: start-up,
  loading the manifests, listing, planning, rendering).
- floor: ceil(N / 100) list calls one after another × the latency, plus the start-up of `reconciler --help`
  (median, same run): no plan can list faster or start sooner. Target: wall <= TARGET_RATIO × floor.
- the same plan at NETWORK_LATENCY_MS per request, against its own floor: what a plan costs when its server
  is across a network rather than on the same machine (no target).
- httpx alone: the same listing by httpx and nothing else, in a fresh process from the same environment
  (`bench.httpx_list`): what the HTTP library itself takes beyond the floor (no target; for reading the
  ratio, not a goal). The stack alone (`bench.stack_alone`): the plan's libraries imported, the same listing
  while libyaml reads the manifests' events on a thread; nothing of ours (no target).
- refresh baseline (what Terraform does): list, then one GET per assistant with `REFRESH_PARALLELISM` in
  flight, and deepdiff on every pair; in-process, so its start-up is not counted. The sequential-GETs line is
  the same with one GET at a time, measured on the first SEQUENTIAL_SAMPLE assistants and scaled to all (it
  would take half a minute otherwise).
- diff CPU: comparing the 1,000 pairs the way the plan does (normal form, hash first, deepdiff on the changed)
  against deepdiff on every pair.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deepdiff import DeepDiff

from bench.common import (
    ChildEmulator,
    ChildRun,
    Figure,
    median_wall,
    module_command,
    print_figures,
    python_env,
    ratio,
    reconciler_command,
    run_measured,
)
from bench.common import seed as seed_assistants
from reconciler import diff
from reconciler.client import Client, RemoteAssistant
from reconciler.dialect import MARKER_KEY, desired_state, marker_of, normalise
from reconciler.formatter import format_text
from reconciler.manifest.cache import CACHE_DIR

NAME = "plan"
MANAGED = 1_000
CHANGED = 20
LATENCY_MS = 20.0
#: A second latency for the same plan: a server across a network rather than on the same machine.
NETWORK_LATENCY_MS = 100.0
RUNS = 5
REFRESH_PARALLELISM = 10
#: GETs timed one at a time for the sequential line (scaled to MANAGED).
SEQUENTIAL_SAMPLE = 200
TARGET_RATIO = 1.5
API_KEY = "sk-bench-plan"

INSTRUCTIONS = "\n".join(
    f"Rule {i}: answer questions about topic {i} briefly and cite sources." for i in range(12)
)


def fields(i: int, changed: bool = False) -> dict[str, Any]:
    """Assistant `i`'s API fields; a changed one has one more rule in its instructions."""
    extra = "\nRule 12: say when you are unsure." if changed else ""
    return {
        "name": f"Assistant {i}",
        "model": "gpt-4",
        "instructions": INSTRUCTIONS + extra,
        "tools": [
            {"type": "retrieval"},
            {
                "type": "function",
                "function": {
                    "name": f"lookup_{i}",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            },
        ],
        "metadata": {"team": f"team-{i % 7}"},
        "temperature": 0.7,
    }


def key(i: int) -> str:
    return f"bot-{i:04d}"


def bodies() -> Iterator[dict[str, Any]]:
    for i in range(MANAGED):
        body = fields(i)
        yield {**body, "metadata": {**body["metadata"], MARKER_KEY: key(i)}}


def write_manifests(directory: Path) -> None:
    """The manifests as `reconciler fmt` writes them (one formatted, the others made from it), the first
    CHANGED with edited instructions."""
    directory.mkdir(parents=True)
    template = {False: format_text(json.dumps(fields(0))), True: format_text(json.dumps(fields(0, True)))}
    for i in range(MANAGED):
        text = template[i < CHANGED].replace("Assistant 0\n", f"Assistant {i}\n")
        text = text.replace("lookup_0\n", f"lookup_{i}\n").replace("team-0\n", f"team-{i % 7}\n")
        (directory / f"{key(i)}.yaml").write_text(text)


def plan_walls(emulator: ChildEmulator, workdir: Path) -> tuple[list[float], ChildRun, dict[str, Any]]:
    """Wall times of RUNS `reconciler plan` processes, then one more measured (its CPU time) with the
    emulator's stats of its requests."""
    env = {**python_env(), "OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": emulator.base_url}
    command = [*reconciler_command(), "plan", "--format", "json"]
    walls = median_wall(command, RUNS, env=env, cwd=workdir)
    emulator.call("POST", "stats/reset")
    measured = run_measured(command, env=env, cwd=workdir)
    assert json.loads(measured.stdout)["summary"]["update"] == CHANGED, measured.stdout[:300]
    return walls, measured, emulator.call("GET", "stats")


async def refresh(
    base_url: str, parallelism: int, sample: int = MANAGED
) -> tuple[float, list[RemoteAssistant]]:
    """Terraform-style refresh: list, then GET every assistant, `parallelism` at a time; with `sample`, only
    that many GETs, their time scaled to all (the list's counted once)."""
    async with Client(api_key=API_KEY, base_url=base_url) as client:
        start = time.perf_counter()
        listed = await client.list_assistants()
        listing = time.perf_counter() - start
        gate = asyncio.Semaphore(parallelism)

        async def get(assistant_id: str) -> RemoteAssistant:
            async with gate:
                return await client.retrieve_assistant(assistant_id)

        fetched = await asyncio.gather(*(get(a.id) for a in listed[:sample]))
        gets = time.perf_counter() - start - listing
        return listing + gets * len(listed) / len(fetched), list(fetched)


def diff_cpu(fetched: list[RemoteAssistant]) -> tuple[float, float]:
    """CPU seconds to compare every pair: the plan's way, and deepdiff on each pair."""
    by_key = {marker_of(a): a for a in fetched}
    pairs = [(desired_state(fields(i, i < CHANGED), key(i)), by_key[key(i)]) for i in range(MANAGED)]
    start = time.process_time()
    changed = sum(1 for want, have in pairs if diff.compare(want, normalise(have)).changed)
    ours = time.process_time() - start
    start = time.process_time()
    naive = sum(1 for want, have in pairs if DeepDiff(normalise(have), want, ignore_order=True))
    theirs = time.process_time() - start
    assert changed == naive == CHANGED, (changed, naive)
    return ours, theirs


def measure(workdir: Path) -> dict[str, Any]:
    with ChildEmulator(API_KEY) as emulator:
        asyncio.run(seed_assistants(emulator.base_url, API_KEY, bodies()))
        write_manifests(workdir / "assistants")
        startup = statistics.median(median_wall([*reconciler_command(), "--help"], RUNS, cwd=workdir))
        emulator.call("POST", "faults", {"latency_ms": LATENCY_MS})
        walls, measured, stats = plan_walls(emulator, workdir)
        env = {**python_env(), "OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": emulator.base_url}
        alone = median_wall(module_command("bench.httpx_list"), RUNS, env=env, cwd=workdir)
        stack = [*module_command("bench.stack_alone"), str(workdir / "assistants")]
        stack_alone = median_wall(stack, RUNS, env=env, cwd=workdir)
        emulator.call("POST", "faults", {"latency_ms": NETWORK_LATENCY_MS})
        network, _, _ = plan_walls(emulator, workdir)
        emulator.call("POST", "faults", {"latency_ms": LATENCY_MS})
        (workdir / CACHE_DIR).mkdir(parents=True)
        warm, warm_measured, _ = plan_walls(emulator, workdir)  # the warm-up run fills the read cache
        parallel, fetched = asyncio.run(refresh(emulator.base_url, REFRESH_PARALLELISM))
        sequential, _ = asyncio.run(refresh(emulator.base_url, 1, SEQUENTIAL_SAMPLE))
    ours, theirs = diff_cpu(fetched)
    return {
        "startup": startup,
        "wall": statistics.median(walls),
        "httpx": statistics.median(alone),
        "stack": statistics.median(stack_alone),
        "network": statistics.median(network),
        "warm": statistics.median(warm),
        "calls": stats["total"],
        "service": stats["service"]["p50_s"],
        "cpu": measured.user_cpu + measured.system_cpu,
        "warm_cpu": warm_measured.user_cpu + warm_measured.system_cpu,
        "refresh": parallel + theirs,
        "sequential": sequential + theirs,
        "diff_cpu": ours,
        "deepdiff_cpu": theirs,
    }


def run() -> list[Figure]:
    """Measure once (a fresh emulator and temporary manifests) and return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / ".git").mkdir()
        r = measure(workdir)
    lists = math.ceil(MANAGED / 100)
    floor = lists * LATENCY_MS / 1000 + r["startup"]
    wall_ratio = round(ratio(r["wall"], floor) or 0, 2)
    warm_ratio = round(ratio(r["warm"], floor) or 0, 2)
    note = f"{MANAGED:,} managed, {CHANGED} changed, {LATENCY_MS:g} ms/request, median of {RUNS}"
    return [
        Figure(NAME, "plan wall (CLI process)", round(r["wall"], 3), "s", note),
        Figure(NAME, "start-up (reconciler --help)", round(r["startup"], 3), "s", f"median of {RUNS}"),
        Figure(NAME, "floor", round(floor, 3), "s", f"{lists} sequential list calls × latency + start-up"),
        Figure(NAME, "plan wall / floor", wall_ratio, "x", _verdict(wall_ratio)),
        Figure(
            NAME,
            "plan wall / (floor + emulator service)",
            round(ratio(r["wall"], floor + lists * r["service"]) or 0, 2),
            "x",
            f"{lists} × the list call service p50 added: what the server itself takes (no target)",
        ),
        Figure(
            NAME,
            "httpx alone, the same listing",
            round(r["httpx"], 3),
            "s",
            f"a fresh process listing with httpx and nothing else, median of {RUNS} (no target)",
        ),
        Figure(NAME, "httpx alone / floor", round(ratio(r["httpx"], floor) or 0, 2), "x", "the library's"),
        Figure(NAME, "plan wall / httpx alone", round(ratio(r["wall"], r["httpx"]) or 0, 2), "x", "ours"),
        Figure(
            NAME,
            "the stack alone, the same job",
            round(r["stack"], 3),
            "s",
            f"a fresh process importing the plan's libraries, listing with httpx while libyaml reads the "
            f"manifests, median of {RUNS} (no target)",
        ),
        Figure(
            NAME, "the stack alone / floor", round(ratio(r["stack"], floor) or 0, 2), "x", "the libraries'"
        ),
        Figure(NAME, "plan wall / the stack alone", round(ratio(r["wall"], r["stack"]) or 0, 2), "x", "ours"),
        Figure(
            NAME,
            f"plan wall / floor at {NETWORK_LATENCY_MS:g} ms/request",
            round(ratio(r["network"], lists * NETWORK_LATENCY_MS / 1000 + r["startup"]) or 0, 2),
            "x",
            f"the same plan, its server across a network: {r['network']:.3f} s (no target)",
        ),
        Figure(NAME, "plan wall, read cache warm", round(r["warm"], 3), "s", "with .reconciler/cache/"),
        Figure(NAME, "plan wall, read cache warm / floor", warm_ratio, "x", _verdict(warm_ratio)),
        Figure(
            NAME, "plan CPU (process)", round(r["cpu"], 3), "s", "user + system, less bent by load than wall"
        ),
        Figure(NAME, "plan CPU, read cache warm", round(r["warm_cpu"], 3), "s"),
        Figure(NAME, "API calls, plan", r["calls"], "", f"minimum {lists}"),
        Figure(
            NAME, "list call service p50", round(r["service"] * 1000, 1), "ms", "emulator, not in the floor"
        ),
        Figure(
            NAME,
            "refresh baseline wall",
            round(r["refresh"], 3),
            "s",
            f"list + GET each at parallelism {REFRESH_PARALLELISM} + deepdiff each, in-process",
        ),
        Figure(NAME, "refresh baseline / plan", round(ratio(r["refresh"], r["wall"]) or 0, 1), "x"),
        Figure(
            NAME,
            "sequential GETs wall",
            round(r["sequential"], 3),
            "s",
            f"list + GET each, one at a time ({SEQUENTIAL_SAMPLE} timed, scaled)",
        ),
        Figure(NAME, "diff CPU, plan", round(r["diff_cpu"], 4), "s", f"hash-first, deepdiff on {CHANGED}"),
        Figure(NAME, "diff CPU, deepdiff on all", round(r["deepdiff_cpu"], 4), "s", "ignore_order=True"),
    ]


def _verdict(wall_ratio: float) -> str:
    return f"target <= {TARGET_RATIO}: {'holds' if wall_ratio <= TARGET_RATIO else 'MISSED'}"


def main() -> None:
    print_figures(run())


if __name__ == "__main__":
    main()
