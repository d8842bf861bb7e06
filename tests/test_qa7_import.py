"""QA pass 7: `reconciler import` beside assistants already managed on the server.

An unmanaged assistant named like a managed one (`HR` beside a managed `hr` whose manifest was removed, or
that another checkout manages on the same project) was imported as key `hr`: the manifest written then made
every plan fail (`key 'hr' is already managed by asst_..., but id: names asst_...`). A key a managed object
holds on the server is now taken, as one an existing manifest or file holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from test_import import api, create

from reconciler.cli import cli
from reconciler.kinds import AGENT
from reconciler.manifest import load_directory


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    return tmp_path


def cli_run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_key_a_managed_assistant_holds_is_taken(workdir: Path) -> None:
    create(workdir, {"name": "HR", "model": "gpt-4", "metadata": {"reconciler_key": "hr"}})
    [unmanaged] = create(workdir, {"name": "HR", "model": "gpt-4"})

    imported = cli_run("import", "--local", "--all")
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.splitlines()[0] == f'wrote assistants/hr-2.yaml ({unmanaged} "HR")'
    [manifest] = load_directory(workdir / "assistants").manifests
    assert (manifest.key, manifest.manifest.id) == ("hr-2", unmanaged)

    plan = cli_run("plan", "--local")
    assert plan.exit_code == 0, plan.output
    assert '~ assistant "hr-2"' in plan.stdout


def test_a_key_a_managed_agent_holds_is_taken(workdir: Path) -> None:
    async def calls(client: Any) -> str:
        await client.create_object(
            AGENT, {"name": "Triage", "model": "gpt-5", "metadata": {"reconciler_key": "triage"}}
        )
        return (await client.create_object(AGENT, {"name": "Triage", "model": "gpt-5"})).id

    unmanaged = api(workdir, calls)
    imported = cli_run("import", "--local", "--all", "--kind", "agent")
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.splitlines()[0] == f'wrote agents/triage-2.yaml ({unmanaged} "Triage")'
