"""The retry decision as a table (`retry.decide`, `retry_delay`, `retry_after`), and the shared 429 gate and
the adaptive concurrency limit on their own (`pacing`). Pure values: no server is needed."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from reconciler.client.pacing import AdaptiveLimit, RateGate
from reconciler.client.retry import (
    QUICK_RETRY_DELAY,
    Decision,
    Failure,
    Outcome,
    RetryPolicy,
    decide,
    retry_after,
    retry_delay,
)

POLICY = RetryPolicy(max_retries=3, backoff_base=0.5, backoff_max=8.0)
RETRY_HALF = Decision(retry=True, delay=0.5)  # backoff at attempt 0 with jitter 0
RAISE = Decision(retry=False)
GAVE_UP = Decision(retry=False, gave_up=True)
AMBIGUOUS = Decision(retry=False, ambiguous=True)
NOT_SENT, REFUSED, MAYBE_SENT, FATAL = Failure.NOT_SENT, Failure.REFUSED, Failure.MAYBE_SENT, Failure.FATAL


def status(code: int, **headers: str) -> Outcome:
    return Outcome(status=code, headers={k.replace("_", "-"): v for k, v in headers.items()})


@pytest.mark.parametrize(
    ("outcome", "attempt", "idempotent", "expected"),
    [
        # statuses the SDK retries, for any call
        (status(500), 0, True, RETRY_HALF),
        (status(503), 0, True, RETRY_HALF),
        (status(408), 0, True, RETRY_HALF),
        (status(409), 0, False, RETRY_HALF),
        (status(429, retry_after_ms="250"), 0, False, Decision(retry=True, delay=0.25)),
        # statuses never retried
        (status(400), 0, True, RAISE),
        (status(401), 0, True, RAISE),
        (status(404), 0, True, RAISE),
        (status(422), 0, False, RAISE),
        # x-should-retry overrides the status
        (status(400, x_should_retry="true"), 0, True, RETRY_HALF),
        (status(503, x_should_retry="false"), 0, True, RAISE),
        (status(500, x_should_retry="TRUE"), 0, False, RETRY_HALF),
        # a write answered >= 500 may have happened
        (status(500), 0, False, AMBIGUOUS),
        (status(503, x_should_retry="false"), 0, False, AMBIGUOUS),
        # the budget
        (status(500), 2, True, Decision(retry=True, delay=2.0)),
        (status(500), 3, True, GAVE_UP),
        (status(429), 3, False, GAVE_UP),
        (status(400), 3, True, RAISE),
        # a 429 while other requests got answers is a fair-share wait: retried free of the budget
        (
            Outcome(status=429, headers={"retry-after-ms": "250"}, progressed=True),
            3,
            False,
            Decision(retry=True, delay=0.25, charged=False),
        ),
        (Outcome(status=500, progressed=True), 3, True, GAVE_UP),
        # transport failures
        (Outcome(failure=NOT_SENT), 0, False, RETRY_HALF),
        (Outcome(failure=NOT_SENT), 3, True, GAVE_UP),
        (Outcome(failure=MAYBE_SENT), 0, True, RETRY_HALF),
        (Outcome(failure=MAYBE_SENT), 0, False, AMBIGUOUS),
        (Outcome(failure=MAYBE_SENT), 3, True, GAVE_UP),
        (Outcome(failure=FATAL), 0, True, RAISE),
        # a refusal before the server ever answered: one quick retry, then done
        (Outcome(failure=REFUSED), 0, True, Decision(retry=True, delay=QUICK_RETRY_DELAY)),
        (Outcome(failure=REFUSED), 0, False, Decision(retry=True, delay=QUICK_RETRY_DELAY)),
        (Outcome(failure=REFUSED), 1, True, GAVE_UP),
    ],
)
def test_decide(outcome: Outcome, attempt: int, idempotent: bool, expected: Decision) -> None:
    assert decide(outcome, attempt=attempt, idempotent=idempotent, policy=POLICY, jitter=0.0) == expected


def test_no_budget_means_no_retry_not_even_a_quick_one() -> None:
    none = RetryPolicy(max_retries=0)
    for outcome in (status(500), status(429), Outcome(failure=NOT_SENT), Outcome(failure=REFUSED)):
        assert decide(outcome, attempt=0, idempotent=True, policy=none, jitter=0.0) == RAISE


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "60"}, 60.0),
    ],
)
def test_server_hints_in_range_are_the_delay(headers: dict[str, str], expected: float) -> None:
    assert retry_delay(headers, 0, POLICY, 0.7) == pytest.approx(expected)


def test_an_http_date_retry_after_is_honoured() -> None:
    headers = {"retry-after": email.utils.formatdate(time.time() + 30, usegmt=True)}
    assert 28 <= retry_delay(headers, 0, POLICY, 0.0) <= 30


@pytest.mark.parametrize(
    "headers", [{"retry-after": "61"}, {"retry-after": "0"}, {"retry-after": "soon"}, {}]
)
@pytest.mark.parametrize("attempt", range(7))
def test_out_of_range_hints_fall_back_to_jittered_backoff(headers: dict[str, str], attempt: int) -> None:
    ceiling = min(0.5 * 2**attempt, 8.0)
    assert retry_delay(headers, attempt, POLICY, 0.0) == ceiling
    assert retry_delay(headers, attempt, POLICY, 0.999) == pytest.approx(ceiling * (1 - 0.25 * 0.999))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after-ms": "x", "retry-after": "2"}, 2.0), ({"retry-after": "Not a date"}, None), ({}, None)],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers) == expected


def test_a_policy_refuses_a_negative_budget() -> None:
    with pytest.raises(ValueError, match="max_retries must be >= 0"):
        RetryPolicy(max_retries=-1)


class FakeTime:
    """A clock and a sleep that advances it: the gate's waits, observed without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)


@pytest.mark.anyio
async def test_the_gate_holds_everyone_then_paces_them() -> None:
    fake = FakeTime()
    gate = RateGate(clock=fake.clock, sleep=fake.sleep)
    await gate.wait()
    assert fake.sleeps == []
    gate.rate_limited(5.0)
    await gate.wait()
    assert fake.sleeps == [5.0]
    await gate.wait()  # while pacing: one at a time, the hint (capped at 1 s) apart
    assert fake.sleeps == [5.0, 1.0]
    fake.now += 10  # no 429 for a while: the gate is open again
    await gate.wait()
    assert fake.sleeps == [5.0, 1.0]


@pytest.mark.anyio
async def test_the_adaptive_limit_halves_once_per_round_and_grows_by_one_per_window() -> None:
    limit = AdaptiveLimit(maximum=16)
    async with limit.slot() as first, limit.slot() as second:
        assert limit.in_flight == 2
        limit.rate_limited(first)
        limit.rate_limited(second)  # taken in the same round: no second halving
    assert limit.limit == 8
    async with limit.slot() as third:
        limit.rate_limited(third)
    assert limit.limit == 4
    for _ in range(4):
        limit.succeeded()
    assert limit.limit == 5
    for _ in range(1000):
        limit.succeeded()
    assert limit.limit == 16


@pytest.mark.anyio
async def test_the_adaptive_limit_bounds_requests_in_flight() -> None:
    limit = AdaptiveLimit(maximum=2)
    peak = 0

    async def one() -> None:
        nonlocal peak
        async with limit.slot():
            peak = max(peak, limit.in_flight)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(one() for _ in range(10)))
    assert peak == 2 and limit.in_flight == 0
