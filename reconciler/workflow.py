"""What the commands do, step by step: load manifests, connect, plan, render, save (and apply, below).

The CLI only parses options and calls these. `load_manifests` and `connect` are shared by every command that
plans; nothing here calls `exit`: errors are ReconcilerErrors for the CLI to show.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler import planner
from reconciler.errors import ReconcilerError
from reconciler.plan import Plan
from reconciler.render import render_plan

if TYPE_CHECKING:
    from reconciler.client import Client
    from reconciler.manifest import LoadedManifest


def load_manifests(directory: Path) -> list[LoadedManifest]:
    """Every manifest in `directory`. On any manifest error, prints each `FILE:LINE:COL: FIELD: message` line
    to stderr and raises ReconcilerError `N errors in DIR`."""
    from reconciler.manifest import load_directory

    result = load_directory(directory)
    if result.errors:
        for error in result.errors:
            click.echo(str(error), err=True)
        noun = "error" if len(result.errors) == 1 else "errors"
        raise ReconcilerError(f"{len(result.errors)} {noun} in {directory}")
    return list(result.manifests)


def connect(*, local: bool, base_url: str | None, max_retries: int) -> Client:
    """A Client for the connection options (use as `async with`); see `connection.open_client`."""
    from reconciler.connection import open_client

    return open_client(local=local, base_url=base_url, max_retries=max_retries)


async def plan(
    *,
    directory: Path,
    local: bool,
    base_url: str | None,
    max_retries: int,
    targets: Iterable[str] = (),
    prune: bool = False,
    allow_duplicate_names: bool = False,
) -> Plan:
    """Load the manifests, connect, and plan (one list call per 100 assistants, at most one models call)."""
    loaded = load_manifests(directory)
    async with connect(local=local, base_url=base_url, max_retries=max_retries) as client:
        return await planner.make_plan(
            client, loaded, targets=targets, prune=prune, allow_duplicate_names=allow_duplicate_names
        )


def emit_plan(plan: Plan, *, fmt: str, out: Path | None, color: bool) -> None:
    """Render `plan` to stdout in `fmt`; with `out`, also save it (`plan.saved_data()`) atomically."""
    opts = {"color": color} if fmt == "text" else {}
    if out is not None:
        save_plan(plan, out)
    render_plan(plan, sys.stdout, fmt, **opts)
    if out is not None:
        click.echo(
            f"Saved the plan to {out}; run `reconciler apply {out}` to apply exactly this plan.", err=True
        )


def save_plan(plan: Plan, path: Path) -> None:
    """Write `plan.saved_data()` as JSON to `path`, atomically (a temporary file renamed into place)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise ReconcilerError(f"cannot save the plan to {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(plan.saved_data(), handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise ReconcilerError(f"cannot save the plan to {path}: {err.strerror or err}") from None
