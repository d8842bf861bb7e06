"""`reconciler plan` and what every planning command shares: load the manifests, fetch the server's state
through an open client, build the plan (`planner.build_plan`, pure), render it and save it.

Two kinds: the assistants of the manifest directory and, when there is an agents directory
(`agents_directory`), the saved agents of its manifests. Both are listed concurrently and planned alike; the
plan is one (`plan.combine`: a section per kind). Without an agents directory everything is as it was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import io
import os
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import click

from reconciler import fsio, knowledge, planner
from reconciler.client import NotFoundError
from reconciler.connection import LOCAL_BASE_URL, open_client
from reconciler.errors import PlanError, ReconcilerError
from reconciler.kinds import AGENT, ASSISTANT, Kind
from reconciler.options import DEFAULT_DIRECTORY, ConnectionOptions, PlanOptions
from reconciler.plan import Plan, combine
from reconciler.redact import KEY_VARIABLES, held_at, mask, plain_key_problem, secret_forms
from reconciler.render import render_plan
from reconciler.targets import check_qualifiers
from reconciler.usecases.validating import agents_directory, checked, load_agent_manifests

if TYPE_CHECKING:
    from reconciler.client import Client
    from reconciler.manifest import LoadedAgent, LoadedManifest, Selected
    from reconciler.manifest.loaded import Loaded
    from reconciler.remote import Remote, RemoteAgent, RemoteAssistant, RemoteFile

#: What a plan lists: the existing objects of each kind planned (assistants; agents or None).
Listed = tuple[list["RemoteAssistant"], list["RemoteAgent"] | None]


def load_manifests(
    directory: Path,
    selected: Selected | None = None,
    shared: MutableMapping[str, str] | None = None,
    *,
    beside_agents: bool = False,
    prune: bool = False,
) -> list[LoadedManifest]:
    """Every manifest in `directory`. On any manifest error, prints each `FILE:LINE:COL: FIELD: message` line
    to stderr and raises ReconcilerError `N errors in DIR`; a problem with the directory itself (missing, not
    a directory, no manifests in it) is the ReconcilerError alone, one line. Notes (YAML files in subfolders,
    not read) go to stderr first. With `selected`, the manifests as merged for that environment; `shared`
    as in `load_directory`. With `beside_agents` (the repository has agent manifests), a missing or empty
    assistants directory is no assistants, not an error: a repository of saved agents alone, or one whose
    assistants were migrated and are being pruned. With `prune`, an empty assistants directory (that exists)
    is no assistants too: removing every manifest and pruning is how every managed assistant is destroyed
    (over the safety limits, so apply asks for --force)."""
    from reconciler.manifest import load_directory
    from reconciler.manifest.listing import has_manifests

    empty_ok = beside_agents or (prune and directory.is_dir())
    if empty_ok and not has_manifests(directory) and not _not_a_directory(directory):
        return []
    if directory == DEFAULT_DIRECTORY and not os.path.lexists(directory):
        raise ReconcilerError(
            f"no {DEFAULT_DIRECTORY}/ in {Path.cwd()}: run from the repository root or pass --dir"
        )
    return checked(load_directory(directory, selected=selected, shared=shared), directory)


def _not_a_directory(directory: Path) -> bool:
    """Whether something other than a directory is at `directory` (a FIFO, a file, a symlink loop): loading
    says what, where a missing directory beside agent manifests is no assistants."""
    try:
        return fsio.not_a_directory(directory) is not None
    except OSError:
        return True


def refuse_secrets(loaded: Sequence[Loaded], connection: ConnectionOptions) -> None:
    """Raise PlanError, the `secret_lines` of `loaded` (when there are any)."""
    errors = secret_lines(loaded, connection)
    if errors:
        raise PlanError("\n".join(errors))


def secret_lines(loaded: Sequence[Loaded], connection: ConnectionOptions) -> list[str]:
    """A line `FILE:LINE:COL: FIELD: ...` per manifest field that holds an API key (never the key itself):
    the key of `connection`, or of any environment of reconciler.yaml set in this process (`api_keys`): apply
    would write it to the server, where anyone with access to the project reads it (another environment's
    key, to another environment's server). `files` counts too: each knowledge file is uploaded under its
    name."""
    from reconciler.identity import field_location
    from reconciler.manifest.errors import format_field_path

    keys = [(variable, secret_forms(key)) for variable, key in api_keys(connection)]
    lines = []
    for manifest in loaded:
        fields = manifest.api_fields()
        if names := getattr(manifest.manifest, "files", None):
            fields["files"] = names
        for name, value in fields.items():
            found = next(((v, at) for v, forms in keys if (at := held_at(value, forms)) is not None), None)
            if found is not None:
                variable, at = found
                where = f"{field_location(manifest, format_field_path((name, *at)))}: holds the API key"
                lines.append(f"{where} (the value of {variable}); remove it from the manifest")
    return lines


def api_keys(connection: ConnectionOptions) -> list[tuple[str, str]]:
    """(variable, key) of every API key this process holds: the key of `connection` first, then those of the
    variables output is masked for (`redact.KEY_VARIABLES`: OPENAI_API_KEY and each environment's
    `api_key_env`), each key once; keys too plain to look for (`redact.plain_key_problem`) left out."""
    found: dict[str, str] = {}
    for variable, key in [
        (connection.key_variable, connection.api_key()),
        *((name, os.environ.get(name, "").strip()) for name in KEY_VARIABLES),
    ]:
        if key and key not in found and (variable == connection.key_variable or not plain_key_problem(key)):
            found[key] = variable
    return [(variable, key) for key, variable in found.items()]


async def run_plan(directory: Path, connection: ConnectionOptions, options: PlanOptions) -> Plan:
    """`reconciler plan`: load the manifests (refusing any holding the API key: `refuse_secrets`) while the
    assistants (and agents, with an agents directory) are listed, then plan (`plan_listed`).

    The two are independent until matching, so the manifests load in a worker thread while the event loop
    waits on the list calls: the plan takes about the longer of the two, not their sum. Errors come as if
    loading came first: a manifest error wins over a connection or listing error (the listing is then
    cancelled; at most its first calls were sent). Both keep the assistants' instructions texts in one
    `shared` mapping, so a text the manifests and the server have in common is held once, not twice.

    What lives as long as the plan is frozen out of the garbage collector (`gc.freeze`): what the imports
    made, then what loading and listing made. Collections walking it again and again were 5% of a plan's CPU
    at 1,000 assistants and 10% at 10,000."""
    agents_dir = agents_directory(directory, options.agents_dir)
    shared: dict[str, str] = {}
    gc.freeze()
    loading = asyncio.ensure_future(
        asyncio.to_thread(load_checked, directory, agents_dir, options, connection, shared)
    )
    try:
        async with open_client(connection) as client:
            listing = asyncio.ensure_future(list_kinds(client, agents=agents_dir is not None, share=shared))
            try:
                loaded, agents = await loading
            finally:
                if _failure(loading) is not None or not loading.done():
                    listing.cancel()
                    await asyncio.gather(listing, return_exceptions=True)
            existing, existing_agents = await listing
            gc.freeze()
            return await plan_listed(
                client, loaded, existing, options, agents=agents, existing_agents=existing_agents
            )
    except BaseException:
        await asyncio.gather(loading, return_exceptions=True)  # the thread runs to its end regardless
        error = _failure(loading)
        if isinstance(error, Exception):
            raise error from None
        raise
    finally:
        gc.unfreeze()


def load_checked(
    directory: Path,
    agents_dir: Path | None,
    options: PlanOptions,
    connection: ConnectionOptions,
    shared: MutableMapping[str, str] | None = None,
) -> tuple[list[LoadedManifest], list[LoadedAgent] | None]:
    """`load_manifests` (and, with `agents_dir`, `load_agent_manifests`), then `refuse_secrets`; `shared` as
    in `load_directory`."""
    loaded = load_manifests(
        directory, options.environment, shared, beside_agents=agents_dir is not None, prune=options.prune
    )
    refuse_secrets(loaded, connection)
    if agents_dir is None:
        return loaded, None
    agents = load_agent_manifests(agents_dir, options.environment)
    refuse_secrets(agents, connection)
    return loaded, agents


async def list_kinds(client: Client, *, agents: bool, share: dict[str, str] | None = None) -> Listed:
    """Every assistant and, with `agents`, every agent, listed concurrently (one call per 100 of each);
    `share` as in `Client.list_objects`, for the assistants."""
    if not agents:
        return await client.list_assistants(share=share), None
    assistants, listed_agents = await asyncio.gather(
        client.list_assistants(share=share), _list_agents(client)
    )
    return assistants, listed_agents


#: Why a 404 on `GET /agents` stops a plan, and what to do (a v1 server may serve no saved agents).
NO_AGENTS = (
    "this server serves no saved agents: they are planned because agents/ exists beside the assistants "
    "directory (or --agents-dir names one); move it away to plan the assistants alone"
)


async def _list_agents(client: Client) -> list[RemoteAgent]:
    """Every agent; a 404 (no hint of a base URL without /v1) says why agents were asked for (`NO_AGENTS`)."""
    try:
        return await client.list_objects(AGENT)
    except NotFoundError as err:
        if err.hint is not None:
            raise
        raise dataclasses.replace(err, hint=NO_AGENTS) from None


def _failure(task: asyncio.Future[Any]) -> BaseException | None:
    """What a finished task raised (CancelledError when cancelled); None while running or on success."""
    if not task.done():
        return None
    return asyncio.CancelledError() if task.cancelled() else task.exception()


async def plan_with(
    client: Client,
    loaded: Sequence[LoadedManifest],
    options: PlanOptions,
    *,
    agents: Sequence[LoadedAgent] | None = None,
) -> Plan:
    """List every assistant (one call per 100; and every agent, with `agents`), then plan (`plan_listed`)."""
    existing, existing_agents = await list_kinds(client, agents=agents is not None)
    return await plan_listed(
        client, loaded, existing, options, agents=agents, existing_agents=existing_agents
    )


async def plan_listed(
    client: Client,
    loaded: Sequence[LoadedManifest],
    existing: list[RemoteAssistant],
    options: PlanOptions,
    *,
    agents: Sequence[LoadedAgent] | None = None,
    existing_agents: list[RemoteAgent] | None = None,
) -> Plan:
    """Given every assistant (`existing`): when a manifest names files or file ids or with `prune`, list the
    uploaded files (one call), refusing `file_ids` it does not list (`check_file_ids`); build the plan;
    and, when it creates assistants or changes a model, judge those models (`planner.check_model_rules`),
    then check them with one `/models` call (skipped when the server has none). With `agents` (and every
    agent, `existing_agents`), the agents are planned too and the plan is both (`plan.combine`). A target
    qualified with a kind not planned is refused (`targets.check_qualifiers`)."""
    check_qualifiers(options.targets, (ASSISTANT.name,) if agents is None else (ASSISTANT.name, AGENT.name))
    if agents is None:
        return await _plan_assistants(client, loaded, existing, options, ())
    listed_agents = existing_agents or []
    assistants = await _plan_assistants(
        client, loaded, existing, options, _keys(agents, listed_agents, AGENT)
    )
    known = _keys(loaded, existing, ASSISTANT)
    agent_plan = planner.build_plan(agents, listed_agents, options, kind=AGENT, known_keys=known)
    return combine([assistants, agent_plan])


def _keys(loaded: Sequence[Loaded], existing: Sequence[Remote], kind: Kind) -> set[str]:
    """The keys of `loaded` and of the managed objects of `kind` in `existing`."""
    managed = {kind.marker_of(item) for item in existing}
    return {m.key for m in loaded} | {key for key in managed if key}


async def _plan_assistants(
    client: Client,
    loaded: Sequence[LoadedManifest],
    existing: list[RemoteAssistant],
    options: PlanOptions,
    known_keys: set[str] | tuple[()],
) -> Plan:
    """The assistants' plan (`plan_listed`); `known_keys`: the other kinds' keys, valid `--target`s."""
    remote_files = await fetch_files(client, loaded, prune=options.prune)
    if remote_files is not None:
        check_file_ids(loaded, remote_files, server=_server(client))
    plan = planner.build_plan(loaded, existing, options, remote_files=remote_files, known_keys=known_keys)
    if planner.models_to_check(plan):
        plan = planner.check_model_rules(plan, loaded, model_rules(options.model_rules, client.base_url))
        models = await fetch_models(client)
        if models is not None:
            planner.check_models(plan, loaded, models, server=_server(client))
    return plan


def model_rules(rules: str, base_url: str) -> str:
    """The rules `--model-rules` names; `auto` is `openai` for the embedded emulator and api.openai.com (the
    targets known to follow OpenAI's), `server` for any other server."""
    if rules != "auto":
        return rules
    return (
        "openai"
        if base_url == LOCAL_BASE_URL or urlsplit(base_url).hostname == "api.openai.com"
        else "server"
    )


def _server(client: Client) -> str:
    """How messages name the server: its base URL, or the embedded emulator."""
    return "the embedded emulator (--local)" if client.base_url == LOCAL_BASE_URL else client.base_url


async def fetch_files(
    client: Client, loaded: Sequence[LoadedManifest], *, prune: bool
) -> list[RemoteFile] | None:
    """The `GET /files?purpose=assistants` listing when planning needs it (`knowledge.needs_listing`, or a
    manifest names `file_ids`), else None. A server without `/files` only matters when a manifest names
    files."""
    if not knowledge.needs_listing(loaded, prune=prune) and not any(m.manifest.file_ids for m in loaded):
        return None
    if any(m.files for m in loaded):
        return await client.list_files(knowledge.PURPOSE)
    return await client.available_files(knowledge.PURPOSE)


def check_file_ids(
    loaded: Sequence[LoadedManifest], remote_files: Sequence[RemoteFile], *, server: str
) -> None:
    """Raise PlanError, a line `FILE:LINE:COL: file_ids: ...` per manifest, when its `file_ids` name files
    the `GET /files?purpose=assistants` listing of `server` does not have (apply would be refused)."""
    from reconciler.identity import field_location

    listed = {f.id for f in remote_files}
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
    `connection` (`save_plan`). The API key is masked in both."""
    secret = connection.api_key()
    if out is not None:
        save_plan(plan, connection, out)
    show_plan(plan, sys.stdout, fmt, color=color, secret=secret)
    if out is not None:
        click.echo(
            f"Saved the plan to {out}; run `reconciler apply {out}` to apply exactly this plan.", err=True
        )


def save_plan(plan: Plan, connection: ConnectionOptions, out: Path) -> None:
    """Save `plan` to `out` (`planfile.save`) for the target and environment of `connection`, made in the
    repository root of the current directory, the API key masked."""
    from reconciler import planfile
    from reconciler.manifest import repository_root

    secret = connection.api_key()
    target = planfile.Target.of(connection)
    planfile.save(
        planfile.SavedPlan(
            masked_plan(plan, secret), target, repository_root(Path.cwd()), connection.environment
        ),
        out,
        secret=secret,
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
        dataclasses.replace(c, before=clean(dict(c.before)), after=clean(dict(c.after)))
        if c.before or c.after
        else c  # nothing shown to mask (a no-op)
        for c in plan.changes
    )
    orphans = tuple(dataclasses.replace(o, name=clean(o.name)) for o in plan.orphans)
    return dataclasses.replace(plan, changes=changes, orphans=orphans, warnings=tuple(clean(plan.warnings)))
