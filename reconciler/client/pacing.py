"""How fast the whole client talks to a server that rate-limits it: a gate and an adaptive concurrency limit.

Both are shared by every request of one `Client`, so one worker's 429 slows all workers down:

- `RateGate`: a 429 closes the gate for everyone until the server's hint has passed; then, until no 429 has
  come for `PACING_WINDOW` seconds, requests pass one at a time, spaced by the hint (at most `MAX_PACING`), so
  the waiters do not all rush the server at the same instant (a thundering herd that would turn one 429 into
  many and spend every retry budget).
- `AdaptiveLimit`: an AIMD limit on requests in flight. A 429 halves it (once per round: 429s from requests
  sent before the last decrease do not halve again); every `limit` successes grow it by one. Under a steady
  server limit the client settles near the concurrency the server sustains instead of spending retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

__all__ = ["MAX_IN_FLIGHT", "MAX_PACING", "PACING_WINDOW", "AdaptiveLimit", "RateGate"]

MAX_PACING = 1.0
PACING_WINDOW = 1.0
#: The starting (and highest) limit on requests in flight: above any parallelism the tool uses.
MAX_IN_FLIGHT = 64

Sleep = Callable[[float], Awaitable[None]]


class RateGate:
    """The shared 429 gate. `clock` (monotonic seconds) and `sleep` are injectable for tests of the gate."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._not_before = 0.0  # no request may be sent before this time (set by 429s)
        self._spacing = 0.0  # gap between requests passing the gate while pacing
        self._paced_until = 0.0  # pacing lasts until this time (extended by each 429)
        self._lock: asyncio.Lock | None = None  # made lazily: inside the running loop

    async def wait(self) -> None:
        """Return when a request may be sent: after the not-before time set by 429s (re-checked if it moves
        later), and while pacing, `spacing` after the previous request that passed."""
        now = self._clock()
        if now >= self._not_before and now >= self._paced_until:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while True:
                target = self._not_before
                wait = target - self._clock()
                if wait <= 0:
                    break
                await self._sleep(wait)
                if self._not_before <= target:
                    break
            now = self._clock()
            if now < self._paced_until:
                self._not_before = max(self._not_before, now + self._spacing)

    def rate_limited(self, delay: float) -> None:
        """A 429 asked to wait `delay` seconds: close the gate for everyone that long, then pace."""
        now = self._clock()
        pacing = now < self._paced_until
        self._not_before = max(self._not_before, now + delay)
        # While pacing, the gap only grows: a short hint (the bucket was nearly refilled) is no rate.
        self._spacing = max(self._spacing if pacing else 0.0, min(delay, MAX_PACING))
        self._paced_until = max(self._paced_until, now + delay + PACING_WINDOW)


class AdaptiveLimit:
    """An AIMD limit on requests in flight, between 1 and `maximum`."""

    def __init__(self, maximum: int = MAX_IN_FLIGHT) -> None:
        if maximum < 1:
            raise ValueError("maximum must be >= 1")
        self.maximum = maximum
        self.limit = maximum
        self.in_flight = 0
        self._round = 0  # bumped by each decrease
        self._successes = 0
        self._changed: asyncio.Condition | None = None  # made lazily: inside the running loop

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Hold one of the `limit` slots for one exchange; yields the round it was taken in (pass it to
        `rate_limited`)."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
        try:
            yield self._round
        finally:
            async with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    def succeeded(self) -> None:
        """One answer that was no 429: after `limit` of them, allow one more request in flight. Call it
        (and `rate_limited`) while still holding the slot: its release wakes the waiters."""
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self._successes = 0

    def rate_limited(self, taken_in_round: int) -> None:
        """A 429 for a request whose slot was taken in `taken_in_round`: halve, once per round."""
        if taken_in_round != self._round:
            return
        self._round += 1
        self._successes = 0
        self.limit = max(1, self.limit // 2)
