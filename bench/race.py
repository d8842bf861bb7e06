"""Racing applies: the rounds of tests/test_race.py (2 or 4 `reconciler apply` processes at once against one
`reconciler emulator` process, with dropped connections, late commits and server errors), and what they
left. The targets are zero duplicates, zero lost keys and zero extra file copies; the wall time is the
cost of the settle window (W + 1 s per apply that creates).

Run: `python -m bench.race` (prints `name: value unit` lines; not part of `python -m bench`: about 2.5 min).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, Figure

NAME = "race"
sys.path.insert(0, str(ROOT / "tests"))  # the rounds and their harness live with the test

from race_support import Emulator, Outcome, run_round  # noqa: E402
from test_race import ROUNDS  # noqa: E402


def run() -> list[Figure]:
    """Run every round once and report the totals."""
    outcomes: list[Outcome] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        emulator = Emulator(root)
        try:
            for n, rnd in enumerate(ROUNDS):
                (root / str(n)).mkdir()
                outcomes.append(run_round(emulator, rnd, root / str(n)))
        finally:
            emulator.stop()
    wall = time.monotonic() - started
    return [
        Figure(NAME, "rounds", len(outcomes)),
        Figure(NAME, "apply processes", sum(o.round.processes for o in outcomes)),
        Figure(NAME, "creates reported", sum(o.creates for o in outcomes)),
        Figure(NAME, "duplicates left", sum(o.duplicates for o in outcomes), "", "target 0"),
        Figure(NAME, "keys lost", sum(o.lost for o in outcomes), "", "target 0"),
        Figure(NAME, "extra file copies", sum(o.file_copies for o in outcomes), "", "target 0"),
        Figure(NAME, "problems", sum(len(o.problems) for o in outcomes), "", "target 0"),
        Figure(NAME, "wall", round(wall, 1), "s"),
        Figure(NAME, "slowest round", round(max(o.seconds for o in outcomes), 1), "s"),
    ]


if __name__ == "__main__":
    for figure in run():
        print(f"{figure.name}: {figure.value} {figure.unit}".rstrip())
