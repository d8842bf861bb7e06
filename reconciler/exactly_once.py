"""The exactly-once write: a create or an upload whose answer was lost is found before it is sent again.

    send -> answered: done
         -> outcome unknown (AmbiguousWriteError): look up -> found: done (the lost write happened)
                                                   -> none: wait settle x attempt, look up again
                                                            -> found: done
                                                            -> none: send again (at most `attempts` sends)

The look-up must see every write committed before it was asked (a listing started after the call): the
second look-up covers a server that was still committing when the connection broke. A failing look-up ends
the write (nothing more is sent): the next plan shows whether it exists.

Across runs (docs/design.md, "Exactly once across runs"): the API has no lock and no conditional write, so
runs that race on one key converge by a rule each applies alone. The **canonical** claimant of a key (or copy
of a content) is the minimum by `(created_at, id)` (`canonical`); a run never deletes the minimum it sees,
and a listing that starts at the **horizon** (`horizon`: the run's last create for the key returned, plus the
settle window W, plus created_at's one-second resolution) sees every claimant that could be smaller than the
run's own, so the minimum it sees is the one every deciding run sees.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from reconciler.client import AmbiguousWriteError
from reconciler.errors import ReconcilerError
from reconciler.options import DEFAULT_SETTLE_SECONDS

__all__ = [
    "DEFAULT_SETTLE_SECONDS",
    "STAMP_RESOLUTION",
    "Written",
    "canonical",
    "horizon",
    "others",
    "wait_for_horizon",
    "write_once",
]

Response = TypeVar("Response")
Found = TypeVar("Found")
Claimant = TypeVar("Claimant")

#: `created_at` counts whole seconds: a claimant stamped in our second may be sent up to this much later.
STAMP_RESOLUTION = 1.0

#: The order of claimants: `(created_at, id)`.
Order = tuple[int, str]


def canonical(claimants: Iterable[Claimant], order: Callable[[Claimant], Order]) -> Claimant | None:
    """The canonical claimant: the minimum by `order` (`(created_at, id)`), or None when there is none."""
    return min(claimants, key=order, default=None)


def others(claimants: Iterable[Claimant], order: Callable[[Claimant], Order]) -> list[Claimant]:
    """Every claimant but the canonical one: always safe to delete (a smaller one is in the same listing)."""
    ranked = sorted(claimants, key=order)
    return ranked[1:]


def horizon(last_returned: float, window: float) -> float:
    """When (same clock as `last_returned`) a listing may start whose minimum is final: `last_returned` is
    when the run's last create attempt returned, `window` is W."""
    return last_returned + window + STAMP_RESOLUTION


async def wait_for_horizon(last_returned: float, window: float) -> None:
    """Sleep until `horizon(last_returned, window)` on the monotonic clock (`last_returned` is monotonic)."""
    wait = horizon(last_returned, window) - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)


@dataclass(frozen=True)
class Written(Generic[Response, Found]):
    """The outcome of `write_once`: the answer to the send that got through (`response`), or, when that
    answer was lost, what the look-up found (`found`). Exactly one of them is set."""

    response: Response | None = None
    found: Found | None = None


async def write_once(
    send: Callable[[], Awaitable[Response]],
    look_up: Callable[[], Awaitable[Found | None]],
    *,
    attempts: int,
    settle: float,
    by: str,
) -> Written[Response, Found]:
    """Send once, or as often as needed, at most `attempts` times, never writing twice (module docstring).

    Errors of `send` other than AmbiguousWriteError propagate. Raises ReconcilerError, naming the look-up
    (`by`, e.g. "key" or "content"), when a look-up fails or nothing is found after `attempts` sends.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    attempt = 0
    while True:
        attempt += 1
        try:
            return Written(response=await send())
        except AmbiguousWriteError as err:
            try:
                found = await look_up()
                if found is None:
                    await asyncio.sleep(settle * attempt)
                    found = await look_up()
            except ReconcilerError as lookup_err:
                raise ReconcilerError(
                    f"{err.fact}; looking it up by {by} failed too ({lookup_err}); "
                    "the next plan will show whether it exists"
                ) from None
            if found is not None:
                return Written(found=found)
            if attempt >= attempts:
                raise ReconcilerError(
                    f"{err.fact}; sent {attempt} times, each time not found by {by} afterwards; giving up"
                ) from None
