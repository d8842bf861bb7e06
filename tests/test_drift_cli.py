"""Drift, attributed, end to end through the CLI: two environments against two emulators over HTTP, a
dashboard edit on production, the plan that names it, `--protect-drift` refusing, `reconciler accept`
rewriting the manifest (comments kept) and the empty plan after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import EMULATOR_API_KEY, MakeLiveEmulator
from environments_support import CONFIG, write_repository
from environments_support import HR as BASE_HR

from reconciler import dialect, drift
from reconciler.cli import cli
from reconciler.emulator.testing import LiveEmulator

#: The shared manifest with overrides, commented as people write it.
HR = (
    "# yaml-language-server: $schema=../schema/manifest.json\n"
    "# The HR assistant: staging tries the cheaper model first.\n"
    + BASE_HR.replace(
        "model: gpt-4-turbo\n", "model: gpt-4-turbo  # reviewed by the platform team\n", 1
    ).replace("    description: null\n", "    description: null  # production says nothing about itself\n")
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STAGING_OPENAI_API_KEY", str(EMULATOR_API_KEY))
    monkeypatch.setenv("PRODUCTION_OPENAI_API_KEY", str(EMULATOR_API_KEY))
    yield tmp_path


def reconciler(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def held(server: LiveEmulator) -> dict[str, dict[str, Any]]:
    with server.client() as client:
        listed: list[dict[str, Any]] = client.get("/assistants", params={"limit": 100}).json()["data"]
    return {a["metadata"]["reconciler_key"]: a for a in listed}


def dashboard_edit(server: LiveEmulator, assistant: dict[str, Any], **fields: Any) -> None:
    """What the dashboard does: a modify of the edited fields (metadata whole, reconciler's entries kept)."""
    with server.client() as client:
        response = client.post(f"/assistants/{assistant['id']}", json=fields)
    assert response.status_code == 200, response.text


def setup(repo: Path, make_live_emulator: MakeLiveEmulator, config: str = CONFIG) -> dict[str, LiveEmulator]:
    servers = {"staging": make_live_emulator(), "production": make_live_emulator()}
    write_repository(repo, config.format(**{n: s.base_url for n, s in servers.items()}))
    (repo / "assistants" / "hr-helper.yaml").write_text(HR)
    return servers


def test_drift_is_named_protected_against_and_accepted(
    repo: Path, make_live_emulator: MakeLiveEmulator
) -> None:
    servers = setup(repo, make_live_emulator)
    production = servers["production"]

    # The pull request's comment: both environments, nothing drifted yet.
    comment = reconciler("plan", "--all-envs", "--format", "markdown", "--detailed-exitcode")
    assert comment.exit_code == 2, comment.output
    assert "## `staging`" in comment.stdout and "## `production`" in comment.stdout
    assert "outside reconciler" not in comment.stdout

    # Promotion: staging, then production; each assistant records what was applied.
    for env in ("staging", "production"):
        result = reconciler("apply", "--env", env, "--auto-approve")
        assert result.exit_code == 0, result.output
    hr = held(production)["hr-helper"]
    entry = hr["metadata"][dialect.APPLIED_KEY]
    assert drift.matches(drift.ASSISTANTS_V1, entry, hr)
    since = drift.since_text(int(entry.split(":")[2]))
    assert reconciler("plan", "--all-envs", "--detailed-exitcode").exit_code == 0

    # A dashboard edit on production: the model, and a metadata value.
    metadata = {**hr["metadata"], "team": "hr"}
    dashboard_edit(production, hr, model="gpt-4", metadata=metadata)

    plan = reconciler("plan", "--env", "production", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert plan.stdout.startswith(
        "Changed outside reconciler since the last apply:\n"
        f'  assistant "hr-helper" ({hr["id"]}): model and metadata (edited after the last apply, {since})\n'
        "Applying overwrites these edits; `reconciler accept` writes them into the manifests instead.\n"
        "\n"
        "reconciler will perform the following actions:\n"
        "\n"
        f'  # assistant "hr-helper" ({hr["id"]}) will be updated in-place\n'
        '  ~ assistant "hr-helper" {\n'
        '      ~ model    = "gpt-4" -> "gpt-4-turbo"  # overwrites an edit made outside reconciler\n'
        "      ~ metadata = {  # overwrites an edit made outside reconciler\n"
        '          ~ team = "hr" -> "people-ops"\n'
        "        }\n"
    )
    as_json = json.loads(reconciler("plan", "--env", "production", "--format", "json").stdout)
    assert as_json["drift"] == [
        {"key": "hr-helper", "id": hr["id"], "fields": ["model", "metadata"], "since": since}
    ]
    assert as_json["changes"][0]["drifted_fields"] == ["model", "metadata"]
    staging_plan = reconciler("plan", "--env", "staging", "--detailed-exitcode")
    assert staging_plan.exit_code == 0, "staging was not edited"

    # --protect-drift refuses before any write, one line per assistant.
    production.reset_stats()
    refused = reconciler("apply", "--env", "production", "--auto-approve", "--protect-drift")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"hr-helper ({hr['id']}): apply would overwrite model and metadata, edited outside reconciler after "
        f"the last apply ({since})\n"
        "Error: drift protection: 1 assistant edited outside reconciler; nothing was applied; keep the edits "
        "with `reconciler accept --env production`, or apply without drift protection to overwrite them\n"
    )
    assert [r for r in production.requests() if r["method"] != "GET"] == []

    # Accept: the manifest takes the server's values, where production's values come from.
    accepted = reconciler("accept", "--env", "production")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout == "wrote assistants/hr-helper.yaml: model, metadata.team\n"
    assert accepted.stderr == (
        "Warning: assistants/hr-helper.yaml: metadata.team is the base value, so staging gets it too: review "
        "its plan\n"
        "Accepted 2 fields of 1 assistant edited outside reconciler: review the changes and commit them.\n"
    )
    # ruamel keeps an end-of-line comment in its column
    assert (repo / "assistants" / "hr-helper.yaml").read_text() == HR.replace(
        "model: gpt-4-turbo  #", "model: gpt-4        #"
    ).replace("  team: people-ops", "  team: hr")

    after = reconciler("plan", "--env", "production", "--detailed-exitcode")
    assert after.exit_code == 0, after.output
    assert after.stdout == "No changes. Your assistants match the manifests.\n"
    staging_after = reconciler("plan", "--env", "staging")
    assert '~ team = "people-ops" -> "hr"' in staging_after.stdout, "the warning said so"
    assert "outside reconciler" not in staging_after.stdout


def applied_production(
    repo: Path, make_live_emulator: MakeLiveEmulator, config: str = CONFIG
) -> LiveEmulator:
    """Both environments applied; production's server returned."""
    servers = setup(repo, make_live_emulator, config)
    for env in ("staging", "production"):
        assert reconciler("apply", "--env", env, "--auto-approve").exit_code == 0
    return servers["production"]


def test_protect_drift_per_environment_and_saved_plans(
    repo: Path, make_live_emulator: MakeLiveEmulator
) -> None:
    config = CONFIG + "    protect_drift: true\n"
    production = applied_production(repo, make_live_emulator, config)
    hr = held(production)["hr-helper"]
    dashboard_edit(production, hr, description="Edited in the dashboard")

    refused = reconciler("apply", "--env", "production", "--auto-approve")
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[0].startswith(
        f"hr-helper ({hr['id']}): apply would overwrite description, edited outside reconciler after"
    )

    # A saved plan records the drift it saw: applying it with protection refuses too.
    saved = reconciler("plan", "--env", "production", "--out", "production.json")
    assert saved.exit_code == 0, saved.output
    data = json.loads((repo / "production.json").read_text())
    assert data["environment"] == "production"
    assert data["changes"][0]["drifted_fields"] == ["description"]
    production.reset_stats()
    refused = reconciler("apply", "--env", "production", "production.json")
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[-1].startswith("Error: drift protection: 1 assistant edited outside")
    assert [r for r in production.requests() if r["method"] != "GET"] == []

    # ... and a plan made for another environment is refused before any call.
    other = reconciler("apply", "--env", "staging", "production.json")
    assert other.exit_code == 1
    assert other.stderr == (
        "Error: the saved plan was made for environment production, not for this run's (--env staging): "
        "apply it with --env production, or make a new plan and review it\n"
    )

    # Without protection, apply overwrites the edit: the other way to resolve drift.
    (repo / "reconciler.yaml").write_text(
        (repo / "reconciler.yaml").read_text().replace("    protect_drift: true\n", "")
    )
    assert reconciler("apply", "--env", "production", "--auto-approve").exit_code == 0
    assert held(production)["hr-helper"]["description"] is None
    assert reconciler("plan", "--env", "production", "--detailed-exitcode").exit_code == 0


def test_protect_drift_in_reconciler_yaml_is_checked_at_its_line(repo: Path) -> None:
    (repo / "reconciler.yaml").write_text("environments:\n  production:\n    protect_drift: yes\n")
    (repo / "assistants").mkdir()
    result = reconciler("plan", "--env", "production")
    assert result.exit_code == 1
    assert result.stderr == (
        "reconciler.yaml:3:20: environments.production.protect_drift: expected true or false, got a string\n"
        "Error: 1 error in reconciler.yaml\n"
    )


def test_accept_writes_overrides_and_instructions_files(
    repo: Path, make_live_emulator: MakeLiveEmulator
) -> None:
    servers = setup(repo, make_live_emulator)
    hr_path = repo / "assistants" / "hr-helper.yaml"
    hr_path.write_text(HR.replace("metadata:\n  team", "instructions_file: hr.md\nmetadata:\n  team"))
    (repo / "assistants" / "hr.md").write_text("Be kind.\n")
    for env in ("staging", "production"):
        assert reconciler("apply", "--env", env, "--auto-approve").exit_code == 0
    production = servers["production"]
    hr = held(production)["hr-helper"]
    dashboard_edit(production, hr, description="Now described", instructions="Be kind and brief.")

    nothing = reconciler("accept", "--env", "staging")
    assert (nothing.exit_code, nothing.stdout) == (0, "")
    assert (
        nothing.stderr
        == "No drift to accept: no planned change overwrites an edit made outside reconciler.\n"
    )

    accepted = reconciler("accept", "--env", "production", "hr-helper")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout == (
        "wrote assistants/hr-helper.yaml: environments.production.description\n"
        "wrote assistants/hr.md: instructions\n"
    )
    assert accepted.stderr == (
        "Warning: assistants/hr.md: the base manifest names this file, so staging gets it too: review its "
        "plan\n"
        "Accepted 2 fields of 1 assistant edited outside reconciler: review the changes and commit them.\n"
    ), "no warning for description: it is production's own"
    assert (repo / "assistants" / "hr.md").read_text() == "Be kind and brief.\n"
    assert "    description: Now described # production says nothing about itself\n" in hr_path.read_text()
    assert reconciler("plan", "--env", "production", "--detailed-exitcode").exit_code == 0


def test_accept_refuses_what_it_cannot_write_back(repo: Path, make_live_emulator: MakeLiveEmulator) -> None:
    servers = setup(repo, make_live_emulator)
    hr_path = repo / "assistants" / "hr-helper.yaml"
    hr_path.write_text(
        HR.replace("metadata:\n  team", "tools:\n  - type: retrieval\nfiles:\n  - kb.md\nmetadata:\n  team")
    )
    (repo / "assistants" / "kb.md").write_text("25 days of leave.\n")
    assert reconciler("apply", "--env", "production", "--auto-approve").exit_code == 0
    production = servers["production"]
    hr = held(production)["hr-helper"]
    dashboard_edit(production, hr, file_ids=[], model="gpt-4")
    before = hr_path.read_text()

    refused = reconciler("accept", "--env", "production")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "assistants/hr-helper.yaml: file_ids: edited outside reconciler, but this manifest attaches "
        "knowledge files (files:) and a server file cannot be mapped back to a local one; edit files: by "
        "hand, or apply to overwrite\n"
        "Error: 1 drifted field cannot be accepted; nothing was written\n"
    )
    assert hr_path.read_text() == before, "nothing was written, model included"
    unknown = reconciler("accept", "--env", "production", "hr-helpr")
    assert unknown.exit_code == 1
    assert "unknown target 'hr-helpr' (did you mean 'hr-helper'?)" in unknown.stderr


def test_accept_never_writes_the_api_key(repo: Path, make_live_emulator: MakeLiveEmulator) -> None:
    production = applied_production(repo, make_live_emulator)
    hr = held(production)["hr-helper"]
    dashboard_edit(production, hr, instructions=f"Our key is {EMULATOR_API_KEY}.")
    before = (repo / "assistants" / "hr-helper.yaml").read_text()
    refused = reconciler("accept", "--env", "production")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "assistants/hr-helper.yaml: instructions: the server's value holds the API key; not written\n"
        "Error: 1 drifted field cannot be accepted; nothing was written\n"
    )
    assert (repo / "assistants" / "hr-helper.yaml").read_text() == before
    plan = reconciler("plan", "--env", "production")
    assert str(EMULATOR_API_KEY) not in plan.output and "instructions" in plan.stdout


def applied_alone(
    repo: Path, make_live_emulator: MakeLiveEmulator, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> tuple[LiveEmulator, Path]:
    """A server without environments (`OPENAI_BASE_URL`) and `assistants/NAME` holding `text`, applied."""
    server = make_live_emulator()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", str(EMULATOR_API_KEY))
    (repo / "assistants").mkdir()
    manifest = repo / "assistants" / name
    manifest.write_text(text)
    assert reconciler("apply", "--auto-approve").exit_code == 0
    return server, manifest


def test_accept_without_environments(
    repo: Path, make_live_emulator: MakeLiveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "# The bot.\nname: Bot\nmodel: gpt-4\ntemperature: 0.5  # calm\n"
    server, manifest = applied_alone(repo, make_live_emulator, monkeypatch, "bot.yaml", text)
    bot = held(server)["bot"]
    dashboard_edit(server, bot, temperature=1, name="Bot (edited)")

    accepted = reconciler("accept")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout == "wrote assistants/bot.yaml: name, temperature\n"
    assert manifest.read_text() == "# The bot.\nname: Bot (edited)\nmodel: gpt-4\n", (
        "back at its default: removed"
    )
    assert reconciler("plan", "--detailed-exitcode").exit_code == 0


def test_accept_names_each_manifests_fields_in_a_file_of_several(
    repo: Path, make_live_emulator: MakeLiveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`wrote FILE: name, temperature, name` did not say which manifest of the file each field belongs to."""
    text = "key: one\nname: One\nmodel: gpt-4\n---\nkey: two\nname: Two\nmodel: gpt-4\n"
    server, _ = applied_alone(repo, make_live_emulator, monkeypatch, "bots.yaml", text)
    bots = held(server)
    dashboard_edit(server, bots["one"], temperature=0.5, name="One (edited)")
    dashboard_edit(server, bots["two"], name="Two (edited)")

    accepted = reconciler("accept")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout == "wrote assistants/bots.yaml: one: name, temperature; two: name\n"
    assert reconciler("plan", "--detailed-exitcode").exit_code == 0


def test_accept_writes_a_saved_agents_drift_into_its_manifest(
    repo: Path, make_live_emulator: MakeLiveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saved agent edited outside reconciler: accept writes it into agents/KEY.yaml; the plan is empty."""
    server = make_live_emulator()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", str(EMULATOR_API_KEY))
    (repo / "assistants").mkdir()
    (repo / "agents").mkdir()
    manifest = repo / "agents" / "triage.yaml"
    manifest.write_text("# Triage.\nname: Triage\nmodel: gpt-5\n")
    assert reconciler("apply", "--auto-approve").exit_code == 0
    with server.client(kind="agents") as http:
        [agent] = http.get("/agents").json()["data"]
        assert http.post(f"/agents/{agent['id']}", json={"name": "Triage desk"}).status_code == 200

    plan = reconciler("plan")
    assert f'  agent "triage" ({agent["id"]}): name (edited after the last apply, ' in plan.stdout
    accepted = reconciler("accept")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout == "wrote agents/triage.yaml: name\n"
    assert "Accepted 1 field of 1 agent edited outside reconciler" in accepted.output
    assert manifest.read_text() == "# Triage.\nname: Triage desk\nmodel: gpt-5\n"
    assert reconciler("plan", "--detailed-exitcode").exit_code == 0
