"""Stopping apply cleanly on Ctrl-C or SIGTERM.

The first signal stops the executor from starting further changes (`Executor.stop`) and waits at most
`STOP_GRACE_SECONDS` for the changes in flight; those still running then are cancelled and reported as
**unknown** (the server may have committed them), the ones never sent as **not started**, next to every
result that did come back (`ApplyReport.interrupted`). A second signal exits at once (exit code 1) with the
same report of what is known so far. Uploads still running when the grace period ends are cancelled too; they
are found again, by content, by the next plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from reconciler.apply import in_flight_key
from reconciler.results import ApplyReport, ChangeResult, Interruption, Pending

if TYPE_CHECKING:
    from reconciler.apply import Executor
    from reconciler.plan import Plan

#: How long apply waits, after the first Ctrl-C or SIGTERM, for the changes in flight to finish.
STOP_GRACE_SECONDS = 10.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def interruption(plan: Plan, executor: Executor, finished: Sequence[ChangeResult]) -> Interruption:
    """What is not known of `plan`'s changes: running in `executor` now (unknown), or not started."""
    done = {(r.kind, r.key, r.action) for r in finished}
    running = executor.in_flight
    unknown: list[Pending] = []
    not_started: list[Pending] = []
    for change in plan.actionable:
        if (change.kind, change.key, change.action) in done:
            continue
        pending = Pending(change.key, change.action, change.id, change.kind)
        (unknown if in_flight_key(change) in running else not_started).append(pending)
    return Interruption(tuple(unknown), tuple(not_started))


@contextlib.contextmanager
def _signals(handler: Callable[[], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to `handler` in the running loop; the previous handling is restored after."""
    loop = asyncio.get_running_loop()
    installed = []
    try:
        for sig in SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
                loop.add_signal_handler(sig, handler)
                installed.append(sig)
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_stoppable(
    executor: Executor,
    plan: Plan,
    finished: Sequence[ChangeResult],
    *,
    say: Callable[[str], None],
    quit_now: Callable[[ApplyReport], None],
    grace: float = STOP_GRACE_SECONDS,
) -> ApplyReport:
    """`executor.run(plan)`, stopped cleanly by a signal (module docstring). `finished` fills with each result
    as it comes (the executor's progress callback); `say` tells the user what happens; `quit_now` is called
    with the report so far on a second signal and must exit."""
    task = asyncio.ensure_future(executor.run(plan))
    stopping = asyncio.Event()

    def on_signal() -> None:
        if stopping.is_set():
            partial = ApplyReport(tuple(finished), interrupted=interruption(plan, executor, finished))
            quit_now(partial)
        stopping.set()
        say(
            f"Stopping: no new changes; waiting up to {grace:.0f} s for {len(executor.in_flight)} in flight "
            "(press Ctrl-C again to quit at once)."
        )

    with _signals(on_signal):
        waiter = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            return task.result()
        executor.stop()
        await asyncio.wait({task}, timeout=grace)
        if task.done():
            report = task.result()
        else:
            stopped = interruption(plan, executor, finished)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            report = ApplyReport(tuple(finished), interrupted=stopped)
    if report.interrupted is None:
        report = dataclasses.replace(report, interrupted=interruption(plan, executor, report.results))
    assert report.interrupted is not None
    if not report.interrupted.unknown and not report.interrupted.not_started:
        return dataclasses.replace(report, interrupted=None)  # the signal came after the last change
    return report
