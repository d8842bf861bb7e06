"""Run every benchmark, print one table and write `bench/results.json`.

    python -m bench                 all benchmarks
    python -m bench plan startup    only these
    python -m bench --list          what exists

Each benchmark runs in its own child process (`python -m bench --one NAME`), so one's memory, event loop or
crash cannot skew another. In the child, a module exposing `run()` (returning `Figure`s or `{name: value}`)
is called; any other module is run as a script and its printed `name: value` lines (or JSON object) are the
figures. Figures only: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import runpy
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS,
    ROOT,
    BenchResult,
    Figure,
    figures_from_mapping,
    format_table,
    machine,
    now_iso,
    parse_figures,
    python_env,
    results_document,
    write_json,
)


@dataclass(frozen=True)
class Bench:
    """A benchmark: its short name, module under bench/, what it measures, and a time limit (seconds)."""

    name: str
    module: str
    about: str
    timeout: float = 600.0


BENCHES: tuple[Bench, ...] = (
    Bench("plan", "bench.plan", "plan, 1,000 managed / 20 changed at 20 ms, vs naive (GET each + deepdiff)"),
    Bench("apply", "bench.apply", "apply of 200 updates at 50 ms vs the floor"),
    Bench("memory", "bench.memory", "peak RSS of plan over 10,000 assistants with 4 KB instructions"),
    Bench("startup", "bench.startup", "`reconciler --help` start-up time"),
    Bench("validate", "bench.validate", "validate 1,000 manifests"),
    Bench("import", "bench.import_", "import 500 assistants"),
    Bench(
        "drift", "bench.drift", "build_plan of 2,000 updates with and without drift entries; the entry's size"
    ),
    Bench(
        "emulator",
        "bench.emulator",
        "the emulator's service time per route; the list call over 1,000 assistants",
    ),
    Bench("output_mask", "bench.output_mask", "the CLI's output masking layer: cost per line written"),
)

_MARK = "@@bench-figures@@ "


def module_path(bench: Bench) -> Path:
    """The benchmark's source file."""
    return ROOT / (bench.module.replace(".", "/") + ".py")


def run_one_in_this_process(bench: Bench) -> list[Figure]:
    """The child's job: call the module's `run()`, or run it as a script and parse what it prints."""
    module = importlib.import_module(bench.module)
    run = getattr(module, "run", None)
    if callable(run):
        return to_figures(bench.name, run())
    buffer = io.StringIO()
    argv = sys.argv
    sys.argv = [str(module_path(bench))]
    try:
        with contextlib.redirect_stdout(buffer):
            runpy.run_module(bench.module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            sys.stdout.write(buffer.getvalue())
            raise
    finally:
        sys.argv = argv
    output = buffer.getvalue()
    sys.stderr.write(output)
    return parse_figures(bench.name, output)


def to_figures(name: str, value: Any) -> list[Figure]:
    """Figures from what a `run()` returned: Figures, a mapping, or a list of mappings with name/value."""
    if isinstance(value, Mapping):
        return figures_from_mapping(name, value)
    figures = []
    for item in value or ():
        if isinstance(item, Figure):
            figures.append(item)
        elif isinstance(item, Mapping) and "name" in item:
            figures.append(Figure(name, str(item["name"]), item.get("value"), str(item.get("unit", ""))))
        else:
            figures.extend(to_figures(name, item) if isinstance(item, Mapping) else [])
    return figures


def run_child(bench: Bench) -> BenchResult:
    """Run one benchmark in a child process and collect its figures."""
    if not module_path(bench).exists():
        return BenchResult(bench.name, status="missing", detail=f"{module_path(bench).name} not present")
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "--one", bench.name],
            env=python_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=bench.timeout,
        )
    except subprocess.TimeoutExpired:
        seconds = time.perf_counter() - start
        return BenchResult(bench.name, "error", seconds, detail=f"timed out after {bench.timeout:g}s")
    seconds = time.perf_counter() - start
    figures: list[Figure] | None = None
    for line in proc.stdout.splitlines():
        if line.startswith(_MARK):
            figures = [Figure(**f) for f in json.loads(line[len(_MARK) :])]
    if proc.returncode != 0 or figures is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return BenchResult(bench.name, "error", seconds, detail=f"exit {proc.returncode}: {tail[:150]}")
    return BenchResult(bench.name, "ok", seconds, figures)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bench`."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="only these benchmarks (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument("--one", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    by_name = {b.name: b for b in BENCHES}

    if args.one:
        figures = run_one_in_this_process(by_name[args.one])
        print(_MARK + json.dumps([f.__dict__ for f in figures], default=str))
        return 0
    if args.list:
        for bench in BENCHES:
            present = "" if module_path(bench).exists() else "  (not present)"
            print(f"{bench.name:10} {bench.about}{present}")
        return 0
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(by_name)}")

    started = now_iso()
    info = machine()
    print(
        f"reconciler benchmarks, {started}, {info['machine']}, {info['cores']} cores, {info['cpu']}, "
        f"load average {info['load_average_1m']}, Python {info['python']}"
    )
    results = []
    for bench in [by_name[n] for n in args.names] or list(BENCHES):
        print(f"  running {bench.name}: {bench.about} ...", file=sys.stderr, flush=True)
        result = run_child(bench)
        print(f"  {bench.name}: {result.status} in {result.seconds:.1f}s", file=sys.stderr, flush=True)
        results.append(result)
    print()
    print(format_table(results))
    write_json(args.out, results_document(results, started))
    print(f"\nwritten to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 1 if any(r.status == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
