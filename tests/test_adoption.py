"""What a team meets first (issue 14): the package's name and metadata, the install paths the README gives,
the log levels it describes, dev.py, and the docs for the hooks and the GitLab helper.

The release checks proper (build, twine, check-wheel-contents, the wheel in a fresh venv) run in `.ci/run`
(scripts/check_release.py); the path from an empty folder to an applied merge is tests/test_onboarding.py.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import reconciler
from reconciler.emulator.testing import LiveEmulator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import dev  # noqa: E402

PYPROJECT = (ROOT / "pyproject.toml").read_text()
README = (ROOT / "README.md").read_text()
CI_DOC = (ROOT / "docs" / "ci.md").read_text()
EMULATOR_STACK = ("starlette", "uvicorn", "python-multipart")


def test_the_distribution_has_a_name_of_its_own_and_the_emulator_is_an_extra() -> None:
    assert re.search(r'^name = "assistants-reconciler"$', PYPROJECT, re.M)
    metadata = importlib.metadata.metadata("assistants-reconciler")
    requires = metadata.get_all("Requires-Dist") or []
    plain = [r for r in requires if "extra ==" not in r]
    extra = [r for r in requires if "extra == 'emulator'" in r or 'extra == "emulator"' in r]
    assert not [r for r in plain if r.startswith(EMULATOR_STACK)], plain
    assert sorted(re.split(r"[<>=;\[ ]", r)[0] for r in extra) == sorted(EMULATOR_STACK)
    # jsonschema stays a runtime need: the manifest model checks function parameter schemas with it.
    assert any(r.startswith("jsonschema") for r in plain)
    assert "import jsonschema" in (ROOT / "reconciler" / "manifest" / "model.py").read_text()
    dev_group = PYPROJECT[PYPROJECT.index("[dependency-groups]") : PYPROJECT.index("[build-system]")]
    for tool in ("build", "twine", "check-wheel-contents", "import-linter", "coverage"):
        assert f'"{tool}>=' in dev_group, tool


def test_the_version_comes_from_the_package_metadata() -> None:
    declared = re.search(r'^version = "([^"]+)"$', PYPROJECT, re.M)
    assert declared
    assert reconciler.__version__ == importlib.metadata.version("assistants-reconciler") == declared[1]
    shown = subprocess.run([sys.executable, "-m", "reconciler", "--version"], capture_output=True, text=True)
    assert shown.stdout == f"reconciler, version {declared[1]}\n"
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_plan_against_a_server_loads_nothing_from_the_emulator_stack(
    tmp_path: Path, live_emulator: LiveEmulator
) -> None:
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "a.yaml").write_text("name: A\nmodel: gpt-4-turbo\n")
    code = (
        "import sys\nfrom reconciler.cli import cli\n"
        "try:\n    cli(['plan', '--dir', sys.argv[1]])\nexcept SystemExit as done:\n    code = done.code\n"
        "stack = {'starlette', 'uvicorn', 'python_multipart'}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & stack)\n"
        "print(code, loaded)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": str(live_emulator.api_key)}
    env["OPENAI_BASE_URL"] = live_emulator.base_url
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "assistants")], capture_output=True, text=True, env=env
    )
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout + done.stderr


def test_the_readme_keeps_its_first_commands_and_answers_the_first_questions() -> None:
    first = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first
    assert [line.split("#")[0].strip() for line in first[1].splitlines()] == [
        "python3 dev.py demo",
        "python3 dev.py test",
    ]
    install = README[README.index("## Install") : README.index("## What it does")]
    for command in (
        "pipx install assistants-reconciler",
        "uv tool install assistants-reconciler",
        'pip install "assistants-reconciler[emulator]"',
        'uv tool install "assistants-reconciler @ git+https://github.com/OWNER/reconciler@FULL_COMMIT_SHA"',
        'pip install ".[emulator]"',
    ):
        assert command in install, command
    assert "never install by that name" in install
    assert (
        "**Where does state live?** On the server: each managed assistant carries the ownership marker"
        in README
    )
    assert "**How do I try it without a key?** `reconciler plan --local`" in README
    assert "pip install reconciler" not in README + CI_DOC


def test_the_log_levels_are_what_the_readme_says(tmp_path: Path, live_emulator: LiveEmulator) -> None:
    """Retries after 429/5xx answers show only from RECONCILER_LOG=info (dead servers: tests/test_cli.py)."""
    said = " ".join(README.split())
    assert (
        "a retry after a failed connection (server unreachable) always shows, as a warning; "
        "`RECONCILER_LOG=info` adds retries after `429`/`5xx` answers, `debug` every request" in said
    )
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "a.yaml").write_text("name: A\nmodel: gpt-4-turbo\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "OPENAI_API_KEY": str(live_emulator.api_key),
        "OPENAI_BASE_URL": live_emulator.base_url,
    }

    def plan(level: str | None) -> str:
        live_emulator.inject(503, route="GET /v1/assistants", headers={"retry-after-ms": "10"})
        run_env = env if level is None else {**env, "RECONCILER_LOG": level}
        args = [sys.executable, "-m", "reconciler", "plan", "--dir", "assistants"]
        done = subprocess.run(args, cwd=tmp_path, env=run_env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "retry" not in plan(None)
    assert re.search(r"^reconciler: GET /assistants: 503; retry 1/\d+ in 0\.0s$", plan("info"), re.M)


def test_dev_py_names_an_unknown_job_and_prints_help_without_uv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = subprocess.run([sys.executable, str(ROOT / "dev.py"), "deploy"], capture_output=True, text=True)
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (
        1,
        "",
        "dev.py: unknown job 'deploy'; the jobs are: demo, test, cov, check, bench (python3 dev.py help)\n",
    )

    def no_uv() -> list[str]:
        raise AssertionError("help must not look for uv")

    monkeypatch.setattr(dev, "find_uv", no_uv)
    assert dev.main(["help"]) == 0 and dev.main([]) == 0
    assert capsys.readouterr().out.startswith("Developer entry point that needs only Python 3")
    # The demo installs the tool and its emulator, never the dev group.
    assert dev.commands("demo", [], ["uv"])[0][:8] == [
        "uv", "run", "--frozen", "--no-dev", "--extra", "emulator", "--inexact", "reconciler"
    ]  # fmt: skip
    # CI's covered run is the README's test command under coverage: the same pytest, the same arguments.
    (test,) = dev.commands("test", ["-x"], ["uv"])
    erase, covered, combine, report = dev.commands("cov", ["-x"], ["uv"])
    assert test == ["uv", "run", "--frozen", "pytest", "-x"]
    assert covered == ["uv", "run", "--frozen", "coverage", "run", "-m", "pytest", "-x"]
    assert [erase[-1], combine[-2], report[-1]] == ["erase", "combine", "report"]


def test_dev_py_runs_uv_without_the_virtualenv_warning(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "VIRTUAL_ENV": str(tmp_path / "some-other-venv")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "test", "--collect-only", "-q", "tests/test_diff.py"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "does not match the project environment" not in done.stderr
    assert done.stdout.startswith("tests/test_diff.py: ")


def test_the_pre_commit_hooks_are_documented() -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    section = CI_DOC[CI_DOC.index("### Pre-commit hooks") : CI_DOC.index("### GitLab CI")]
    config = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert config
    documented = YAML(typ="safe").load(config[1])["repos"][0]["hooks"]
    assert [h["id"] for h in documented] == [h["id"] for h in hooks]
    assert "pre-commit install" in section


def test_the_gitlab_jobs_call_the_shipped_helper() -> None:
    section = CI_DOC[CI_DOC.index("### GitLab CI") :]
    jobs = YAML(typ="safe").load(re.search(r"```yaml\n(.*?)```", section, re.S)[1])  # type: ignore[index]
    calls = [line for job in jobs.values() if isinstance(job, dict) for line in job.get("script", [])]
    helper = [line for line in calls if "gitlab_ci.py" in line]
    assert helper == [
        "python3 ci/gitlab_ci.py note plan.md",
        'python3 ci/gitlab_ci.py drift drift.md "$code"',
    ]
    assert "[`scripts/gitlab_ci.py`](../scripts/gitlab_ci.py)" in section
    assert (ROOT / "scripts" / "gitlab_ci.py").is_file()
    assert jobs["variables"]["RECONCILER_PIP_SPEC"].startswith("assistants-reconciler @ ")


def test_no_typo_in_the_examples() -> None:
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("assistants/*.yaml")]:
        assert "Always response with" not in path.read_text(), path
