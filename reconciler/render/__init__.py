"""Renderers: siblings that take a Plan (or an apply report) and a file handle; they never call the API.

`render_plan(plan, out, fmt, **opts)` dispatches to `text`, `markdown` or `json`.
"""

from __future__ import annotations

from typing import Any, TextIO

from reconciler.plan import Plan

FORMATS = ("text", "markdown", "json")


def render_plan(plan: Plan, out: TextIO, fmt: str = "text", **opts: Any) -> None:
    """Render `plan` to `out` in `fmt`; `opts` go to that renderer (`color`: text, `limit`: markdown)."""
    if fmt == "text":
        from reconciler.render import text

        text.render_plan(plan, out, **opts)
    elif fmt == "markdown":
        from reconciler.render import markdown

        markdown.render_plan(plan, out, **opts)
    elif fmt == "json":
        from reconciler.render import json

        json.render_plan(plan, out)
    else:
        raise ValueError(f"unknown plan format {fmt!r} (expected one of {', '.join(FORMATS)})")
