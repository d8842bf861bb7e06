"""Exactly once when applies race: real `reconciler apply` processes, started at once, against one
`reconciler emulator` process with faults on (docs/design.md, "Exactly once across runs").

Each round (tests/race_support.py) starts 2 or 4 applies from separate working directories (fresh plans), or
2 applies of one saved plan, under seeded dropped connections, late commits (within the settle window) and
server errors; then, faults off, every manifest key is claimed by exactly one assistant matching its
manifest (no duplicate, none lost), every knowledge content is uploaded once, and every process's report
agrees with that state. On main before this design, the first round already left duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from race_support import Emulator, Outcome, Round, run_round

#: Most rounds: small settle window and commit delay; a few at 900 and 2500 ms with the window above them.
ROUNDS = [
    *(Round(f"2 applies, seed {seed}", 2, 5, seed=seed, settle=0.5, drop_rate=0.2) for seed in range(1, 7)),
    *(Round(f"4 applies, seed {seed}", 4, 4, seed=seed, settle=0.5, drop_rate=0.2) for seed in range(11, 15)),
    *(
        Round(f"saved plan twice, seed {seed}", 2, 5, seed=seed, settle=0.5, drop_rate=0.2, saved=True)
        for seed in range(21, 25)
    ),
    *(
        Round(f"commit 900 ms, seed {seed}", 2, 5, seed=seed, settle=1.5, commit_delay_ms=900)
        for seed in range(31, 34)
    ),
    Round("commit 2500 ms", 2, 4, seed=41, settle=3, commit_delay_ms=2500, fail_rate=0),
    *(
        Round(f"{n} uploads, seed {seed}", 2, n, seed=seed, settle=0.8, commit_delay_ms=300, files=n)
        for n, seed in ((10, 51), (5, 52))
    ),
]

OUTCOMES: list[Outcome] = []


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    server = Emulator(tmp_path_factory.mktemp("race"))
    try:
        yield server
    finally:
        server.stop()
        if OUTCOMES:
            print("\n" + summary(OUTCOMES))


def summary(outcomes: list[Outcome]) -> str:
    """The figures of the rounds run: rounds, processes, creates reported, duplicates and lost keys left."""
    return (
        f"race: {len(outcomes)} rounds, {sum(o.round.processes for o in outcomes)} apply processes, "
        f"{sum(o.creates for o in outcomes)} creates reported, "
        f"{sum(o.duplicates for o in outcomes)} duplicates and {sum(o.lost for o in outcomes)} lost left, "
        f"{sum(o.file_copies for o in outcomes)} extra file copies, "
        f"{sum(o.seconds for o in outcomes):.1f} s of applies"
    )


@pytest.mark.parametrize("rnd", ROUNDS, ids=[r.name for r in ROUNDS])
def test_racing_applies_converge(emulator: Emulator, rnd: Round, tmp_path: Path) -> None:
    outcome = run_round(emulator, rnd, tmp_path)
    OUTCOMES.append(outcome)
    assert outcome.problems == []
    assert outcome.duplicates == outcome.lost == outcome.file_copies == 0
