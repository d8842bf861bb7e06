"""Fault injection for the emulator: latency, server errors, rate limiting and dropped connections.

Faults apply to `/v1` requests only (never to `/_emulator`), in this order:

1. latency: every request waits `latency_ms` first;
2. rate limit: a token bucket refilled at `rate_limit_rps` (burst `max(1, rps)`); an empty bucket answers 429
   with `retry-after-ms` (exact wait, rounded up) and `retry-after` (whole seconds, at least 1);
3. fail: with probability `fail_rate` the request is answered 500 or 503 (even odds) before anything is done;
4. drop: with probability `drop_rate`, a write (POST/DELETE) is carried out and committed, then the
   connection is closed without any response: the client cannot know whether it happened. With
   `commit_delay_ms`, the connection is closed first and the write commits that much later, like a server
   still working on a request whose client has given up.

With a `seed`, decisions are deterministic: every request that passes the rate limit draws exactly three
numbers from one seeded generator (fail, 500-or-503, drop), so the n-th such request always gets the same fate
for the same config, whatever its route.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

WRITE_METHODS = frozenset({"POST", "DELETE"})


@dataclass
class FaultConfig:
    """What faults to inject. All zero (the default) means a well-behaved server."""

    latency_ms: float = 0
    fail_rate: float = 0
    rate_limit_rps: float = 0
    drop_rate: float = 0
    seed: int | None = None
    commit_delay_ms: float = 0

    def __post_init__(self) -> None:
        # NaN passes every comparison and an infinity every lower bound: both are refused by name (an infinite
        # rate limit made each request fail converting it to a header's integer).
        for name in ("latency_ms", "rate_limit_rps", "commit_delay_ms"):
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {_shown(value)}")
        for name in ("fail_rate", "drop_rate"):
            value = getattr(self, name)
            if not _finite(value) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1, got {_shown(value)}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"seed must be an integer or null, got {self.seed!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Build from JSON; missing fields take their defaults; unknown fields raise ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(value: Any) -> bool:
    """True for an int or float that is neither NaN nor infinite nor beyond a double (a bool is no number
    here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a double
        return False


def _shown(value: Any) -> str:
    """`value` as an error quotes it: its repr, cut short (an integer of 400 digits is refused too)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


@dataclass(frozen=True)
class Decision:
    """The fate of one request: at most one of `rate_limited`/`fail_status`, plus `drop` for writes."""

    rate_limited: bool = False
    retry_after_s: float = 0.0
    fail_status: int | None = None
    drop: bool = False


@dataclass(frozen=True)
class RateLimitState:
    """Values for the `x-ratelimit-*-requests` headers."""

    limit: int
    remaining: int
    reset_s: float


#: Header values when no rate limit is configured (a generous, constant budget).
UNLIMITED = RateLimitState(limit=10_000, remaining=9_999, reset_s=0.006)


class FaultInjector:
    """Thread-safe fault decisions for one emulator. `clock` (monotonic seconds) can be replaced in tests."""

    def __init__(self, config: FaultConfig | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration; re-seeds the generator and refills the bucket."""
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._capacity = max(1.0, float(config.rate_limit_rps))
            self._tokens = self._capacity
            self._last = self.clock()

    def decide(self, method: str) -> Decision:
        """Decide the fate of one `/v1` request (latency is applied by the caller)."""
        with self._lock:
            config = self._config
            if config.rate_limit_rps > 0:
                self._refill()
                if self._tokens < 1:
                    wait = (1 - self._tokens) / config.rate_limit_rps
                    return Decision(rate_limited=True, retry_after_s=wait)
                self._tokens -= 1
            fail_roll, kind_roll, drop_roll = self._rng.random(), self._rng.random(), self._rng.random()
        if fail_roll < config.fail_rate:
            return Decision(fail_status=500 if kind_roll < 0.5 else 503)
        return Decision(drop=method.upper() in WRITE_METHODS and drop_roll < config.drop_rate)

    def rate_limit_state(self) -> RateLimitState:
        """The bucket as headers see it (after the current request took its token)."""
        with self._lock:
            rps = self._config.rate_limit_rps
            if rps <= 0:
                return UNLIMITED
            self._refill()
            return RateLimitState(
                limit=int(self._capacity),
                remaining=max(0, math.floor(self._tokens)),
                reset_s=(self._capacity - self._tokens) / rps,
            )

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(self._capacity, self._tokens + elapsed * self._config.rate_limit_rps)


def retry_after_headers(wait_s: float) -> dict[str, str]:
    """`retry-after-ms` (rounded up, at least 1) and `retry-after` (whole seconds, rounded up, at least 1)."""
    return {
        "retry-after-ms": str(max(1, math.ceil(wait_s * 1000))),
        "retry-after": str(max(1, math.ceil(wait_s))),
    }


def go_duration(seconds: float) -> str:
    """A Go-style duration as OpenAI's `x-ratelimit-reset-*` headers use: `6ms`, `1s`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60:
        text = f"{seconds:.3f}".rstrip("0").rstrip(".")
        return f"{text}s"
    minutes, secs = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{secs}s"
