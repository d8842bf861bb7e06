"""A GitHub runner, simulated: runs the `run:` blocks of workflows and of the composite action (action.yml).

A workflow step runs as a runner would (`bash --noprofile --norc -eo pipefail`, the workflow's, job's and
step's `env:` with `${{ }}` filled in, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files). A `uses:` step that names
this repository's action (`./` or `OWNER/reconciler@SHA`) runs every step of action.yml in order: each step's
`if:` is evaluated (the subset of the expression language action.yml uses: `&&`, `||`, `!`, `==`, `!=`,
parentheses, 'strings', `always()`, `success()`, `failure()`, `cancelled()`, and `inputs.*`,
`steps.*.outcome`, `steps.*.outputs.*` and the runner's `expressions`), inputs get action.yml's defaults,
GITHUB_ACTION_PATH is this checkout, and the action's outputs are resolved at the end (and kept as
`steps.ID.outputs.*` for later steps). The install step runs only when asked (else the checkout's
`reconciler`, first on PATH, stands in for it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\))|(?P<fn>always|success|failure|cancelled)\(\)"
    r"|(?P<ref>[A-Za-z_][\w.-]*))"
)
OUR_ACTION = re.compile(r"^(\./?|[\w.-]+/reconciler@[0-9a-f]{40})$")


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(workspace: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(["git", *args], cwd=workspace, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit(workspace: Path, message: str) -> str:
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "--allow-empty", "-m", message)
    return git(workspace, "rev-parse", "HEAD")


def load_yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text())
    return data


def find_step(job: Mapping[str, Any], step_id: str) -> dict[str, Any]:
    """The step with this `id` (or, failing that, this `name`)."""
    for step in job["steps"]:
        if step.get("id") == step_id or step.get("name") == step_id:
            return dict(step)
    raise AssertionError(f"no step {step_id!r} in job")


def evaluate(expr: str, lookup: Callable[[str], Any], failed: bool = False) -> Any:
    """The value of a `${{ }}` expression (without the braces); `failed` is whether an earlier step failed."""
    python: list[str] = []
    position = 0
    while position < len(expr.rstrip()):
        match = TOKEN.match(expr, position)
        assert match and match.end() > position, f"cannot evaluate {expr!r} at {expr[position:]!r}"
        position = match.end()
        if match["str"]:
            python.append(repr(match["str"][1:-1].replace("''", "'")))
        elif match["op"]:
            python.append({"&&": " and ", "||": " or ", "!": " not "}.get(match["op"], match["op"]))
        elif match["fn"]:
            python.append(
                repr({"always": True, "cancelled": False, "success": not failed}.get(match["fn"], failed))
            )
        else:
            python.append(repr(lookup(match["ref"])))
    return eval("".join(python), {"__builtins__": {}})


def as_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@dataclass
class StepResult:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


@dataclass
class ActionRun:
    """Every step of the action by id (None: skipped), and the action's outputs."""

    steps: dict[str, StepResult | None]
    outputs: dict[str, str]

    @property
    def code(self) -> int:
        return 1 if any(s is not None and s.code != 0 for s in self.steps.values()) else 0

    def outcome(self, step_id: str) -> str:
        result = self.steps[step_id]
        return "skipped" if result is None else "success" if result.code == 0 else "failure"

    def log(self) -> str:
        return "".join(f"[{k}]\n{s.stdout}{s.stderr}" for k, s in self.steps.items() if s is not None)


@dataclass
class Runner:
    """Runs workflow steps in `workspace` like a GitHub runner, with `expressions` as the `${{ }}` values."""

    workspace: Path
    expressions: dict[str, str]
    path_prefix: list[str] = field(default_factory=list)
    #: Set after the workflow's env (the fake gh's answers, say).
    extra_env: dict[str, str] = field(default_factory=dict)
    workflows: Path = WORKFLOWS

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GITHUB_", "GH_"))}
        for name in ("NO_COLOR", "VIRTUAL_ENV", "RECONCILER_LOG"):
            env.pop(name, None)
        env["PATH"] = os.pathsep.join([*self.path_prefix, str(Path(sys.executable).parent), env["PATH"]])
        env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "acme/assistants",
                "GITHUB_RUN_ID": "4242",
                "GITHUB_SHA": self.expressions.get("github.sha", ""),
                "GITHUB_WORKSPACE": str(self.workspace),
            }
        )
        return env

    def env_for(self, *scopes: Mapping[str, Any]) -> dict[str, str]:
        env = self.base_env()
        for scope in scopes:
            for key, value in (scope.get("env") or {}).items():
                env[key] = self.resolve(str(value))
        env.update(self.extra_env)
        return env

    def lookup(self, ref: str) -> str:
        assert ref in self.expressions, f"the test has no value for ${{{{ {ref} }}}}"
        return self.expressions[ref]

    def resolve(self, text: str, lookup: Callable[[str], Any] | None = None) -> str:
        """Fill in `${{ expr }}`; a value the test does not know fails it (add it to `expressions`)."""
        return EXPRESSION.sub(lambda m: as_text(evaluate(m.group(1), lookup or self.lookup)), text)

    def execute(self, script: str, env: dict[str, str], where: str) -> StepResult:
        assert "${{" not in script, f"{where}: expressions belong in env:, not in run:"
        output = self.workspace / ".github_output"
        summary = self.workspace / ".github_step_summary"
        output.write_text("")
        summary.write_text("")
        env = {**env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line and line.strip()
        )
        return StepResult(proc.returncode, proc.stdout, proc.stderr, outputs, summary.read_text())

    def job(self, workflow_name: str, job_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        workflow = load_yaml(self.workflows / workflow_name)
        shell = (workflow.get("defaults") or {}).get("run", {}).get("shell")
        assert shell == "bash", f"{workflow_name}: defaults.run.shell must be bash (for -o pipefail)"
        return workflow, workflow["jobs"][job_name]

    def run(self, workflow_name: str, job_name: str, step_id: str) -> StepResult:
        """Run one `run:` step of a workflow."""
        workflow, job = self.job(workflow_name, job_name)
        step = find_step(job, step_id)
        return self.execute(step["run"], self.env_for(workflow, job, step), f"{workflow_name} {step_id}")

    def run_action(
        self, workflow_name: str, job_name: str, step_id: str, *, install: bool = False, **inputs: str
    ) -> ActionRun:
        """Run this repository's action as the `uses:` step `step_id` calls it (`inputs` override `with:`)."""
        workflow, job = self.job(workflow_name, job_name)
        caller = find_step(job, step_id)
        assert OUR_ACTION.match(caller["uses"]), caller["uses"]
        action = load_yaml(ACTION)
        given = {k: self.resolve(str(v)) for k, v in (caller.get("with") or {}).items()}
        given.update(inputs)
        assert set(given) <= set(action["inputs"]), f"unknown inputs {set(given) - set(action['inputs'])}"
        values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()} | given
        assert all(values[n] for n, spec in action["inputs"].items() if spec.get("required")), values
        steps: dict[str, StepResult | None] = {}

        def lookup(ref: str) -> Any:
            parts = ref.split(".")
            if parts[0] == "inputs":
                return values[parts[1]]
            if parts[0] == "steps":
                result = steps.get(parts[1])
                if parts[2] == "outcome":
                    return "skipped" if result is None else "success" if result.code == 0 else "failure"
                return "" if result is None else result.outputs.get(parts[3], "")
            return self.lookup(ref)

        env = self.env_for(workflow, job, caller) | {"GITHUB_ACTION_PATH": str(ROOT)}
        for step in action["runs"]["steps"]:
            assert step.get("shell") == "bash", f"action.yml {step['id']}: shell must be bash"
            failed = any(s is not None and s.code != 0 for s in steps.values())
            condition = EXPRESSION.sub(r"\1", str(step.get("if", "success()")))
            if not evaluate(condition, lookup, failed):
                steps[step["id"]] = None
            elif step["id"] == "install" and not install:
                steps[step["id"]] = StepResult(0, "", "", {}, "")
            else:
                step_env = {k: self.resolve(str(v), lookup) for k, v in (step.get("env") or {}).items()}
                steps[step["id"]] = self.execute(step["run"], env | step_env, f"action.yml {step['id']}")
        run = ActionRun(
            steps, {k: self.resolve(str(v["value"]), lookup) for k, v in action["outputs"].items()}
        )
        # What later steps of the job see of this one.
        self.expressions[f"steps.{step_id}.outcome"] = "success" if run.code == 0 else "failure"
        self.expressions.update({f"steps.{step_id}.outputs.{k}": v for k, v in run.outputs.items()})
        return run
