#!/usr/bin/env python3
"""Developer entry point that needs only Python 3: finds or bootstraps uv, then runs the project's jobs.

python3 dev.py demo    plan and apply assistants/ against the embedded emulator (--local)
python3 dev.py test    the test suite (what CI runs)
python3 dev.py check   ruff and mypy
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


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run([*cmd, "--version"], capture_output=True).returncode == 0
    except OSError:
        return False


def find_uv() -> list[str]:
    """A command that runs uv: on PATH, as a module, or installed into .venv-uv (PEP 668 safe)."""
    if shutil.which("uv") and _works(["uv"]):
        return ["uv"]
    if _works([sys.executable, "-m", "uv"]):
        return [sys.executable, "-m", "uv"]
    python = BOOTSTRAP / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not _works([str(python), "-m", "uv"]):
        print("dev.py: bootstrapping uv into .venv-uv ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(BOOTSTRAP)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "uv"], check=True)
    return [str(python), "-m", "uv"]


def main(argv: list[str]) -> int:
    job = argv[0] if argv else "help"
    uv = find_uv()
    run = [*uv, "run", "--frozen"]
    jobs: dict[str, list[list[str]]] = {
        "demo": [
            [*run, "reconciler", "plan", "--local"],
            [*run, "reconciler", "apply", "--local", "--auto-approve"],
        ],
        "test": [[*run, "pytest", *argv[1:]]],
        "check": [[*run, "ruff", "check", "."], [*run, "ruff", "format", "--check", "."], [*run, "mypy"]],
        "bench": [[*run, "python", "-m", "bench", *argv[1:]]],
    }
    if job not in jobs:
        print(__doc__)
        return 0 if job == "help" else 2
    for cmd in jobs[job]:
        code = subprocess.run(cmd, cwd=ROOT).returncode
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
