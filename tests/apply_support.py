"""Helpers for the apply tests: a Client on an emulator, seeding assistants, planning and applying."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler import dialect, drift
from reconciler.apply import Executor
from reconciler.client import Client, RemoteAssistant, RetryPolicy
from reconciler.emulator.testing import InProcessEmulator
from reconciler.manifest import load_directory
from reconciler.options import PlanOptions
from reconciler.plan import Plan
from reconciler.results import ApplyReport
from reconciler.usecases.planning import plan_with

WRITE_METHODS = ("POST", "DELETE")
#: What `writes` shows for a well-formed drift entry in a body's metadata (its value holds the time).
ENTRY = "<drift entry>"
#: The 400 v1 answers a create naming unknown file ids (caught at plan time now; injected to test apply).
FILES_NOT_FOUND = {
    "error": {
        "message": "Files [file-missing] were not found",
        "type": "invalid_request_error",
        "param": "file_ids",
        "code": None,
    }
}


def client_for(emulator: InProcessEmulator, **kwargs: Any) -> Client:
    """A Client on an in-process emulator, with fast backoff (server retry hints are still honoured)."""
    kwargs.setdefault("retry", RetryPolicy(backoff_base=0.01, backoff_max=0.05))
    return Client(
        api_key=emulator.api_key or "sk-any",
        base_url=emulator.base_url,
        transport=emulator.transport(),
        **kwargs,
    )


def managed_body(key: str, **fields: Any) -> dict[str, Any]:
    """A create body for an assistant managed under `key` (model gpt-4 unless given)."""
    metadata = {**fields.pop("metadata", {}), dialect.MARKER_KEY: key}
    return {"model": "gpt-4", **fields, "metadata": metadata}


def as_json(assistant: RemoteAssistant) -> dict[str, Any]:
    """The API JSON of an existing assistant, e.g. for an injected answer."""
    return {"object": "assistant", **dataclasses.asdict(assistant)}


async def seed(client: Client, *bodies: dict[str, Any]) -> list[RemoteAssistant]:
    """Create assistants directly through the API (setup, not under test)."""
    return [await client.create_assistant(body) for body in bodies]


async def plan_dir(client: Client, directory: Path, **options: Any) -> Plan:
    """Load the manifests in `directory` and plan against the API."""
    result = load_directory(directory)
    assert not result.errors, [str(e) for e in result.errors]
    return await plan_with(client, result.manifests, PlanOptions(**options))


async def plan_and_apply(client: Client, directory: Path, **options: Any) -> tuple[Plan, ApplyReport]:
    parallelism = options.pop("parallelism", 8)
    the_plan = await plan_dir(client, directory, **options)
    report = await Executor(client, settle_window=0, parallelism=parallelism).run(the_plan)
    return the_plan, report


def writes(requests: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """The write requests (method, path, body) an emulator received, in order; a drift entry that decodes
    is shown as ENTRY (a malformed one as sent, so a test comparing bodies fails on it)."""
    return [
        (r["method"], r["path"], _entry_shown(r["body"])) for r in requests if r["method"] in WRITE_METHODS
    ]


def _entry_shown(body: Any) -> Any:
    metadata = body.get("metadata") if isinstance(body, dict) else None
    if (
        not isinstance(metadata, dict)
        or drift.decode(drift.ASSISTANTS_V1, metadata.get(dialect.APPLIED_KEY)) is None
    ):
        return body
    return {**body, "metadata": {**metadata, dialect.APPLIED_KEY: ENTRY}}


def markers(assistants: Sequence[RemoteAssistant | Mapping[str, Any]]) -> Counter[str]:
    """How many assistants carry each ownership marker."""
    return Counter(m for a in assistants if (m := dialect.marker_of(a)) is not None)
