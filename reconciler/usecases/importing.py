"""`reconciler import`: check the options, connect, and write manifests (`importer.run_import`)."""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler import importer
from reconciler.connection import open_client
from reconciler.importer import ImportPlan
from reconciler.kinds import AGENT
from reconciler.options import ConnectionOptions, ImportOptions


def import_directory(directory: Path, kind: str) -> Path:
    """Where import writes: the manifest `directory` for assistants; for agents, the agents directory
    beside it (`agents/`, created when missing)."""
    return directory.parent / AGENT.directory if kind == AGENT.name else directory


async def run_import(connection: ConnectionOptions, options: ImportOptions) -> ImportPlan:
    """Import as `options` say through a client for `connection`; files and lines as `importer.run_import`
    (which refuses assistants holding the key of `connection`)."""
    importer.check_options(options)
    async with open_client(connection) as client:
        secret = (connection.api_key(), connection.key_variable)
        return await importer.run_import(client, options, sys.stdout, sys.stderr, secret)
