"""What the commands do, step by step: load manifests, connect, plan, render, save (and apply, below).

The CLI only parses options and calls these. `load_manifests` and `connect` are shared by every command that
plans; nothing here calls `exit`: errors are ReconcilerErrors for the CLI to show.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from reconciler import planner
from reconciler.errors import ReconcilerError
from reconciler.plan import Plan
from reconciler.render import render_plan

if TYPE_CHECKING:
    from reconciler.apply import ApplyReport, ChangeResult, Progress
    from reconciler.client import Client
    from reconciler.manifest import LoadedManifest


def load_manifests(directory: Path) -> list[LoadedManifest]:
    """Every manifest in `directory`. On any manifest error, prints each `FILE:LINE:COL: FIELD: message` line
    to stderr and raises ReconcilerError `N errors in DIR`; a problem with the directory itself (missing, not
    a directory, no manifests in it) is the ReconcilerError alone, one line. Notes (YAML files in subfolders,
    not read) go to stderr first."""
    from reconciler.manifest import load_directory

    result = load_directory(directory)
    for note in result.notes:
        click.echo(note, err=True)
    if len(result.errors) == 1 and result.errors[0].line is None:
        raise ReconcilerError(str(result.errors[0]))
    if result.errors:
        for error in result.errors:
            click.echo(str(error), err=True)
        noun = "error" if len(result.errors) == 1 else "errors"
        raise ReconcilerError(f"{len(result.errors)} {noun} in {directory}")
    return list(result.manifests)


def connect(*, local: bool, base_url: str | None, max_retries: int) -> Client:
    """A Client for the connection options (use as `async with`); see `connection.open_client`."""
    from reconciler.connection import open_client

    return open_client(local=local, base_url=base_url, max_retries=max_retries)


async def plan(
    *,
    directory: Path,
    local: bool,
    base_url: str | None,
    max_retries: int,
    targets: Iterable[str] = (),
    prune: bool = False,
    allow_duplicate_names: bool = False,
) -> Plan:
    """Load the manifests, connect, and plan (one list call per 100 assistants, at most one models call)."""
    loaded = load_manifests(directory)
    async with connect(local=local, base_url=base_url, max_retries=max_retries) as client:
        return await planner.make_plan(
            client, loaded, targets=targets, prune=prune, allow_duplicate_names=allow_duplicate_names
        )


def emit_plan(plan: Plan, *, fmt: str, out: Path | None, color: bool) -> None:
    """Render `plan` to stdout in `fmt`; with `out`, also save it (`plan.saved_data()`) atomically."""
    opts = {"color": color} if fmt == "text" else {}
    if out is not None:
        save_plan(plan, out)
    render_plan(plan, sys.stdout, fmt, **opts)
    if out is not None:
        click.echo(
            f"Saved the plan to {out}; run `reconciler apply {out}` to apply exactly this plan.", err=True
        )


def save_plan(plan: Plan, path: Path) -> None:
    """Write `plan.saved_data()` as JSON to `path`, atomically (a temporary file renamed into place)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise ReconcilerError(f"cannot save the plan to {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(plan.saved_data(), handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise ReconcilerError(f"cannot save the plan to {path}: {err.strerror or err}") from None


# ------------------------------------------------------------------------------------------------- apply

#: Progress appears on stderr only for runs with more than this many changes.
PROGRESS_MIN_CHANGES = 5
#: The question apply asks on a TTY; only `yes` goes on.
APPROVAL_PROMPT = "Do you want to perform these actions? Only 'yes' will be accepted:"


async def apply(
    *,
    plan_file: Path | None,
    directory: Path,
    local: bool,
    base_url: str | None,
    max_retries: int,
    targets: Iterable[str] = (),
    prune: bool = False,
    allow_duplicate_names: bool = False,
    auto_approve: bool = False,
    force: bool = False,
    parallelism: int = 8,
    fmt: str = "text",
    color: bool = False,
) -> bool:
    """`reconciler apply`. Returns True when every change succeeded and the server kept every field.

    With `plan_file`: load the saved plan, refuse it when stale (re-listed; nothing written) or over the
    delete limits without `force`, then apply exactly that plan without asking. Without: plan as `plan`
    does, show it, return True with zero writes when nothing changes, refuse unsafe deletes without `force`,
    then ask APPROVAL_PROMPT when stdin is a TTY (anything but `yes` cancels: `Apply cancelled.`, False)
    or, when it is not, refuse unless `auto_approve`.

    Streams: with `fmt="text"` the plan and the report go to stdout; with `fmt="json"` stdout carries only the
    JSON report (`render/report.py`), and the plan rendering and the question go to stderr. Progress (runs of
    more than PROGRESS_MIN_CHANGES changes) goes to stderr: a live counter on a TTY, else one line per change.
    Refusals and errors before any write raise ReconcilerError (one line).
    """
    from reconciler.apply import ApplyReport, check_stale
    from reconciler.plan import check_safety
    from reconciler.render.report import render_report, render_report_json

    show = sys.stderr if fmt == "json" else sys.stdout
    if plan_file is not None:
        if tuple(targets) or prune or allow_duplicate_names:
            raise ReconcilerError(
                "a saved plan is applied exactly as it was made: --target, --prune and "
                "--allow-duplicate-names belong to `reconciler plan`"
            )
        the_plan = load_saved_plan(plan_file)
        async with connect(local=local, base_url=base_url, max_retries=max_retries) as client:
            await check_stale(client, the_plan)
            check_safety(the_plan, force=force)
            if the_plan.has_changes:
                report = await _execute(client, the_plan, parallelism)
            else:
                show.write("No changes. The saved plan has nothing to apply.\n")
                report = ApplyReport(results=())
    else:
        the_plan = await plan(
            directory=directory,
            local=local,
            base_url=base_url,
            max_retries=max_retries,
            targets=targets,
            prune=prune,
            allow_duplicate_names=allow_duplicate_names,
        )
        render_plan(the_plan, show, "text", color=color and show.isatty())
        if not the_plan.has_changes:  # the rendering already said "No changes."
            report = ApplyReport(results=())
        else:
            check_safety(the_plan, force=force)
            if not auto_approve and not _approved(show):
                click.echo("Apply cancelled.", err=True)
                return False
            async with connect(local=local, base_url=base_url, max_retries=max_retries) as client:
                report = await _execute(client, the_plan, parallelism)
    if fmt == "json":
        render_report_json(report, sys.stdout)
    elif report.results or report.files:
        sys.stdout.write("\n")
        render_report(report, sys.stdout, color=color)
    return report.ok


def load_saved_plan(path: Path) -> Plan:
    """The Plan saved in `path` (`plan --out`); ReconcilerError (one line) when unreadable or not a plan:
    not UTF-8, not JSON, not an object, no `format_version` (some other JSON file), or the `plan --format
    json` output, which lacks what apply needs (fingerprints)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ReconcilerError(
            f"{path}: not a saved plan: not UTF-8 text (byte {err.start + 1}){_MAKE_ONE}"
        ) from None
    except OSError as err:
        raise ReconcilerError(f"cannot read the plan file {path}: {err.strerror or err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        rest = text[err.pos :].rstrip()
        ends_early = not rest or (err.msg.startswith("Unterminated string") and "\n" not in rest)
        truncated = "; the file ends early: truncated?" if ends_early else ""
        reason = err.msg.removesuffix(" starting at")
        raise ReconcilerError(
            f"{path}:{err.lineno}:{err.colno}: not a saved plan: invalid JSON ({reason}{truncated})"
        ) from None
    if not isinstance(data, dict):
        raise ReconcilerError(f"{path}: not a saved plan: expected a JSON object{_MAKE_ONE}")
    if "format_version" not in data:
        raise ReconcilerError(f"{path}: not a saved plan: it has no format_version{_MAKE_ONE}")
    if {"changes", "summary", "unmanaged"} <= data.keys() and "managed" not in data:
        raise ReconcilerError(
            f"{path}: this is the output of `plan --format json`, which cannot be applied (it has no "
            f"fingerprints){_MAKE_ONE}"
        )
    try:
        return Plan.from_saved(data)
    except ReconcilerError as err:
        raise ReconcilerError(f"{path}: {err}") from None


_MAKE_ONE = "; save a plan with `reconciler plan --out FILE`"


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


async def _execute(client: Client, the_plan: Plan, parallelism: int) -> ApplyReport:
    """Run the plan's changes with progress on stderr for runs of more than PROGRESS_MIN_CHANGES changes."""
    from reconciler.apply import Executor

    total = len(the_plan.actionable)
    progress = _progress(sys.stderr) if total > PROGRESS_MIN_CHANGES else None
    executor = Executor(
        client, parallelism=parallelism, progress=progress, notes=lambda line: click.echo(line, err=True)
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
