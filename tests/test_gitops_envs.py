"""The environment workflows (assistants-plan-envs.yml, assistants-promote.yml) and the action, run for real.

As tests/test_gitops.py does for the single-target workflows (tests/gitops_support.py): the `run:` blocks and
every step of action.yml run in a git repository holding reconciler.yaml with two environments, each served by
its own emulator over real HTTP.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EMULATOR_API_KEY, MakeLiveEmulator
from environments_support import CONFIG, write_repository
from gitops_support import Runner, commit, git, load_yaml

from reconciler import dialect, drift
from reconciler.emulator.testing import LiveEmulator

PLAN = "assistants-plan-envs.yml"
PROMOTE = "assistants-promote.yml"
MARKER = "<!-- reconciler:plan -->"


@pytest.fixture
def servers(make_live_emulator: MakeLiveEmulator) -> dict[str, LiveEmulator]:
    return {"staging": make_live_emulator(), "production": make_live_emulator()}


@pytest.fixture
def runner(tmp_path: Path, servers: dict[str, LiveEmulator]) -> Runner:
    """A repository whose last commit (the pull request, then the push) adds reconciler.yaml and manifests."""
    workspace = tmp_path / "repo"
    workspace.mkdir()
    git(workspace, "init", "-q", "-b", "main")
    (workspace / "README.md").write_text("# assistants\n")
    base = commit(workspace, "base")
    urls = {name: server.base_url for name, server in servers.items()}
    write_repository(workspace, CONFIG.format(**urls))
    commit(workspace, "add the assistants and their environments")
    expressions = {
        "secrets.STAGING_OPENAI_API_KEY": str(EMULATOR_API_KEY),
        "secrets.PRODUCTION_OPENAI_API_KEY": str(EMULATOR_API_KEY),
        "github.event.pull_request.head.sha": "0123456789abcdef0123456789abcdef01234567",
        "github.sha": "0123456789abcdef0123456789abcdef01234567",
        "github.event.before": base,
    }
    return Runner(workspace, expressions)


def names(server: LiveEmulator) -> dict[str, str]:
    """The server's assistants: key -> name and model."""
    with server.client() as client:
        listed: list[dict[str, Any]] = client.get("/assistants", params={"limit": 100}).json()["data"]
    return {a["metadata"]["reconciler_key"]: f"{a['name']} ({a['model']})" for a in listed}


def plan_pr(runner: Runner) -> str:
    """Run the pull request's plan job; the comment it composed."""
    assert runner.run(PLAN, "plan", "config").outputs == {"configured": "true"}
    run = runner.run_action(PLAN, "plan", "reconciler")
    assert run.code == 0, run.log()
    assert [run.outcome(s) for s in ("relevant", "validate", "fmt", "plan", "comment")] == ["success"] * 5
    return (runner.workspace / "comment.md").read_text()


def test_plan_every_environment_then_promote(runner: Runner, servers: dict[str, LiveEmulator]) -> None:
    comment = plan_pr(runner)
    assert comment.startswith(
        f"{MARKER}\n"
        "- **`staging`**: Plan: 2 to add, 0 to change, 0 to destroy.\n"
        "- **`production`**: Plan: 1 to add, 0 to change, 0 to destroy.\n"
        "\n## `staging`\n\n"
    )
    assert "\n## `production`\n\n" in comment
    assert "<sub>target `all environments` · commit 0123456" in comment
    plans = runner.workspace / "plans"
    assert sorted(p.name for p in plans.iterdir()) == ["production.json", "staging.json"]
    assert [c["key"] for c in json.loads((plans / "production.json").read_text())["changes"]] == ["hr-helper"]

    # The merge: `changes` decides, staging applies, then production.
    assert runner.run(PROMOTE, "changes", "config").outputs == {"configured": "true"}
    decided = runner.run_action(PROMOTE, "changes", "changes")
    assert decided.outputs["relevant"] == "true", decided.log()
    staging = runner.run_action(PROMOTE, "staging", "reconciler")
    assert staging.code == 0, staging.log()
    assert names(servers["staging"]) == {
        "canary": "Canary (gpt-3.5-turbo)",
        "hr-helper": "HR Helper (staging) (gpt-3.5-turbo)",
    }
    assert names(servers["production"]) == {}
    production = runner.run_action(PROMOTE, "production", "reconciler")
    assert production.code == 0, production.log()
    assert names(servers["production"]) == {"hr-helper": "HR Helper (gpt-4-turbo)"}
    assert (
        (runner.workspace / "result" / "production.md")
        .read_text()
        .startswith("<!-- reconciler:apply -->\n**Applied to `production`**")
    )

    # The next pull request's plan is empty in both environments.
    comment = plan_pr(runner)
    assert comment.startswith(
        f"{MARKER}\n"
        "- **`staging`**: No changes. Your assistants match the manifests.\n"
        "- **`production`**: No changes. Your assistants match the manifests.\n"
    )


def test_a_failed_staging_apply_stops_the_promotion(runner: Runner) -> None:
    runner.expressions["secrets.STAGING_OPENAI_API_KEY"] = "sk-wrong"
    staging = runner.run_action(PROMOTE, "staging", "reconciler")
    assert staging.code == 1
    assert staging.outcome("apply") == "failure"
    assert "sk-wrong" not in staging.log()
    # GitHub runs a job only when every job it needs succeeded: production needs staging, with no `if:` that
    # would run it anyway, and waits in its own environment (its reviewers approve it).
    jobs = load_yaml(Path(__file__).resolve().parent.parent / ".github" / "workflows" / PROMOTE)["jobs"]
    assert jobs["production"]["needs"] == "staging" and "if" not in jobs["production"]
    assert jobs["production"]["environment"] == "production"
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["staging"]["needs"] == "changes"


def test_without_reconciler_yaml_the_environment_workflows_step_aside(runner: Runner) -> None:
    (runner.workspace / "reconciler.yaml").unlink()
    for workflow, job in ((PLAN, "plan"), (PROMOTE, "changes")):
        step = runner.run(workflow, job, "config")
        assert step.code == 0 and step.outputs == {}
        assert "No reconciler.yaml" in step.stdout


def test_files_only_one_environment_reads_are_watched(runner: Runner) -> None:
    """A pull request that changes only a file a staging override names is planned; reconciler.yaml too."""
    workspace = runner.workspace
    (workspace / "docs").mkdir()
    (workspace / "docs" / "draft.md").write_text("Draft policy.\n")
    hr = workspace / "assistants" / "hr-helper.yaml"
    hr.write_text(
        hr.read_text().replace(
            "    model: gpt-3.5-turbo\n",
            "    model: gpt-3.5-turbo\n    tools:\n      - type: retrieval\n"
            "    files:\n      - ../docs/draft.md\n",
        )
    )
    commit(workspace, "staging answers from the draft")
    script = Path(__file__).resolve().parent.parent / "scripts" / "watched_files.py"
    listed = subprocess.run(
        [sys.executable, str(script), "--dir", "assistants"], cwd=workspace, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["assistants/", "docs/draft.md", "reconciler.yaml"]
    (workspace / "docs" / "draft.md").write_text("Draft policy, revised.\n")
    commit(workspace, "revise the draft")
    run = runner.run_action(PLAN, "plan", "reconciler")
    assert run.outputs["relevant"] == "true", run.log()


DRIFT = "assistants-drift.yml"


def test_the_drift_check_plans_each_environment_and_attributes_the_edit(
    runner: Runner, servers: dict[str, LiveEmulator]
) -> None:
    assert runner.run_action(PROMOTE, "staging", "reconciler").code == 0
    assert runner.run_action(PROMOTE, "production", "reconciler").code == 0
    with servers["production"].client() as client:
        [hr] = client.get("/assistants").json()["data"]
        edited = client.post(f"/assistants/{hr['id']}", json={"model": "gpt-4"})
        assert edited.status_code == 200, edited.text
    since = drift.since_text(int(hr["metadata"][dialect.APPLIED_KEY].split(":")[2]))

    runner.expressions |= {"matrix.target": "production", "secrets.OPENAI_API_KEY": ""}
    runner.expressions |= {
        f"vars.{name}": "" for name in ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")
    }
    config = runner.run(DRIFT, "plan", "config")
    assert config.outputs == {"env": "production"}, "with reconciler.yaml, the target is an environment"
    runner.expressions["steps.config.outputs.env"] = "production"
    plan = runner.run_action(DRIFT, "plan", "reconciler")
    assert plan.outputs["exitcode"] == "2", plan.log()
    record = runner.run(DRIFT, "plan", "record")
    assert record.code == 0, record.stdout + record.stderr
    assert (runner.workspace / "drift" / "production.attributed.md").read_text() == (
        "Changed outside reconciler since the last apply:\n\n"
        f"- `hr-helper` ({hr['id']}): model (edited after the last apply, {since})\n\n"
        "- to overwrite these edits with the manifests: `reconciler apply --env production` (or re-run the "
        "apply workflow);\n"
        "- to keep them: `reconciler accept --env production hr-helper`, then merge the manifests it "
        "rewrote.\n"
    )
