"""What drift attribution costs the planner: `build_plan` over 2,000 managed assistants that all need an
update, with and without a drift entry on each (with one, every update is compared three ways and every one
is drifted: the worst case), and the size of the entry against the API's 512-character limit.

Run: `python -m bench.drift` (prints `name: value unit` lines). Pure CPU: no server, no I/O in the timed part.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import Figure, print_figures
from reconciler import dialect, drift, planner
from reconciler.manifest import LoadedManifest, load_directory
from reconciler.remote import RemoteAssistant

NAME = "drift"
COUNT = 2000
RUNS = 7
#: The three-way comparison may add at most this share to planning a batch of updates.
TARGET_OVERHEAD = 0.25


def assistants(count: int, *, entries: bool) -> list[RemoteAssistant]:
    """Managed assistants whose model was edited since the last apply (entries, when given, record gpt-4)."""
    out = []
    for i in range(count):
        key = f"a{i:05d}"
        applied = dialect.desired_state({"name": f"A {i}", "model": "gpt-4", "instructions": "x" * 400}, key)
        metadata = dict(applied["metadata"])
        if entries:
            metadata[dialect.APPLIED_KEY] = drift.encode(drift.ASSISTANTS_V1, applied, 1_764_580_000)
        out.append(
            RemoteAssistant(
                id=f"asst_{i:05d}",
                created_at=1,
                name=f"A {i}",
                model="gpt-4-turbo",
                instructions="x" * 400,
                metadata=metadata,
            )
        )
    return out


def timings(loaded: list[LoadedManifest]) -> tuple[float, float]:
    """The fastest of RUNS plans without and with entries, run alternately (a shared machine's load then
    weighs on both alike)."""
    without, with_entries = assistants(COUNT, entries=False), assistants(COUNT, entries=True)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(RUNS):
        for entries, existing in ((False, without), (True, with_entries)):
            started = time.perf_counter()
            plan = planner.build_plan(loaded, existing)
            times[entries].append(time.perf_counter() - started)
            assert plan.summary["update"] == COUNT and len(plan.drift) == (COUNT if entries else 0)
    return min(times[False]), min(times[True])


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(COUNT):
            Path(tmp, f"a{i:05d}.yaml").write_text(f"name: A {i}\nmodel: gpt-4\ninstructions: {'x' * 400}\n")
        loaded = list(load_directory(Path(tmp)).manifests)
    without, with_entries = timings(loaded)
    overhead = with_entries / without - 1
    entry = drift.encode(drift.ASSISTANTS_V1, dialect.desired_state({"model": "gpt-4"}, "k"), time.time())
    note = f"{COUNT} updates, fastest of {RUNS}"
    return [
        Figure(NAME, "build_plan, no entries (unknown)", round(without, 3), "s", note),
        Figure(NAME, "build_plan, every update drifted", round(with_entries, 3), "s", note),
        Figure(NAME, "drift overhead", round(overhead * 100, 1), "%", f"target <= {TARGET_OVERHEAD:.0%}"),
        Figure(
            NAME,
            "per update, drift",
            round((with_entries - without) / COUNT * 1e6, 1),
            "us",
        ),
        Figure(NAME, "entry length (10 v1 fields)", len(entry), "chars", f"limit {drift.MAX_ENTRY}"),
        Figure(NAME, "fields an entry can record", drift.MAX_FIELDS, "", f"within {drift.MAX_ENTRY} chars"),
    ]


def main() -> None:
    print_figures(run())


if __name__ == "__main__":
    main()
