"""`reconciler --help` start-up time: the median of several fresh processes, beside a bare interpreter.

Run: `python -m bench.startup` (prints `name: value unit` lines).
"""

from __future__ import annotations

import statistics
import sys

from bench.common import Figure, median_wall, reconciler_command

NAME = "startup"
RUNS = 9


def run(runs: int = RUNS) -> list[Figure]:
    """Time `reconciler --help` and `python -c pass` `runs` times each (after a warm-up run)."""
    cli = median_wall([*reconciler_command(), "--help"], runs)
    bare = median_wall([sys.executable, "-c", "pass"], runs)
    cli_ms = statistics.median(cli) * 1000
    bare_ms = statistics.median(bare) * 1000
    return [
        Figure(NAME, "reconciler --help, median", round(cli_ms, 1), "ms", f"{runs} runs"),
        Figure(NAME, "python -c pass, median", round(bare_ms, 1), "ms", f"{runs} runs"),
        Figure(NAME, "CLI import cost", round(cli_ms - bare_ms, 1), "ms"),
    ]


if __name__ == "__main__":
    for figure in run():
        print(f"{figure.name}: {figure.value} {figure.unit}")
