#!/usr/bin/env python3
"""Build the sdist and the wheel and check them as a release would be checked; exit non-zero on any problem.

1. `python -m build` (sdist, then the wheel built from that sdist) into a temporary folder (or --outdir);
2. `twine check --strict` on both, `check-wheel-contents` on the wheel;
3. the wheel installed into a fresh virtualenv (no dev tools, no emulator extra) runs `reconciler --help`,
   reports the version in pyproject.toml, and has not pulled in the emulator's server stack.

python3 scripts/check_release.py [--outdir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Modules only the `[emulator]` extra installs: a plain install must not have them.
EMULATOR_ONLY = ("starlette", "uvicorn", "python_multipart")


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def check(outdir: Path, uv: list[str]) -> str:
    """Build into `outdir`, check, install into a fresh venv; return the installed `reconciler --version`."""
    tool = [*uv, "run", "--frozen"]
    run([*tool, "python", "-m", "build", "--installer", "uv", "--outdir", str(outdir), "."])
    sdists, wheels = sorted(outdir.glob("*.tar.gz")), sorted(outdir.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, f"expected one sdist and one wheel in {outdir}"
    run([*tool, "twine", "check", "--strict", str(sdists[0]), str(wheels[0])])
    run([*tool, "check-wheel-contents", str(wheels[0])])

    venv = outdir / "venv"
    run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run([*uv, "pip", "install", "--quiet", "--python", str(python), str(wheels[0])])
    command = venv / ("Scripts/reconciler.exe" if os.name == "nt" else "bin/reconciler")
    run([str(command), "--help"], stdout=subprocess.DEVNULL)
    present = run(
        [
            str(python),
            "-c",
            f"import importlib.util as u; print([m for m in {EMULATOR_ONLY!r} if u.find_spec(m)])",
        ],
        capture_output=True,
    ).stdout.strip()
    assert present == "[]", f"a plain install pulled in the emulator's server stack: {present}"
    return run([str(command), "--version"], capture_output=True).stdout.strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, help="keep the sdist, wheel and venv here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from dev import find_uv

    version = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)[1]  # type: ignore[index]
    with tempfile.TemporaryDirectory(prefix="reconciler-release-") as tmp:
        outdir = (args.outdir or Path(tmp)).resolve()
        try:
            reported = check(outdir, find_uv())
        except (subprocess.CalledProcessError, AssertionError) as err:
            print(f"check_release: {err}", file=sys.stderr)
            return 1
    if reported != f"reconciler, version {version}":
        print(f"check_release: the wheel says {reported!r}, pyproject.toml {version}", file=sys.stderr)
        return 1
    print(f"check_release: sdist and wheel of {version} pass twine and check-wheel-contents; the wheel runs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
