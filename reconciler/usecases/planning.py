"""`reconciler plan` and what every planning command shares: load the manifests, fetch the server's state
through an open client, build the plan (`planner.build_plan`, pure), render it and save it."""

from __future__ import annotations

import dataclasses
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from reconciler import knowledge, planfile, planner
from reconciler.connection import LOCAL_BASE_URL, open_client
from reconciler.errors import PlanError, ReconcilerError
from reconciler.options import DEFAULT_DIRECTORY, ConnectionOptions, PlanOptions
from reconciler.plan import Plan
from reconciler.redact import mask, secret_forms
from reconciler.render import render_plan

if TYPE_CHECKING:
    from reconciler.client import Client
    from reconciler.manifest import LoadedManifest


def load_manifests(directory: Path) -> list[LoadedManifest]:
    """Every manifest in `directory`. On any manifest error, prints each `FILE:LINE:COL: FIELD: message` line
    to stderr and raises ReconcilerError `N errors in DIR`; a problem with the directory itself (missing, not
    a directory, no manifests in it) is the ReconcilerError alone, one line. Notes (YAML files in subfolders,
    not read) go to stderr first."""
    from reconciler.manifest import load_directory

    if directory == DEFAULT_DIRECTORY and not directory.exists():
        raise ReconcilerError(
            f"no {DEFAULT_DIRECTORY}/ in {Path.cwd()}: run from the repository root or pass --dir"
        )
    result = load_directory(directory)
    for note in result.notes:
        click.echo(note, err=True)
    if len(result.errors) == 1 and result.errors[0].line is None:
        raise ReconcilerError(str(result.errors[0]))
    if result.errors:
        for error in result.errors:
            click.echo(str(error), err=True)
        noun = "error" if len(result.errors) == 1 else "errors"
        raise ReconcilerError(f"{len(result.errors)} {noun} in {directory}")
    return list(result.manifests)


def refuse_secrets(loaded: Sequence[LoadedManifest], connection: ConnectionOptions) -> None:
    """Raise PlanError, a line `FILE:LINE:COL: FIELD: ...` per manifest field that holds the API key (never
    the key itself): apply would write it to the server, where anyone with access to the project reads it."""
    from reconciler.dialect import canonical_json
    from reconciler.identity import field_location

    secret = connection.api_key()
    if not secret:
        return
    forms = secret_forms(secret)
    errors = [
        f"{field_location(manifest, name)}: holds the API key (the value of {connection.key_variable}); "
        "remove it from the manifest"
        for manifest in loaded
        for name, value in manifest.api_fields().items()
        if any(form in canonical_json(value) for form in forms)
    ]
    if errors:
        raise PlanError("\n".join(errors))


async def run_plan(directory: Path, connection: ConnectionOptions, options: PlanOptions) -> Plan:
    """`reconciler plan`: load the manifests, refuse any holding the API key, connect, and plan
    (`plan_with`)."""
    loaded = load_manifests(directory)
    refuse_secrets(loaded, connection)
    async with open_client(connection) as client:
        return await plan_with(client, loaded, options)


async def plan_with(client: Client, loaded: Sequence[LoadedManifest], options: PlanOptions) -> Plan:
    """List every assistant (one call per 100) and, when a manifest names files or file ids or with `prune`,
    the uploaded files (one call), refusing `file_ids` it does not list (`check_file_ids`); build the plan;
    and, when it creates assistants or changes a model, check those models with one `/models` call (skipped
    when the server has no `/models`)."""
    existing = await client.list_assistants()
    remote_files = await fetch_files(client, loaded, prune=options.prune)
    if remote_files is not None:
        check_file_ids(loaded, remote_files, server=_server(client))
    plan = planner.build_plan(loaded, existing, options, remote_files=remote_files)
    if planner.models_to_check(plan):
        models = await fetch_models(client)
        if models is not None:
            planner.check_models(plan, loaded, models, server=_server(client))
    return plan


def _server(client: Client) -> str:
    """How messages name the server: its base URL, or the embedded emulator."""
    return "the embedded emulator (--local)" if client.base_url == LOCAL_BASE_URL else client.base_url


async def fetch_files(
    client: Client, loaded: Sequence[LoadedManifest], *, prune: bool
) -> list[dict[str, Any]] | None:
    """The `GET /files?purpose=assistants` listing when planning needs it (`knowledge.needs_listing`, or a
    manifest names `file_ids`), else None. A server without `/files` only matters when a manifest names
    files."""
    if not knowledge.needs_listing(loaded, prune=prune) and not any(m.manifest.file_ids for m in loaded):
        return None
    if any(m.files for m in loaded):
        return await client.list_files(knowledge.PURPOSE)
    return await client.available_files(knowledge.PURPOSE)


def check_file_ids(
    loaded: Sequence[LoadedManifest], remote_files: Sequence[dict[str, Any]], *, server: str
) -> None:
    """Raise PlanError, a line `FILE:LINE:COL: file_ids: ...` per manifest, when its `file_ids` name files
    the `GET /files?purpose=assistants` listing of `server` does not have (apply would be refused)."""
    from reconciler.identity import field_location

    listed = {f.get("id") for f in remote_files}
    errors = []
    for manifest in loaded:
        unknown = [i for i in manifest.manifest.file_ids if i not in listed]
        if unknown:
            names = ", ".join(repr(i) for i in unknown)
            errors.append(
                f"{field_location(manifest, 'file_ids')}: no file {names} with purpose assistants on "
                f"{server} (GET /files?purpose=assistants)"
            )
    if errors:
        raise PlanError("\n".join(errors))


async def fetch_models(client: Client) -> set[str] | None:
    """The model ids the server offers, or None when it has no `/models` endpoint."""
    listed = await client.available_models()
    if listed is None:
        return None
    return {m["id"] for m in listed if isinstance(m.get("id"), str)}


def emit_plan(plan: Plan, connection: ConnectionOptions, *, fmt: str, out: Path | None, color: bool) -> None:
    """Render `plan` to stdout in `fmt`; with `out`, save it first (`planfile.save`) for the target of
    `connection`, made in the repository root of the current directory. The API key is masked in both."""
    from reconciler.manifest import repository_root

    secret = connection.api_key()
    plan = masked_plan(plan, secret)
    if out is not None:
        saved = planfile.SavedPlan(plan, planfile.Target.of(connection), repository_root(Path.cwd()))
        planfile.save(saved, out, secret=secret)
    show_plan(plan, sys.stdout, fmt, color=color, secret=secret)
    if out is not None:
        click.echo(
            f"Saved the plan to {out}; run `reconciler apply {out}` to apply exactly this plan.", err=True
        )


def show_plan(plan: Plan, out: TextIO, fmt: str, *, color: bool, secret: str | None) -> None:
    """Render `plan` to `out` in `fmt`, every form of `secret` (the API key) masked: an assistant on the
    server may hold the key in its own fields (pasted into its instructions), and a plan shown in a pull
    request must not publish it. Values are masked before rendering (a shortened value must not show part
    of the key), and the rendering after."""
    buffer = io.StringIO()
    render_plan(masked_plan(plan, secret), buffer, fmt, color=color)
    out.write(mask(buffer.getvalue(), secret))


def masked_plan(plan: Plan, secret: str | None) -> Plan:
    """`plan` with every form of `secret` masked in what it shows of the server (`before`, `after`, orphan
    names, warnings); fingerprints, taken before, are kept. Not for applying: only for showing and saving
    (its `desired` states never hold the key: `refuse_secrets`)."""
    if not secret:
        return plan

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return mask(value, secret)
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    changes = tuple(
        dataclasses.replace(c, before=clean(dict(c.before)), after=clean(dict(c.after))) for c in plan.changes
    )
    orphans = tuple(dataclasses.replace(o, name=clean(o.name)) for o in plan.orphans)
    return dataclasses.replace(plan, changes=changes, orphans=orphans, warnings=tuple(clean(plan.warnings)))
