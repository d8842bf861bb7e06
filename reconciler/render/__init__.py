"""Renderers: siblings that take a Plan (or an apply report) and a file handle; they never call the API.

`PLAN_FORMATS` maps each `plan --format` name to its renderer. Every plan renderer is called as
`render(plan, out, color=...)`; only the text one uses colour.
"""

from __future__ import annotations

from typing import Protocol, TextIO

from reconciler.plan import Plan
from reconciler.render import json, markdown, text


class PlanRenderer(Protocol):
    def __call__(self, plan: Plan, out: TextIO, *, color: bool = False) -> None: ...


#: `--format` name -> renderer; the order is the one `--help` lists.
PLAN_FORMATS: dict[str, PlanRenderer] = {
    "text": text.render_plan,
    "markdown": markdown.render_plan,
    "json": json.render_plan,
}


def render_plan(plan: Plan, out: TextIO, fmt: str = "text", *, color: bool = False) -> None:
    """Render `plan` to `out` in `fmt` (a key of `PLAN_FORMATS`; ValueError for any other)."""
    try:
        renderer = PLAN_FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown plan format {fmt!r} (expected one of {', '.join(PLAN_FORMATS)})") from None
    renderer(plan, out, color=color)
