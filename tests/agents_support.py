"""Agent manifests for tests of plan and apply: the repository's example assistants migrated, and its
example agents.

`migrated_repository(root)` copies `assistants/` (with its knowledge file) and `schema/` into `root` (which
should hold `.git`) and runs `reconciler migrate --accept-loss` there: `root/agents/` then holds
`hr-helper.yaml` and `it-helpdesk.yaml`. `example_agents(root)` copies the hand-written `agents/` instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

from reconciler.migrate import Migrated
from reconciler.usecases.migrating import MigrateOptions, run_migrate

ROOT = Path(__file__).resolve().parent.parent


def migrated_repository(root: Path) -> list[Migrated]:
    """Migrate the example assistants into `root/agents/` (quietly); what was converted."""
    shutil.copytree(ROOT / "assistants", root / "assistants")
    shutil.copytree(ROOT / "schema", root / "schema", dirs_exist_ok=True)
    options = MigrateOptions(source=Path("assistants"), target=Path("agents"), accept_loss=True)
    cwd = Path.cwd()
    os.chdir(root)  # as `reconciler migrate` is run: from the repository root, paths relative to it
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return run_migrate(options)
    finally:
        os.chdir(cwd)


def example_agents(root: Path) -> Path:
    """Copy the repository's example agents (and their instructions file) to `root/agents/`."""
    shutil.copytree(ROOT / "agents", root / "agents")
    return root / "agents"
