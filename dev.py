#!/usr/bin/env python3
"""Developer entry point that needs only Python 3: finds or bootstraps uv, then runs the project's jobs.

python3 dev.py demo    plan and apply assistants/ against the embedded emulator (--local)
python3 dev.py test    the test suite
python3 dev.py cov     the same test suite under coverage, CLI subprocesses included; fails below the floor
                       (pyproject.toml, [tool.coverage.report] fail_under). What CI runs
python3 dev.py check   ruff, mypy and the layer contracts (lint-imports, .importlinter)
python3 dev.py bench   the benchmarks (prints a table, writes bench/results.json)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOTSTRAP = ROOT / ".venv-uv"
JOBS = ("demo", "test", "cov", "check", "bench")


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run([*cmd, "--version"], capture_output=True).returncode == 0
    except OSError:
        return False


def _uv_binary(python: str) -> list[str] | None:
    """The uv binary of the `uv` package installed for `python`, if any.

    Called as the binary, not as `python -m uv`: the module exports its own venv as VIRTUAL_ENV, and uv then
    warns on every run that it does not match the project's `.venv`.
    """
    try:
        found = subprocess.run(
            [python, "-c", "import uv; print(uv.find_uv_bin())"], capture_output=True, text=True
        )
    except OSError:
        return None
    binary = found.stdout.strip()
    return [binary] if found.returncode == 0 and binary and _works([binary]) else None


def find_uv() -> list[str]:
    """A command running uv: on PATH, installed for this Python, or installed into .venv-uv (PEP 668 safe)."""
    if shutil.which("uv") and _works(["uv"]):
        return ["uv"]
    python = BOOTSTRAP / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    for candidate in (sys.executable, str(python)):
        binary = _uv_binary(candidate)
        if binary:
            return binary
    print("dev.py: bootstrapping uv into .venv-uv ...", file=sys.stderr)
    venv.EnvBuilder(with_pip=True, clear=True).create(BOOTSTRAP)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "uv"], check=True)
    return _uv_binary(str(python)) or [str(python), "-m", "uv"]


def uv_env() -> dict[str, str]:
    """The environment for uv: an activated virtualenv other than the project's own is left out (uv would
    ignore it anyway, with a warning on every run)."""
    env = dict(os.environ)
    active = env.get("VIRTUAL_ENV")
    if active and Path(active).resolve() != (ROOT / ".venv").resolve():
        del env["VIRTUAL_ENV"]
    return env


def commands(job: str, args: list[str], uv: list[str]) -> list[list[str]]:
    """The commands of `job`, run in order until one fails."""
    run = [*uv, "run", "--frozen"]
    # The demo needs the tool and its emulator only: no dev group (and, inexact, it removes nothing).
    demo = [*uv, "run", "--frozen", "--no-dev", "--extra", "emulator", "--inexact", "reconciler"]
    test = ["pytest", *args]
    # coverage's `patch = subprocess` (pyproject.toml) measures the Python subprocesses the tests start (the
    # CLI, the emulator server); each writes its own data file, which `combine` merges before the report.
    cov = [*run, "coverage"]
    return {
        "demo": [[*demo, "plan", "--local"], [*demo, "apply", "--local", "--auto-approve"]],
        "test": [[*run, *test]],
        "cov": [[*cov, "erase"], [*cov, "run", "-m", *test], [*cov, "combine", "--quiet"], [*cov, "report"]],
        "check": [
            [*run, "ruff", "check", "."],
            [*run, "ruff", "format", "--check", "."],
            [*run, "mypy"],
            [*run, "lint-imports"],
        ],
        "bench": [[*run, "python", "-m", "bench", *args]],
    }[job]


def main(argv: list[str]) -> int:
    job = argv[0] if argv else "help"
    if job in ("help", "-h", "--help"):
        print(__doc__.strip())
        return 0
    if job not in JOBS:
        print(
            f"dev.py: unknown job {job!r}; the jobs are: {', '.join(JOBS)} (python3 dev.py help)",
            file=sys.stderr,
        )
        return 1
    uv = find_uv()
    for cmd in commands(job, argv[1:], uv):
        code = subprocess.run(cmd, cwd=ROOT, env=uv_env()).returncode
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
