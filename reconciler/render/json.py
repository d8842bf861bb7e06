"""The JSON rendering of a Plan: exactly `Plan.data()` (docs/formats.md, schema/plan.json), keys in a
stable order, indent 2."""

from __future__ import annotations

import json
from typing import TextIO

from reconciler.plan import Plan


def render_plan(plan: Plan, out: TextIO, *, color: bool = False) -> None:
    """Write `plan.data()` as indented JSON and a final newline (never coloured)."""
    # One write: json.dump writes every token separately, which cost a second at 10,000 assistants.
    out.write(json.dumps(plan.data(), indent=2, ensure_ascii=False) + "\n")
