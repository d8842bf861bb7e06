"""When to retry a request, and after how long: one pure function, `decide`, and the policy it reads.

The rules follow the official SDK (retries on 408, 409, 429, every status >= 500, timeouts and connection
errors; `x-should-retry: true/false` overrides the status), with three additions of ours:

- a non-idempotent write (create, upload) whose outcome is unknown (sent, then no answer or a >= 500 without
  `x-should-retry: true`) is never retried: the caller gets `AmbiguousWriteError` and looks the object up;
- a connection refused before the server ever answered gets one quick retry, then fails: a wrong port or a
  server that is not running is reported at once, not after a minute of backoff;
- transport errors no retry can fix (a header httpx refuses, an unsupported URL scheme) fail at once;
- a 429 while other requests of the same client got answers since this one was sent (`progressed`) is this
  request's share of a steady server limit, not a failure: it is retried without spending the budget, so a
  long run under a rate limit completes, only slower, and fails only when the server stops answering.

The delay is the server's hint (`retry-after-ms`, else `retry-after` in seconds or as an HTTP date) when it
lies in (0, MAX_RETRY_AFTER], else `min(backoff_base * 2^attempt, backoff_max) * (1 - 0.25 * jitter)`, with
`jitter` in [0, 1) passed in by the caller so that `decide` stays pure.
"""

from __future__ import annotations

import email.utils
import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "MAX_RETRY_AFTER",
    "QUICK_RETRY_DELAY",
    "RETRYABLE_STATUSES",
    "SAFE_WRITE_RETRY_STATUSES",
    "Decision",
    "Failure",
    "Outcome",
    "RetryPolicy",
    "decide",
    "retry_after",
    "retry_delay",
]

#: A retry hint (retry-after-ms / retry-after) is honoured only when it lies in (0, MAX_RETRY_AFTER] seconds.
MAX_RETRY_AFTER = 60.0
#: The wait before the one retry of a connection refused before the server ever answered.
QUICK_RETRY_DELAY = 0.1
#: Statuses retried by default (plus every status >= 500).
RETRYABLE_STATUSES = frozenset({408, 409, 429})
#: Statuses after which a non-idempotent write provably did not happen (the server refused it up front).
SAFE_WRITE_RETRY_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how patiently, a request is retried.

    `max_retries` is the budget per request (retries, not attempts); the backoff without a server hint is
    `min(backoff_base * 2^n, backoff_max)` seconds, jittered down by up to 25%.
    """

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 8.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must be >= 0")


class Failure(enum.Enum):
    """How an exchange failed without an HTTP answer."""

    NOT_SENT = "not sent"  # provably never left (connect error, connect/pool timeout): safe to retry
    REFUSED = "refused"  # a connect error before this server ever answered: a wrong URL or a dead server
    MAYBE_SENT = "maybe sent"  # read/write timeout, dropped or reset connection, deadline: outcome unknown
    FATAL = "fatal"  # no retry can fix it (a header or URL scheme httpx refuses)


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP `status` with its `headers`, or a transport `failure`."""

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    progressed: bool = False  # other requests of the client got a 2xx since this attempt was sent


@dataclass(frozen=True)
class Decision:
    """`retry` after `delay` seconds (`charged` to the budget or not), or raise; `ambiguous` means raise
    `AmbiguousWriteError` (the write may have happened); `gave_up` means the failure was retryable but the
    budget is spent."""

    retry: bool
    delay: float = 0.0
    ambiguous: bool = False
    gave_up: bool = False
    charged: bool = True


RAISE = Decision(retry=False)
AMBIGUOUS = Decision(retry=False, ambiguous=True)


def decide(
    outcome: Outcome, *, attempt: int, idempotent: bool, policy: RetryPolicy, jitter: float
) -> Decision:
    """The retry decision for a failed attempt (`attempt` = retries taken so far; the outcome is not 2xx)."""
    budget_left = attempt < policy.max_retries
    if outcome.failure is not None:
        return _decide_failure(outcome.failure, attempt, idempotent, policy, jitter)
    status = outcome.status or 0
    forced = _header(outcome.headers, "x-should-retry") == "true"
    if not idempotent and status >= 500 and not forced:
        return AMBIGUOUS
    retryable = should_retry(status, outcome.headers)
    safe = idempotent or forced or status in SAFE_WRITE_RETRY_STATUSES
    if not (retryable and safe):
        return RAISE
    delay = retry_delay(outcome.headers, attempt, policy, jitter)
    if status == 429 and outcome.progressed and policy.max_retries > 0:
        return Decision(retry=True, delay=delay, charged=False)
    if budget_left:
        return Decision(retry=True, delay=delay)
    return Decision(retry=False, gave_up=attempt > 0)


def _decide_failure(
    failure: Failure, attempt: int, idempotent: bool, policy: RetryPolicy, jitter: float
) -> Decision:
    if failure is Failure.FATAL:
        return RAISE
    if failure is Failure.MAYBE_SENT and not idempotent:
        return AMBIGUOUS
    if failure is Failure.REFUSED:
        if attempt == 0 and policy.max_retries > 0:
            return Decision(retry=True, delay=QUICK_RETRY_DELAY)
        return Decision(retry=False, gave_up=attempt > 0)
    if attempt < policy.max_retries:
        return Decision(retry=True, delay=retry_delay({}, attempt, policy, jitter))
    return Decision(retry=False, gave_up=attempt > 0)


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """The SDK's rule: `x-should-retry` first, then 408/409/429/>=500."""
    header = _header(headers, "x-should-retry")
    if header == "true":
        return True
    if header == "false":
        return False
    return status in RETRYABLE_STATUSES or status >= 500


def retry_delay(headers: Mapping[str, str], attempt: int, policy: RetryPolicy, jitter: float) -> float:
    """The server's hint when it lies in (0, MAX_RETRY_AFTER] s, else jittered exponential backoff."""
    hint = retry_after(headers)
    if hint is not None and 0 < hint <= MAX_RETRY_AFTER:
        return hint
    backoff = min(policy.backoff_base * 2.0**attempt, policy.backoff_max)
    return backoff * (1 - 0.25 * jitter)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms`, else `retry-after` (a number of seconds or an HTTP date); None if
    absent or unparseable."""
    value = _header(headers, "retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000.0
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when.timestamp() - time.time()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its lower-case name (httpx.Headers match any case; plain dicts must use lower case);
    `x-should-retry` is compared lower-cased."""
    value = headers.get(name)
    return value.strip().lower() if value is not None and name == "x-should-retry" else value
