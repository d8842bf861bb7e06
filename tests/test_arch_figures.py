"""scripts/arch_figures.py: the figures of a checkout, run as a process on a small made-up one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "arch_figures.py"

CONTRACTS = """\
[importlinter]
root_package = reconciler

[importlinter:contract:planner-offline]
name = The planner imports no client
type = forbidden
source_modules =
    reconciler.planner
forbidden_modules =
    reconciler.client
"""


def figures(root: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout.splitlines()


def test_sizes_long_functions_big_modules_and_crossing_edges(tmp_path: Path) -> None:
    package = tmp_path / "reconciler"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "client.py").write_text("".join(f"X{i} = {i}\n" for i in range(601)))
    body = "".join(f"    y = {i}\n" for i in range(59))
    # 61 lines from `def` to the last line (the decorator does not count); the nested one has 60: not listed.
    nested = "    def inner():\n" + "".join(f"        z = {i}\n" for i in range(59))
    (package / "planner.py").write_text(
        "import functools\n\nfrom reconciler import client\n\n\n@functools.cache\n"
        f"def long():\n{body}    return y\n\n\ndef outer():\n{nested}"
    )
    (tmp_path / ".importlinter").write_text(CONTRACTS)

    lines = figures(tmp_path)
    start = lines.index("functions over 60 lines: 2")
    assert lines[0] == f"modules of {package} and their lines (3 modules, 731 lines):"
    assert lines[1:start] == ["    601  client.py", "    130  planner.py", "      0  __init__.py"]
    assert lines[start : start + 5] == [
        "functions over 60 lines: 2",
        "     61  planner.py long",
        "     61  planner.py outer",
        "modules over 600 lines: 1",
        "    601  client.py",
    ]
    assert lines[start + 5 : start + 7] == [
        f"import edges crossing layers (per {tmp_path / '.importlinter'}): 1",
        "  reconciler.planner -> reconciler.client",
    ]
    assert lines[start + 7].startswith("duplicates: ")


def test_a_folder_without_the_package_is_one_line_and_exit_1(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"arch_figures: {tmp_path} has no reconciler/ package\n"
