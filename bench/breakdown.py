"""Where a plan's CPU goes, phase by phase: `python -m bench.breakdown BASE_URL API_KEY DIRECTORY` prints one
JSON object `{phase: [CPU seconds, resident MB after it]}` (run by `bench.memory` in a fresh process
against its seeded emulator).

The phases are the plan's steps taken one at a time with the same functions the plan uses: start-up
(imports), load (manifests), the check that no manifest holds the API key, list (HTTP and JSON), match
(manifests to assistants), normalise (both sides), compare (`diff.compare`: the cheap equality, then the
fields of the pairs that differ), then the whole `build_plan` once more as `plan` without `--out` runs it (no
fingerprints; it repeats match to compare, for a cross-check) and rendering it as JSON and as text. As in
`run_plan`, the manifests and the listing share one copy of each instructions text, and what they made is
frozen out of the garbage collector once listed; the collector's thresholds are the CLI's (`GC_THRESHOLDS`).
"""

from __future__ import annotations

import time

_START = time.process_time()

import asyncio  # noqa: E402  (imports are the start-up phase)
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from reconciler import diff, identity, planner  # noqa: E402
from reconciler.cli_group import GC_THRESHOLDS  # noqa: E402
from reconciler.client import Client, RemoteAssistant  # noqa: E402
from reconciler.dialect import desired_state, normalise  # noqa: E402
from reconciler.manifest import load_directory  # noqa: E402
from reconciler.options import ConnectionOptions, PlanOptions  # noqa: E402
from reconciler.render import render_plan  # noqa: E402
from reconciler.usecases.planning import refuse_secrets  # noqa: E402


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux `/proc/self/statm`; elsewhere the peak so far, which
    on Linux would count pages shared with the large parent that started this process)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


class Clock:
    """CPU seconds per phase, and the resident memory after it."""

    def __init__(self) -> None:
        self.spent: dict[str, tuple[float, float]] = {"start-up": (time.process_time() - _START, rss_mb())}
        self.mark = time.process_time()

    def lap(self, phase: str) -> None:
        now = time.process_time()
        self.spent[phase] = (now - self.mark, rss_mb())
        self.mark = now


async def list_assistants(base_url: str, api_key: str, shared: dict[str, str]) -> list[RemoteAssistant]:
    async with Client(api_key=api_key, base_url=base_url) as client:
        return await client.list_assistants(share=shared)


def measure(base_url: str, api_key: str, directory: Path) -> dict[str, tuple[float, float]]:
    gc.set_threshold(*GC_THRESHOLDS)  # as every command runs
    clock = Clock()
    shared: dict[str, str] = {}  # as `run_plan`: one copy of the instructions both sides have
    loaded = load_directory(directory, shared=shared).manifests
    clock.lap("load")
    refuse_secrets(loaded, ConnectionOptions(base_url=base_url))
    clock.lap("check for the API key")
    existing = asyncio.run(list_assistants(base_url, api_key, shared))
    clock.lap("list")
    gc.freeze()  # as `run_plan` while it plans
    pairs = [(m.loaded, m.existing) for m in identity.match(loaded, existing).matches if m.existing]
    clock.lap("match")
    states = [(desired_state(m.api_fields(), m.key), normalise(e)) for m, e in pairs]
    clock.lap("normalise")
    for want, have in states:
        diff.compare(want, have)
    clock.lap("compare")
    plan = planner.build_plan(loaded, existing, PlanOptions(fingerprints=False))
    clock.lap("build_plan")
    with open(os.devnull, "w", encoding="utf-8") as out:  # a real stream, as stdout is: each write costs
        render_plan(plan, out, "json")
        clock.lap("render json")
        render_plan(plan, out, "text")
        clock.lap("render text")
    return clock.spent


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2], Path(sys.argv[3]))))
