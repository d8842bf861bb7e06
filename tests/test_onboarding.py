"""A team adopts the tool from an empty folder, following README.md and docs/ci.md alone.

The user's steps: create a repository, write the README's example manifest, check it locally (validate, fmt,
`plan --local` without a key), copy the three workflows as docs/ci.md says (`uses: ./` becomes
`uses: OWNER/reconciler@SHA`, `watch:` goes), set the secret and variables, open a pull request, merge it.
GitHub is simulated as tests/test_gitops.py does: the copied workflows' `run:` blocks and every step of the
action run for real, the action's install step included (pip installs the tool from the action's checkout into
a fresh virtualenv that is first on PATH, as setup-python's is; the virtualenv sees this environment's
dependencies, so only the tool itself is built and installed). The emulator is the API. Each step's wall time
is printed (`pytest -s`).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gitops_support import ROOT, WORKFLOWS, Runner, commit, git

from reconciler.emulator.testing import LiveEmulator

ACTION_SHA = "0" * 39 + "1"


def readme_manifest() -> str:
    """The example manifest of README.md's "A manifest" section, as a user copies it."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## A manifest") :]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match
    return match.group(1)


def copy_workflows(repo: Path) -> None:
    """docs/ci.md, Setup step 1: copy the workflows, point `uses:` at a pinned commit, drop `watch:`."""
    target = repo / ".github" / "workflows"
    target.mkdir(parents=True)
    for path in sorted(WORKFLOWS.glob("assistants-*.yml")):
        text = path.read_text().replace("uses: ./", f"uses: OWNER/reconciler@{ACTION_SHA}")
        text = re.sub(r"^\s*watch:.*\n", "", text, flags=re.M)
        (target / path.name).write_text(text)


@contextmanager
def step(times: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    times[name] = time.perf_counter() - start


def fresh_venv(path: Path) -> Path:
    """A virtualenv whose pip sees this environment's packages (no downloads); its bin folder."""
    venv.EnvBuilder(with_pip=True).create(path)
    python = path / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parent = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "parent-environment.pth").write_text(parent + "\n")
    return path / "bin"


def local(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(repo.parent)}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], cwd=repo, env=env, capture_output=True, text=True
    )


def test_from_an_empty_folder_to_a_planned_pull_request_and_an_applied_merge(
    tmp_path: Path, live_emulator: LiveEmulator
) -> None:
    times: dict[str, float] = {}
    repo = tmp_path / "assistants-repo"
    with step(times, "1. git init, write the README's manifest"):
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "assistants").mkdir()
        (repo / "assistants" / "hr-helper.yaml").write_text(readme_manifest())
    with step(times, "2. reconciler validate, fmt --check, plan --local"):
        assert local(repo, "validate").stdout == "1 manifest valid in assistants.\n"
        assert local(repo, "fmt", "--check").returncode == 0
        tried = local(repo, "plan", "--local")
        assert tried.returncode == 0 and "Plan: 1 to add, 0 to change, 0 to destroy." in tried.stdout, (
            tried.stderr
        )
        (repo / ".gitignore").write_text(".reconciler/\n")
    with step(times, "3. copy the workflows (docs/ci.md), commit to main"):
        copy_workflows(repo)
        git(repo, "add", ".github", ".gitignore")
        git(repo, "commit", "-q", "-m", "reconciler workflows")
        base = git(repo, "rev-parse", "HEAD")

    bin_dir = fresh_venv(tmp_path / "runner-python")
    expressions = {
        "vars.OPENAI_BASE_URL": live_emulator.base_url,  # secrets and variables: docs/ci.md steps 2 and 3
        "vars.OPENAI_ORG_ID": "",
        "vars.OPENAI_PROJECT_ID": "",
        "secrets.OPENAI_API_KEY": str(live_emulator.api_key),
        "matrix.target": "production",
        "github.event.pull_request.head.sha": "",
        "github.sha": "",
        "github.event.before": base,
        "github.token": "ghs_fake",
        "github.repository": "acme/assistants",
    }
    runner = Runner(repo, expressions, [str(bin_dir)], workflows=repo / ".github" / "workflows")

    with step(times, "4. pull request: add the assistant; the plan job (installs the tool)"):
        head = commit(repo, "HR Helper")
        runner.expressions["github.event.pull_request.head.sha"] = head
        plan = runner.run_action("assistants-plan.yml", "plan", "reconciler", install=True)
        assert plan.code == 0, plan.log()
        install = plan.steps["install"]
        assert install is not None
        assert install.stdout.strip().startswith("reconciler, version "), install.stdout
        assert (bin_dir / "reconciler").exists(), "the action installed the tool into the runner's Python"
        comment = (repo / "comment.md").read_text()
        assert comment.startswith("<!-- reconciler:plan -->\n**Plan: 1 to add, 0 to change, 0 to destroy.**")
        assert f"commit {head[:7]}" in comment

    with step(times, "5. merge: the changes job, then the apply job"):
        runner.expressions["github.sha"] = head
        changes = runner.run_action("assistants-apply.yml", "changes", "changes", install=True)
        assert changes.outputs["relevant"] == "true", changes.log()
        applied = runner.run_action("assistants-apply.yml", "apply", "reconciler", install=True)
        assert applied.code == 0, applied.log()
        result = (repo / "result" / "production.md").read_text()
        assert result.startswith(f"<!-- reconciler:apply -->\n**Applied to `production`** from {head[:7]}")
        assert "Apply complete! Assistants: 1 added, 0 changed, 0 destroyed." in result

    with step(times, "6. the next pull request's plan is clean"):
        again = runner.run_action("assistants-plan.yml", "plan", "reconciler", since="")
        assert again.code == 0 and again.outputs["exitcode"] == "0", again.log()
    with live_emulator.client() as client:
        names = [a["name"] for a in client.get("/assistants").json()["data"]]
    assert names == ["HR Helper"]
    for name, seconds in times.items():
        print(f"onboarding: {name}: {seconds:.1f} s")
