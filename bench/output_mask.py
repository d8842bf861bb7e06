"""The CLI's one output layer (`redact.MaskedStream`: the key masked, control characters escaped) against a
plain stream: the cost per line written, with two key variables set, and its target.

Run: `python -m bench.output_mask` (prints `name: value unit` lines). 100,000 plan-like lines, best of 5. A
plan of 1,000 assistants renders about 10,000 lines, so the target keeps the layer under 0.1 s there.
"""

from __future__ import annotations

import io
import os
import time

from reconciler import redact

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


def main() -> None:
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
    print(f"plain_per_line: {plain / LINES * 1e6:.2f} us")
    print(f"masked_per_line: {masked / LINES * 1e6:.2f} us")
    print(f"added_per_line: {added:.2f} us (target <= {TARGET_US:.0f} us)")
    print(f"added_per_10000_lines: {added * 10_000 / 1e6:.3f} s")


if __name__ == "__main__":
    main()
