"""`reconciler accept`: keep the edits made outside reconciler by writing them into the manifests
(docs/drift.md).

Plans as `plan` does (read only), takes the changes that would overwrite drift (`Change.drift`; with keys,
only theirs), computes every edit (`acceptance.edits_for`) and, when none is refused, writes each file once,
atomically (`fsio.write_atomic`), so the next plan of that environment no longer shows them. Output:
`wrote FILE: FIELD, ...` per file on stdout; on stderr a warning per base edit that other environments get
too, and the summary. A field that cannot be written back is one line on stderr each, then ReconcilerError,
and nothing is written. The API key is never written nor shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler import acceptance, fsio
from reconciler.acceptance import AcceptError, Edit
from reconciler.connection import open_client
from reconciler.drift import objects_phrase
from reconciler.errors import ReconcilerError
from reconciler.options import ConnectionOptions, PlanOptions
from reconciler.plan import Plan
from reconciler.redact import mask
from reconciler.usecases.planning import load_manifests, plan_with
from reconciler.usecases.validating import agents_directory, load_agent_manifests

if TYPE_CHECKING:
    from reconciler.manifest import Loaded


async def run_accept(directory: Path, connection: ConnectionOptions, options: PlanOptions) -> None:
    """Accept the drift of the manifests in `directory` and of the agent manifests beside it (merged for
    `options.environment`; only `options.targets` when given) against the server of `connection`."""
    agents_dir = agents_directory(directory, options.agents_dir)
    loaded = load_manifests(directory, options.environment, beside_agents=agents_dir is not None)
    agents = None if agents_dir is None else load_agent_manifests(agents_dir, options.environment)
    async with open_client(connection) as client:
        plan = await plan_with(client, loaded, options, agents=agents)
    secret = connection.api_key()
    if not plan.drift:
        click.echo(_nothing(plan), err=True)
        return
    by_key: dict[tuple[str, str], Loaded] = {("assistant", m.key): m for m in loaded}
    by_key |= {("agent", m.key): m for m in agents or ()}
    edits: list[Edit] = []
    problems: list[str] = []
    for change in plan.changes:
        if change.drift is None:
            continue
        try:
            manifest = by_key[(change.kind, change.key)]
            edits += acceptance.edits_for(change, manifest, options.environment, secret)
        except AcceptError as err:
            problems.append(str(err))
    if problems:
        for line in problems:
            click.echo(mask(line, secret), err=True)
        noun = "field" if len(problems) == 1 else "fields"
        raise ReconcilerError(f"{len(problems)} drifted {noun} cannot be accepted; nothing was written")
    _write(edits)
    fields = sum(len(d.fields) for d in plan.drift)
    click.echo(
        f"Accepted {fields} {'field' if fields == 1 else 'fields'} of {objects_phrase(plan.drift)} edited "
        "outside reconciler: review the changes and commit them.",
        err=True,
    )


def _nothing(plan: Plan) -> str:
    """Why there is nothing to accept."""
    scope = f" among {', '.join(plan.targets)}" if plan.targets else ""
    return f"No drift to accept{scope}: no planned change overwrites an edit made outside reconciler."


def _write(edits: Sequence[Edit]) -> None:
    """Write every file the edits touch, once each, atomically; a line per file (stdout) and per base edit
    other environments get too (stderr)."""
    from reconciler.manifest.reading import display

    by_path: dict[Path, list[Edit]] = {}
    for edit in edits:
        by_path.setdefault(edit.path, []).append(edit)
    for path, own in by_path.items():
        whole = [e for e in own if not e.where]
        if whole:
            data = str(whole[-1].value)
            shown = whole[-1].shown
        else:
            try:
                data = acceptance.rewrite(acceptance.manifest_text(path), own)
            except AcceptError as err:
                raise ReconcilerError(str(err)) from None
            shown = ", ".join(e.shown for e in own)
        try:
            fsio.write_atomic(path, data.encode("utf-8"))
        except OSError as err:
            raise ReconcilerError(f"cannot write {display(path)}: {err.strerror or err}") from None
        click.echo(f"wrote {display(path)}: {shown}")
        for edit in own:
            if edit.also:
                click.echo(_reaches_others(display(path), edit), err=True)


def _reaches_others(shown: str, edit: Edit) -> str:
    """The warning for a base edit that other environments get too."""
    they = "gets it too: review its plan" if len(edit.also) == 1 else "get it too: review their plans"
    what = f"{edit.shown} is the base value" if edit.where else "the base manifest names this file"
    return f"Warning: {shown}: {what}, so {', '.join(edit.also)} {they}"
