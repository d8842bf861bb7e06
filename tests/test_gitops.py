"""The GitOps workflows (.github/workflows/assistants-*.yml), run for real.

Each test takes the `run:` blocks out of the workflow files and runs them exactly as a runner would
(`bash --noprofile --norc -eo pipefail`, the step's `env:` with its `${{ }}` values filled in, GITHUB_OUTPUT
and GITHUB_STEP_SUMMARY files), in a copy of the repository's assistants/, against the emulator served over
real HTTP (`OPENAI_BASE_URL`). The `reconciler` on PATH is this checkout's; `gh` is a fake that records its
arguments and answers as the real one would after `--jq`. The actions (`uses:`) are not run; the structure
tests check that they are pinned and what they are given.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.emulator.testing import LiveEmulator

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
GITOPS = ("assistants-plan.yml", "assistants-apply.yml", "assistants-drift.yml")
MARKER = "<!-- reconciler:plan -->"
TARGET = "production"
HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load_workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load((WORKFLOWS / name).read_text())
    return data


def find_step(job: Mapping[str, Any], step_id: str) -> dict[str, Any]:
    """The step with this `id` (or, failing that, this `name`)."""
    for step in job["steps"]:
        if step.get("id") == step_id or step.get("name") == step_id:
            return dict(step)
    raise AssertionError(f"no step {step_id!r} in job")


def all_steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, job in load_workflow(path.name)["jobs"].items():
            for step in job["steps"]:
                yield path.name, job_name, step


@dataclass
class StepResult:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


@dataclass
class Runner:
    """Runs workflow steps in `workspace` like a GitHub runner, with `expressions` as the `${{ }}` values."""

    workspace: Path
    expressions: dict[str, str]
    path_prefix: list[str] = field(default_factory=list)
    #: Set after the workflow's env (the fake gh's answers, say).
    extra_env: dict[str, str] = field(default_factory=dict)

    def env_for(
        self, workflow: Mapping[str, Any], job: Mapping[str, Any], step: Mapping[str, Any]
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GITHUB_", "GH_"))}
        env.pop("NO_COLOR", None)
        env["PATH"] = os.pathsep.join([*self.path_prefix, str(Path(sys.executable).parent), env["PATH"]])
        env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "acme/assistants",
                "GITHUB_RUN_ID": "4242",
                "GITHUB_SHA": HEAD_SHA,
                "GITHUB_WORKSPACE": str(self.workspace),
            }
        )
        for scope in (workflow, job, step):
            for key, value in (scope.get("env") or {}).items():
                env[key] = self.resolve(str(value))
        env.update(self.extra_env)
        return env

    def resolve(self, text: str) -> str:
        """Fill in `${{ expr }}`; an expression the test does not know fails it (add it to `expressions`)."""

        def value(match: re.Match[str]) -> str:
            expr = match.group(1)
            assert expr in self.expressions, f"the test has no value for ${{{{ {expr} }}}}"
            return self.expressions[expr]

        return EXPRESSION.sub(value, text)

    def run(self, workflow_name: str, job_name: str, step_id: str) -> StepResult:
        workflow = load_workflow(workflow_name)
        job = workflow["jobs"][job_name]
        step = find_step(job, step_id)
        script = step["run"]
        assert "${{" not in script, f"{workflow_name} {step_id}: expressions belong in env:, not in run:"
        shell = (workflow.get("defaults") or {}).get("run", {}).get("shell")
        assert shell == "bash", f"{workflow_name}: defaults.run.shell must be bash (for -o pipefail)"
        output = self.workspace / ".github_output"
        summary = self.workspace / ".github_step_summary"
        output.write_text("")
        summary.write_text("")
        env = self.env_for(workflow, job, step)
        env["GITHUB_OUTPUT"] = str(output)
        env["GITHUB_STEP_SUMMARY"] = str(summary)
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line and line.strip()
        )
        return StepResult(proc.returncode, proc.stdout, proc.stderr, outputs, summary.read_text())


FAKE_GH = """#!/usr/bin/env bash
# A stand-in for the GitHub CLI: records its arguments (one JSON list a line) and answers like `gh ... --jq`.
python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" >> "$FAKE_GH_LOG"
case "$1 $2" in
  "api "*) printf '%s\\n' "${FAKE_GH_PR:-}" ;;
  "issue list") printf '%s\\n' "${FAKE_GH_ISSUE:-}" ;;
esac
"""


@pytest.fixture
def runner(tmp_path: Path, live_emulator: LiveEmulator) -> Runner:
    workspace = tmp_path / "repo"
    shutil.copytree(ROOT / "assistants", workspace / "assistants")
    if (ROOT / "schema").is_dir():
        shutil.copytree(ROOT / "schema", workspace / "schema")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH)
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    expressions = {
        "vars.OPENAI_BASE_URL": live_emulator.base_url,
        "vars.OPENAI_ORG_ID": "",
        "vars.OPENAI_PROJECT_ID": "",
        "secrets.OPENAI_API_KEY": str(live_emulator.api_key),
        "matrix.target": TARGET,
        "github.event.pull_request.head.sha": HEAD_SHA,
        "github.token": "ghs_fake",
        "github.repository": "acme/assistants",
    }
    return Runner(workspace, expressions, [str(bin_dir)], {"FAKE_GH_LOG": str(tmp_path / "gh.log")})


def gh_calls(runner: Runner) -> list[list[str]]:
    """What the fake `gh` was asked, one argument list per call."""
    log = Path(runner.extra_env["FAKE_GH_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# --- structure: what actionlint does not check ----------------------------------------------------------


def test_every_action_is_pinned_to_a_full_commit_with_its_version() -> None:
    lines = [
        line
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for line in path.read_text().splitlines()
        if re.match(r"^\s*(- )?uses:", line)
    ]
    assert lines
    for line in lines:
        uses, _, comment = line.split("uses:", 1)[1].partition("#")
        assert PINNED.match(uses.strip()), line
        assert re.fullmatch(r"\s*v\d+(\.\d+)*\s*", comment), f"no version comment: {line}"


def test_least_permissions_everywhere() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = load_workflow(path.name)
        top = workflow.get("permissions")
        assert top in ({}, {"contents": "read"}), f"{path.name}: top-level permissions {top!r}"
        for name, job in workflow["jobs"].items():
            perms = job.get("permissions", top)
            assert isinstance(perms, dict), f"{path.name} {name}"
            assert all(v in ("read", "write") for v in perms.values())
            assert "write-all" not in str(perms)
    # A job that holds the API key gets a token that can only read; the jobs that write hold no key.
    for name in GITOPS:
        for job_name, job in load_workflow(name)["jobs"].items():
            if "secrets.OPENAI_API_KEY" in json.dumps(job):
                assert job["permissions"] == {"contents": "read"}, f"{name} {job_name}"
            else:
                assert "OPENAI_API_KEY" not in json.dumps(job), f"{name} {job_name}"


def test_run_blocks_take_values_only_from_env() -> None:
    """No `${{ }}` inside `run:` (no script injection; and it lets these tests run the blocks verbatim)."""
    for workflow, job, step in all_steps():
        if "run" in step:
            assert "${{" not in step["run"], f"{workflow} {job}: {step.get('name')}"


def test_triggers_environment_and_concurrency() -> None:
    plan = load_workflow("assistants-plan.yml")
    assert plan["on"]["pull_request"]["paths"][0] == "assistants/**"
    apply = load_workflow("assistants-apply.yml")
    assert apply["on"]["push"]["paths"] == ["assistants/**"]
    job = apply["jobs"]["apply"]
    assert job["environment"] == "${{ matrix.target }}"
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "apply" in job["concurrency"]["group"]
    drift = load_workflow("assistants-drift.yml")
    assert drift["on"]["schedule"] and "workflow_dispatch" in drift["on"]
    for workflow in (plan, apply, drift):
        for job in workflow["jobs"].values():
            env = json.dumps(job)
            if "OPENAI_API_KEY" in env:
                assert "${{ secrets.OPENAI_API_KEY }}" in env
                assert "${{ vars.OPENAI_BASE_URL }}" in env
                assert "${{ vars.OPENAI_ORG_ID }}" in env and "${{ vars.OPENAI_PROJECT_ID }}" in env
    sticky = find_step(plan["jobs"]["comment"], "Comment on the pull request")
    assert sticky["with"] == {"header": "reconciler-plan-${{ matrix.target }}", "path": "comment.md"}
    assert plan["jobs"]["comment"]["strategy"] == plan["jobs"]["plan"]["strategy"], "one comment per target"
    assert (
        find_step(plan["jobs"]["plan"], "Keep the comment for the next job")["with"]["path"] == "comment.md"
    )
    artifact = find_step(plan["jobs"]["plan"], "Keep the saved plan")
    assert artifact["with"]["path"] == "plan.json"


def test_the_plan_command_line_is_the_one_the_issue_asks_for() -> None:
    script = find_step(load_workflow("assistants-plan.yml")["jobs"]["plan"], "plan")["run"]
    assert (
        'reconciler plan --dir "$MANIFEST_DIR" --format markdown --detailed-exitcode --out plan.json'
        in script
    )
    for name in GITOPS:
        for job in load_workflow(name)["jobs"].values():
            for step in job["steps"]:
                if "pip install" in step.get("run", ""):
                    assert '"$RECONCILER_PIP_SPEC"' in step["run"]


# --- behaviour: the workflows' own command lines against the emulator -----------------------------------

PLAN = "assistants-plan.yml"
APPLY = "assistants-apply.yml"
DRIFT = "assistants-drift.yml"
ANNOTATION = re.compile(r"^::error file=([^,]+),line=(\d+),col=(\d+),title=reconciler validate::(.+)$")


def outcome(result: StepResult | None) -> str:
    """The step's `steps.<id>.outcome`."""
    if result is None:
        return "skipped"
    return "success" if result.code == 0 else "failure"


def compose_comment(runner: Runner, **steps: StepResult | None) -> str:
    """Run the comment-composing step with the other steps' outcomes; return comment.md."""
    for name in ("validate", "fmt", "plan"):
        runner.expressions[f"steps.{name}.outcome"] = outcome(steps.get(name))
    result = runner.run(PLAN, "plan", "comment")
    assert result.code == 0, result.stderr
    return (runner.workspace / "comment.md").read_text()


def manifest_keys(runner: Runner) -> list[str]:
    from reconciler.manifest import load_directory

    loaded = load_directory(runner.workspace / "assistants")
    assert not loaded.errors, [str(e) for e in loaded.errors]
    return sorted(m.key for m in loaded.manifests)


def apply_on_merge(runner: Runner) -> StepResult:
    result = runner.run(APPLY, "apply", "apply")
    assert result.code == 0, result.stdout + result.stderr
    assert result.outputs["exitcode"] == "0"
    return result


def test_pull_request_plan_comment_summary_and_saved_plan(runner: Runner) -> None:
    validate = runner.run(PLAN, "plan", "validate")
    assert validate.code == 0, validate.stdout + validate.stderr
    assert "::error" not in validate.stdout
    fmt = runner.run(PLAN, "plan", "fmt")
    assert fmt.code == 0, fmt.stdout + fmt.stderr
    plan = runner.run(PLAN, "plan", "plan")
    # Changes (exit 2) are a successful step: the check stays green and says there are changes.
    assert plan.code == 0, plan.stdout + plan.stderr
    assert plan.outputs == {"exitcode": "2", "changes": "true"}

    markdown = (runner.workspace / "plan.md").read_text()
    assert markdown.startswith(MARKER + "\n")
    assert re.match(r"\*\*.+\*\*$", markdown.splitlines()[1]), markdown.splitlines()[1]
    assert plan.summary == markdown, "the full plan goes to the job summary"
    saved = json.loads((runner.workspace / "plan.json").read_text())
    assert saved["format_version"] == "1"
    assert saved["summary"]["create"] == len(manifest_keys(runner))
    assert sorted(c["key"] for c in saved["changes"]) == manifest_keys(runner)

    comment = compose_comment(runner, validate=validate, fmt=fmt, plan=plan)
    assert comment.startswith(markdown), "the comment is the markdown plan, marker first"
    assert comment.rstrip().endswith(
        f"<sub>target `{TARGET}` · commit {HEAD_SHA[:7]} · [run](https://github.com/acme/assistants/actions/runs/4242)</sub>"
    )
    assert len(comment) < 65_536


def test_invalid_manifest_fails_the_check_with_annotations(runner: Runner) -> None:
    (runner.workspace / "assistants" / "broken.yaml").write_text(
        "name: Broken\nmodel: gpt-4-turbo\ntemperature: 5\nmodle: gpt-4\n"
    )
    validate = runner.run(PLAN, "plan", "validate")
    assert validate.code != 0
    annotations = [m for m in map(ANNOTATION.match, validate.stdout.splitlines()) if m]
    assert annotations, validate.stdout
    assert {m.group(1) for m in annotations} == {"assistants/broken.yaml"}
    assert {int(m.group(2)) for m in annotations} >= {3, 4}, validate.stdout
    assert all(int(m.group(3)) >= 1 for m in annotations)
    # The raw FILE:LINE:COL lines are kept for the comment.
    log = (runner.workspace / "validate.log").read_text()
    assert re.search(r"^assistants/broken\.yaml:3:\d+: temperature: ", log, re.M), log

    comment = compose_comment(runner, validate=validate, fmt=None, plan=None)
    assert comment.startswith(MARKER + "\n")
    assert "**Invalid manifests: no plan.**" in comment
    assert "assistants/broken.yaml:3:" in comment
    assert "::error" not in comment


def test_unformatted_manifest_fails_fmt_check_and_the_comment_says_so(runner: Runner) -> None:
    (runner.workspace / "assistants" / "messy.yaml").write_text(
        "model:   gpt-4-turbo\ntools: [{type: retrieval}]\nname:    Messy\n"
    )
    validate = runner.run(PLAN, "plan", "validate")
    assert validate.code == 0, validate.stdout
    fmt = runner.run(PLAN, "plan", "fmt")
    assert fmt.code == 1, fmt.stdout + fmt.stderr
    assert "messy.yaml" in fmt.stdout
    plan = runner.run(PLAN, "plan", "plan")
    assert plan.outputs.get("exitcode") == "2", plan.stdout + plan.stderr
    comment = compose_comment(runner, validate=validate, fmt=fmt, plan=plan)
    assert comment.startswith(MARKER + "\n")
    assert "run `reconciler fmt` and push" in comment


def test_annotation_sed_escapes_percent_and_keeps_other_lines() -> None:
    script = find_step(load_workflow(PLAN)["jobs"]["plan"], "validate")["run"]
    sed = script[script.index("sed -E") :].replace("\\\n", " ")
    lines = (
        "a/b.yaml:12:7: name: 100% too long: yes\n"
        "a/c.yaml: binary file, not a YAML manifest\n"
        "Error: 2 errors in assistants\n"
    )
    out = subprocess.run(["bash", "-c", sed], input=lines, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "::error file=a/b.yaml,line=12,col=7,title=reconciler validate::name: 100%25 too long: yes",
        "::error file=a/c.yaml,title=reconciler validate::binary file, not a YAML manifest",
        "Error: 2 errors in assistants",
    ]


def test_plan_error_sed_escapes_percent_and_drops_other_lines() -> None:
    script = find_step(load_workflow(PLAN)["jobs"]["plan"], "plan")["run"]
    sed = script[script.index("sed -n -E") : script.index("plan.err |")].replace("\\\n", " ")
    lines = (
        "Planning 2 manifests...\n"
        "assistants/a.yaml:3:1: model: 50% gone\n"
        "Error: assistants/a.yaml:3:1: model: 50% gone\n"
        "Error: cannot reach the server (100% failed)\n"
        "Error: assistants/b.yml: cannot read it\n"
    )
    out = subprocess.run(
        ["bash", "-c", f"{sed} | awk '!seen[$0]++'"], input=lines, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [
        "::error file=assistants/a.yaml,line=3,col=1,title=reconciler plan::model: 50%25 gone",
        "::error title=reconciler plan::cannot reach the server (100%25 failed)",
        "::error file=assistants/b.yml,title=reconciler plan::cannot read it",
    ]


def plan_annotations(plan: StepResult) -> list[str]:
    return [line for line in plan.stdout.splitlines() if line.startswith("::error")]


def test_plan_error_fails_the_check_with_one_annotation(runner: Runner) -> None:
    runner.expressions["secrets.OPENAI_API_KEY"] = "sk-wrong-key"
    plan = runner.run(PLAN, "plan", "plan")
    assert plan.code == 1
    errors = plan_annotations(plan)
    assert len(errors) == 1 and errors[0].startswith("::error title=reconciler plan::"), plan.stdout
    assert "sk-wrong-key" not in plan.stdout + plan.stderr
    comment = compose_comment(runner, validate=runner.run(PLAN, "plan", "validate"), plan=plan)
    assert comment.startswith(MARKER + "\n") and "**Plan failed.**" in comment


def test_plan_error_citing_a_manifest_line_is_annotated_there(runner: Runner) -> None:
    path = runner.workspace / "assistants" / "hr-helper.yaml"
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.startswith("model:"))
    lines[number - 1] = "model: gpt-no-such-model"
    path.write_text("\n".join(lines) + "\n")
    plan = runner.run(PLAN, "plan", "plan")
    assert plan.code == 1
    errors = plan_annotations(plan)
    assert len(errors) == 1, plan.stdout
    assert errors[0].startswith(
        f"::error file=assistants/hr-helper.yaml,line={number},col=1,title=reconciler plan::model: "
    ), errors
    assert "gpt-no-such-model" in errors[0]


def test_apply_on_merge_comments_on_the_merged_pull_request(runner: Runner) -> None:
    applied = apply_on_merge(runner)
    assert "Apply complete!" in applied.stdout

    runner.expressions["steps.apply.outcome"] = "success"
    written = runner.run(APPLY, "apply", "Write the result")
    assert written.code == 0, written.stderr
    result = (runner.workspace / "result" / f"{TARGET}.md").read_text()
    assert result.startswith(f"<!-- reconciler:apply -->\n**Applied to `{TARGET}`** from {HEAD_SHA[:7]}")
    assert "Apply complete!" in result
    assert written.summary == result

    runner.extra_env["FAKE_GH_PR"] = "17"
    found = runner.run(APPLY, "comment", "pr")
    assert found.code == 0, found.stderr
    assert found.outputs == {"number": "17"}
    assert (runner.workspace / "comment.md").read_text() == result
    assert gh_calls(runner)[0][:2] == ["api", f"repos/acme/assistants/commits/{HEAD_SHA}/pulls"]

    # A push that was no merge (no pull request): no number, so no comment.
    runner.extra_env["FAKE_GH_PR"] = ""
    assert runner.run(APPLY, "comment", "pr").outputs == {"number": ""}

    # After the apply, the next pull request's plan is clean (exit 0).
    again = runner.run(PLAN, "plan", "plan")
    assert again.code == 0 and again.outputs == {"exitcode": "0", "changes": "false"}, again.stderr


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq (as on GitHub's runners) is not installed")
def test_the_merged_pull_request_query_picks_the_merged_one() -> None:
    script = find_step(load_workflow(APPLY)["jobs"]["comment"], "pr")["run"]
    query = re.search(r"--jq '([^']+)'", script)
    assert query
    pulls = [{"number": 3, "merged_at": None}, {"number": 5, "merged_at": "2024-05-01T00:00:00Z"}]
    for payload, expected in ((pulls, "5"), ([], ""), (pulls[:1], "")):
        out = subprocess.run(
            ["jq", "-r", query.group(1)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == expected


def test_apply_failure_is_reported_and_fails_the_job(runner: Runner) -> None:
    runner.expressions["secrets.OPENAI_API_KEY"] = "sk-wrong-key"
    failed = runner.run(APPLY, "apply", "apply")
    assert failed.code == 1 and failed.outputs == {"exitcode": "1"}
    runner.expressions["steps.apply.outcome"] = "failure"
    runner.run(APPLY, "apply", "Write the result")
    result = (runner.workspace / "result" / f"{TARGET}.md").read_text()
    assert f"**Apply to `{TARGET}` failed**" in result and "Error: " in result


def drift_check(runner: Runner) -> str:
    """Run the scheduled plan step; return the exit code it recorded."""
    plan = runner.run(DRIFT, "plan", "plan")
    assert plan.code == 0, plan.stdout + plan.stderr
    return (runner.workspace / "drift" / f"{TARGET}.exitcode").read_text().strip()


def report(runner: Runner, existing_issue: str) -> list[list[str]]:
    """Run the issue step with `existing_issue` open (or none); return the gh calls it made."""
    log = Path(runner.extra_env["FAKE_GH_LOG"])
    log.unlink(missing_ok=True)
    runner.extra_env["FAKE_GH_ISSUE"] = existing_issue
    result = runner.run(DRIFT, "report", "Open, update or close the issue")
    assert result.code == 0, result.stdout + result.stderr
    return gh_calls(runner)


def test_drift_opens_updates_and_closes_one_issue(runner: Runner, live_emulator: LiveEmulator) -> None:
    apply_on_merge(runner)
    assert drift_check(runner) == "0"
    assert [c[:2] for c in report(runner, existing_issue="")] == [["issue", "list"]]
    calls = report(runner, existing_issue="7")
    assert calls[1][:3] == ["issue", "close", "7"] and len(calls) == 2

    # Someone edits an assistant by hand.
    with live_emulator.client() as client:
        assistants = client.get("/assistants").json()["data"]
        changed = client.post(f"/assistants/{assistants[0]['id']}", json={"instructions": "Edited by hand."})
        assert changed.status_code == 200, changed.text
    assert drift_check(runner) == "2"
    plan_md = (runner.workspace / "drift" / f"{TARGET}.md").read_text()
    assert plan_md.startswith(MARKER + "\n")

    calls = report(runner, existing_issue="")
    assert [c[:2] for c in calls] == [["issue", "list"], ["label", "create"], ["issue", "create"]]
    create = calls[2]
    assert create[create.index("--label") + 1] == "reconciler-drift"
    assert create[create.index("--body-file") + 1] == "issue.md"
    issue = (runner.workspace / "issue.md").read_text()
    assert issue.startswith("<!-- reconciler:drift -->\n")
    assert f"## Target `{TARGET}`\n\n{plan_md}" in issue

    calls = report(runner, existing_issue="7")
    assert [c[:3] for c in calls] == [["issue", "list", "--label"], ["issue", "edit", "7"]]

    # Apply again: the drift is gone, the issue is closed.
    apply_on_merge(runner)
    assert drift_check(runner) == "0"
    assert [c[:3] for c in report(runner, existing_issue="7")][1] == ["issue", "close", "7"]
