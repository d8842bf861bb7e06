# ruff: noqa: E501  (exact report lines read best on one line)
"""`reconciler migrate` (assistant manifests → agent manifests with a loss report), and the offline commands
over both kinds: `validate`, `schema --kind agent`, `fmt`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler import agent_dialect, formatter, migrate
from reconciler.cli import cli
from reconciler.manifest import load_agents, load_directory
from reconciler.manifest.agent_model import json_schema

ROOT = Path(__file__).resolve().parent.parent

HR = "assistants/hr-helper.yaml -> agents/hr-helper.yaml"
IT = "assistants/it-helpdesk.yaml -> agents/it-helpdesk.yaml"
DESCRIPTION = "  description [partial]: kept as metadata.description: agents have no description field"
MODEL = "  model [note]: kept as 'gpt-4-turbo': whether v1-era model names are accepted is unknown"
INSTRUCTIONS = "  instructions [note]: appended to the agent's default base instructions: an assistant's instructions were its whole system prompt, and the agent's base instructions are not published"
EXAMPLES_TEXT = "\n".join(
    [
        HR,
        DESCRIPTION,
        MODEL,
        INSTRUCTIONS,
        "  tools[0] retrieval [total]: dropped: saved agents have no retrieval or file search tool",
        "  files [total]: dropped (1 file): knowledge files belong to environments and sessions, not to agents",
        IT,
        DESCRIPTION,
        MODEL,
        INSTRUCTIONS,
        "  temperature [total]: dropped (it is 0.3): agents have no sampling parameters",
        "2 manifests: 5 losses (3 total, 2 partial), 4 notes.",
        "",
    ]
)
HR_ROW = "| `assistants/hr-helper.yaml` | `agents/hr-helper.yaml` | "
IT_ROW = "| `assistants/it-helpdesk.yaml` | `agents/it-helpdesk.yaml` | "
MD_COMMON = [
    "`description` | partial | kept as metadata.description | agents have no description field |",
    "`model` | note | kept as 'gpt-4-turbo' | whether v1-era model names are accepted is unknown |",
    "`instructions` | note | appended to the agent's default base instructions | an assistant's instructions were its whole system prompt, and the agent's base instructions are not published |",
]
EXAMPLES_MARKDOWN = "\n".join(
    [
        "### Migration from assistants to agents",
        "",
        "| assistant | agent | field | loss | what happens | why |",
        "| --- | --- | --- | --- | --- | --- |",
        *(HR_ROW + row for row in MD_COMMON),
        HR_ROW
        + "`tools[0] retrieval` | total | dropped | saved agents have no retrieval or file search tool |",
        HR_ROW
        + "`files` | total | dropped (1 file) | knowledge files belong to environments and sessions, not to agents |",
        *(IT_ROW + row for row in MD_COMMON),
        IT_ROW + "`temperature` | total | dropped (it is 0.3) | agents have no sampling parameters |",
        "",
        "**2 manifests: 5 losses (3 total, 2 partial), 4 notes.** Each agent's instructions are appended to the agent's default base instructions: they are not its whole system prompt. The assistants stay untouched until they are pruned.",
        "",
    ]
)
REFUSED = "Error: 5 lossy conversions (see the report): nothing written; rerun with --accept-loss to write the agent manifests\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding a copy of the example assistants (and their knowledge file) and the schemas."""
    (tmp_path / ".git").mkdir()
    shutil.copytree(ROOT / "assistants", tmp_path / "assistants")
    shutil.copytree(ROOT / "schema", tmp_path / "schema")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="reconciler", env={"NO_COLOR": "1"})


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


# --- the example assistants


def test_a_lossy_migration_prints_the_report_and_writes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    result = run("migrate")
    assert result.exit_code == 1
    assert result.stdout == EXAMPLES_TEXT
    assert result.stderr == REFUSED
    assert snapshot(repo) == before and not (repo / "agents").exists()


def test_the_markdown_report_for_the_pull_request(repo: Path) -> None:
    result = run("migrate", "--format", "markdown", "--report", "migration.md")
    assert result.exit_code == 1
    assert result.stdout == EXAMPLES_MARKDOWN
    assert (repo / "migration.md").read_text() == EXAMPLES_MARKDOWN
    assert not (repo / "agents").exists()


def test_accepted_the_examples_migrate_validate_and_are_formatted(repo: Path) -> None:
    assistants = snapshot(repo / "assistants")
    result = run("migrate", "--accept-loss")
    assert result.exit_code == 0, result.output
    assert result.stdout == EXAMPLES_TEXT
    assert result.stderr == (
        "wrote agents/hr-helper.yaml (from assistants/hr-helper.yaml)\n"
        "wrote agents/it-helpdesk.yaml (from assistants/it-helpdesk.yaml)\n"
    )
    assert snapshot(repo / "assistants") == assistants  # the assistants stay untouched
    loaded = load_agents(Path("agents"))
    assert loaded.errors == []
    agents = {m.key: m.api_fields() for m in loaded.manifests}
    assert agents["hr-helper"] == {
        "name": "HR Helper",
        "model": "gpt-4-turbo",
        "instructions": "You are an HR bot, and you have access to files to answer employee questions about company policies. Always respond with info from either of the files.",
        "metadata": {
            "team": "people-ops",
            "description": "Answers employee questions about company policies.",
        },
    }
    it = agents["it-helpdesk"]
    source = {m.key: m.api_fields() for m in load_directory(Path("assistants")).manifests}["it-helpdesk"]
    assert it["tools"] == [{"type": "function", **source["tools"][0]["function"]}]
    assert it["instructions"] == source["instructions"]
    for path in sorted((repo / "agents").glob("*.yaml")):
        text = path.read_text()
        assert text.startswith(
            f"# Migrated from assistants/{path.name} by `reconciler migrate`.\n"
            "# Its instructions are appended to the agent's default base instructions: they are not the whole system prompt.\n"
            "# yaml-language-server: $schema=../schema/agent.json\n\n"
        )
        assert formatter.format_text(text, formatter.schema_modeline(path)) == text
    assert run("validate").stdout == "2 manifests valid in assistants.\n2 agent manifests valid in agents.\n"
    assert run("fmt", "--check").exit_code == 0


def test_the_migrated_agents_plan_as_desired_states(repo: Path) -> None:
    """What the engine needs: each migrated agent's desired state and create body."""
    assert run("migrate", "--accept-loss").exit_code == 0
    [hr, it] = load_agents(Path("agents")).manifests
    body = agent_dialect.create_body(agent_dialect.desired_state(it.api_fields(), it.key))
    assert list(body) == ["name", "model", "instructions", "tools", "metadata"]
    assert body["tools"][0]["defer_loading"] is False
    assert body["metadata"]["reconciler_key"] == "it-helpdesk"
    assert agent_dialect.desired_state(hr.api_fields(), hr.key)["tools"] == []


def test_rerunning_is_idempotent_and_never_overwrites_silently(repo: Path) -> None:
    assert run("migrate", "--accept-loss").exit_code == 0
    again = run("migrate", "--accept-loss")
    assert again.exit_code == 0
    assert again.stderr == "unchanged agents/hr-helper.yaml\nunchanged agents/it-helpdesk.yaml\n"
    (repo / "agents" / "hr-helper.yaml").write_text("model: edited\n")
    refused = run("migrate", "--accept-loss")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: agents/hr-helper.yaml: already exists with other content; nothing written (--force overwrites)\n"
    )
    assert (repo / "agents" / "hr-helper.yaml").read_text() == "model: edited\n"
    forced = run("migrate", "--accept-loss", "--force", "hr-helper")
    assert forced.exit_code == 0
    assert forced.stderr == "wrote agents/hr-helper.yaml (from assistants/hr-helper.yaml)\n"
    assert (
        (repo / "agents" / "hr-helper.yaml")
        .read_text()
        .startswith("# Migrated from assistants/hr-helper.yaml")
    )


def test_keys_select_and_an_unknown_key_is_named(repo: Path) -> None:
    result = run("migrate", "it-helpdesk", "--to", "out")
    assert result.stdout.splitlines()[0] == "assistants/it-helpdesk.yaml -> out/it-helpdesk.yaml"
    assert result.stdout.splitlines()[-1] == "1 manifest: 2 losses (1 total, 1 partial), 2 notes."
    unknown = run("migrate", "nope", "hr")
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        "Error: no assistant manifest with key 'nope', 'hr' in assistants (keys: hr-helper, it-helpdesk)\n"
    )


def test_bad_arguments_are_one_line(repo: Path) -> None:
    missing = run("migrate", "--from", "nope")
    assert (missing.exit_code, missing.stderr) == (
        1,
        f"Error: no nope/ in {repo}: run from the repository root or pass --from\n",
    )
    same = run("migrate", "--to", "assistants")
    assert same.stderr == "Error: --to assistants is the assistants directory: write the agents elsewhere\n"
    unwritable = run("migrate", "--report", "missing/report.md")
    assert unwritable.exit_code == 1
    assert (
        unwritable.stderr == "Error: missing/report.md: cannot write the report: No such file or directory\n"
    )


def test_an_invalid_assistant_manifest_stops_the_migration(repo: Path) -> None:
    (repo / "assistants" / "bad.yaml").write_text("model: m\ntemperature: 3\n")
    result = run("migrate", "--accept-loss")
    assert result.exit_code == 1
    assert result.stderr == (
        "assistants/bad.yaml:2:14: temperature: must be between 0 and 2, got 3\nError: 1 error in assistants\n"
    )
    assert not (repo / "agents").exists()


def test_a_manifest_the_agent_model_refuses_is_not_written(repo: Path) -> None:
    (repo / "assistants" / "leaky.yaml").write_text(
        "model: m\ninstructions: call with sk-abcdefghijklmnopqrstuvwx\n"
    )
    result = run("migrate", "--accept-loss")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: assistants/leaky.yaml: the agent manifest would not validate: instructions: holds what looks like "
        "an API key (sk-...); a saved agent stores no credentials: keep it in a vault credential and name it with "
        "credential_id; nothing written\n"
    )
    assert not (repo / "agents").exists()


# --- the conversion, field by field


def convert(repo: Path, text: str, name: str = "a.yaml") -> migrate.Migrated:
    (repo / "assistants" / name).write_text(text)
    [loaded] = [m for m in load_directory(Path("assistants")).manifests if m.path.name == name]
    return migrate.convert(loaded, Path("agents"))


def lines(migrated: migrate.Migrated) -> list[str]:
    return migrate.render_text([migrated]).splitlines()[1:-1]


def test_a_long_name_is_cut_and_reported(repo: Path) -> None:
    m = convert(repo, f"name: {'n' * 200}\nmodel: m\n")
    assert (
        lines(m)[0]
        == "  name [partial]: cut to its first 128 characters (it has 200): v1 allows 256 characters, an agent 128"
    )
    assert f"name: {'n' * 128}\n" in m.text
    assert convert(repo, f"name: {'n' * 128}\nmodel: m\n").lossy == ()


def test_description_without_room_in_metadata_is_dropped(repo: Path) -> None:
    pairs = "".join(f"  k{i}: v\n" for i in range(14))
    m = convert(repo, f"description: d\nmodel: m\nmetadata:\n{pairs}")
    assert (
        lines(m)[0]
        == "  description [total]: dropped: agents have no description field, and metadata has no free pair"
    )
    taken = convert(repo, "description: d\nmodel: m\nmetadata: {description: mine}\n")
    assert (
        lines(taken)[0]
        == "  description [total]: dropped: agents have no description field, and metadata has 'description' already"
    )
    assert "description: mine" in taken.text


def test_every_other_loss(repo: Path) -> None:
    (repo / "assistants" / "prompt.md").write_text("Be brief.\n")
    m = convert(
        repo,
        """id: asst_abc
model: gpt-4
instructions_file: prompt.md
tools:
  - type: code_interpreter
  - type: function
    function: {name: ping}
file_ids: [file-abc, file-def]
top_p: 0.5
temperature: 1
response_format: {type: json_object}
""",
    )
    assert lines(m) == [
        "  id [note]: not carried (asst_abc): id adopts an existing assistant; the agent is created new and matched by key",
        "  model [note]: kept as 'gpt-4': whether v1-era model names are accepted is unknown",
        "  instructions [note]: appended to the agent's default base instructions: an assistant's instructions were its whole system prompt, and the agent's base instructions are not published",
        "  tools[0] code_interpreter [total]: dropped: code runs in the session's environment, not an agent tool",
        '  tools[1] function ping [note]: description written as "": agents require a description; whether the API takes an empty one is not documented',
        "  tools[1] function ping [note]: parameters written as {}: agents require parameters; an empty object schema means no arguments, as before",
        "  file_ids [total]: dropped (2 file ids): files belong to environments and sessions, not to agents",
        "  top_p [total]: dropped (it is 0.5): agents have no sampling parameters",
        "  response_format [total]: dropped ({type: json_object}): an agent's text.format is text or json_schema: there is no JSON mode without a schema",
    ]
    assert "instructions_file: ../assistants/prompt.md\n" in m.text
    assert "description: ''\n    parameters:\n      type: object\n      properties: {}\n" in m.text


def test_text_response_formats_and_default_sampling_are_not_losses(repo: Path) -> None:
    for fmt in ("auto", "none", "{type: text}"):
        m = convert(repo, f"model: m\nresponse_format: {fmt}\ntemperature: 1.0\ntop_p: 1\n")
        assert m.losses == (
            migrate.Loss(
                "model", "note", "kept as 'm'", "whether v1-era model names are accepted is unknown"
            ),
        )


# --- validate, schema and fmt over both kinds


def test_validate_reports_every_error_of_both_kinds(repo: Path) -> None:
    shutil.copytree(ROOT / "agents", repo / "agents")
    assert run("validate").stdout == "2 manifests valid in assistants.\n2 agent manifests valid in agents.\n"
    (repo / "assistants" / "bad.yaml").write_text("model: m\ntools: [{type: web_search}]\n")
    (repo / "agents" / "bad.yaml").write_text("model: m\ntools: [{type: retrieval}]\n")
    result = run("validate")
    assert result.exit_code == 1
    assert result.stderr == (
        "assistants/bad.yaml:2:9: tools[0]: unknown tool type 'web_search' (expected code_interpreter, retrieval or function)\n"
        "agents/bad.yaml:2:9: tools[0]: unknown tool type 'retrieval' (expected function, tool_search, programmatic_tool_calling, mcp, web_search or computer_use; saved agents have no retrieval or file search tool)\n"
        "Error: 1 error in assistants; 1 error in agents\n"
    )


def test_validate_with_an_agents_dir(repo: Path) -> None:
    shutil.copytree(ROOT / "agents", repo / "elsewhere")
    assert run("validate", "--agents-dir", "elsewhere").stdout == (
        "2 manifests valid in assistants.\n2 agent manifests valid in elsewhere.\n"
    )
    missing = run("validate", "--agents-dir", "missing")
    assert missing.exit_code == 1
    assert missing.stderr == "Error: --agents-dir missing: not a directory\n"


def test_validate_without_agents_is_unchanged(repo: Path) -> None:
    assert run("validate").stdout == "2 manifests valid in assistants.\n"


def test_schema_kind_agent() -> None:
    result = run("schema", "--kind", "agent")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json_schema()
    assert json.loads(run("schema").stdout)["title"] == "reconciler manifest"


def test_fmt_formats_the_agents_beside_the_manifests_with_their_schema(repo: Path) -> None:
    (repo / "agents").mkdir()
    (repo / "agents" / "a.yaml").write_text("tools: [{type: tool_search}]\nmodel: m\n")
    result = run("fmt")
    assert result.exit_code == 0
    assert result.stdout == "reformatted agents/a.yaml\n"
    assert (repo / "agents" / "a.yaml").read_text() == (
        "# yaml-language-server: $schema=../schema/agent.json\nmodel: m\ntools:\n  - type: tool_search\n"
    )
    assert load_agents(Path("agents")).errors == []


def test_the_docs_show_the_real_report() -> None:
    text = (ROOT / "docs" / "migrate.md").read_text()
    assert EXAMPLES_TEXT in text and EXAMPLES_MARKDOWN in text


def test_validate_checks_each_environments_agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from environments_support import CONFIG, write_repository

    (tmp_path / ".git").mkdir()
    write_repository(tmp_path, CONFIG.format(staging="http://s/v1", production="http://p/v1"))
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "scout.yaml").write_text(
        "model: gpt-5\nonly: [staging]\nenvironments:\n  staging:\n    service_tier: flex\n"
    )
    monkeypatch.chdir(tmp_path)
    assert run("validate").stdout == (
        "2 manifests valid in assistants for staging.\n1 manifest valid in assistants for production.\n"
        "1 agent manifest valid in agents for staging.\n0 agent manifests valid in agents for production.\n"
    )
    (tmp_path / "agents" / "scout.yaml").write_text(
        "model: gpt-5\nenvironments:\n  staging:\n    service_tier: turbo\n"
    )
    result = run("validate")
    assert result.exit_code == 1
    assert result.stderr == (
        "agents/scout.yaml:4:19: environments.staging.service_tier: expected 'auto', 'default', 'flex', 'priority' or 'fast', got 'turbo'\n"
        "Error: 1 error in agents for staging\n"
    )


def test_the_support_for_plan_and_apply_tests(tmp_path: Path) -> None:
    from agents_support import example_agents, migrated_repository

    (tmp_path / ".git").mkdir()
    migrated = migrated_repository(tmp_path)
    assert [m.key for m in migrated] == ["hr-helper", "it-helpdesk"]
    assert sorted(p.name for p in (tmp_path / "agents").iterdir()) == ["hr-helper.yaml", "it-helpdesk.yaml"]
    assert (
        (tmp_path / "agents" / "hr-helper.yaml")
        .read_text()
        .startswith("# Migrated from assistants/hr-helper.yaml")
    )
    other = tmp_path / "other"
    other.mkdir()
    assert [m.key for m in load_agents(example_agents(other)).manifests] == [
        "docs-concierge",
        "research-assistant",
    ]


def test_after_migrating_the_assistants_are_pruned_and_agents_stand_alone(repo: Path) -> None:
    """docs/migrate.md's last step: with the assistant manifests deleted, an empty (then missing) assistants/
    beside agents/ is no assistants, not an error; the prune of every assistant needs --force."""
    for args in (["apply", "--local", "--auto-approve"], ["migrate", "--accept-loss"]):
        assert run(*args).exit_code == 0
    assert run("apply", "--local", "--auto-approve").exit_code == 0
    for manifest in (repo / "assistants").glob("*.yaml"):
        manifest.unlink()
    refused = run("apply", "--local", "--prune", "--auto-approve")
    assert refused.exit_code == 1
    assert "Error: plan deletes all 2 managed assistants (2/2), --force required\n" in refused.output
    pruned = run("apply", "--local", "--prune", "--auto-approve", "--force")
    assert pruned.exit_code == 0, pruned.output
    assert "Apply complete! Assistants: 0 added, 0 changed, 2 destroyed.\n" in pruned.output
    shutil.rmtree(repo / "assistants")
    assert run("validate").output == "2 agent manifests valid in agents.\n"
    assert run("plan", "--local").output == "No changes. Your assistants and agents match the manifests.\n"
    assert run("fmt", "--check").exit_code == 0
