"""`reconciler validate` over both kinds: the assistant manifests and, beside them, the agent manifests.

The agents directory is `--agents-dir` when given (it must exist), else `agents/` beside the manifest
directory (`assistants/` → `agents/`) when that exists; without one, only assistants are checked, as before.
Every error of both kinds is printed (`FILE:LINE:COL: FIELD: message`, stderr) before the one failure line,
which sums them up per kind (`2 errors in assistants; 1 error in agents`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from reconciler.errors import ConfigError, ReconcilerError

if TYPE_CHECKING:
    from reconciler.environments import Target
    from reconciler.manifest import Loaded, LoadedAgent, LoadResult, Selected
    from reconciler.options import ConnectionOptions

L = TypeVar("L", bound="Loaded")


def agents_directory(manifests: Path, given: Path | None) -> Path | None:
    """The agents directory to check with the manifests of `manifests` (see the module docstring)."""
    if given is not None:
        if not given.is_dir():
            raise ConfigError(f"--agents-dir {given}: not a directory")
        return given
    sibling = manifests.parent / "agents"
    return sibling if sibling.is_dir() and not _same(sibling, manifests) else None


def _same(one: Path, other: Path) -> bool:
    """Whether two paths name the same place (symlinks resolved); False when one cannot be resolved (a
    symlink loop: loading it says so)."""
    try:
        return one.resolve() == other.resolve()
    except (OSError, RuntimeError):
        return False


def load_agent_manifests(directory: Path, selected: Selected | None = None) -> list[LoadedAgent]:
    """Every agent manifest in `directory`; on any error, each line goes to stderr and ReconcilerError
    `N errors in DIR` is raised (a problem with the directory itself: that one line)."""
    from reconciler.manifest import load_agents

    return checked(load_agents(directory, selected=selected), directory)


def checked(result: LoadResult[L], directory: Path) -> list[L]:
    """The manifests of `result` (either kind), its notes on stderr; its errors on stderr and raised as
    one line `N errors in DIR` (a problem with the directory itself: that line alone)."""
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


def validate(directory: Path, agents: Path | None) -> None:
    """Check the assistant manifests of `directory` and the agent manifests of `agents` (None: none), a
    field holding the API key being an error as in plan (`refuse_secrets`); print one `N ... valid in DIR.`
    line per kind, or raise after printing every error of both."""
    from reconciler.options import ConnectionOptions
    from reconciler.usecases.planning import load_manifests, refuse_secrets

    counts: list[str] = []
    failures: list[str] = []
    try:
        loaded = load_manifests(directory, beside_agents=agents is not None)
        refuse_secrets(loaded, ConnectionOptions())
        count = len(loaded)
        if loaded or agents is None:
            counts.append(f"{count} {'manifest' if count == 1 else 'manifests'} valid in {directory}.")
    except ReconcilerError as err:
        failures.append(str(err))
    if agents is not None:
        try:
            counts.append(f"{_valid_agents(agents, None, ConnectionOptions())}.")
        except ReconcilerError as err:
            failures.append(str(err))
    if failures:
        raise ReconcilerError("; ".join(failures))
    click.echo("\n".join(counts))


def validate_environments(targets: Sequence[Target], agents: Path | None) -> None:
    """`validate` with reconciler.yaml: every environment's assistants (`environments.validate`), then
    every environment's agents (from `agents`, or beside each environment's manifest directory)."""
    from reconciler.usecases import environments

    failures: list[str] = []
    try:
        environments.validate(targets)
    except ReconcilerError as err:
        failures.append(str(err))
    for target in targets:
        directory = agents or agents_directory(target.directory, None)
        if directory is None:
            continue
        try:
            click.echo(f"{_valid_agents(directory, target.selected, target.connection)} for {target.name}.")
        except ReconcilerError as err:
            failures.append(f"{err} for {target.name}")
    if failures:
        raise ReconcilerError("; ".join(failures))


def _valid_agents(directory: Path, selected: Selected | None, connection: ConnectionOptions) -> str:
    """`N agent manifests valid in DIR` for the agent manifests of `directory`, a field holding the key of
    `connection` being an error (`refuse_secrets`); raises as `load_agent_manifests` does."""
    from reconciler.usecases.planning import refuse_secrets

    loaded = load_agent_manifests(directory, selected)
    refuse_secrets(loaded, connection)
    return f"{len(loaded)} agent {'manifest' if len(loaded) == 1 else 'manifests'} valid in {directory}"
