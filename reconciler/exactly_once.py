"""The exactly-once write: a create or an upload whose answer was lost is found before it is sent again.

    send -> answered: done
         -> outcome unknown (AmbiguousWriteError): look up -> found: done (the lost write happened)
                                                   -> none: wait settle x attempt, look up again
                                                            -> found: done
                                                            -> none: send again (at most `attempts` sends)

The look-up must see every write committed before it was asked (a listing started after the call): the
second look-up covers a server that was still committing when the connection broke. A failing look-up ends
the write (nothing more is sent): the next plan shows whether it exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from reconciler.client import AmbiguousWriteError
from reconciler.errors import ReconcilerError

Response = TypeVar("Response")
Found = TypeVar("Found")


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
                    f"{err}; looking it up by {by} failed too ({lookup_err}); "
                    "the next plan will show whether it exists"
                ) from None
            if found is not None:
                return Written(found=found)
            if attempt >= attempts:
                raise ReconcilerError(
                    f"{err}; not found by {by} after {attempt} attempts, giving up"
                ) from None
