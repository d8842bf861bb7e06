#!/usr/bin/env python3
"""The architecture figures of a checkout, for a before/after table: size, long code, crossings, repetition.

python scripts/arch_figures.py [ROOT]        (ROOT: a checkout of the tool, default this one)

Prints, for the package `reconciler/` of ROOT:
- every module and its lines, longest first, and their total;
- the functions over 60 lines and the modules over 600 lines (the style guide's limits);
- the import edges that cross layers: the first link of every chain `lint-imports` reports against
  ROOT/.importlinter (the contracts of docs/design.md's layers), or this checkout's when ROOT has none;
- the first line of `duplicates --most 200` run in ROOT (the pairs of places sharing six or more lines).

Lines are physical lines; a function's lines run from its `def` (decorators excluded) to its last line, nested
functions counting in their parent as well. A tool that is missing is reported on its line, not raised.
Exit 0 (these are figures, not a gate: the gates are ruff, mypy, lint-imports and coverage), or 1 with one
line when ROOT holds no reconciler/ package.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

FUNCTION_LIMIT = 60
MODULE_LIMIT = 600
# A chain's first link as lint-imports prints it: "-   a.b -> c.d (l.21)" (forbidden), "- a -> b (l.3)"
# (protected).
FIRST_LINK = re.compile(r"^-\s+(\S+) -> (\S+) \(l\.")


def module_lines(package: Path) -> dict[str, int]:
    """Each module under `package` (relative path with `/`) and its number of lines."""
    return {
        path.relative_to(package).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(package.rglob("*.py"))
    }


def long_functions(package: Path, limit: int = FUNCTION_LIMIT) -> list[tuple[str, str, int]]:
    """(module, function, lines) for every function of more than `limit` lines, longest first."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    found.append((path.relative_to(package).as_posix(), node.name, length))
    return sorted(found, key=lambda row: (-row[2], row[0], row[1]))


def _run(cmd: list[str], root: Path) -> subprocess.CompletedProcess[str] | None:
    """`cmd` run in `root` (wide lines, so nothing wraps), or None when the program is missing."""
    env = {**os.environ, "COLUMNS": "500"}
    try:
        return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return None


def crossing_edges(root: Path, contracts: Path) -> list[str] | None:
    """The distinct first links of the chains breaking a contract of `contracts` in `root`, or None when
    lint-imports is missing or fails (a contract naming a module `root` lacks, say)."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    # --config (deprecated in 2.17 for a positional path, which 2.15 on Python 3.10 may lack) works in both.
    done = _run([lint, "--no-cache", "--config", str(contracts)], root) if lint else None
    if done is None or "Contracts:" not in done.stdout:
        return None
    links = (FIRST_LINK.match(line.strip()) for line in done.stdout.splitlines())
    return sorted({f"{link[1]} -> {link[2]}" for link in links if link})


def duplicate_pairs(root: Path) -> str:
    """The summary line of `duplicates --most 200` in `root`."""
    program = shutil.which("duplicates")
    done = _run([program, "--most", "200"], root) if program else None
    if done is None or not done.stdout.strip():
        return "duplicates: not available"
    return done.stdout.splitlines()[0]


def report(root: Path) -> list[str]:
    """The lines printed for the checkout at `root`."""
    package = root / "reconciler"
    modules = module_lines(package)
    lines = [f"modules of {package} and their lines ({len(modules)} modules, {sum(modules.values())} lines):"]
    by_size = sorted(modules.items(), key=lambda kv: (-kv[1], kv[0]))
    lines += [f"  {count:5}  {name}" for name, count in by_size]
    functions = long_functions(package)
    lines.append(f"functions over {FUNCTION_LIMIT} lines: {len(functions)}")
    lines += [f"  {count:5}  {module} {name}" for module, name, count in functions]
    big = [(name, count) for name, count in modules.items() if count > MODULE_LIMIT]
    lines.append(f"modules over {MODULE_LIMIT} lines: {len(big)}")
    lines += [f"  {count:5}  {name}" for name, count in sorted(big, key=lambda kv: -kv[1])]
    # A checkout from before the contracts existed is measured against this checkout's contracts.
    contracts = root / ".importlinter"
    if not contracts.is_file():
        contracts = Path(__file__).resolve().parent.parent / ".importlinter"
    edges = crossing_edges(root, contracts)
    if edges is None:
        lines.append(
            f"import edges crossing layers (per {contracts}): unknown (lint-imports missing or failed)"
        )
    else:
        lines.append(f"import edges crossing layers (per {contracts}): {len(edges)}")
        lines += [f"  {edge}" for edge in edges]
    lines.append(f"duplicates: {duplicate_pairs(root)}")
    return lines


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else Path(__file__).resolve().parent.parent).resolve()
    if not (root / "reconciler").is_dir():
        print(f"arch_figures: {root} has no reconciler/ package", file=sys.stderr)
        return 1
    print("\n".join(report(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
