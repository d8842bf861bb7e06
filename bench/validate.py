"""`validate` on 1,000 manifests: the time of `load_directory` itself (imports and process start excluded;
the garbage collector's thresholds as the command sets them), against its target; and loading 10,000
manifests with 4 KB instructions each (time and peak RSS), the loading part of `plan` at N=10,000.

Run: `python -m bench.validate` (prints `name: value unit` lines). The 1,000 manifests are realistic: half
like the HR helper (retrieval, folded instructions, a knowledge file), half like the IT helpdesk (a function
tool with a JSON Schema). Wall time on a shared machine varies with its load: the CPU time beside it is
the steadier figure.
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import libyaml_scan
from bench.common import Figure
from bench.memory import INSTRUCTIONS_BYTES, instructions

NAME = "validate"
COUNT = 1000
RUNS = 5
#: `validate` over 1,000 manifests must take at most this long (issue 16).
TARGET_SECONDS = 0.15
LARGE_COUNT = 10_000

ROOT = Path(__file__).resolve().parent.parent


def make_manifests(directory: Path, count: int = COUNT) -> None:
    """Write `count` manifests, alternating the two shipped examples with distinct names."""
    examples = [
        (ROOT / "assistants" / "hr-helper.yaml").read_text(),
        (ROOT / "assistants" / "it-helpdesk.yaml").read_text(),
    ]
    for i in range(count):
        text = examples[i % 2].replace("name: ", f"name: {i:04d} ", 1)
        (directory / f"assistant-{i:04d}.yaml").write_text(text)


def make_large_manifests(directory: Path, count: int = LARGE_COUNT) -> None:
    """Write `count` manifests with about 4 KB of distinct block-literal instructions each."""
    for i in range(count):
        body = "".join(f"  {row}\n" for row in instructions(i).split("\n"))
        (directory / f"a{i:05d}.yaml").write_text(
            f"name: Assistant {i}\nmodel: gpt-4-turbo\ninstructions: |-\n{body}tools:\n  - type: retrieval\n"
        )


_CHILD = """
import gc, resource, sys, time
from pathlib import Path
from reconciler.cli_group import GC_THRESHOLDS
from reconciler.manifest import load_directory
gc.set_threshold(*GC_THRESHOLDS)
start = time.perf_counter()
result = load_directory(Path(sys.argv[1]))
assert not result.errors, result.errors[:3]
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(count: int = COUNT, runs: int = RUNS) -> list[Figure]:
    """Median wall and CPU time of `load_directory` over `runs` runs on `count` fresh manifests, then the
    10,000-manifest load in a child process (its own peak RSS)."""
    from ruamel.yaml.main import CParser

    from reconciler.cli_group import GC_THRESHOLDS
    from reconciler.manifest import load_directory

    gc.set_threshold(*GC_THRESHOLDS)  # as the command runs

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / ".git").mkdir()
        shutil.copytree(ROOT / "assistants" / "docs", directory / "docs")  # the HR helper's `files:`
        make_manifests(directory, count)
        walls, cpus = [], []
        for _ in range(runs):
            wall, cpu = time.perf_counter(), time.process_time()
            result = load_directory(directory)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert not result.errors and len(result.manifests) == count, result.errors[:3]
        scans = []
        for _ in range(runs):
            cpu = time.process_time()
            libyaml_scan.scan(str(directory))
            scans.append(time.process_time() - cpu)
        cold, warm = _cached(directory, count, runs)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    parser = "libyaml (ruamel.yaml.clib)" if CParser is not None else "pure Python"
    return [
        Figure(NAME, f"load {count} manifests", round(wall, 3), "s", f"median of {runs}, {parser}, no cache"),
        Figure(NAME, f"load {count} manifests (CPU)", round(cpu, 3), "s", _verdict(min(wall, cpu))),
        Figure(NAME, "per manifest", round(wall / count * 1000, 3), "ms"),
        Figure(
            NAME,
            f"libyaml alone, the same {count} manifests (CPU)",
            round(statistics.median(scans), 3),
            "s",
            "their YAML events and nothing else (bench.libyaml_scan; no target)",
        ),
        Figure(NAME, f"load {count} manifests, cache cold", round(cold, 3), "s", "fills .reconciler/cache/"),
        Figure(NAME, f"load {count} manifests, cache warm", round(warm, 3), "s", _verdict(warm)),
        *_large(),
    ]


def _verdict(seconds: float) -> str:
    return f"target <= {TARGET_SECONDS} s: {'holds' if seconds <= TARGET_SECONDS else 'MISSED'}"


def _cached(directory: Path, count: int, runs: int) -> tuple[float, float]:
    """Wall time of a load that fills the read cache, and the median of `runs` loads from it."""
    from reconciler.manifest import load_directory
    from reconciler.manifest.cache import CACHE_DIR

    (directory / CACHE_DIR).mkdir(parents=True)
    walls = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        result = load_directory(directory)
        walls.append(time.perf_counter() - start)
        assert not result.errors and len(result.manifests) == count, result.errors[:3]
    return walls[0], statistics.median(walls[1:])


def _large() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / ".git").mkdir()
        make_large_manifests(directory)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        runs = []
        for cache in (False, True, True):  # no cache, then cold, then warm
            if cache:
                (directory / ".reconciler" / "cache").mkdir(parents=True, exist_ok=True)
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(directory)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            runs.append((float(out[0]), int(out[1])))
    (seconds, rss), (warm, warm_rss) = runs[0], runs[2]
    scale = 2**20 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KB
    note = f"{LARGE_COUNT:,} x {INSTRUCTIONS_BYTES // 1024} KB instructions, child process"
    return [
        Figure(NAME, f"load {LARGE_COUNT:,} manifests", round(seconds, 3), "s", note),
        Figure(NAME, f"load {LARGE_COUNT:,} manifests peak RSS", round(rss / scale, 1), "MB"),
        Figure(NAME, f"load {LARGE_COUNT:,} manifests, cache warm", round(warm, 3), "s"),
        Figure(
            NAME, f"load {LARGE_COUNT:,} manifests, cache warm, peak RSS", round(warm_rss / scale, 1), "MB"
        ),
    ]


if __name__ == "__main__":
    for figure in run():
        print(f"{figure.name}: {figure.value} {figure.unit} {figure.note}".rstrip())
