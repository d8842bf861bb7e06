"""Helpers for the plan tests: write manifests to a directory and load them; build existing assistants."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

from reconciler.client import RemoteAssistant
from reconciler.client.shapes import ASSISTANT
from reconciler.dialect import MARKER_KEY
from reconciler.manifest import LoadedManifest, load_directory

_ids = itertools.count(1)


def write_manifests(directory: Path, manifests: dict[str, str]) -> Path:
    """Write `{key: yaml}` as `directory/KEY.yaml` (dedented); return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, text in manifests.items():
        (directory / f"{key}.yaml").write_text(textwrap.dedent(text).lstrip())
    return directory


def load(directory: Path, manifests: dict[str, str] | None = None) -> list[LoadedManifest]:
    """Write `manifests` (if given) and load the directory, failing on any manifest error."""
    if manifests is not None:
        write_manifests(directory, manifests)
    result = load_directory(directory)
    assert not result.errors, [str(e) for e in result.errors]
    return result.manifests


def existing(value: dict[str, Any]) -> RemoteAssistant:
    """An existing assistant from its API JSON, checked and typed as the client does."""
    ASSISTANT.check(value)
    return RemoteAssistant.from_checked(value)


def assistant(key: str | None = None, *, id: str | None = None, **fields: Any) -> RemoteAssistant:
    """An existing API assistant; managed under `key` when given."""
    metadata = dict(fields.pop("metadata", {}) or {})
    if key is not None:
        metadata[MARKER_KEY] = key
    return existing(
        {
            "id": id or f"asst_{next(_ids):06d}",
            "object": "assistant",
            "created_at": 1_700_000_000,
            "name": fields.pop("name", None),
            "description": None,
            "model": fields.pop("model", "gpt-4"),
            "instructions": None,
            "tools": [],
            "file_ids": [],
            "metadata": metadata,
            **fields,
        }
    )


def emulator_client(emulator: Any, **kwargs: Any) -> Any:
    """A reconciler Client on an in-process emulator fixture (use as `async with`)."""
    from reconciler.client import Client

    return Client(
        api_key=emulator.api_key,
        base_url=emulator.base_url,
        transport=emulator.transport(),
        max_retries=kwargs.pop("max_retries", 0),
        **kwargs,
    )


async def create_managed(client: Any, loaded: list[LoadedManifest]) -> dict[str, str]:
    """Create each manifest's desired state directly through the API; returns `{key: id}`."""
    from reconciler.dialect import create_body, desired_state

    ids = {}
    for m in loaded:
        created = await client.create_assistant(create_body(desired_state(m.api_fields(), m.key)))
        ids[m.key] = created.id
    return ids
