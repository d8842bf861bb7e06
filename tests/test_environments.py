"""Environments (reconciler.yaml, `--env`, overrides, `plan --all-envs`), end to end through the CLI.

The end-to-end test runs two emulators over real HTTP, one per environment; the others use `--local`, which
keeps one state per environment under `.reconciler/ENV/`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner, Result
from conftest import EMULATOR_API_KEY, MakeLiveEmulator
from environments_support import CONFIG, HR, write_repository

from reconciler.cli import cli
from reconciler.connection import open_client
from reconciler.emulator.testing import LiveEmulator
from reconciler.manifest import Selected, load_directory
from reconciler.options import ConnectionOptions


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A repository with reconciler.yaml (two local environments) and two manifests."""
    (tmp_path / ".git").mkdir()
    write_repository(
        tmp_path, CONFIG.replace("    base_url: {staging}\n", "").replace("    base_url: {production}\n", "")
    )
    monkeypatch.chdir(tmp_path)
    for name in (
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "NO_COLOR",
        "STAGING_OPENAI_API_KEY",
        "PRODUCTION_OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path


def reconciler(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assistants(emulator: LiveEmulator) -> dict[str, dict[str, Any]]:
    """The server's assistants by key: the fields an override can change (metadata without the drift entry,
    which every apply writes)."""
    with emulator.client() as client:
        listed = client.get("/assistants", params={"limit": 100}).json()["data"]
    fields = ("name", "description", "model")
    return {
        a["metadata"]["reconciler_key"]: {
            **{f: a[f] for f in fields},
            "metadata": {k: v for k, v in a["metadata"].items() if k != "reconciler_applied"},
        }
        for a in listed
    }


def test_two_environments_against_two_emulators(
    repo: Path, make_live_emulator: MakeLiveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging, production = make_live_emulator(), make_live_emulator()
    config = CONFIG.format(staging=staging.base_url, production=production.base_url)
    (repo / "reconciler.yaml").write_text(config)
    monkeypatch.setenv("STAGING_OPENAI_API_KEY", str(EMULATOR_API_KEY))
    monkeypatch.setenv("PRODUCTION_OPENAI_API_KEY", str(EMULATOR_API_KEY))

    valid = reconciler("validate")
    assert valid.exit_code == 0, valid.output
    assert valid.stdout == (
        "2 manifests valid in assistants for staging.\n1 manifest valid in assistants for production.\n"
    )

    # One comment: the combined summary, then each environment's single-target rendering, byte for byte.
    combined = reconciler(
        "plan", "--all-envs", "--format", "markdown", "--detailed-exitcode", "--out-dir", "plans"
    )
    assert combined.exit_code == 2, combined.output
    sections = {
        env: reconciler("plan", "--env", env, "--format", "markdown").stdout
        for env in ("staging", "production")
    }
    assert combined.stdout == (
        "<!-- reconciler:plan -->\n"
        "- **`staging`**: Plan: 2 to add, 0 to change, 0 to destroy.\n"
        "- **`production`**: Plan: 1 to add, 0 to change, 0 to destroy.\n"
        f"\n## `staging`\n\n{sections['staging']}"
        f"\n## `production`\n\n{sections['production']}"
    )
    assert sorted(p.name for p in (repo / "plans").iterdir()) == ["production.json", "staging.json"]
    saved = json.loads((repo / "plans" / "production.json").read_text())
    assert [c["key"] for c in saved["changes"]] == ["hr-helper"]

    # Promotion: staging first, then production; each apply touches only its own server.
    assert reconciler("apply", "--env", "staging", "--auto-approve").exit_code == 0
    assert production.stats()["objects"]["assistants"] == 0
    assert reconciler("plan", "--env", "staging", "--detailed-exitcode").exit_code == 0
    assert reconciler("plan", "--env", "production", "--detailed-exitcode").exit_code == 2
    assert reconciler("apply", "--env", "production", "--auto-approve").exit_code == 0

    # The states differ exactly by the overrides (and the staging-only assistant).
    base = {
        "name": "HR Helper",
        "description": "Answers questions about company policies.",
        "model": "gpt-4-turbo",
        "metadata": {"team": "people-ops", "reconciler_key": "hr-helper"},
    }
    assert assistants(production) == {"hr-helper": {**base, "description": None}}
    assert assistants(staging) == {
        "hr-helper": {
            **base,
            "name": "HR Helper (staging)",
            "model": "gpt-3.5-turbo",
            "metadata": {"team": "people-ops", "tier": "test", "reconciler_key": "hr-helper"},
        },
        "canary": {
            "name": "Canary",
            "description": None,
            "model": "gpt-3.5-turbo",
            "metadata": {"reconciler_key": "canary"},
        },
    }

    after = reconciler("plan", "--all-envs", "--detailed-exitcode")
    assert after.exit_code == 0, after.output
    assert after.stdout == (
        "Environment staging:\n\nNo changes. Your assistants match the manifests.\n"
        "\nEnvironment production:\n\nNo changes. Your assistants match the manifests.\n"
    )


def test_local_keeps_one_state_per_environment(repo: Path) -> None:
    assert reconciler("apply", "--local", "--env", "staging", "--auto-approve").exit_code == 0
    assert (repo / ".reconciler" / "staging" / "local.sqlite3").is_file()
    assert reconciler("plan", "--local", "--env", "staging", "--detailed-exitcode").exit_code == 0
    production = reconciler("plan", "--local", "--env", "production", "--detailed-exitcode")
    assert production.exit_code == 2
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in production.stdout


# --- the merge rules ------------------------------------------------------------------------------------


def merged(directory: Path, env: str) -> dict[str, dict[str, Any]]:
    result = load_directory(directory, selected=Selected(env, ("staging", "production")))
    assert not result.errors, [str(e) for e in result.errors]
    return {m.key: m.manifest.model_dump(exclude_unset=True) for m in result.manifests}


def test_a_field_replaces_metadata_merges_by_key_null_removes(repo: Path) -> None:
    (repo / "assistants" / "hr-helper.yaml").write_text(
        HR + "    metadata: {team: null, region: eu}\n    tools: [{type: retrieval}]\n"
    )
    staging = merged(repo / "assistants", "staging")
    assert staging["hr-helper"] == {
        "name": "HR Helper (staging)",
        "description": "Answers questions about company policies.",
        "model": "gpt-3.5-turbo",
        "metadata": {"team": "people-ops", "tier": "test"},
    }
    production = merged(repo / "assistants", "production")
    assert production == {
        "hr-helper": {
            "name": "HR Helper",
            "model": "gpt-4-turbo",
            "metadata": {"region": "eu"},
            "tools": [{"type": "retrieval"}],
        }
    }, "canary is only in staging"


BAD = """\
name: Bad
model: gpt-4-turbo
only: [stagign, staging]
environments:
  prod:
    model: x
  staging:
    temperatur: 3
    key: other
    metadata: {reconciler_x: y}
    model: null
"""


def test_every_override_is_checked_at_its_own_line(repo: Path) -> None:
    (repo / "assistants" / "bad.yaml").write_text(BAD)
    result = reconciler("validate")
    assert result.exit_code == 1
    assert result.stdout == ""
    names = "reconciler.yaml names staging, production"
    assert result.stderr == (
        "assistants/bad.yaml:3:8: only[0]: unknown environment 'stagign' (did you mean 'staging'?): "
        f"{names}\n"
        "assistants/bad.yaml:5:3: environments.prod: unknown environment 'prod' (did you mean "
        f"'production'?): {names}\n"
        "assistants/bad.yaml:8:5: environments.staging.temperatur: unknown field 'temperatur' (did you mean "
        "'temperature'?)\n"
        "assistants/bad.yaml:9:5: environments.staging.key: 'key' cannot differ per environment\n"
        "assistants/bad.yaml:10:16: environments.staging.metadata.reconciler_x: metadata key "
        "'reconciler_x' is reserved: keys starting with 'reconciler' belong to the tool\n"
        "assistants/bad.yaml:11:5: environments.staging.model: required field 'model' is missing\n"
        "Error: 6 errors in the manifests of staging, production\n"
    )


def test_an_error_only_one_environment_has_names_it(repo: Path) -> None:
    (repo / "assistants" / "hr-helper.yaml").write_text(
        "name: HR\nenvironments:\n  staging:\n    model: gpt-4\n"
    )
    result = reconciler("validate")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "assistants/hr-helper.yaml:1:1: model: required field 'model' is missing (environment production)"
    )


def test_overrides_without_a_configuration_are_an_error(repo: Path) -> None:
    (repo / "reconciler.yaml").unlink()
    result = reconciler("validate")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        "assistants/canary.yaml:3:1: only: no environments are configured: name them in reconciler.yaml at "
        "the repository root (docs/environments.md)",
        "assistants/hr-helper.yaml:6:1: environments: no environments are configured: name them in "
        "reconciler.yaml at the repository root (docs/environments.md)",
    ]


# --- the configuration and --env ------------------------------------------------------------------------


def test_a_key_in_the_configuration_is_refused_and_never_shown(repo: Path) -> None:
    secret = "sk-proj-0123456789abcdef0123456789"
    (repo / "reconciler.yaml").write_text(
        f"environments:\n  staging:\n    api_key_env: {secret}\n    base_urll: x\n  Prod: {{}}\n"
        "  qa:\n    base_url: ftp://x\nother: 1\n"
    )
    result = reconciler("plan", "--env", "staging")
    assert result.exit_code == 1
    assert secret not in result.output
    assert result.stderr == (
        "reconciler.yaml:3:18: environments.staging.api_key_env: this looks like an API key: name the "
        "environment variable holding it, never the key\n"
        "reconciler.yaml:4:5: environments.staging.base_urll: unknown field 'base_urll' (did you mean "
        "'base_url'?)\n"
        "reconciler.yaml:5:3: environments.Prod: an environment name is lowercase letters, digits, - and _ "
        "(at most 40)\n"
        "reconciler.yaml:7:15: environments.qa.base_url: invalid base URL 'ftp://x': it must start with "
        "http:// or https://, e.g. https://api.openai.com/v1\n"
        "reconciler.yaml:8:1: other: unknown field 'other'\n"
        "Error: 5 errors in reconciler.yaml\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("plan",), "Error: reconciler.yaml names environments (staging, production): pass --env NAME\n"),
        (
            ("plan", "--env", "prod"),
            "Error: unknown environment 'prod' (did you mean 'production'?): reconciler.yaml names staging, "
            "production\n",
        ),
        (
            ("apply", "--env", "staging", "--base-url", "http://127.0.0.1:9/v1"),
            "Error: --env staging and --base-url exclude each other: the environment names its server\n",
        ),
        (
            ("plan", "--env", "staging"),
            "Error: STAGING_OPENAI_API_KEY is not set: export it to use https://api.openai.com/v1, or pass "
            "--local to use the embedded emulator\n",
        ),
        (
            ("plan", "--out-dir", "plans"),
            "Error: --out-dir belongs to --all-envs: for one plan, use --out FILE\n",
        ),
    ],
)
def test_env_errors_are_one_line(repo: Path, args: tuple[str, ...], message: str) -> None:
    result = reconciler(*args)
    assert result.exit_code == 1
    assert result.stderr == message


def test_env_without_a_configuration(repo: Path) -> None:
    (repo / "reconciler.yaml").unlink()
    result = reconciler("plan", "--local", "--env", "staging")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: --env staging: no reconciler.yaml at the repository root ({repo.resolve()}) names "
        "environments (docs/environments.md)\n"
    )


def test_the_environment_key_is_masked(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-staging-\nsecret-0123456789"
    monkeypatch.setenv("STAGING_OPENAI_API_KEY", secret)
    result = reconciler("plan", "--env", "staging")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: STAGING_OPENAI_API_KEY has a line break at position 12 of 29, which no HTTP header can "
        "carry: set it to the key alone\n"
    )


def test_a_server_message_points_at_the_override(repo: Path) -> None:
    """The plan's model check names the line of the override that set the model (read on the fast path)."""
    (repo / "assistants" / "hr-helper.yaml").write_text(HR.replace("model: gpt-3.5-turbo", "model: gpt-nope"))
    result = reconciler("plan", "--local", "--env", "staging")
    assert result.exit_code == 1
    assert (
        "Error: assistants/hr-helper.yaml:9:5: environments.staging.model: model 'gpt-nope' is not available"
        in result.stderr
    ), result.stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "environments:\n  staging: {}\n  staging: {}\n",
            "reconciler.yaml:3:3: environments.staging: duplicate key (first defined on line 2)",
        ),
        (
            "environments: !!python/object {}\n",
            "reconciler.yaml:1:15: environments: YAML tag '!!python/object' is not allowed",
        ),
        ("[" * 200 + "]" * 200 + "\n", "reconciler.yaml:1:"),
        ("environments: [\n", "reconciler.yaml:2:1: invalid YAML"),
        ("a: 1\n---\nb: 2\n", "reconciler.yaml:1:1: expected one YAML document with 'environments:', got 2"),
        ("\xff\n", "reconciler.yaml:1:1: cannot read reconciler.yaml"),
    ],
)
def test_a_hostile_configuration_is_one_line_per_problem(repo: Path, text: str, line: str) -> None:
    (repo / "reconciler.yaml").write_bytes(text.encode("latin-1") if text == "\xff\n" else text.encode())
    result = reconciler("plan", "--env", "staging")
    assert result.exit_code == 1
    first, last = result.stderr.splitlines()[0], result.stderr.splitlines()[-1]
    assert first.startswith(line), result.stderr
    assert last.startswith("Error: ") and last.endswith(" in reconciler.yaml"), result.stderr


def test_a_fifo_as_configuration_is_refused_without_blocking(repo: Path) -> None:
    (repo / "reconciler.yaml").unlink()
    os.mkfifo(repo / "reconciler.yaml")
    result = reconciler("validate")
    assert result.exit_code == 1
    assert result.stderr.startswith("reconciler.yaml:1:1: cannot read reconciler.yaml: is a FIFO"), (
        result.stderr
    )


def test_a_saved_plan_per_environment_applies_exactly(repo: Path) -> None:
    plan = reconciler("plan", "--local", "--env", "production", "--out", "production.json")
    assert plan.exit_code == 0, plan.output
    applied = reconciler("apply", "--local", "--env", "production", "production.json")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Assistants: 1 added, 0 changed, 0 destroyed." in applied.stdout
    assert reconciler("plan", "--local", "--env", "production", "--detailed-exitcode").exit_code == 0
    assert reconciler("plan", "--local", "--env", "staging", "--detailed-exitcode").exit_code == 2


def test_import_reads_the_environment_it_is_told(repo: Path) -> None:
    """An unmanaged assistant of production is imported with --env production; staging has none."""

    async def create_unmanaged() -> None:
        options = ConnectionOptions(local=True, state_root=repo.resolve(), environment="production")
        async with open_client(options) as client:
            await client.create_assistant({"name": "Legacy bot", "model": "gpt-4-turbo"})

    anyio.run(create_unmanaged)
    assert reconciler("import", "--local", "--env", "staging", "--all").exit_code == 0
    assert not (repo / "assistants" / "legacy-bot.yaml").exists()
    imported = reconciler("import", "--local", "--env", "production", "--all")
    assert imported.exit_code == 0, imported.output
    assert "model: gpt-4-turbo" in (repo / "assistants" / "legacy-bot.yaml").read_text()
