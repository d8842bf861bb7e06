"""QA pass 6: what a new user meets on the command line, with `--local` in a scratch repository.

`--target agent:KEY` naming no agent said that no managed *assistant* had that key. A saved plan that uploads
a knowledge file, applied a second time, was refused as stale instead of being applied already.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner, Result
from http_support import JSONHandler, serve

from reconciler.cli import cli
from reconciler.connection import open_client
from reconciler.options import ConnectionOptions
from reconciler.remote import RemoteAssistant, RemoteFile


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "hr.yaml").write_text("model: gpt-4\n")
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "docs.yaml").write_text("name: Docs\nmodel: gpt-5-mini\n")
    return tmp_path


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("agent:hr", "unknown target 'agent:hr': no manifest or managed agent has that key"),
        ("assistant:docs", "unknown target 'assistant:docs': no manifest or managed assistant has that key"),
        (
            "agent:doc",
            "unknown target 'agent:doc' (did you mean 'agent:docs'?): no manifest or managed agent has "
            "that key",
        ),
    ],
)
def test_an_unknown_qualified_target_names_its_kind(repo: Path, target: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["plan", "--local", "--target", target], catch_exceptions=False)
    assert (result.exit_code, result.output) == (1, f"Error: {message}\n")


def objects(root: Path) -> tuple[list[RemoteAssistant], list[RemoteFile]]:
    """The assistants and files on the local emulator of `root`."""

    async def go() -> tuple[list[RemoteAssistant], list[RemoteFile]]:
        async with open_client(ConnectionOptions(local=True, max_retries=0, state_root=root)) as client:
            return await client.list_assistants(), await client.list_files()

    return anyio.run(go)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--local"], catch_exceptions=False)


@pytest.mark.parametrize("existing", [False, True], ids=["create", "update"])
def test_a_saved_plan_with_an_upload_applied_twice_is_applied_already(repo: Path, existing: bool) -> None:
    """The plan's `file_ids` hold a placeholder for content not uploaded yet; applied, the assistant holds the
    upload's id. The second apply of that plan was refused as stale (`hr appeared`, or `hr changed`)."""
    if existing:
        assert run("apply", "--auto-approve").exit_code == 0
    (repo / "assistants" / "policy.md").write_text("Leave: 25 days.\n")
    (repo / "assistants" / "hr.yaml").write_text(
        "model: gpt-4\ntools: [{type: retrieval}]\nfiles: [policy.md]\n"
    )
    assert run("plan", "--out", "plan.json", "--target", "hr").exit_code == 0
    assert run("apply", "plan.json").exit_code == 0
    before = objects(repo)
    again = run("apply", "plan.json")
    assert (again.exit_code, again.stderr) == (
        0,
        "The saved plan was applied already: nothing to do (hr as planned).\n",
    )
    assert objects(repo) == before
    assert run("plan", "--detailed-exitcode", "--target", "hr").exit_code == 0


def test_a_target_kept_to_one_environment_plans_there_only(repo: Path) -> None:
    """`plan --all-envs --target canary`, canary kept to staging by `only:`: production's plan refused the
    target (with no word of which environment), while `assistants/canary.yaml` plainly exists. A target need
    name an object in one environment, not in each."""
    (repo / "reconciler.yaml").write_text("environments:\n  staging: {}\n  production: {}\n")
    (repo / "assistants" / "canary.yaml").write_text("model: gpt-4\nonly: [staging]\n")
    result = run("plan", "--all-envs", "--target", "canary")
    assert result.exit_code == 0, result.output
    sections = result.stdout.split("Environment production:")
    assert '+ assistant "canary"' in sections[0] and "Plan: 1 to add" in sections[0]
    assert sections[1].strip().endswith("No changes. Your assistants and agents match the manifests.")
    unknown = run("plan", "--all-envs", "--target", "canary", "--target", "canry")
    assert (unknown.exit_code, unknown.output) == (
        1,
        "Error: unknown target 'canry': no manifest or managed object has that key in any environment "
        "(staging, production)\n",
    )


class _NoAgents(JSONHandler):
    """An Assistants v1 server that serves no saved agents: `/agents` is 404, as OpenAI words it."""

    def do_GET(self) -> None:
        if self.path.startswith("/v1/agents"):
            error = {"message": "Invalid URL (GET /v1/agents)", "type": "invalid_request_error"}
            self.send_json({"error": error}, status=404)
        elif self.path.startswith("/v1/models"):
            self.send_json({"object": "list", "data": [{"id": "gpt-4", "object": "model"}]})
        else:
            self.send_json({"object": "list", "data": [], "has_more": False})


def test_a_server_without_saved_agents_says_what_to_do(repo: Path) -> None:
    """With `agents/` beside `assistants/`, a v1 server without agents stopped every plan at
    `GET /agents: 404 ...`, with no word of why agents were asked for or how to plan the assistants."""
    with serve(_NoAgents) as url:
        env = {"OPENAI_API_KEY": "sk-qa6-0123456789", "OPENAI_BASE_URL": url}
        result = CliRunner().invoke(cli, ["plan"], env=env, catch_exceptions=False)
    assert (result.exit_code, result.output) == (
        1,
        "Error: GET /agents: 404 invalid_request_error: Invalid URL (GET /v1/agents) (this server serves no "
        "saved agents: they are planned because agents/ exists beside the assistants directory (or "
        "--agents-dir names one); move it away to plan the assistants alone)\n",
    )
