"""Import 500 unmanaged assistants (4 KB instructions, function tools, metadata, sampling fields) from the
in-process emulator at 20 ms per request, then `fmt --check` the 500 files it wrote.

Run: `python -m bench.import_` (prints a table), or as part of `python -m bench`. Figures only, no asserts
on time.

- API calls: requests the import sends (the emulator's own count): one list call per 100 assistants.
- wall, import: `run_import` end to end (list pages, manifests rendered, files written).
- wall, fmt --check: `run_fmt` over the 500 written files (all already canonical).
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Figure, print_figures
from reconciler.client import Client
from reconciler.emulator import FaultConfig, InProcessTransport, create_app
from reconciler.formatter import run_fmt
from reconciler.importer import run_import
from reconciler.options import ImportOptions

NAME = "import"
COUNT = 500
LATENCY_MS = 20.0
API_KEY = "sk-bench-import"

INSTRUCTIONS = "".join(
    f"Rule {i}: answer questions about topic {i} briefly, cite sources, and never guess.  \n"
    for i in range(48)
)


def body(i: int) -> dict[str, Any]:
    return {
        "name": f"Support bot {i % 450}",  # 50 name collisions → suffixed keys
        "description": f"Handles queue {i}.",
        "model": "gpt-4-turbo",
        "instructions": INSTRUCTIONS + f"You are bot {i}.",
        "tools": [
            {"type": "retrieval"},
            {
                "type": "function",
                "function": {
                    "name": f"lookup_{i}",
                    "description": "Look a ticket up.",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "ticket": {"type": "string", "pattern": "^T-[0-9]+$"},
                            "fields": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["ticket"],
                    },
                },
            },
        ],
        "metadata": {"team": f"team-{i % 7}"},
        "temperature": 0.3,
    }


async def measure(workdir: Path) -> dict[str, Any]:
    app = create_app(db=None, api_key=API_KEY, faults=None)
    emulator = app.state.emulator

    def client() -> Client:
        return Client(api_key=API_KEY, base_url="http://bench.local/v1", transport=InProcessTransport(app))

    async with client() as c:
        for i in range(COUNT):
            await c.create_assistant(body(i))
    emulator.faults.configure(FaultConfig(latency_ms=LATENCY_MS))
    emulator.reset_stats()

    directory = workdir / "assistants"
    async with client() as c:
        start = time.perf_counter()
        options = ImportOptions(directory=directory, import_all=True)
        plan = await run_import(c, options, io.StringIO(), io.StringIO())
        wall = time.perf_counter() - start
    stats = emulator.stats()
    assert len(plan.imported) == COUNT

    start = time.perf_counter()
    clean = run_fmt([directory], check=True, out=io.StringIO(), err=io.StringIO())
    fmt_wall = time.perf_counter() - start
    assert clean
    size = sum(p.stat().st_size for p in directory.iterdir())
    return {
        "calls": stats["total"],
        "list_calls": stats["by_route"].get("GET /v1/assistants", 0),
        "wall": wall,
        "fmt_wall": fmt_wall,
        "bytes": size,
    }


def run() -> list[Figure]:
    """Measure once (a fresh emulator and a temporary directory) and return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(measure(Path(tmp)))
    note = f"{COUNT} assistants, {LATENCY_MS:g} ms/request"
    return [
        Figure(NAME, "API calls, import", r["calls"], "", note),
        Figure(NAME, "list calls, import", r["list_calls"], "", "one per 100 assistants"),
        Figure(NAME, "wall, import", round(r["wall"], 3), "s", note),
        Figure(NAME, "per assistant, import", round(r["wall"] / COUNT * 1000, 2), "ms"),
        Figure(NAME, "wall, fmt --check", round(r["fmt_wall"], 3), "s", f"{COUNT} files, all clean"),
        Figure(NAME, "manifests written", round(r["bytes"] / 2**20, 2), "MB"),
    ]


def main() -> None:
    print_figures(run())


if __name__ == "__main__":
    main()
