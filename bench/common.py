"""Shared helpers for the benchmarks: figures, machine description, timing, child peak memory, the table.

A benchmark reports `Figure`s: one measured number (or a short text) with its unit. `python -m bench` collects
them from every benchmark, prints one table and writes `bench/results.json`. Figures only: nothing here
asserts a time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"

Value = float | int | str | None


@dataclass(frozen=True)
class Figure:
    """One reported figure: `bench` (which benchmark), `name`, `value`, `unit` (`s`, `ms`, `MB`, `x`...)."""

    bench: str
    name: str
    value: Value
    unit: str = ""
    note: str = ""

    def shown(self) -> str:
        """The value as the table prints it."""
        value = self.value
        if value is None:
            text = "-"
        elif isinstance(value, bool):
            text = str(value)
        elif isinstance(value, int):
            text = f"{value:,}"
        elif isinstance(value, float):
            text = f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
        else:
            text = str(value)
        if self.unit == "x" and value is not None and not isinstance(value, str):
            return f"{text}x"
        return f"{text} {self.unit}".rstrip() if self.unit else text


@dataclass
class BenchResult:
    """What one benchmark produced: figures, duration, status (`ok`, `error`, `missing`) and detail."""

    name: str
    status: str = "ok"
    seconds: float = 0.0
    figures: list[Figure] = field(default_factory=list)
    detail: str = ""
    raw: Any = None


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, macOS sysctl), else `platform.processor()`."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin" and shutil.which("sysctl"):
        out = subprocess.run(
            ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, check=False
        )
        if out.stdout.strip():
            return out.stdout.strip()
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict[str, Any]:
    """The machine the figures were measured on, with its load average when the run started (on a shared
    machine, a load above its cores stretches every wall time)."""
    return {
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "bytecode_cache": f"PYTHONPYCACHEPREFIX={PYCACHE}",
        "cli_environment": cli_environment(),
    }


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


#: Bytecode cache for child processes, outside the repository and the virtualenv (see `python_env`).
PYCACHE = Path(tempfile.gettempdir()) / "reconciler-bench-pycache"


def python_env() -> dict[str, str]:
    """The environment for child processes: this one, without colour, with the repo importable, and with a
    bytecode cache (in `PYCACHE`) even where PYTHONDONTWRITEBYTECODE is set, so start-up and memory figures
    are those of a normal install rather than of compiling every module on every start."""
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("RECONCILER_DEBUG", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


#: Where the CLI runs from in the benchmarks: the runtime dependencies only, as a team installs the tool.
RUNTIME_ENV = ROOT / ".venv-bench"


@functools.lru_cache(maxsize=1)
def reconciler_command() -> list[str]:
    """How to start the CLI as a team's CI does: the console script of `RUNTIME_ENV`, an environment with
    the runtime dependencies only (made once with the uv that runs the benchmarks: `uv sync --no-dev`).
    The development environment holds more (rich and pygments, which httpx imports when they are there:
    30 ms per start that a user does not pay). Without uv, the console script beside this interpreter."""
    script = RUNTIME_ENV / "bin" / "reconciler"
    uv = os.environ.get("UV")  # set by `uv run` (`python3 dev.py bench`)
    if uv and not script.exists():
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(RUNTIME_ENV)}
        env.pop("VIRTUAL_ENV", None)
        command = [uv, "sync", "--frozen", "--no-dev", "--quiet"]
        subprocess.run(command, cwd=ROOT, env=env, check=False, capture_output=True)
    if script.exists():
        return [str(script)]
    script = Path(sys.executable).with_name("reconciler")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconciler"]


def module_command(module: str) -> list[str]:
    """How to run `python -m module` from the environment `reconciler_command` runs the CLI from (a library
    alone, measured beside the CLI: the same interpreter and the same installed packages)."""
    script = reconciler_command()[0]
    python = os.path.join(os.path.dirname(script), "python") if script.endswith("reconciler") else script
    return [python, "-m", module]


def cli_environment() -> str:
    """Which environment `reconciler_command` runs the CLI from, for the results."""
    command = reconciler_command()[0]
    return "runtime dependencies only (.venv-bench)" if command.startswith(str(RUNTIME_ENV)) else command


def median_wall(
    cmd: Sequence[str], runs: int = 7, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> list[float]:
    """Wall times (seconds) of `runs` runs of `cmd` (after one warm-up run), in run order."""
    env = dict(env or python_env())
    subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


@dataclass(frozen=True)
class ChildRun:
    """A finished child process with its resource usage."""

    returncode: int
    stdout: str
    stderr: str
    wall: float
    user_cpu: float
    system_cpu: float
    max_rss_mb: float


#: Runs a command and writes its resource usage as JSON. A small wrapper process, because on Linux a child's
#: `ru_maxrss` counts the pages it shared with its parent between fork and exec: measured straight from a
#: large parent (this one holds the emulator), even `python -c pass` would look as big as that parent.
_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "wall": wall, "maxrss": usage.ru_maxrss,
               "utime": usage.ru_utime, "stime": usage.ru_stime}, out)
"""


def run_measured(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600.0,
) -> ChildRun:
    """Run `cmd` to completion and return its output with its own peak RSS and CPU time.

    Measured by a small wrapper process (`getrusage(RUSAGE_CHILDREN)` after the command exits; see
    `_WRAPPER`). `ru_maxrss` is KiB on Linux and bytes on macOS.
    """
    with tempfile.TemporaryDirectory() as tmp:
        usage_file = Path(tmp) / "usage.json"
        proc = subprocess.run(
            [sys.executable, "-c", _WRAPPER, str(usage_file), *cmd],
            env=dict(env or python_env()),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        usage = json.loads(usage_file.read_text())
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return ChildRun(
        returncode=usage["code"],
        stdout=proc.stdout,
        stderr=proc.stderr,
        wall=usage["wall"],
        user_cpu=usage["utime"],
        system_cpu=usage["stime"],
        max_rss_mb=usage["maxrss"] / scale,
    )


_LINE = re.compile(r"^\s*([A-Za-z][\w .,/()%-]*?)\s*[:=]\s*(.+?)\s*$")
_NUMBER = re.compile(r"^(-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(.*)$")


def parse_figures(bench: str, output: str) -> list[Figure]:
    """Figures from a script's stdout: a JSON object (`{name: value}` or `{"figures": {...}}`), else
    `name: value unit` lines. Unparseable lines are ignored."""
    text = output.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            return figures_from_mapping(bench, data.get("figures", data))
    figures = []
    for line in output.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        name, rest = match.groups()
        number = _NUMBER.match(rest)
        if number:
            raw, unit = number.groups()
            cleaned = raw.replace(",", "")
            value: Value = float(cleaned) if any(c in cleaned for c in ".eE") else int(cleaned)
            figures.append(Figure(bench, name, value, unit.strip()))
        else:
            figures.append(Figure(bench, name, rest))
    return figures


def figures_from_mapping(bench: str, data: Mapping[str, Any]) -> list[Figure]:
    """Figures from `{name: value}` (a value may be `{"value": v, "unit": u}`); nested dicts are flattened."""
    figures = []
    for name, value in data.items():
        if isinstance(value, Mapping) and "value" in value:
            figures.append(Figure(bench, str(name), value["value"], str(value.get("unit", ""))))
        elif isinstance(value, Mapping):
            figures.extend(figures_from_mapping(bench, {f"{name}.{k}": v for k, v in value.items()}))
        elif isinstance(value, (int, float, str)) or value is None:
            figures.append(Figure(bench, str(name), value))
        else:
            figures.append(Figure(bench, str(name), json.dumps(value, default=str)))
    return figures


def format_table(results: Iterable[BenchResult]) -> str:
    """One plain-text table: benchmark, figure, value (and a status row for benchmarks that did not run)."""
    rows: list[tuple[str, str, str]] = []
    for result in results:
        if result.status != "ok":
            detail = result.detail if len(result.detail) <= 90 else result.detail[:89] + "…"
            rows.append((result.name, result.status, detail))
            continue
        for figure in result.figures:
            note = f"  ({figure.note})" if figure.note else ""
            rows.append((result.name, figure.name, figure.shown() + note))
        if not result.figures:
            rows.append((result.name, "(no figures)", result.detail))
    header = ("benchmark", "figure", "value")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    previous = None
    for row in rows:
        shown = ("" if row[0] == previous else row[0], row[1], row[2])
        previous = row[0]
        lines.append("  ".join(c.ljust(w) for c, w in zip(shown, widths, strict=True)).rstrip())
    return "\n".join(lines)


def results_document(results: Sequence[BenchResult], started: str) -> dict[str, Any]:
    """The JSON written to `bench/results.json`."""
    return {
        "date": started,
        "machine": machine(),
        "benchmarks": {
            r.name: {
                "status": r.status,
                "seconds": round(r.seconds, 2),
                "detail": r.detail,
                "figures": {
                    f.name: {"value": f.value, "unit": f.unit, **({"note": f.note} if f.note else {})}
                    for f in r.figures
                },
            }
            for r in results
        },
    }


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write `document` atomically (a temporary sibling, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero."""
    return numerator / denominator if denominator else None


def summary(times: Sequence[float]) -> dict[str, float]:
    """Median, min and max of some timings."""
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def as_dict(figure: Figure) -> dict[str, Any]:
    """A figure as a plain dict."""
    return asdict(figure)


def print_figures(figures: Sequence[Figure]) -> None:
    """One benchmark's figures as a table on stdout (figure, value, note), for running it on its own."""
    width = max(len(f.name) for f in figures)
    print(f"{'figure'.ljust(width)}  {'value':>10}  note")
    for f in figures:
        print(f"{f.name.ljust(width)}  {f.shown():>10}  {f.note}")


class ChildEmulator:
    """`reconciler emulator` on a free loopback port in a child process, with its admin endpoints."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key

    def __enter__(self) -> ChildEmulator:
        command = [sys.executable, "-m", "reconciler", "emulator", "--port", "0", "--api-key", self.api_key]
        self.process = subprocess.Popen(
            command, env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip().partition("=")[2]
        self.admin = httpx.Client(
            base_url=self.base_url[: -len("/v1")], headers={"Authorization": f"Bearer {self.api_key}"}
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.admin.close()
        self.process.terminate()
        self.process.wait(10)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.admin.request(method, "/_emulator/" + path, json=body)
        response.raise_for_status()
        return response.json()

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the child so far (Linux; None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def seed(base_url: str, api_key: str, bodies: Iterable[dict[str, Any]], concurrency: int = 16) -> None:
    """Create an assistant for each body over the API, `concurrency` at a time."""
    headers = {"Authorization": f"Bearer {api_key}", "OpenAI-Beta": "assistants=v1"}
    queue = iter(bodies)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as api:

        async def worker() -> None:
            for body in queue:
                response = await api.post("/assistants", json=body)
                response.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
