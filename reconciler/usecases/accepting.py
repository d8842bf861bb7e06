"""`reconciler accept`: keep the edits made outside reconciler by writing them into the manifests
(docs/drift.md).

Plans as `plan` does (read only), takes the changes that would overwrite drift (`Change.drift`; with keys,
only theirs), computes every edit (`acceptance.edits_for`) and, when none is refused, writes each file once,
atomically (`fsio.write_atomic`), so the next plan of that environment no longer shows them. Output:
`wrote FILE: FIELD, ...` per file on stdout; on stderr a warning per base edit that other environments get
too and per instructions file other manifests read too, and the summary. A field that cannot be written back
(an instructions file several drifted manifests read with different texts, and a value the rewritten
manifest would not load with, included) is one line on stderr each, then ReconcilerError, and nothing is
written; so is a file that is no longer a regular file (every one is checked before any is written). The
API key is never written nor shown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler import acceptance, fsio
from reconciler.acceptance import AcceptError, Edit
from reconciler.connection import open_client
from reconciler.drift import fields_phrase, objects_phrase
from reconciler.errors import ReconcilerError
from reconciler.manifest.reading import display
from reconciler.options import ConnectionOptions, PlanOptions
from reconciler.plan import Plan
from reconciler.redact import mask
from reconciler.usecases.planning import load_manifests, plan_with
from reconciler.usecases.validating import agents_directory, load_agent_manifests

if TYPE_CHECKING:
    from reconciler.manifest import Loaded, Selected


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
    accepted, problems = _edits(plan, by_key, options.environment, secret)
    problems += _conflicts(accepted)
    edits = [e for _, _, own in accepted for e in own]
    texts = {} if problems else _files(edits)
    problems += _invalid(accepted, texts, options.environment)
    if problems:
        for line in problems:
            click.echo(mask(line, secret), err=True)
        noun = "field" if len(problems) == 1 else "fields"
        raise ReconcilerError(f"{len(problems)} drifted {noun} cannot be accepted; nothing was written")
    _write(texts, accepted, _readers(by_key, accepted))
    fields = sum(len(d.fields) for d in plan.drift)
    click.echo(
        f"Accepted {fields} {'field' if fields == 1 else 'fields'} of {objects_phrase(plan.drift)} edited "
        "outside reconciler: review the changes and commit them.",
        err=True,
    )


def _edits(
    plan: Plan, by_key: Mapping[tuple[str, str], Loaded], selected: Selected | None, secret: str | None
) -> tuple[list[tuple[str, Loaded, list[Edit]]], list[str]]:
    """The edits of each drifted object (kind, manifest, edits) and a line per field that cannot be
    written back."""
    accepted: list[tuple[str, Loaded, list[Edit]]] = []
    problems: list[str] = []
    for change in plan.changes:
        if change.drift is None:
            continue
        try:
            manifest = by_key[(change.kind, change.key)]
            accepted.append((change.kind, manifest, acceptance.edits_for(change, manifest, selected, secret)))
        except AcceptError as err:
            problems.append(str(err))
    return accepted, problems


def _invalid(
    accepted: Sequence[tuple[str, Loaded, Sequence[Edit]]],
    texts: Mapping[Path, str],
    selected: Selected | None,
) -> list[str]:
    """A line per error a rewritten file would load with (a server past the API's limits: a manifest may not
    hold what it holds), each manifest checked as the loader reads it, an instructions file by its length."""
    from reconciler.manifest import AGENT, ASSISTANT, check_text

    kinds = {
        e.path: (AGENT if kind == "agent" else ASSISTANT, bool(e.where))
        for kind, _, own in accepted
        for e in own
    }
    lines = []
    for path, text in texts.items():
        kind, manifest = kinds[path]
        if manifest:
            errors = [(e.field or "", e.message) for e in check_text(path, text, kind, selected)]
        elif len(text) - 1 > kind.max_instructions:
            errors = [
                ("instructions", f"at most {kind.max_instructions:,} characters, got {len(text) - 1:,}")
            ]
        else:
            errors = []
        lines += [
            f"{display(path)}: {field}: the server's value is not one a manifest may hold ({message}); "
            "edit it by hand, or apply to overwrite"
            for field, message in errors
        ]
    return lines


def _nothing(plan: Plan) -> str:
    """Why there is nothing to accept."""
    scope = f" among {', '.join(plan.targets)}" if plan.targets else ""
    return f"No drift to accept{scope}: no planned change overwrites an edit made outside reconciler."


def _files(edits: Sequence[Edit]) -> dict[Path, str]:
    """The text of every file the edits touch (each manifest rewritten once), each checked writable
    (absent or a regular file) before any is written: ReconcilerError (one line) else."""
    by_path: dict[Path, list[Edit]] = {}
    for edit in edits:
        by_path.setdefault(edit.path, []).append(edit)
    texts = {}
    for path, own in by_path.items():
        try:
            fsio.writable(path)
            whole = [e for e in own if not e.where]
            texts[path] = (
                str(whole[-1].value) if whole else acceptance.rewrite(acceptance.manifest_text(path), own)
            )
        except AcceptError as err:
            raise ReconcilerError(str(err)) from None
        except OSError as err:
            raise ReconcilerError(
                f"cannot write {display(path)}: {err.strerror or err}; nothing was written"
            ) from None
    return texts


def _fields_written(path: Path, accepted: Sequence[tuple[str, Loaded, Sequence[Edit]]]) -> str:
    """`model, metadata.team` (`instructions` for an instructions file); for a file of several manifests,
    by key: `hr: model; it: metadata.team`."""
    by_key: dict[str, list[str]] = {}
    for _, manifest, edits in accepted:
        for edit in edits:
            if edit.path == path and edit.where:
                by_key.setdefault(manifest.key, []).append(edit.shown)
    if len(by_key) > 1:
        return "; ".join(f"{key}: {', '.join(fields)}" for key, fields in by_key.items())
    return ", ".join(field for fields in by_key.values() for field in fields) or "instructions"


def _write(
    texts: Mapping[Path, str],
    accepted: Sequence[tuple[str, Loaded, Sequence[Edit]]],
    readers: Mapping[Path, Sequence[tuple[str, str]]],
) -> None:
    """Write `texts` (`_files` of the `accepted` edits), each file atomically; a line per file (stdout), and
    on stderr one per base edit other environments get too and one per file other manifests read
    (`readers`)."""
    for path, text in texts.items():
        try:
            fsio.write_atomic(path, text.encode("utf-8"))
        except OSError as err:
            raise ReconcilerError(f"cannot write {display(path)}: {err.strerror or err}") from None
        click.echo(f"wrote {display(path)}: {_fields_written(path, accepted)}")
        for edit in (e for _, _, edits in accepted for e in edits if e.path == path):
            if edit.also:
                click.echo(_reaches_others(display(path), edit), err=True)
        if readers.get(path):
            click.echo(_read_by_others(display(path), readers[path]), err=True)


def _same(path: Path) -> str:
    """What `path` is on disk, to tell two spellings of one file apart from two files."""
    return os.path.realpath(path)


def _conflicts(accepted: Sequence[tuple[str, Loaded, Sequence[Edit]]]) -> list[str]:
    """One line per file that two accepted objects would write with different texts (an instructions file
    several drifted manifests read)."""
    texts: dict[str, dict[str, list[tuple[str, str]]]] = {}
    shown: dict[str, Path] = {}
    for kind, manifest, edits in accepted:
        for edit in (e for e in edits if not e.where):
            shown.setdefault(_same(edit.path), edit.path)
            texts.setdefault(_same(edit.path), {}).setdefault(str(edit.value), []).append(
                (kind, manifest.key)
            )
    lines = []
    for same, by_text in texts.items():
        if len(by_text) > 1:
            who = _objects([owner for owners in by_text.values() for owner in owners])
            lines.append(
                f"{display(shown[same])}: instructions: edited outside reconciler to different texts on "
                f"{who}, which read this file; edit it by hand, or apply to overwrite"
            )
    return lines


def _readers(
    manifests: Mapping[tuple[str, str], Loaded], accepted: Sequence[tuple[str, Loaded, Sequence[Edit]]]
) -> dict[Path, list[tuple[str, str]]]:
    """For each instructions file accepted, the other manifests (kind, key) that read it too."""
    written = {_same(e.path): e.path for _, _, edits in accepted for e in edits if not e.where}
    writers = {(kind, m.key) for kind, m, edits in accepted if any(not e.where for e in edits)}
    out: dict[Path, list[tuple[str, str]]] = {}
    for (kind, key), manifest in manifests.items():
        path = acceptance.instructions_path(manifest)
        if path is not None and _same(path) in written and (kind, key) not in writers:
            out.setdefault(written[_same(path)], []).append((kind, key))
    return out


def _objects(owners: Sequence[tuple[str, str]]) -> str:
    """`assistant "a"`, `assistants "a" and "b"`, `objects "a" and "b"` (kinds mixed)."""
    kinds = {kind for kind, _ in owners}
    noun = kinds.pop() if len(kinds) == 1 else "object"
    return f"{noun if len(owners) == 1 else noun + 's'} " + fields_phrase([f'"{key}"' for _, key in owners])


def _read_by_others(shown: str, readers: Sequence[tuple[str, str]]) -> str:
    """The warning for an accepted instructions file other manifests read too."""
    they = "reads this file too, so it gets" if len(readers) == 1 else "read this file too, so they get"
    plans = "its plan" if len(readers) == 1 else "their plans"
    return f"Warning: {shown}: {_objects(readers)} {they} the accepted text: review {plans}"


def _reaches_others(shown: str, edit: Edit) -> str:
    """The warning for a base edit that other environments get too."""
    they = "gets it too: review its plan" if len(edit.also) == 1 else "get it too: review their plans"
    what = f"{edit.shown} is the base value" if edit.where else "the base manifest names this file"
    return f"Warning: {shown}: {what}, so {', '.join(edit.also)} {they}"
