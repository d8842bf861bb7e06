"""The commands over every environment of reconciler.yaml: `validate` (each environment's merged manifests)
and `plan --all-envs` (one plan per environment, rendered as one document).

`validate` prints each error line once: a line every environment reports is printed as is; one only some
report (and that does not already name `environments.ENV`) ends with ` (environment ENV)`.

The combined markdown is one pull-request comment: the marker, the combined summary (one line per
environment), then one `## ENV` section per environment holding exactly the single-target rendering
(`render/markdown.py`, its size limit shared between the sections).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import click

from reconciler.connection import open_client
from reconciler.environments import Target
from reconciler.errors import ReconcilerError
from reconciler.options import PlanOptions
from reconciler.plan import Plan
from reconciler.render import markdown
from reconciler.render.body import summary_line
from reconciler.targets import split
from reconciler.usecases.planning import (
    agents_directory,
    load_checked,
    masked_plan,
    plan_with,
    save_plan,
    secret_lines,
    show_plan,
)

#: Room kept in the combined comment for its head (marker, summary lines, section titles).
_HEAD_ROOM = 2_000


def validate(targets: Sequence[Target]) -> None:
    """Check every target's merged manifests, refusing any field holding the environment's key
    (`secret_lines`, as plan refuses it). Prints `N manifests valid in DIR for ENV.` per environment,
    or every error line (once, see the module docstring) to stderr and raises `N errors in reconciler.yaml's
    environments`."""
    from reconciler.manifest import load_directory

    lines: dict[str, list[str]] = {}
    counts: list[str] = []
    for target in targets:
        result = load_directory(target.directory, selected=target.selected)
        for note in result.notes:
            click.echo(note, err=True)
        for line in [*map(str, result.errors), *secret_lines(result.manifests, target.connection)]:
            lines.setdefault(line, []).append(target.name or "")
        noun = "manifest" if len(result.manifests) == 1 else "manifests"
        counts.append(f"{len(result.manifests)} {noun} valid in {target.directory} for {target.name}.")
    if not lines:
        click.echo("\n".join(counts))
        return
    names = [t.name for t in targets]
    for line, where in lines.items():
        if len(where) == len(names) or any(f"environments.{n}" in line for n in where):
            click.echo(line, err=True)
        else:
            click.echo(f"{line} (environment {', '.join(where)})", err=True)
    noun = "error" if len(lines) == 1 else "errors"
    raise ReconcilerError(f"{len(lines)} {noun} in the manifests of {', '.join(str(n) for n in names)}")


async def plan_all(targets: Sequence[Target], options: PlanOptions) -> list[tuple[Target, Plan]]:
    """One plan per target, in promotion order, each through its own connection. The first failure stops,
    its line naming the environment (`environment production: ...`). A `--target` need not name an object
    in every environment (`canary` kept to staging by `only:`), but in one at least."""
    plans = []
    for target in targets:
        planning = replace(options, environment=target.selected, require_targets=False)
        agents_dir = agents_directory(target.directory, options.agents_dir)
        try:
            loaded, agents = load_checked(target.directory, agents_dir, planning, target.connection)
            async with open_client(target.connection) as client:
                plans.append((target, await plan_with(client, loaded, planning, agents=agents)))
        except ReconcilerError as err:
            raise ReconcilerError(f"environment {target.name}: {err}") from None
    _check_targets(options.targets, plans)
    return plans


def _check_targets(wanted: Sequence[str], plans: Sequence[tuple[Target, Plan]]) -> None:
    """ReconcilerError for the targets that no plan of `plans` covers an object of."""
    covered = {(c.kind, c.key) for _, plan in plans for c in plan.changes}
    covered |= {(o.kind, o.key) for _, plan in plans for o in plan.orphans}
    unknown = []
    for target in dict.fromkeys(wanted):
        qualifier, key = split(target)
        if not any(k == key and qualifier in (None, kind) for kind, k in covered):
            unknown.append(repr(target))
    if unknown:
        noun = "target" if len(unknown) == 1 else "targets"
        names = ", ".join(str(target.name) for target, _ in plans)
        raise ReconcilerError(
            f"unknown {noun} {', '.join(unknown)}: no manifest or managed object has that key in any "
            f"environment ({names})"
        )


def emit_all(plans: Sequence[tuple[Target, Plan]], *, fmt: str, out_dir: Path | None, color: bool) -> None:
    """Render every plan to stdout (`markdown`: the combined comment; `text`: each under `Environment
    ENV:`); with `out_dir`, first save each as `OUT_DIR/ENV.json` (`save_plan`). Each environment's API key
    is masked in what is shown of it."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for target, plan in plans:
            save_plan(plan, target.connection, out_dir / f"{target.name}.json")
    plans = [(target, masked_plan(plan, target.connection.api_key())) for target, plan in plans]
    if fmt == "markdown":
        render_combined(plans, sys.stdout)
    else:
        for index, (target, plan) in enumerate(plans):
            sys.stdout.write(("\n" if index else "") + f"Environment {target.name}:\n\n")
            show_plan(plan, sys.stdout, fmt, color=color, secret=target.connection.api_key())
    if out_dir is not None:
        click.echo(f"Saved the plans to {out_dir}/ (one ENV.json per environment).", err=True)


def render_combined(plans: Sequence[tuple[Target, Plan]], out: TextIO, limit: int = markdown.LIMIT) -> None:
    """The combined markdown: marker, one summary line per environment, then each environment's section."""
    out.write(f"{markdown.MARKER}\n")
    for target, plan in plans:
        out.write(f"- **`{target.name}`**: {summary_line(plan)}\n")
    share = (limit - _HEAD_ROOM) // max(len(plans), 1)
    for target, plan in plans:
        out.write(f"\n## `{target.name}`\n\n")
        markdown.render_plan(plan, out, limit=share)
