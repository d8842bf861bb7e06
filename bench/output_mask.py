"""The CLI's one output layer (`redact.MaskedStream`: the key masked, control characters escaped) against a
plain stream: the cost per line written, with two key variables set, and its target.

Run: `python -m bench output_mask` (or `python -m bench.output_mask` alone). 100,000 plan-like lines, best of
5. A plan of 1,000 assistants renders about 10,000 lines, so the target keeps the layer under 0.1 s there.
"""

from __future__ import annotations

import io
import os
import time

from bench.common import Figure, print_figures
from reconciler import redact

NAME = "output_mask"

LINES = 100_000
RUNS = 5
#: Microseconds the layer may add per line.
TARGET_US = 10.0


def _best(make: type[io.StringIO] | type[redact.MaskedStream], lines: list[str]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        target = io.StringIO()
        stream = target if make is io.StringIO else redact.MaskedStream(target)
        start = time.perf_counter()
        for line in lines:
            stream.write(line)
        stream.flush()
        best = min(best, time.perf_counter() - start)
    return best


def run() -> list[Figure]:
    os.environ["OPENAI_API_KEY"] = "sk-bench-0123456789abcdef0123"
    os.environ["STAGING_OPENAI_API_KEY"] = "sk-bench-staging-0123456789"
    redact.mask_variable("STAGING_OPENAI_API_KEY")
    lines = [
        f'  ~ assistant "helper-{i}" {{ instructions = "Answer HR questions, politely." }}\n'
        for i in range(LINES)
    ]
    plain = _best(io.StringIO, lines)
    masked = _best(redact.MaskedStream, lines)
    added = (masked - plain) / LINES * 1e6
    note = f"{LINES:,} lines, best of {RUNS}"
    return [
        Figure(NAME, "plain stream, per line", round(plain / LINES * 1e6, 2), "us", note),
        Figure(NAME, "masked stream, per line", round(masked / LINES * 1e6, 2), "us", note),
        Figure(NAME, "added per line", round(added, 2), "us", f"target <= {TARGET_US:.0f} us"),
        Figure(NAME, "added per 10,000 lines", round(added * 10_000 / 1e6, 3), "s", "a 1,000-assistant plan"),
    ]


def main() -> None:
    print_figures(run())


if __name__ == "__main__":
    main()
