"""The GitOps workflows (.github/workflows/assistants-*.yml) and their action (action.yml), run for real.

Each test runs the `run:` blocks of the workflows, and every step of the composite action as the workflows
call it, exactly as a runner would (tests/gitops_support.py), in a git repository holding a copy of
assistants/, against the emulator served over real HTTP (`OPENAI_BASE_URL`). The `reconciler` on PATH is this
checkout's; `gh` is a fake that records its arguments and answers as the real one would after `--jq`. Other
actions (`uses:` checkout, upload-artifact, sticky comment) are not run; the structure tests check that they
are pinned and what they are given.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gitops_support import (
    ACTION,
    ROOT,
    WORKFLOWS,
    ActionRun,
    Runner,
    StepResult,
    commit,
    find_step,
    git,
    load_yaml,
)

from reconciler import dialect, drift
from reconciler.emulator.testing import LiveEmulator

GITOPS = ("assistants-plan.yml", "assistants-apply.yml", "assistants-drift.yml")
MARKER = "<!-- reconciler:plan -->"
TARGET = "production"
HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load_workflow(name: str) -> dict[str, Any]:
    return load_yaml(WORKFLOWS / name)


def all_steps() -> list[tuple[str, str, dict[str, Any]]]:
    steps = [
        (path.name, job_name, step)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for job_name, job in load_workflow(path.name)["jobs"].items()
        for step in job["steps"]
    ]
    return steps + [("action.yml", "runs", step) for step in load_yaml(ACTION)["runs"]["steps"]]


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
    """A repository whose last commit (the pull request) adds assistants/ to a base commit (HEAD^1)."""
    workspace = tmp_path / "repo"
    workspace.mkdir()
    git(workspace, "init", "-q", "-b", "main")
    (workspace / "README.md").write_text("# assistants\n")
    commit(workspace, "base")
    shutil.copytree(ROOT / "assistants", workspace / "assistants")
    if (ROOT / "schema").is_dir():
        shutil.copytree(ROOT / "schema", workspace / "schema")
    commit(workspace, "add the assistants")
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
        "secrets.STAGING_OPENAI_API_KEY": "",
        "secrets.PRODUCTION_OPENAI_API_KEY": "",
        "matrix.target": TARGET,
        "github.event.pull_request.head.sha": HEAD_SHA,
        "github.sha": HEAD_SHA,
        "github.event.before": "",
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
        if uses.strip() == "./":  # this repository's own action, at the commit being tested
            assert "OWNER/reconciler@FULL_COMMIT_SHA" in comment, line
            continue
        assert PINNED.match(uses.strip()), line
        assert re.fullmatch(r"\s*v\d+(\.\d+)*\s*", comment), f"no version comment: {line}"
    # The action itself uses no other action: nothing in it needs pinning.
    assert all("uses" not in step for step in load_yaml(ACTION)["runs"]["steps"])


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
    # Every pull request: a required check that a path filter skipped would stay pending forever.
    assert plan["on"] == {"pull_request": None}
    assert find_step(plan["jobs"]["plan"], "reconciler")["with"]["since"] == "HEAD^1"
    assert plan["jobs"]["plan"]["steps"][0]["with"]["fetch-depth"] == 2
    apply = load_workflow("assistants-apply.yml")
    assert apply["on"]["push"] == {"branches": ["main"]}, "no paths: a referenced file may live anywhere"
    job = apply["jobs"]["apply"]
    assert job["needs"] == "changes" and job["if"] == "${{ needs.changes.outputs.relevant == 'true' }}"
    assert "environment" not in apply["jobs"]["changes"] and "OPENAI_API_KEY" not in json.dumps(
        apply["jobs"]["changes"]
    )
    assert find_step(apply["jobs"]["changes"], "changes")["with"]["since"] == "${{ github.event.before }}"
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
    steps = load_yaml(ACTION)["runs"]["steps"]
    script = find_step({"steps": steps}, "plan")["run"]
    assert (
        'reconciler plan --dir "$MANIFEST_DIR" --format markdown --detailed-exitcode --out plan.json'
        in script
    )
    assert (
        'pip install --disable-pip-version-check --quiet "$spec"'
        in find_step({"steps": steps}, "install")["run"]
    )
    # The workflows install nothing themselves: the action does.
    for workflow, _, step in all_steps():
        if workflow != "action.yml":
            assert "pip install" not in step.get("run", ""), workflow


# --- behaviour: the workflows' own command lines against the emulator -----------------------------------

PLAN = "assistants-plan.yml"
APPLY = "assistants-apply.yml"
DRIFT = "assistants-drift.yml"
ANNOTATION = re.compile(r"^::error file=([^,]+),line=(\d+),col=(\d+),title=reconciler validate::(.+)$")


def plan_pr(runner: Runner, **inputs: str) -> ActionRun:
    """The pull request's plan job: the action as assistants-plan.yml calls it."""
    return runner.run_action(PLAN, "plan", "reconciler", install=False, **inputs)


def comment_of(runner: Runner, run: ActionRun) -> str:
    assert run.outcome("comment") == "success", run.log()
    path = runner.workspace / "comment.md"
    assert run.outputs["comment"] == str(path)
    return path.read_text()


def manifest_keys(runner: Runner) -> list[str]:
    from reconciler.manifest import load_directory

    loaded = load_directory(runner.workspace / "assistants")
    assert not loaded.errors, [str(e) for e in loaded.errors]
    return sorted(m.key for m in loaded.manifests)


def apply_on_merge(runner: Runner) -> ActionRun:
    run = runner.run_action(APPLY, "apply", "reconciler")
    assert run.code == 0, run.log()
    assert run.outputs["exitcode"] == "0"
    return run


def test_pull_request_plan_comment_summary_and_saved_plan(runner: Runner) -> None:
    run = plan_pr(runner)
    # Changes (exit 2) are a successful step: the check stays green and says there are changes.
    assert run.code == 0, run.log()
    assert [run.outcome(s) for s in ("relevant", "validate", "fmt", "plan")] == ["success"] * 4
    assert "::error" not in run.log()
    workspace = runner.workspace
    assert run.outputs == {
        "relevant": "true",
        "exitcode": "2",
        "changes": "true",
        "plan-json": str(workspace / "plan.json"),
        "plan-markdown": str(workspace / "plan.md"),
        "comment": str(workspace / "comment.md"),
        "result": "",
    }
    plan = run.steps["plan"]
    assert plan is not None

    markdown = (workspace / "plan.md").read_text()
    assert markdown.startswith(MARKER + "\n")
    assert re.match(r"\*\*.+\*\*$", markdown.splitlines()[1]), markdown.splitlines()[1]
    assert plan.summary == markdown, "the full plan goes to the job summary"
    saved = json.loads((workspace / "plan.json").read_text())
    assert saved["format_version"] == "1"
    assert saved["summary"]["create"] == len(manifest_keys(runner))
    assert sorted(c["key"] for c in saved["changes"]) == manifest_keys(runner)

    comment = comment_of(runner, run)
    assert comment.startswith(markdown), "the comment is the markdown plan, marker first"
    assert comment.rstrip().endswith(
        f"<sub>target `{TARGET}` · commit {HEAD_SHA[:7]} · [run](https://github.com/acme/assistants/actions/runs/4242)</sub>"
    )
    assert len(comment) < 65_536


def test_pull_request_that_changes_nothing_the_plan_reads_passes_without_a_plan(runner: Runner) -> None:
    (runner.workspace / "README.md").write_text("# assistants\n\nMore words.\n")
    commit(runner.workspace, "docs only")
    run = plan_pr(runner)
    assert run.code == 0, run.log()
    assert run.outputs["relevant"] == "false" and run.outputs["exitcode"] == ""
    assert [run.outcome(s) for s in ("validate", "fmt", "plan", "comment")] == ["skipped"] * 4
    relevant = run.steps["relevant"]
    assert relevant is not None
    assert relevant.summary == (
        "Nothing to plan: nothing the plan reads (assistants/, the files its manifests name, action.yml "
        "pyproject.toml reconciler/ scripts/watched_files.py .github/workflows/assistants-plan.yml) changed "
        "since HEAD^1.\n"
    )
    assert not (runner.workspace / "comment.md").exists(), (
        "no comment on a pull request that is not about them"
    )


def test_a_file_outside_assistants_that_a_manifest_reads_is_planned_and_applied(runner: Runner) -> None:
    workspace = runner.workspace
    (workspace / "prompts").mkdir()
    (workspace / "prompts" / "hr.md").write_text("You are an HR bot.\n")
    path = workspace / "assistants" / "hr-helper.yaml"
    text = path.read_text()
    start = text.index("instructions: >-")
    end = text.index("tools:")
    path.write_text(text[:start] + "instructions_file: ../prompts/hr.md\n" + text[end:])
    commit(workspace, "instructions in prompts/")
    apply_on_merge(runner)

    (workspace / "prompts" / "hr.md").write_text("You are an HR bot. Answer from the policy files.\n")
    before = git(workspace, "rev-parse", "HEAD")
    commit(workspace, "only prompts/hr.md")
    run = plan_pr(runner)
    assert run.code == 0 and run.outputs["relevant"] == "true", run.log()
    assert run.outputs["exitcode"] == "2"
    assert "Answer from the policy files." in (workspace / "plan.md").read_text()
    relevant = run.steps["relevant"]
    assert relevant is not None and "  prompts/hr.md\n" in relevant.stdout

    # On merge, the apply workflow's `changes` job sees it too (the push's `before` is the previous commit).
    runner.expressions["github.event.before"] = before
    changes = runner.run_action(APPLY, "changes", "changes")
    assert changes.code == 0 and changes.outputs["relevant"] == "true", changes.log()
    assert apply_on_merge(runner).outputs["exitcode"] == "0"
    assert plan_pr(runner).outputs["exitcode"] == "0"

    # A push that changes nothing the manifests read starts no apply.
    runner.expressions["github.event.before"] = git(workspace, "rev-parse", "HEAD")
    (workspace / "README.md").write_text("# assistants\n\nUnrelated.\n")
    commit(workspace, "readme")
    changes = runner.run_action(APPLY, "changes", "changes")
    assert changes.code == 0 and changes.outputs["relevant"] == "false", changes.log()
    assert [changes.outcome(s) for s in ("validate", "plan", "apply", "result")] == ["skipped"] * 4


def test_a_since_commit_missing_from_the_checkout_plans_anyway(runner: Runner) -> None:
    runner.expressions["github.event.before"] = "0" * 40  # a push that created the branch
    changes = runner.run_action(APPLY, "changes", "changes")
    assert changes.outputs["relevant"] == "true", changes.log()
    relevant = changes.steps["relevant"]
    assert relevant is not None
    assert f"::notice title=reconciler::{'0' * 40} is not in the checkout: planning anyway" in relevant.stderr


def test_an_unknown_command_fails_with_one_annotation(runner: Runner) -> None:
    run = plan_pr(runner, command="destroy")
    assert run.code == 1
    relevant = run.steps["relevant"]
    assert relevant is not None
    assert relevant.stdout == (
        "::error title=reconciler::command must be validate, plan, apply or changes, not 'destroy'\n"
    )
    assert all(run.outcome(s) == "skipped" for s in ("validate", "plan", "apply"))


@pytest.mark.parametrize(
    ("version", "spec"),
    [
        ("", str(ROOT)),
        ("0.2.0", "assistants-reconciler==0.2.0"),
        (
            "assistants-reconciler @ https://example.com/a.whl",
            "assistants-reconciler @ https://example.com/a.whl",
        ),
    ],
)
def test_the_version_input_names_what_is_installed(
    runner: Runner, tmp_path: Path, version: str, spec: str
) -> None:
    """pip stands in for itself here (a script that records its arguments); the real install runs in
    tests/test_onboarding.py."""
    shim = tmp_path / "bin" / "python"
    shim.write_text('#!/usr/bin/env bash\nif [ "$1" = -m ]; then printf "%s\\n" "$@" > "$PIP_ARGS"; fi\n')
    shim.chmod(0o755)
    runner.extra_env["PIP_ARGS"] = str(tmp_path / "pip-args")
    run = runner.run_action(PLAN, "plan", "reconciler", install=True, version=version, command="changes")
    assert run.outcome("install") == "success", run.log()
    assert (tmp_path / "pip-args").read_text().splitlines() == [
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        spec,
    ]


def test_invalid_manifest_fails_the_check_with_annotations(runner: Runner) -> None:
    (runner.workspace / "assistants" / "broken.yaml").write_text(
        "name: Broken\nmodel: gpt-4-turbo\ntemperature: 5\nmodle: gpt-4\n"
    )
    run = plan_pr(runner)
    assert run.code == 1
    assert run.outcome("validate") == "failure" and run.outcome("plan") == "skipped"
    validate = run.steps["validate"]
    assert validate is not None
    annotations = [m for m in map(ANNOTATION.match, validate.stdout.splitlines()) if m]
    assert annotations, validate.stdout
    assert {m.group(1) for m in annotations} == {"assistants/broken.yaml"}
    assert {int(m.group(2)) for m in annotations} >= {3, 4}, validate.stdout
    assert all(int(m.group(3)) >= 1 for m in annotations)
    # The raw FILE:LINE:COL lines are kept for the comment.
    log = (runner.workspace / "validate.log").read_text()
    assert re.search(r"^assistants/broken\.yaml:3:\d+: temperature: ", log, re.M), log

    comment = comment_of(runner, run)
    assert comment.startswith(MARKER + "\n")
    assert "**Invalid manifests: no plan.**" in comment
    assert "assistants/broken.yaml:3:" in comment
    assert "::error" not in comment


def test_unformatted_manifest_fails_fmt_check_and_the_comment_says_so(runner: Runner) -> None:
    (runner.workspace / "assistants" / "messy.yaml").write_text(
        "model:   gpt-4-turbo\ntools: [{type: retrieval}]\nname:    Messy\n"
    )
    run = plan_pr(runner)
    assert run.code == 1, "a manifest out of canonical form fails the check"
    assert run.outcome("validate") == "success" and run.outcome("fmt") == "failure"
    fmt = run.steps["fmt"]
    assert fmt is not None and "messy.yaml" in fmt.stdout
    assert run.outputs["exitcode"] == "2", run.log()
    comment = comment_of(runner, run)
    assert comment.startswith(MARKER + "\n")
    assert "run `reconciler fmt` and push" in comment


def action_script(step_id: str) -> str:
    script: str = find_step({"steps": load_yaml(ACTION)["runs"]["steps"]}, step_id)["run"]
    return script


def test_annotation_sed_escapes_percent_and_keeps_other_lines() -> None:
    script = action_script("validate")
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
    script = action_script("plan")
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


def plan_annotations(plan: StepResult | None) -> list[str]:
    assert plan is not None
    return [line for line in plan.stdout.splitlines() if line.startswith("::error")]


def test_plan_error_fails_the_check_with_one_annotation(runner: Runner) -> None:
    runner.expressions["secrets.OPENAI_API_KEY"] = "sk-wrong-key"
    run = plan_pr(runner)
    assert run.code == 1 and run.outcome("plan") == "failure"
    errors = plan_annotations(run.steps["plan"])
    assert len(errors) == 1 and errors[0].startswith("::error title=reconciler plan::"), run.log()
    assert "sk-wrong-key" not in run.log()
    comment = comment_of(runner, run)
    assert comment.startswith(MARKER + "\n") and "**Plan failed.**" in comment


def test_plan_error_citing_a_manifest_line_is_annotated_there(runner: Runner) -> None:
    path = runner.workspace / "assistants" / "hr-helper.yaml"
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.startswith("model:"))
    lines[number - 1] = "model: gpt-no-such-model"
    path.write_text("\n".join(lines) + "\n")
    run = plan_pr(runner)
    assert run.code == 1
    errors = plan_annotations(run.steps["plan"])
    assert len(errors) == 1, run.log()
    assert errors[0].startswith(
        # the column of the value: model errors point at what is wrong (issue 14)
        f"::error file=assistants/hr-helper.yaml,line={number},col=8,title=reconciler plan::model: "
    ), errors
    assert "gpt-no-such-model" in errors[0]


def test_apply_on_merge_comments_on_the_merged_pull_request(runner: Runner) -> None:
    applied = apply_on_merge(runner)
    apply = applied.steps["apply"]
    assert apply is not None and "Apply complete!" in apply.stdout
    written = applied.steps["result"]
    assert written is not None and written.code == 0, applied.log()
    result_path = runner.workspace / "result" / f"{TARGET}.md"
    assert applied.outputs["result"] == str(result_path)
    result = result_path.read_text()
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
    again = plan_pr(runner)
    assert again.code == 0 and again.outputs["exitcode"] == "0" and again.outputs["changes"] == "false"


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
    failed = runner.run_action(APPLY, "apply", "reconciler")
    assert failed.code == 1 and failed.outputs["exitcode"] == "1"
    assert failed.outcome("apply") == "failure" and failed.outcome("result") == "success"
    result = (runner.workspace / "result" / f"{TARGET}.md").read_text()
    assert f"**Apply to `{TARGET}` failed**" in result and "Error: " in result
    assert "sk-wrong-key" not in failed.log() + result


def drift_check(runner: Runner) -> str:
    """Run the scheduled plan (the action, then the step that records it); return the exit code recorded."""
    config = runner.run(DRIFT, "plan", "config")
    assert config.code == 0 and config.outputs == {}, "no reconciler.yaml: no --env"
    runner.expressions["steps.config.outputs.env"] = ""
    plan = runner.run_action(DRIFT, "plan", "reconciler")
    assert plan.code == 0, plan.log()
    assert plan.outcome("fmt") == "skipped", "drift does not check the layout"
    record = runner.run(DRIFT, "plan", "record")
    assert record.code == 0, record.stdout + record.stderr
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
    # The edit, attributed, and the two ways to resolve it; then the plan.
    edited = assistants[0]
    since = drift.since_text(int(edited["metadata"][dialect.APPLIED_KEY].split(":")[2]))
    key = edited["metadata"][dialect.MARKER_KEY]
    attributed = (
        "Changed outside reconciler since the last apply:\n\n"
        f"- `{key}` ({edited['id']}): instructions (edited after the last apply, {since})\n\n"
        "- to overwrite these edits with the manifests: `reconciler apply` (or re-run the apply workflow);\n"
        f"- to keep them: `reconciler accept {key}`, then merge the manifests it rewrote.\n"
    )
    assert (runner.workspace / "drift" / f"{TARGET}.attributed.md").read_text() == attributed
    assert f"## Target `{TARGET}`\n\n{attributed}\n{plan_md}" in issue

    calls = report(runner, existing_issue="7")
    assert [c[:3] for c in calls] == [["issue", "list", "--label"], ["issue", "edit", "7"]]

    # Apply again: the drift is gone, the issue is closed.
    apply_on_merge(runner)
    assert drift_check(runner) == "0"
    assert [c[:3] for c in report(runner, existing_issue="7")][1] == ["issue", "close", "7"]


def test_watched_files_lists_the_directory_and_every_file_the_manifests_read(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "assistants").mkdir(parents=True)
    (repo / "prompts").mkdir()
    (repo / "kb").mkdir()
    (repo / "prompts" / "hr.md").write_text("Be kind.\n")
    (repo / "kb" / "leave.md").write_text("25 days.\n")
    (repo / "assistants" / "hr.yaml").write_text(
        "name: HR\nmodel: gpt-4-turbo\ninstructions_file: ../prompts/hr.md\n"
        "tools: [{type: retrieval}]\nfiles: [../kb/leave.md]\n"
    )
    git(repo, "init", "-q")
    script = ROOT / "scripts" / "watched_files.py"
    import sys

    listed = subprocess.run(
        [sys.executable, str(script), "--dir", "assistants", "extra/"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert (listed.returncode, listed.stdout, listed.stderr) == (
        0,
        "assistants/\nextra/\nkb/leave.md\nprompts/hr.md\n",
        "",
    )
