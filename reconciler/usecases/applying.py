"""`reconciler apply`: with a saved plan, check it is current and apply exactly it; without, plan as `plan`
does, show it, ask, apply. One client serves the whole command.

Streams: with `fmt="text"` the plan and the report go to stdout; with `fmt="json"` stdout carries only the
JSON report (`render/report.py`), and the plan rendering and the question go to stderr. Progress (runs of
more than PROGRESS_MIN_CHANGES changes) goes to stderr: a live counter on a TTY, else one line per change.
Refusals and errors before any write raise ReconcilerError (one line). The API key is masked in everything
printed (an assistant on the server may hold it in its own fields). Ctrl-C or SIGTERM during the changes
stops apply cleanly (`usecases.stopping`).
"""

from __future__ import annotations

import dataclasses
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from reconciler import lock, planfile, staleness
from reconciler.connection import open_client
from reconciler.drift import fields_phrase, objects_phrase
from reconciler.errors import ReconcilerError
from reconciler.options import ApplyOptions, ConnectionOptions, PlanOptions
from reconciler.plan import Plan, check_safety
from reconciler.redact import mask
from reconciler.results import ApplyReport, ChangeResult, Progress
from reconciler.usecases import stopping
from reconciler.usecases.planning import agents_directory, load_checked, plan_with, show_plan

if TYPE_CHECKING:
    from reconciler.client import Client

#: Progress appears on stderr only for runs with more than this many changes.
PROGRESS_MIN_CHANGES = 5
#: The question apply asks on a TTY; only `yes` goes on.
APPROVAL_PROMPT = "Do you want to perform these actions? Only 'yes' will be accepted:"


@dataclass(frozen=True)
class _Run:
    """What one apply prints with: its options, whether it runs a saved plan, and the key to mask."""

    options: ApplyOptions
    saved: bool
    secret: str | None

    @property
    def plan_stream(self) -> TextIO:
        """Where the plan and the question go: stderr when stdout carries the JSON report."""
        return sys.stderr if self.options.fmt == "json" else sys.stdout

    def say(self, line: str) -> None:
        """One line to stderr, key masked."""
        click.echo(mask(line, self.secret), err=True)


async def apply_saved(plan_file: Path, connection: ConnectionOptions, options: ApplyOptions) -> bool:
    """`reconciler apply PLAN_FILE`: load the saved plan; before any call, refuse it when made for another
    environment or target or when a local file it uploads changed; then refuse it when it would touch an
    assistant that is not its own or is stale (re-listed), with drift protection when it overwrites edits
    made outside reconciler (`refuse_drift`, as the plan recorded them), or when it is over the delete
    limits without `force` (nothing written); then apply exactly that plan without asking. True when every
    change succeeded and the server kept every field."""
    saved = planfile.load(plan_file)
    planfile.check_environment(saved, connection.environment)
    planfile.check_target(saved, connection)
    planfile.check_local_files(saved.plan)
    run = _Run(options, saved=True, secret=connection.api_key())
    with lock.hold(connection, options.lock_timeout, run.say):
        async with open_client(connection) as client:
            plan, done = await staleness.check_stale(client, saved.plan)
            refuse_drift(plan, run, connection.environment)
            check_safety(plan, force=options.force)
            if done:
                run.say(staleness.applied_already(done, left=plan.has_changes))
            if plan.has_changes:
                report = await _execute(client, plan, run)
            else:
                if not done:
                    run.plan_stream.write("No changes. The saved plan has nothing to apply.\n")
                report = ApplyReport(results=())
    return _finish(report, run)


async def apply_manifests(
    directory: Path, connection: ConnectionOptions, plan_options: PlanOptions, options: ApplyOptions
) -> bool:
    """`reconciler apply`: plan as `plan` does and show it; with nothing to change, True with zero writes;
    refuse drift (`refuse_drift`) with `protect_drift`, and unsafe deletes without `force`; then ask
    APPROVAL_PROMPT when stdin is a TTY (anything but `yes` cancels: `Apply cancelled.`, False) or, when it
    is not, refuse unless `auto_approve`; then apply."""
    agents_dir = agents_directory(directory, plan_options.agents_dir)
    loaded, agents = load_checked(directory, agents_dir, plan_options, connection)
    run = _Run(options, saved=False, secret=connection.api_key())
    show = run.plan_stream
    with lock.hold(connection, options.lock_timeout, run.say):
        async with open_client(connection) as client:
            # Applied at once, never saved: no fingerprints (`PlanOptions.fingerprints`).
            unsaved = dataclasses.replace(plan_options, fingerprints=False)
            the_plan = await plan_with(client, loaded, unsaved, agents=agents)
            show_plan(the_plan, show, "text", color=options.color and show.isatty(), secret=run.secret)
            if not the_plan.has_changes:  # the rendering already said "No changes."
                return _finish(ApplyReport(results=()), run)
            refuse_drift(the_plan, run, connection.environment)
            check_safety(the_plan, force=options.force)
            if not options.auto_approve and not _approved(show):
                click.echo("Apply cancelled.", err=True)
                return False
            report = await _execute(client, the_plan, run)
    return _finish(report, run)


def refuse_drift(plan: Plan, run: _Run, environment: str | None) -> None:
    """With `protect_drift`, when `plan` overwrites edits made outside reconciler: a line per assistant on
    stderr naming the fields, then ReconcilerError (before any write)."""
    if not run.options.protect_drift or not plan.drift:
        return
    for item in plan.drift:
        run.say(
            f"{item.key} ({item.id}): apply would overwrite {fields_phrase(item.fields)}, edited outside "
            f"reconciler after the last apply ({item.since})"
        )
    accept = "reconciler accept" + (f" --env {environment}" if environment else "")
    raise ReconcilerError(
        f"drift protection: {objects_phrase(plan.drift)} edited outside reconciler; nothing was applied; "
        f"keep the edits with `{accept}`, or apply without drift protection to overwrite them"
    )


def _finish(report: ApplyReport, run: _Run) -> bool:
    """Print the report (JSON: always; text: when anything ran), key masked, and return `report.ok`."""
    from reconciler.render.report import render_report, render_report_json

    buffer = io.StringIO()
    if run.options.fmt == "json":
        render_report_json(report, buffer)
    elif report.results or report.files or report.interrupted:
        buffer.write("\n")
        render_report(report, buffer, color=run.options.color, saved=run.saved)
    sys.stdout.write(mask(buffer.getvalue(), run.secret))
    sys.stdout.flush()
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


async def _execute(client: Client, the_plan: Plan, run: _Run) -> ApplyReport:
    """Run the plan's changes with progress on stderr for runs of more than PROGRESS_MIN_CHANGES changes;
    stopped cleanly by Ctrl-C or SIGTERM (`usecases.stopping`)."""
    from reconciler.apply import Executor

    total = len(the_plan.actionable)
    shown = _progress(sys.stderr, run.secret) if total > PROGRESS_MIN_CHANGES else None
    finished: list[ChangeResult] = []

    def progress(done: int, total: int, result: ChangeResult) -> None:
        finished.append(result)
        if shown is not None:
            shown(done, total, result)

    def quit_now(report: ApplyReport) -> None:
        run.say("Interrupted again: quitting now.")
        _finish(report, run)
        sys.stderr.flush()
        os._exit(1)

    executor = Executor(
        client,
        parallelism=run.options.parallelism,
        progress=progress,
        notes=run.say,
        settle_window=run.options.settle_seconds,
    )
    return await stopping.run_stoppable(executor, the_plan, finished, say=run.say, quit_now=quit_now)


def _progress(stream: TextIO, secret: str | None) -> Progress:
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
            stream.write(mask(f"[{done}/{total}] {result_line(result)}\n", secret))
        stream.flush()

    return progress
