"""Peak memory of `reconciler plan` over 10,000 managed assistants with 4 KB instructions each.

An emulator (real HTTP, in this process) is seeded with the assistants over its API; 10,000 manifests that
match them (1% changed) are written to a temporary directory; then `reconciler plan --format json` runs as a
child process and its own peak RSS (`ru_maxrss` from `os.wait4`) is the figure, beside the peak RSS of
`reconciler --help` (interpreter plus imports) for scale.

Run: `python -m bench.memory` (prints `name: value unit` lines), or as part of `python -m bench`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import ChildRun, Figure, module_command, python_env, reconciler_command, run_measured, seed
from reconciler.dialect import MARKER_KEY
from reconciler.emulator.server import EmulatorServer
from reconciler.formatter import format_text
from reconciler.layout import MODELINE
from reconciler.manifest.cache import CACHE_DIR

NAME = "memory"
ASSISTANTS = 10_000
INSTRUCTIONS_BYTES = 4 * 1024
CHANGED = ASSISTANTS // 100
API_KEY = "sk-bench-memory"
#: Targets of issue 16 for this plan: CPU seconds and peak RSS (MB).
TARGET_CPU = 1.5
TARGET_MB = 150


def instructions(i: int) -> str:
    """About 4 KB of distinct instructions for assistant `i`."""
    line = f"Assistant {i:05d}: answer questions about topic {i % 97} briefly, cite the policy, be kind.\n"
    text = line * (INSTRUCTIONS_BYTES // len(line) + 1)
    return text[:INSTRUCTIONS_BYTES].rstrip("\n")


def key(i: int) -> str:
    return f"bot-{i:05d}"


def bodies(count: int) -> Iterator[dict[str, Any]]:
    """The create bodies of the `count` managed assistants the manifests describe."""
    for i in range(count):
        yield {
            "model": "gpt-4",
            "name": f"Bot {i}",
            "instructions": instructions(i),
            "metadata": {MARKER_KEY: key(i)},
        }


def manifest_text(i: int, changed: bool = False) -> str:
    """Manifest `i` as `reconciler fmt` writes it (the instructions a `|-` block); `changed`: edited."""
    text = instructions(i) + (" (edited)" if changed else "")
    body = "".join(f"  {line}\n" for line in text.split("\n"))
    return f"# {MODELINE}\nname: Bot {i}\nmodel: gpt-4\ninstructions: |-\n{body}"


def write_manifests(directory: Path, count: int, changed: int) -> None:
    """`count` manifests matching the seeded assistants, the first `changed` with edited instructions, written
    as teams keep them: YAML as `reconciler fmt` writes it (checked on the first: `check_formatted`)."""
    directory.mkdir(parents=True, exist_ok=True)
    check_formatted(manifest_text(0), {"name": "Bot 0", "model": "gpt-4", "instructions": instructions(0)})
    for i in range(count):
        (directory / f"{key(i)}.yaml").write_text(manifest_text(i, i < changed))


def check_formatted(text: str, data: dict[str, Any]) -> None:
    """Fail when `text` is not what `reconciler fmt` makes of `data` (the benchmark must read real input)."""
    formatted = format_text(json.dumps(data))
    if formatted != text:
        raise AssertionError(f"not as `reconciler fmt` writes it:\n{text[:300]}\n---\n{formatted[:300]}")


def run(count: int = ASSISTANTS) -> list[Figure]:
    """Seed, write, run `reconciler plan` in a child process (without, then with a warm read cache) and
    report its peak RSS and CPU against the targets, with the CPU of each phase (`bench.breakdown`)."""
    with tempfile.TemporaryDirectory() as tmp, EmulatorServer(api_key=API_KEY) as server:
        workdir = Path(tmp)
        (workdir / ".git").mkdir()
        asyncio.run(seed(server.base_url, API_KEY, bodies(count)))
        write_manifests(workdir / "assistants", count, CHANGED)
        env = {**python_env(), "OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": server.base_url}
        baseline = run_measured([*reconciler_command(), "--help"], env=env, cwd=workdir)
        plan = _plan(env, workdir)
        phases = subprocess.run(
            [sys.executable, "-m", "bench.breakdown", server.base_url, API_KEY, str(workdir / "assistants")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        alone = run_measured(module_command("bench.httpx_list"), env=env, cwd=workdir)
        scan = [*module_command("bench.libyaml_scan"), str(workdir / "assistants")]
        reading = run_measured(scan, env=env, cwd=workdir)
        stack = run_measured([*module_command("bench.stack_alone"), str(workdir / "assistants")], env=env)
        (workdir / CACHE_DIR).mkdir(parents=True)
        filling = _plan(env, workdir)  # fills the cache
        warm = _plan(env, workdir)
    summary = json.loads(plan.stdout)["summary"]
    note = f"{count:,} assistants, {INSTRUCTIONS_BYTES // 1024} KB instructions, {summary['update']} changed"
    payload_mb = count * INSTRUCTIONS_BYTES / 2**20
    cpu, warm_cpu = plan.user_cpu + plan.system_cpu, warm.user_cpu + warm.system_cpu
    libraries = stack.user_cpu + stack.system_cpu
    return [
        Figure(
            NAME,
            "peak RSS, plan",
            round(plan.max_rss_mb, 1),
            "MB",
            f"{note}; {_verdict(plan.max_rss_mb, TARGET_MB)}",
        ),
        Figure(
            NAME, "peak RSS, reconciler --help", round(baseline.max_rss_mb, 1), "MB", "interpreter + imports"
        ),
        Figure(NAME, "peak RSS above baseline", round(plan.max_rss_mb - baseline.max_rss_mb, 1), "MB"),
        Figure(NAME, "instructions payload", round(payload_mb, 1), "MB", "one copy, for scale"),
        Figure(NAME, "plan wall", round(plan.wall, 2), "s", "child process, 0 ms latency"),
        Figure(NAME, "plan CPU", round(cpu, 2), "s", _verdict(cpu, TARGET_CPU)),
        Figure(NAME, "plan CPU, read cache warm", round(warm_cpu, 2), "s", _verdict(warm_cpu, TARGET_CPU)),
        Figure(
            NAME,
            "httpx alone, the same listing: CPU",
            round(alone.user_cpu + alone.system_cpu, 2),
            "s",
            "a fresh process listing with httpx and nothing else (bench.httpx_list; no target)",
        ),
        Figure(
            NAME,
            "libyaml alone, reading the same manifests: CPU",
            round(reading.user_cpu + reading.system_cpu, 2),
            "s",
            "a fresh process reading the manifests' YAML events, no more (bench.libyaml_scan; no target)",
        ),
        Figure(
            NAME,
            "the stack alone: CPU",
            round(libraries, 2),
            "s",
            f"of the {TARGET_CPU:g} s target: the plan's libraries imported, httpx listing, libyaml reading "
            "(bench.stack_alone; no target)",
        ),
        Figure(NAME, "plan CPU beyond the stack alone", round(cpu - libraries, 2), "s", "ours"),
        Figure(
            NAME,
            "peak RSS, read cache warm",
            round(warm.max_rss_mb, 1),
            "MB",
            _verdict(warm.max_rss_mb, TARGET_MB),
        ),
        Figure(
            NAME,
            "peak RSS, filling the read cache",
            round(filling.max_rss_mb, 1),
            "MB",
            "the first plan with .reconciler/cache/ (writes it)",
        ),
        *(
            Figure(NAME, f"CPU: {phase}", round(seconds, 3), "s", f"RSS after it {peak:g} MB")
            for phase, (seconds, peak) in json.loads(phases).items()
        ),
    ]


def _plan(env: dict[str, str], workdir: Path) -> ChildRun:
    plan = run_measured(
        [*reconciler_command(), "plan", "--format", "json", "--detailed-exitcode"], env=env, cwd=workdir
    )
    if plan.returncode not in (0, 2):
        raise RuntimeError(f"reconciler plan failed ({plan.returncode}): {plan.stderr.strip()[-300:]}")
    return plan


def _verdict(value: float, target: float) -> str:
    return f"target <= {target:g}: {'holds' if value <= target else 'MISSED'}"


if __name__ == "__main__":
    for figure in run(int(sys.argv[1]) if len(sys.argv) > 1 else ASSISTANTS):
        print(f"{figure.name}: {figure.value} {figure.unit}")
