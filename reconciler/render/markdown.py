"""The markdown rendering of a Plan, for pull-request comments.

Layout: the hidden marker `<!-- reconciler:plan -->` (so CI can update one comment in place), the summary
line, a warning banner when anything is destroyed, a caution listing drift (edits made outside reconciler
that the plan overwrites), notes (targets, safety warnings), one `<details>` section
per create/update/delete with a `diff` fence, a `knowledge files` section when files are uploaded or deleted
(`render/files.py`), then orphans and the unmanaged count.

The whole text stays under `limit` characters (65,000 by default; GitHub's comment limit is 65,536): whole
sections are left out from the first that does not fit, with a notice saying how many; a fence is never cut.
A single section too big on its own has its diff shortened, with the notice outside the fence.
"""

from __future__ import annotations

import json
import re
from typing import TextIO

from reconciler.kinds import kind_named
from reconciler.plan import Change, Plan
from reconciler.render.body import (
    DRIFT_ADVICE,
    DRIFT_TITLE,
    Line,
    change_lines,
    drift_line,
    header,
    kind_summary_lines,
    summary_line,
    unmanaged_lines,
)
from reconciler.render.files import SECTION_TITLE, files_summary_line, plan_file_lines

MARKER = "<!-- reconciler:plan -->"
LIMIT = 65_000
#: A section is shortened, rather than left out, when at least this much room is left for it.
MIN_SHORTENED = 2_000


def render_plan(plan: Plan, out: TextIO, *, color: bool = False, limit: int = LIMIT) -> None:
    """Write the markdown rendering of `plan` to `out`, in fewer than `limit` characters (never coloured)."""
    head = [MARKER, f"**{summary_line(plan)}**", ""]
    head[-1:-1] = [f"**{line}**" for line in kind_summary_lines(plan)]
    files_line = files_summary_line(plan)
    if files_line is not None:
        head[-1:-1] = [f"**{files_line}**"]
    for part in plan.by_kind:
        head += _destroy_warning(part)
    if plan.drift:
        head += ["> [!CAUTION]", f"> **{DRIFT_TITLE}:**"]
        head += [f"> - {_escape(drift_line(item))}" for item in plan.drift]
        head += [">", f"> {DRIFT_ADVICE}", ""]
    if plan.targets:
        head += [f"> **Note:** targeted plan: only {', '.join(f'`{t}`' for t in plan.targets)}.", ""]
    for warning in plan.warnings:
        head += [f"> **Warning:** {warning}", ""]

    tail: list[str] = []
    file_lines = plan_file_lines(plan)
    if file_lines:
        body = "\n".join(f"{sign} {text}" for sign, text in file_lines)
        fence = "`" * max(3, _longest_backtick_run(body) + 1)
        tail += [f"<details><summary>{SECTION_TITLE}</summary>", "", f"{fence}diff", body, fence, ""]
        tail += ["</details>", ""]
    for part in plan.by_kind:
        tail += _orphan_lines(part)
    for line in unmanaged_lines(plan):
        tail += [line, ""]

    head_text = "\n".join(head) + "\n"
    tail_text = "\n".join(tail) + ("\n" if tail else "")
    sections = [_section(c) for c in plan.actionable]
    # Room for the sections, keeping space for a notice.
    budget = limit - len(head_text) - len(tail_text) - 200
    kept: list[str] = []
    used = 0
    for i, change in enumerate(plan.actionable):
        if used + len(sections[i]) <= budget:
            kept.append(sections[i])
            used += len(sections[i])
            continue
        left_out = len(sections) - i
        if budget - used >= MIN_SHORTENED:
            kept.append(_section(change, budget - used))
            left_out -= 1
        if left_out:
            noun = _noun_of(plan, left_out)
            kept.append(
                f"> **Note:** {left_out} more {noun} not shown: this comment is limited to "
                f"{limit:,} characters. Run `reconciler plan` for the full plan.\n\n"
            )
        break
    out.write(head_text + "".join(kept) + tail_text)


def _destroy_warning(plan: Plan) -> list[str]:
    """The banner naming every object of one kind's plan that is destroyed (none: no lines)."""
    deletes = [c for c in plan.changes if c.action == "delete"]
    if not deletes:
        return []
    names = ", ".join(f"`{c.key}` ({c.id})" for c in deletes)
    noun = kind_named(plan.kind).noun(len(deletes))
    return ["> [!WARNING]", f"> This plan **destroys {len(deletes)} {noun}**: {names}.", ""]


def _orphan_lines(plan: Plan) -> list[str]:
    """The managed objects of one kind's plan no manifest names (none: no lines)."""
    if not plan.orphans:
        return []
    kind = kind_named(plan.kind)
    noun = f"{kind.name} has" if len(plan.orphans) == 1 else f"{kind.plural} have"
    lines = [f"{len(plan.orphans)} managed {noun} no manifest (plan with `--prune` to destroy):", ""]
    lines += [f"- `{o.key}` ({o.id})" + (f" {_name(o.name)}" if o.name else "") for o in plan.orphans]
    return [*lines, ""]


def _noun_of(plan: Plan, count: int) -> str:
    """`assistant(s)` for a plan of one kind, `change(s)` for several."""
    if plan.parts:
        return "change" if count == 1 else "changes"
    return kind_named(plan.kind).noun(count)


def _section(change: Change, room: int | None = None) -> str:
    """One `<details>` section; with `room`, its diff is shortened to fit and says so outside the fence."""
    lines = [_diff_line(line) for line in change_lines(change)]
    opener = "~" if change.action == "update" else ("+" if change.action == "create" else "-")
    summary = f"<details><summary>{opener} {_escape(header(change))}</summary>\n\n"
    notice = ""
    if room is not None:
        total = len(lines)
        fixed = len(summary) + 300
        while lines and fixed + sum(len(x) + 1 for x in lines) > room:
            lines = lines[: max(len(lines) * 3 // 4, 0)] if len(lines) > 8 else lines[:-1]
        notice = f"_Diff shortened: {len(lines)} of {total} lines shown._\n\n"
    body = "\n".join(lines)
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    return f"{summary}{fence}diff\n{body}\n{fence}\n\n{notice}</details>\n\n"


def _diff_line(line: Line) -> str:
    """A body line with its sign in column 0, so GitHub's diff highlighting colours it."""
    return f"{line.sign} {'  ' * line.depth}{line.text}".rstrip()


def _name(name: str) -> str:
    """A server's name as a JSON string in an inline code span fenced by more backticks than it holds: a line
    break or markdown in it cannot become lines or markdown of the comment."""
    text = json.dumps(name, ensure_ascii=False)
    fence = "`" * (_longest_backtick_run(text) + 1)
    return f"{fence}{text}{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
