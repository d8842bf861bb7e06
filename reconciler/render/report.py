"""Renderings of an ApplyReport (`reconciler.apply`): text for people, JSON for machines.

Text: one line per change in plan order, then the warnings, then one summary line:

    + support-bot: created (asst_abc123)
    ~ hr-helper: updated (asst_def456)
    - old-faq: deleted (asst_0789ab)
    ! broken: create failed: POST /assistants: 400 invalid_request_error (param 'model'): ...

    Warning: hr-helper (asst_def456): the server did not keep temperature: sent 0.5, got 1

    Apply complete! Assistants: 1 added, 1 changed, 1 destroyed.

or, when anything failed, `Apply failed: 1 of 4 changes failed (1 added, 1 changed, 1 destroyed).` and the
advice that fits every failure: `Run apply again to retry; nothing applied is lost.` only when each is worth a
retry (timeouts, 429, 5xx...), else to fix what the errors name (a refused request) or to make a new plan.
With warnings and no failure, the complete line is followed by
`Apply finished with N warnings: the server did not keep every field (see above).` For a saved plan
(`saved=True`) the advice to retry is to make a new plan: the saved one is stale once part of it is applied.

An interrupted apply (Ctrl-C, SIGTERM) adds a line per change without a result, then its own summary:

    ? slow-bot: create outcome unknown (running when apply stopped)
      later-bot: create not started

    Apply interrupted: 1 applied, 0 failed, 1 unknown, 1 not started (1 added, 0 changed, 0 destroyed).
    Run `reconciler plan` to see the state.

(the last two lines are one).

JSON (`render_report_json`), format_version "1"; keys are stable and only ever added:

    {"format_version": "1",
     "ok": false,                      # true when nothing failed and there are no warnings (exit code 0)
     "results": [{"key": "hr-helper", "id": "asst_def456", "action": "update",
                  "status": "updated",  # created | updated | deleted | failed
                  "error": null,        # the API's one-line message when status is failed
                  "warnings": ["hr-helper (asst_def456): the server did not keep temperature: ..."]}],
     "summary": {"created": 0, "updated": 1, "deleted": 0, "failed": 0},
     "warnings": 1,                    # number of warnings over all results
     "calls": {"total": 1, "by_route": {"POST /assistants/{assistant_id}": 1}}}

plus, only when the plan uploads or deletes knowledge files, `"files": [{"action": "upload" | "delete",
"path", "sha256", "id", "status": "uploaded" | "reused" | "deleted" | "failed", "error", "warnings"}]`
(uploads are listed before the changes in text, deletes after them).
"""

from __future__ import annotations

import json
from typing import TextIO

import click

from reconciler.kinds import DEFAULT, KINDS
from reconciler.plan import tally
from reconciler.render.files import result_text
from reconciler.results import STATUSES, ApplyReport, ChangeResult, FileResult, Interruption

_SYMBOL = {"created": "+", "updated": "~", "deleted": "-", "failed": "!"}
_COLOR = {"created": "green", "updated": "yellow", "deleted": "red", "failed": "red"}


def result_line(result: ChangeResult, *, color: bool = False) -> str:
    """One change's outcome, e.g. `~ hr-helper: updated (asst_def456)` or
    `! broken: create failed: <the API's one-line message>`."""
    symbol = _SYMBOL[result.status]
    ident = f" ({result.id})" if result.id else ""
    key = _label(result.key, result.kind)
    if result.failed:
        text = f"{symbol} {key}: {result.action} failed{ident}: {result.error}"
    else:
        text = f"{symbol} {key}: {result.status}{ident}"
    return click.style(text, fg=_COLOR[result.status]) if color else text


def summary_line(report: ApplyReport, *, saved: bool = False) -> str:
    """The closing line: `Apply complete! Assistants: X added, Y changed, Z destroyed.`, the failure
    summary ending with the advice that fits every failure (`next_step`), or the interruption summary."""
    counts = report.counts
    done = f"{counts['created']} added, {counts['updated']} changed, {counts['deleted']} destroyed"
    failed = counts["failed"]
    if report.interrupted is not None:
        stopped = report.interrupted
        return (
            f"Apply interrupted: {len(report.results) - failed} applied, {failed} failed, "
            f"{len(stopped.unknown)} unknown, {len(stopped.not_started)} not started ({done}). "
            "Run `reconciler plan` to see the state."
        )
    if failed:
        total = len(report.results)
        return (
            f"Apply failed: {failed} of {total} {'change' if total == 1 else 'changes'} failed ({done}). "
            f"{next_step(report, saved=saved)}"
        )
    files_failed = sum(f.failed for f in report.files)
    if files_failed:
        noun = "file operation" if len(report.files) == 1 else "file operations"
        return (
            f"Apply failed: {files_failed} of {len(report.files)} {noun} failed (assistants: {done}). "
            f"{next_step(report, saved=saved)}"
        )
    return f"Apply complete! {_done_by_kind(report.results) or f'Assistants: {done}'}."


def _label(key: str, kind: str) -> str:
    """How a result names its object: the key of an assistant, `agent KEY` for another kind."""
    return key if kind == DEFAULT.name else f"{kind} {key}"


def _done_by_kind(results: tuple[ChangeResult, ...]) -> str | None:
    """`Assistants: 1 added, ...; Agents: ...` when any result is not an assistant's, else None."""
    kinds = {r.kind for r in results}
    if kinds <= {DEFAULT.name}:
        return None
    parts = []
    for name, kind in KINDS.items():
        if name in kinds:
            counts = tally(STATUSES, (r.status for r in results if r.kind == name))
            done = f"{counts['created']} added, {counts['updated']} changed, {counts['deleted']} destroyed"
            parts.append(f"{kind.title}: {done}")
    return "; ".join(parts)


def next_step(report: ApplyReport, *, saved: bool = False) -> str:
    """What to do about the failures: retry only when every one of them is worth a retry, and never by
    applying a `saved` plan again (it is stale once part of it is applied)."""
    remedies = {r.remedy for r in (*report.results, *report.files) if r.failed}
    if "fix" in remedies:
        advice = "Fix what the errors above name, then plan and apply again"
    elif saved:
        advice = (
            "Make a new plan and apply it to retry (this saved plan was reviewed against the state before)"
        )
    elif "replan" in remedies:
        advice = "Make a new plan and review it (run plan, or apply without a saved plan)"
    else:
        advice = "Run apply again to retry"
    return f"{advice}; nothing applied is lost."


def render_report(report: ApplyReport, out: TextIO, *, color: bool = False, saved: bool = False) -> None:
    """Write the text rendering (module docstring) to `out`; knowledge-file uploads come before the changes
    and file deletes after them (`render/files.py`); `saved`: a saved plan was applied."""
    for item in report.files:
        if item.action == "upload":
            out.write(_file_line(item, color) + "\n")
    for result in report.results:
        out.write(result_line(result, color=color) + "\n")
    if report.interrupted is not None:
        _write_pending(report.interrupted, out)
    for item in report.files:
        if item.action == "delete":
            out.write(_file_line(item, color) + "\n")
    warnings = report.warnings
    if warnings:
        out.write("\n")
        for warning in warnings:
            label = click.style("Warning:", fg="yellow", bold=True) if color else "Warning:"
            out.write(f"{label} {warning}\n")
    if report.results or report.files or report.interrupted:
        out.write("\n")
    line = summary_line(report, saved=saved)
    if color:
        line = click.style(line, fg="red" if report.failed or report.interrupted else "green", bold=True)
    out.write(line + "\n")
    if warnings and not report.failed:
        noun = "warning" if len(warnings) == 1 else "warnings"
        out.write(
            f"Apply finished with {len(warnings)} {noun}: the server did not keep every field (see above).\n"
        )


def _write_pending(stopped: Interruption, out: TextIO) -> None:
    """A line per change without a result: `?` unknown outcome, blank symbol never started."""
    for item in stopped.unknown:
        out.write(
            f"? {_label(item.key, item.kind)}: {item.action} outcome unknown (running when apply stopped)\n"
        )
    for item in stopped.not_started:
        out.write(f"  {_label(item.key, item.kind)}: {item.action} not started\n")


def _file_line(item: FileResult, color: bool) -> str:
    text = result_text(item)
    status = "failed" if item.failed else ("deleted" if item.action == "delete" else "created")
    return click.style(text, fg=_COLOR[status]) if color else text


def render_report_json(report: ApplyReport, out: TextIO) -> None:
    """Write `report.data()` (module docstring) as indented JSON to `out`."""
    json.dump(report.data(), out, indent=2)
    out.write("\n")
