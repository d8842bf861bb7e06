"""The Terraform-like text rendering of a Plan (the default `plan` output).

      # assistant "hr-helper" (asst_abc123) will be updated in-place
      ~ assistant "hr-helper" {
          ~ model = "gpt-4" -> "gpt-4-turbo"
            (9 unchanged fields hidden)
        }

    Plan: 0 to add, 1 to change, 0 to destroy.

First, when the plan overwrites edits made outside reconciler, those edits (`DRIFT_TITLE`, docs/drift.md).
Only creates, updates and deletes are shown; then knowledge files to upload or delete (`render/files.py`),
orphans (when not pruning), the unmanaged count, a note for targeted plans, warnings, the summary line and,
when files are uploaded or deleted, a `Files: ...` line. Colour (ANSI) only with `color=True`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

import click

from reconciler.kinds import kind_named
from reconciler.plan import Orphan, Plan
from reconciler.render.body import (
    DRIFT_ADVICE,
    DRIFT_TITLE,
    Line,
    action_sign,
    change_lines,
    drift_line,
    header,
    kind_summary_lines,
    summary_line,
    unmanaged_lines,
)
from reconciler.render.files import SECTION_TITLE, files_summary_line, plan_file_lines, quoted

_COLOURS = {"+": "green", "-": "red", "~": "yellow"}


def render_plan(plan: Plan, out: TextIO, *, color: bool = False) -> None:
    """Write the text rendering of `plan` to `out`."""

    def paint(text: str, sign: str = " ", bold: bool = False) -> str:
        if not color:
            return text
        return click.style(text, fg=_COLOURS.get(sign), bold=bold or None)

    write = out.write
    actionable = plan.actionable
    file_lines = plan_file_lines(plan)
    if plan.drift:
        write(paint(f"{DRIFT_TITLE}:", "~", bold=True) + "\n")
        for item in plan.drift:
            write(f"  {drift_line(item)}\n")
        write(f"{DRIFT_ADVICE}\n\n")
    if actionable or file_lines:
        write("reconciler will perform the following actions:\n")
    for change in actionable:
        sign = action_sign(change)
        write("\n")
        write(paint(f"  # {header(change)}", bold=True) + "\n")
        write(f"  {paint(sign, sign)} {change.kind} {quoted(change.key)} {{\n")
        for line in change_lines(change):
            write(_line(line, paint) + "\n")
        write("    }\n")
    if file_lines:
        write("\n")
        write(paint(f"  # {SECTION_TITLE}", bold=True) + "\n")
        for sign, text in file_lines:
            write(f"  {paint(sign, sign)} {text}\n")
    if plan.orphans:
        if actionable or file_lines:
            write("\n")
        for part in plan.by_kind:
            _write_orphans(part.orphans, part.kind, write)
    if actionable or plan.orphans or file_lines:
        write("\n")
    for unmanaged in unmanaged_lines(plan):
        write(unmanaged + "\n")
    if plan.targets:
        noun = "assistants and agents" if plan.parts else kind_named(plan.kind).plural
        write(paint(f"Note: targeted plan: only {', '.join(plan.targets)}; other {noun} not shown.", "~"))
        write("\n")
    for warning in plan.warnings:
        write(paint(f"Warning: {warning}", "~", bold=True) + "\n")
    for kind_summary in kind_summary_lines(plan):
        write(paint(kind_summary, bold=True) + "\n")
    write(paint(summary_line(plan), bold=True) + "\n")
    files_line = files_summary_line(plan)
    if files_line is not None:
        write(paint(files_line, bold=True) + "\n")


def _write_orphans(orphans: tuple[Orphan, ...], kind_name: str, write: Callable[[str], object]) -> None:
    """The managed objects of one kind no manifest names (none: nothing)."""
    if not orphans:
        return
    kind = kind_named(kind_name)
    noun = f"{kind.name} has" if len(orphans) == 1 else f"{kind.plural} have"
    write(f"{len(orphans)} managed {noun} no manifest (plan with --prune to destroy):\n")
    for orphan in orphans:
        name = f" {quoted(orphan.name)}" if orphan.name else ""
        write(f"  {quoted(orphan.key)} ({orphan.id}){name}\n")


def _line(line: Line, paint: Callable[..., str]) -> str:
    """A body line: field-level signs in column 6 and each nested level 4 columns further, as Terraform
    nests; unsigned lines (context, closing brackets, notes) align with the text of signed ones."""
    indent = "      " + "    " * line.depth
    if line.sign == " ":
        return f"{indent}  {line.text}"
    if line.depth >= 1:
        # Diff lines and list items are coloured whole, like a unified diff.
        return paint(f"{indent}{line.sign} {line.text}", line.sign)
    return f"{indent}{paint(line.sign, line.sign)} {line.text}"
