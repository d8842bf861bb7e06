# ruff: noqa: E501  (exact messages read best on one line)
"""Models Assistants v1 refused although `/models` lists them (issue 15): a plan error at the manifest's
`model:` value under `openai` rules (`--local`, api.openai.com, or asked for), a warning under `server` rules
(any other server decides at apply)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from plan_support import write_manifests

from reconciler.cli import cli
from reconciler.emulator.testing import LiveEmulator
from reconciler.usecases.planning import model_rules

GPT_4O = (
    "The requested model 'gpt-4o' cannot be used with the Assistants API in v1. Follow the migration guide to "
    "upgrade to v2: https://platform.openai.com/docs/assistants/migration."
)
INSTRUCT = "The requested model 'gpt-3.5-turbo-instruct' cannot be used with the Assistants API."


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return tmp_path


def run(*args: str, server: LiveEmulator | None = None) -> Result:
    env = {"NO_COLOR": "1"}
    if server is not None:
        env |= {"OPENAI_API_KEY": server.api_key or "", "OPENAI_BASE_URL": server.base_url}
    return CliRunner().invoke(cli, list(args), prog_name="reconciler", env=env)


def test_local_plan_refuses_a_model_v1_refused_at_its_value(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": "name: HR\nmodel:   gpt-4o\n", "it": "model: gpt-4\n"})
    result = run("plan", "--local")
    assert result.exit_code == 1
    assert (
        result.output
        == f'Error: assistants/hr.yaml:2:10: model: Assistants v1 refuses this model: "{GPT_4O}"\n'
    )


def test_a_model_change_is_judged_too(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": "name: HR\nmodel: gpt-4\n"})
    assert run("apply", "--local", "--auto-approve").exit_code == 0
    write_manifests(workdir / "assistants", {"hr": "name: HR\nmodel: gpt-3.5-turbo-instruct\n"})
    result = run("plan", "--local")
    assert result.exit_code == 1
    assert (
        result.output
        == f'Error: assistants/hr.yaml:2:8: model: Assistants v1 refuses this model: "{INSTRUCT}"\n'
    )
    assert run("plan", "--local", "--model-rules", "server").exit_code == 0


def test_another_server_decides_with_a_warning(workdir: Path, live_emulator: LiveEmulator) -> None:
    write_manifests(workdir / "assistants", {"hr": "name: HR\nmodel: gpt-4o\n"})
    warning = (
        f"assistants/hr.yaml:2:8: model: OpenAI's Assistants v1 refuses 'gpt-4o' (\"{GPT_4O}\"); this server "
        "decides at apply (--model-rules openai makes this an error)"
    )
    result = run("plan", "--format", "json", server=live_emulator)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == [warning]
    text = run("plan", server=live_emulator)
    assert f"Warning: {warning}\n" in text.output
    # This server (the emulator, served) follows OpenAI: it refuses at apply, as the warning says it may.
    applied = run("apply", "--auto-approve", server=live_emulator)
    assert applied.exit_code == 1 and GPT_4O in applied.output


def test_openai_rules_on_request_refuse_before_any_models_call(
    workdir: Path, live_emulator: LiveEmulator
) -> None:
    write_manifests(workdir / "assistants", {"hr": "name: HR\nmodel: gpt-4o\n"})
    live_emulator.reset_stats()
    result = run("plan", "--model-rules", "openai", server=live_emulator)
    assert result.exit_code == 1
    assert (
        result.output
        == f'Error: assistants/hr.yaml:2:8: model: Assistants v1 refuses this model: "{GPT_4O}"\n'
    )
    assert [r["path"] for r in live_emulator.requests()] == ["/v1/assistants"]


def test_a_model_no_listing_offers_stays_the_listing_error(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": "name: HR\nmodel: gpt-9\n"})
    result = run("plan", "--local")
    assert result.exit_code == 1
    assert "model 'gpt-9' is not available on the embedded emulator (--local)" in result.output


def test_a_saved_plan_takes_no_model_rules(workdir: Path) -> None:
    write_manifests(workdir / "assistants", {"hr": "name: HR\nmodel: gpt-4\n"})
    assert run("plan", "--local", "--out", "plan.json").exit_code == 0
    result = run("apply", "plan.json", "--local", "--model-rules", "openai")
    assert result.exit_code == 1
    assert result.output == (
        "Error: a saved plan is applied exactly as it was made: --model-rules belongs to `reconciler plan`\n"
    )


@pytest.mark.parametrize(
    ("rules", "base_url", "expected"),
    [
        ("auto", "https://api.openai.com/v1", "openai"),
        ("auto", "https://API.OpenAI.com:443/v1", "openai"),
        ("auto", "http://reconciler.local/v1", "openai"),  # LOCAL_BASE_URL: the embedded emulator
        ("auto", "http://127.0.0.1:8080/v1", "server"),
        ("auto", "https://api.openai.com.example.net/v1", "server"),
        ("server", "https://api.openai.com/v1", "server"),
        ("openai", "http://127.0.0.1:8080/v1", "openai"),
    ],
)
def test_auto_picks_openai_rules_only_for_openai_and_the_embedded_emulator(
    rules: str, base_url: str, expected: str
) -> None:
    assert model_rules(rules, base_url) == expected
