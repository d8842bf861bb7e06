"""`reconciler apply`: with a saved plan, check it is current and apply exactly it; without, plan as `plan`
does, show it, ask, apply. One client serves the whole command.

Streams: with `fmt="text"` the plan and the report go to stdout; with `fmt="json"` stdout carries only the
JSON report (`render/report.py`), and the plan rendering and the question go to stderr. Progress (runs of
more than PROGRESS_MIN_CHANGES changes) goes to stderr: a live counter on a TTY, else one line per change.
Refusals and errors before any write raise ReconcilerError (one line).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from reconciler import lock, planfile
from reconciler.connection import open_client
from reconciler.errors import ReconcilerError
from reconciler.options import ApplyOptions, ConnectionOptions, PlanOptions
from reconciler.plan import Plan, check_safety
from reconciler.render import render_plan
from reconciler.results import ApplyReport, ChangeResult, Progress
from reconciler.usecases.planning import load_manifests, plan_with

if TYPE_CHECKING:
    from reconciler.client import Client

#: Progress appears on stderr only for runs with more than this many changes.
PROGRESS_MIN_CHANGES = 5
#: The question apply asks on a TTY; only `yes` goes on.
APPROVAL_PROMPT = "Do you want to perform these actions? Only 'yes' will be accepted:"


async def apply_saved(plan_file: Path, connection: ConnectionOptions, options: ApplyOptions) -> bool:
    """`reconciler apply PLAN_FILE`: load the saved plan, refuse it when stale (re-listed; nothing written)
    or over the delete limits without `force`, then apply exactly that plan without asking. True when every
    change succeeded and the server kept every field."""
    the_plan = planfile.load(plan_file)
    show = _plan_stream(options)
    with lock.hold(connection, options.lock_timeout, _note):
        async with open_client(connection) as client:
            await planfile.check_stale(client, the_plan)
            check_safety(the_plan, force=options.force)
            if not the_plan.has_changes:
                show.write("No changes. The saved plan has nothing to apply.\n")
                return _finish(ApplyReport(results=()), options)
            report = await _execute(client, the_plan, options)
    return _finish(report, options)


async def apply_manifests(
    directory: Path, connection: ConnectionOptions, plan_options: PlanOptions, options: ApplyOptions
) -> bool:
    """`reconciler apply`: plan as `plan` does and show it; with nothing to change, True with zero writes;
    refuse unsafe deletes without `force`; then ask APPROVAL_PROMPT when stdin is a TTY (anything but `yes`
    cancels: `Apply cancelled.`, False) or, when it is not, refuse unless `auto_approve`; then apply."""
    loaded = load_manifests(directory, plan_options.environment)
    show = _plan_stream(options)
    with lock.hold(connection, options.lock_timeout, _note):
        async with open_client(connection) as client:
            the_plan = await plan_with(client, loaded, plan_options)
            render_plan(the_plan, show, "text", color=options.color and show.isatty())
            if not the_plan.has_changes:  # the rendering already said "No changes."
                return _finish(ApplyReport(results=()), options)
            check_safety(the_plan, force=options.force)
            if not options.auto_approve and not _approved(show):
                click.echo("Apply cancelled.", err=True)
                return False
            report = await _execute(client, the_plan, options)
    return _finish(report, options)


def _note(line: str) -> None:
    click.echo(line, err=True)


def _plan_stream(options: ApplyOptions) -> TextIO:
    """Where the plan and the question go: stderr when stdout carries the JSON report."""
    return sys.stderr if options.fmt == "json" else sys.stdout


def _finish(report: ApplyReport, options: ApplyOptions) -> bool:
    """Print the report (JSON: always; text: when anything ran) and return `report.ok`."""
    from reconciler.render.report import render_report, render_report_json

    if options.fmt == "json":
        render_report_json(report, sys.stdout)
    elif report.results or report.files:
        sys.stdout.write("\n")
        render_report(report, sys.stdout, color=options.color)
    return report.ok


def _approved(stream: TextIO) -> bool:
    """Ask APPROVAL_PROMPT on `stream` when stdin is a TTY; True only for `yes`. Without a TTY, raise."""
    if not sys.stdin.isatty():
        raise ReconcilerError(
            "stdin is not a terminal, so apply cannot ask for approval: pass --auto-approve to apply "
            "without asking, or apply a saved plan file"
        )
    stream.write(f"\n{APPROVAL_PROMPT} ")
    stream.flush()
    answer = sys.stdin.readline()
    return answer.strip() == "yes"


async def _execute(client: Client, the_plan: Plan, options: ApplyOptions) -> ApplyReport:
    """Run the plan's changes with progress on stderr for runs of more than PROGRESS_MIN_CHANGES changes."""
    from reconciler.apply import Executor

    total = len(the_plan.actionable)
    progress = _progress(sys.stderr) if total > PROGRESS_MIN_CHANGES else None
    executor = Executor(
        client,
        parallelism=options.parallelism,
        progress=progress,
        notes=_note,
        settle_window=options.settle_seconds,
    )
    return await executor.run(the_plan)


def _progress(stream: TextIO) -> Progress:
    """A progress callback: on a TTY one live `Applying: done/total` counter, else one line per change."""
    from reconciler.render.report import result_line

    live = stream.isatty()
    failed = 0

    def progress(done: int, total: int, result: ChangeResult) -> None:
        nonlocal failed
        failed += result.failed
        if live:
            note = f", {failed} failed" if failed else ""
            stream.write(f"\rApplying: {done}/{total} done{note}" + ("\n" if done == total else ""))
        else:
            stream.write(f"[{done}/{total}] {result_line(result)}\n")
        stream.flush()

    return progress
