"""Renderers: siblings that take a Plan (or an apply report) and a file handle; they never call the API.

`PLAN_FORMATS` maps each `plan --format` name to the module of its renderer, imported when it is used (a
plan shown as JSON does not import the text and markdown renderers). Every plan renderer is a module's
`render_plan(plan, out, color=...)`; only the text one uses colour.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from reconciler.plan import Plan

#: `--format` name -> the module of its renderer; the order is the one `--help` lists.
PLAN_FORMATS: dict[str, str] = {
    "text": "reconciler.render.text",
    "markdown": "reconciler.render.markdown",
    "json": "reconciler.render.json",
}


def render_plan(plan: Plan, out: TextIO, fmt: str = "text", *, color: bool = False) -> None:
    """Render `plan` to `out` in `fmt` (a key of `PLAN_FORMATS`; ValueError for any other)."""
    try:
        module = PLAN_FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown plan format {fmt!r} (expected one of {', '.join(PLAN_FORMATS)})") from None
    importlib.import_module(module).render_plan(plan, out, color=color)
