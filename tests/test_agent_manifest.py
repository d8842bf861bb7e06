# ruff: noqa: E501  (exact error messages read best on one line)
"""Agent manifests (`agents/`): every field, limit, enum and tool variant at its edges, hostile manifests
(secrets, unknown tool types, inline credentials), and the loader they share with assistants."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler import agent_dialect
from reconciler.manifest import LoadedAgent, load_agents, load_directory
from reconciler.manifest import secrets as secret_rules
from reconciler.manifest.agent_model import AgentManifest, json_schema

ROOT = Path(__file__).resolve().parent.parent
VAULT = "a saved agent stores no credentials: keep it in a vault credential and name it with credential_id"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake repository (with .git) holding an empty `agents/`; the cwd is the repository."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "agents").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def errors(repo: Path, text: str, fast: bool = True) -> list[str]:
    (repo / "agents" / "a.yaml").write_text(text, encoding="utf-8")
    return [str(e) for e in load_agents(Path("agents"), fast=fast).errors]


def only(repo: Path, text: str) -> LoadedAgent:
    (repo / "agents" / "a.yaml").write_text(text, encoding="utf-8")
    result = load_agents(Path("agents"))
    assert result.errors == []
    [agent] = result.manifests
    return agent


def mcp(transport: str, extra: str = "") -> str:
    return f"model: m\ntools:\n  - type: mcp\n    server_label: s\n    transport:\n{transport}{extra}"


HTTP = "      type: http\n      server_url: https://mcp.example.com\n"


# --- the examples


def test_the_example_agents_are_valid_and_start_with_the_modeline() -> None:
    result = load_agents(ROOT / "agents")
    assert result.errors == [] and result.notes == []
    assert sorted(m.key for m in result.manifests) == ["docs-concierge", "research-assistant"]
    for path in (ROOT / "agents").glob("*.yaml"):
        assert path.read_text().splitlines()[0] == "# yaml-language-server: $schema=../schema/agent.json"


def test_the_example_agents_api_fields() -> None:
    agents = {m.key: m for m in load_agents(ROOT / "agents").manifests}
    concierge = agents["docs-concierge"].api_fields()
    assert concierge["instructions"].startswith("You answer questions about our developer documentation.")
    assert [t["type"] for t in concierge["tools"]] == ["mcp", "function", "tool_search"]
    assert concierge["tools"][0]["credential_id"] == "vcred_docs_readonly"
    assert concierge["multi_agent"] == {"enabled": True, "max_concurrent_subagents": 2}
    research = agents["research-assistant"].api_fields()
    assert research["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert research["tools"][0]["location"] == {"country": "FR", "timezone": "Europe/Paris"}


def test_the_committed_schema_is_the_models() -> None:
    assert json.loads((ROOT / "schema" / "agent.json").read_text()) == json_schema()


# --- every field, valid


def test_a_full_manifest_loads_into_api_fields(repo: Path) -> None:
    agent = only(
        repo,
        """key: full
name: N
model: gpt-5
instructions: I
tools:
  - {type: function, name: f, description: d, parameters: {type: object}, defer_loading: true}
  - {type: tool_search}
  - {type: programmatic_tool_calling, enabled: false}
  - type: mcp
    server_label: docs
    transport: {type: stdio, command: srv, cwd: /, args: [--ro], env_vars: [HOME]}
    allowed_tools: [a]
    connection_origin: environment
    credential_id: vcred_1
    request_metadata: {trace: "1"}
    required: true
  - {type: web_search, allowed_domains: [a.org], context_size: low, location: {city: Paris}, mode: cached}
  - {type: computer_use, include_screenshots: true}
metadata: {team: x}
reasoning: {effort: xhigh, summary: concise}
service_tier: priority
text: {format: {type: json_schema, schema: {type: object}}, verbosity: high}
multi_agent: {enabled: true, max_concurrent_subagents: 4294967295}
""",
    )
    assert agent.key == "full"
    fields = agent.api_fields()
    assert list(fields) == list(agent_dialect.FIELDS)
    assert fields["text"] == {
        "format": {"type": "json_schema", "schema": {"type": "object"}},
        "verbosity": "high",
    }
    assert fields["tools"][3]["transport"] == {
        "type": "stdio", "command": "srv", "cwd": "/", "args": ["--ro"], "env_vars": ["HOME"]
    }  # fmt: skip
    desired = agent_dialect.desired_state(fields, agent.key)
    assert desired["metadata"] == {"team": "x", "reconciler_key": "full"}
    assert agent.position("tools[3].transport.command") == (11, 30)


def test_null_is_the_default_and_omitted_fields_are_absent(repo: Path) -> None:
    agent = only(repo, "model: m\nname: null\ntools: null\nreasoning: null\n")
    assert agent.api_fields() == {"model": "m", "name": None, "tools": None, "reasoning": None}
    assert agent_dialect.normalise(agent.api_fields()) == agent_dialect.normalise({"model": "m"})


def test_instructions_file_is_read_like_an_assistants(repo: Path) -> None:
    (repo / "agents" / "i.md").write_text("line\r\nend\n")
    assert only(repo, "model: m\ninstructions_file: i.md\n").api_fields()["instructions"] == "line\nend"
    assert errors(repo, "model: m\ninstructions_file: ../../x.md\n") == [
        f"agents/a.yaml:2:20: instructions_file: '../../x.md' is outside the repository ({repo.resolve()})"
    ]


def test_instructions_and_instructions_file_exclude_each_other(repo: Path) -> None:
    (repo / "agents" / "i.md").write_text("x")
    assert errors(repo, "model: m\ninstructions: a\ninstructions_file: i.md\n") == [
        "agents/a.yaml:3:20: instructions_file: set either instructions or instructions_file, not both"
    ]


def test_instructions_file_limit_is_the_agents(repo: Path) -> None:
    limit = agent_dialect.MAX_INSTRUCTIONS
    (repo / "agents" / "i.md").write_text("x" * limit)
    assert len(only(repo, "model: m\ninstructions_file: i.md\n").api_fields()["instructions"]) == limit
    (repo / "agents" / "i.md").write_text("x" * (limit + 1))
    assert errors(repo, "model: m\ninstructions_file: i.md\n") == [
        "agents/a.yaml:2:20: instructions_file: 'i.md' has 1,048,577 characters; instructions may have at most 1,048,576"
    ]


# --- limits at and one past the edge

LONG = 1_048_576


@pytest.mark.parametrize(
    ("field", "at", "past", "message"),
    [
        ("name", "n" * 128, "n" * 129, "agents/a.yaml:2:7: name: at most 128 characters, got 129"),
        (
            "model",
            "m" * LONG,
            "m" * (LONG + 1),
            "agents/a.yaml:1:8: model: at most 1,048,576 characters, got 1,048,577",
        ),
        (
            "instructions",
            "i" * LONG,
            "i" * (LONG + 1),
            "agents/a.yaml:2:15: instructions: at most 1,048,576 characters, got 1,048,577",
        ),
    ],
)
def test_string_limits(repo: Path, field: str, at: str, past: str, message: str) -> None:
    head = "" if field == "model" else "model: m\n"
    assert errors(repo, f"{head}{field}: {at}\n") == []
    assert errors(repo, f"{head}{field}: {past}\n") == [message]


def test_key_at_and_past_its_limit(repo: Path) -> None:
    assert errors(repo, f"key: {'k' * 63}\nmodel: m\n") == []
    assert errors(repo, f"key: {'k' * 64}\nmodel: m\n") == [
        f"agents/a.yaml:1:6: key: '{'k' * 64}' must be lowercase letters, digits, '-', '_' or '.', starting with a letter or digit, at most 63 characters"
    ]


def test_model_must_not_be_empty(repo: Path) -> None:
    assert errors(repo, "model: ''\n") == ["agents/a.yaml:1:8: model: must not be empty"]
    assert errors(repo, "name: n\n") == ["agents/a.yaml:1:1: model: required field 'model' is missing"]


def test_metadata_limits(repo: Path) -> None:
    pairs = "".join(f"  k{i}: v\n" for i in range(14))
    assert errors(repo, f"model: m\nmetadata:\n{pairs}") == []
    assert errors(repo, f"model: m\nmetadata:\n{pairs}  k14: v\n") == [
        "agents/a.yaml:2:1: metadata: at most 14 pairs (the API allows 16; two are reserved, for the ownership marker 'reconciler_key' and the drift entry 'reconciler_applied'), got 15"
    ]
    assert errors(repo, f"model: m\nmetadata:\n  {'k' * 64}: {'v' * 512}\n") == []
    assert errors(repo, f"model: m\nmetadata:\n  {'k' * 65}: v\n") == [
        f"agents/a.yaml:3:3: metadata.{'k' * 65}: at most 64 characters, got 65"
    ]
    assert errors(repo, f"model: m\nmetadata:\n  k: {'v' * 513}\n") == [
        "agents/a.yaml:3:6: metadata.k: at most 512 characters, got 513"
    ]
    assert errors(repo, "model: m\nmetadata:\n  Reconciler_key: x\n") == [
        "agents/a.yaml:3:3: metadata.Reconciler_key: metadata key 'Reconciler_key' is reserved: keys starting with 'reconciler' belong to the tool"
    ]
    assert errors(repo, "model: m\nmetadata:\n  k: 1\n") == [
        "agents/a.yaml:3:6: metadata.k: expected a string, got a number (1) (quote it)"
    ]


def test_max_concurrent_subagents_range(repo: Path) -> None:
    def multi(n: int) -> str:
        return f"model: m\nmulti_agent:\n  enabled: true\n  max_concurrent_subagents: {n}\n"

    assert errors(repo, multi(1)) == [] and errors(repo, multi(4294967295)) == []
    assert errors(repo, multi(0)) == [
        "agents/a.yaml:4:29: multi_agent.max_concurrent_subagents: must be at least 1, got 0"
    ]
    assert errors(repo, multi(4294967296)) == [
        "agents/a.yaml:4:29: multi_agent.max_concurrent_subagents: must be at most 4,294,967,295, got 4294967296"
    ]
    assert errors(repo, "model: m\nmulti_agent: {max_concurrent_subagents: 2}\n") == [
        "agents/a.yaml:2:1: multi_agent.enabled: required field 'enabled' is missing"
    ]
    assert errors(repo, "model: m\nmulti_agent: {enabled: yes}\n") == [
        "agents/a.yaml:2:24: multi_agent.enabled: expected true or false, got a string"
    ]


def _tools_json_bytes(description: str) -> int:
    """The size of one function tool as sent: compact JSON of its normal form (`defer_loading` filled in)."""
    tool = {"type": "function", "name": "f", "description": description, "parameters": {}}
    return len(json.dumps([agent_dialect.normalise_tool(tool)], separators=(",", ":")).encode())


def test_the_tools_fit_in_3_mib_of_compact_json_as_sent() -> None:
    overhead = _tools_json_bytes("")
    at = "d" * (agent_dialect.MAX_TOOLS_JSON_BYTES - overhead)
    assert _tools_json_bytes(at) == 3_145_728

    def manifest(description: str) -> dict[str, Any]:
        tool = {"type": "function", "name": "f", "description": description, "parameters": {}}
        return {"model": "m", "tools": [tool]}

    AgentManifest.model_validate(manifest(at))
    with pytest.raises(
        ValueError,
        match=r"the tools take 3,145,729 bytes as compact JSON \(defaults filled in, as sent\); at most 3,145,728",
    ):
        AgentManifest.model_validate(manifest(at + "d"))


def test_the_tools_limit_points_at_the_tools_key(repo: Path) -> None:
    big = "d" * agent_dialect.MAX_TOOLS_JSON_BYTES
    assert errors(
        repo, f"model: m\ntools:\n  - {{type: function, name: f, description: {big}, parameters: {{}}}}\n"
    ) == [
        "agents/a.yaml:2:1: tools: the tools take 3,145,815 bytes as compact JSON (defaults filled in, as sent); at most 3,145,728"
    ]


# --- enums

ENUMS = [
    (
        "service_tier: ultrafast",
        "agents/a.yaml:2:15: service_tier: expected 'auto', 'default', 'flex', 'priority' or 'fast', got 'ultrafast'",
    ),
    (
        "reasoning: {effort: huge}",
        "agents/a.yaml:2:21: reasoning.effort: expected 'none', 'minimal', 'low', 'medium', 'high', 'xhigh' or 'max', got 'huge'",
    ),
    (
        "reasoning: {summary: long}",
        "agents/a.yaml:2:22: reasoning.summary: expected 'concise', 'detailed' or 'auto', got 'long'",
    ),
    (
        "text: {verbosity: loud}",
        "agents/a.yaml:2:19: text.verbosity: expected 'low', 'medium' or 'high', got 'loud'",
    ),
    (
        "text: {format: {type: json_object}}",
        "agents/a.yaml:2:16: text.format: unknown format type 'json_object' (expected text or json_schema)",
    ),
    (
        "text: {format: {type: json_schema}}",
        "agents/a.yaml:2:8: text.format.schema: required field 'schema' is missing",
    ),
    (
        "text: {format: {type: json_schema, schema: {}, strict: true}}",
        "agents/a.yaml:2:48: text.format.strict: unknown field 'strict'",
    ),
    (
        "text: {format: {type: json_schema, schema: {type: 3}}}",
        "agents/a.yaml:2:51: text.format.schema.type: not a valid JSON Schema: 3 is not valid under any of the given schemas",
    ),
    (
        "tools: [{type: web_search, context_size: huge}]",
        "agents/a.yaml:2:42: tools[0].context_size: expected 'low', 'medium' or 'high', got 'huge'",
    ),
    (
        "tools: [{type: web_search, mode: 'off'}]",
        "agents/a.yaml:2:34: tools[0].mode: expected 'disabled', 'cached' or 'live', got 'off'",
    ),
    (
        "tools: [{type: web_search, location: {contry: FR}}]",
        "agents/a.yaml:2:39: tools[0].location.contry: unknown field 'contry' (did you mean 'country'?)",
    ),
    (
        "tools: [{type: programmatic_tool_calling, enabled: 1}]",
        "agents/a.yaml:2:52: tools[0].enabled: expected true or false, got a number (1)",
    ),
    (
        "tools: [{type: computer_use, include_screenshot: true}]",
        "agents/a.yaml:2:30: tools[0].include_screenshot: unknown field 'include_screenshot' (did you mean 'include_screenshots'?)",
    ),
    (
        "tools: [{type: tool_search, enabled: true}]",
        "agents/a.yaml:2:29: tools[0].enabled: unknown field 'enabled'",
    ),
]


@pytest.mark.parametrize(("line", "message"), ENUMS)
@pytest.mark.parametrize("fast", [True, False])
def test_enums_and_nested_objects(repo: Path, line: str, message: str, fast: bool) -> None:
    assert errors(repo, f"model: m\n{line}\n", fast=fast) == [message]


# --- tool variants

TOOLS = [
    (
        "tools: [{type: retrieval}]",
        "agents/a.yaml:2:9: tools[0]: unknown tool type 'retrieval' (expected function, tool_search, programmatic_tool_calling, mcp, web_search or computer_use; saved agents have no retrieval or file search tool)",
    ),
    (
        "tools: [{type: code_interpreter}]",
        "agents/a.yaml:2:9: tools[0]: unknown tool type 'code_interpreter' (expected function, tool_search, programmatic_tool_calling, mcp, web_search or computer_use; code runs in the session's environment, not an agent tool)",
    ),
    (
        "tools: [{type: shell}]",
        "agents/a.yaml:2:9: tools[0]: unknown tool type 'shell' (expected function, tool_search, programmatic_tool_calling, mcp, web_search or computer_use)",
    ),
    (
        "tools: [{name: f}]",
        "agents/a.yaml:2:9: tools[0]: a tool needs a type (function, tool_search, programmatic_tool_calling, mcp, web_search or computer_use)",
    ),
    (
        "tools: [web_search]",
        "agents/a.yaml:2:9: tools[0]: expected a tool like {type: web_search}, got a string",
    ),
    (
        "tools: [{type: function, name: f, description: d, parameters: {}, function: {}}]",
        "agents/a.yaml:2:67: tools[0].function: unknown field 'function' (an agent's function tool is flat: name, description and parameters sit beside type)",
    ),
    (
        "tools: [{type: function, name: '', description: d, parameters: {}}]",
        "agents/a.yaml:2:32: tools[0].name: must not be empty",
    ),
    (
        "tools: [{type: function, name: f, parameters: {}}]",
        "agents/a.yaml:2:9: tools[0].description: required field 'description' is missing",
    ),
    (
        "tools: [{type: function, name: f, description: d, parameters: {}}, {type: function, name: f, description: d, parameters: {}}]",
        "agents/a.yaml:2:91: tools[1].name: duplicate function name 'f' (also tools[0])",
    ),
    (
        "tools: [{type: mcp, server_label: s}]",
        "agents/a.yaml:2:9: tools[0].transport: required field 'transport' is missing",
    ),
    (
        "tools: [{type: mcp, server_label: s, transport: {type: sse}}]",
        "agents/a.yaml:2:49: tools[0].transport: unknown transport type 'sse' (expected http or stdio)",
    ),
    (
        "tools: [{type: mcp, server_label: s, transport: {server_url: u}}]",
        "agents/a.yaml:2:49: tools[0].transport: a transport needs a type (http or stdio)",
    ),
    (
        "tools: [{type: mcp, server_label: s, transport: {type: http, server_url: ''}}]",
        "agents/a.yaml:2:74: tools[0].transport.server_url: must not be empty",
    ),
    (
        "tools: [{type: mcp, server_label: s, transport: {type: stdio, command: '', cwd: /}}]",
        "agents/a.yaml:2:72: tools[0].transport.command: must not be empty",
    ),
    (
        "tools: [{type: mcp, server_label: s, transport: {type: http, server_url: u}, credential_id: ''}]",
        "agents/a.yaml:2:93: tools[0].credential_id: must not be empty",
    ),
    (
        "tools: [{type: mcp, server_label: s, transport: {type: stdio, command: c}}]",
        "agents/a.yaml:2:38: tools[0].transport.cwd: required field 'cwd' is missing",
    ),
    (
        "tools: [{type: mcp, server_label: s, transport: {type: http, server_url: u}, connection_origin: cloud}]",
        "agents/a.yaml:2:97: tools[0].connection_origin: expected 'service' or 'environment', got 'cloud'",
    ),
    (
        "tools: [{type: mcp, server_label: s, transport: {type: http, server_url: u}}, {type: mcp, server_label: s, transport: {type: http, server_url: v}}]",
        "agents/a.yaml:2:105: tools[1].server_label: duplicate server_label 's' (also tools[0])",
    ),
]


@pytest.mark.parametrize(("line", "message"), TOOLS)
@pytest.mark.parametrize("fast", [True, False])
def test_tool_variants(repo: Path, line: str, message: str, fast: bool) -> None:
    assert errors(repo, f"model: m\n{line}\n", fast=fast) == [message]


# --- hostile: credentials and fields agents do not have

HOSTILE = [
    (
        mcp(HTTP, "      authorization: Bearer abc\n"),
        "agents/a.yaml:8:7: tools[0].transport.authorization: unknown field 'authorization' (a saved agent stores no credentials: name a vault credential with the tool's credential_id)",
    ),
    (
        mcp("      type: stdio\n      command: c\n      cwd: /\n      env: {TOKEN: x}\n"),
        "agents/a.yaml:9:7: tools[0].transport.env: unknown field 'env' (a saved agent stores no credentials: name a vault credential with the tool's credential_id)",
    ),
    (
        mcp(HTTP, "      headers:\n        Authorization: x\n"),
        f"agents/a.yaml:9:9: tools[0].transport.headers.Authorization: header 'Authorization' carries credentials; {VAULT}",
    ),
    (
        mcp(HTTP, "      headers:\n        X-GitHub-Token: x\n"),
        f"agents/a.yaml:9:9: tools[0].transport.headers.X-GitHub-Token: header 'X-GitHub-Token' carries credentials; {VAULT}",
    ),
    (
        mcp(HTTP, "      headers:\n        X-Trace: Bearer abcdefghijklmnop1234\n"),
        f"agents/a.yaml:9:18: tools[0].transport.headers.X-Trace: holds what looks like an HTTP credential (Bearer/Basic ...); {VAULT}",
    ),
    (
        mcp(HTTP, "    request_metadata:\n      note: api_key=Zx81Qp0vLm27Rt5Ya9Wc\n"),
        f"agents/a.yaml:9:13: tools[0].request_metadata.note: holds what looks like a credential (a long random value after key=); {VAULT}",
    ),
    (
        "model: m\ninstructions: Use sk-proj-abcdefghijklmnopqrstuvwx to call the API.\n",
        f"agents/a.yaml:2:15: instructions: holds what looks like an API key (sk-...); {VAULT}",
    ),
    (
        "model: m\nmetadata:\n  deploy: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
        f"agents/a.yaml:3:11: metadata.deploy: holds what looks like a GitHub token; {VAULT}",
    ),
    (
        "model: m\ntools: [{type: web_search, allowed_domains: [AKIAABCDEFGHIJKLMNOP]}]\n",
        f"agents/a.yaml:2:46: tools[0].allowed_domains[0]: holds what looks like an AWS access key; {VAULT}",
    ),
    (
        "model: m\nname: xoxb-1234567890-abcdef\n",
        f"agents/a.yaml:2:7: name: holds what looks like a Slack token; {VAULT}",
    ),
    (
        "model: m\ntemperature: 0.3\n",
        "agents/a.yaml:2:1: temperature: unknown field 'temperature' (agents have no sampling parameters)",
    ),
    (
        "model: m\ndescription: d\n",
        "agents/a.yaml:2:1: description: unknown field 'description' (agents have no description; keep it in metadata)",
    ),
    (
        "model: m\nfiles: [a.md]\n",
        "agents/a.yaml:2:1: files: unknown field 'files' (knowledge files: same as file_ids)",
    ),
    (
        "model: m\nresponse_format: auto\n",
        "agents/a.yaml:2:1: response_format: unknown field 'response_format' (an agent's output format is text.format)",
    ),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE)
def test_hostile_manifests(repo: Path, text: str, message: str) -> None:
    assert errors(repo, text) == [message]


def test_an_instructions_file_holding_a_token_is_refused(repo: Path) -> None:
    (repo / "agents" / "i.md").write_text("Call the API with Bearer abcdefghijklmnopqrstuvwxyz.\n")
    assert errors(repo, "model: m\ninstructions_file: i.md\n") == [
        f"agents/a.yaml:2:20: instructions_file: 'i.md' holds what looks like an HTTP credential (Bearer/Basic ...); {VAULT}"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Authorization is handled by the vault.",
        "Never ask for passwords; the token is set by the platform.",
        "key: value pairs like team=strategy are fine",
        "password=correcthorsebattery",  # long, but letters only: a passphrase word, not a random key
        "Bearer tokens are refused",
        "sk-short",
        "https://mcp.example.com/docs?page=1&lang=en",
    ],
)
def test_prose_about_credentials_is_not_a_secret(text: str) -> None:
    assert secret_rules.token_problem(text) is None


@pytest.mark.parametrize("name", ["X-Client-Name", "Accept", "X-Request-Id", "User-Agent", "X-Trace"])
def test_ordinary_headers_are_fine(name: str) -> None:
    assert secret_rules.header_problem(name) is None


@pytest.mark.parametrize(
    "name",
    ["authorization", "Proxy-Authorization", "Cookie", "X-Api-Key", "api-key", "X-Auth-Token", "X-Secret"],
)
def test_credential_headers_are_refused(name: str) -> None:
    assert secret_rules.header_problem(name) == f"header '{name}' carries credentials; {VAULT}"


# --- the loader is the assistants'


def test_agents_and_assistants_load_with_the_same_rules(repo: Path) -> None:
    (repo / "agents" / "a.yaml").write_text("model: m\n")
    (repo / "agents" / "b.yaml").write_text("key: a\nmodel: m\n")
    (repo / "agents" / "sub").mkdir()
    (repo / "agents" / "sub" / "x.yaml").write_text("model: m\n")
    result = load_agents(Path("agents"))
    assert [str(e) for e in result.errors] == [
        "agents/b.yaml:1:1: key: duplicate key 'a': also defined in agents/a.yaml:1"
    ]
    assert result.notes == [
        "note: 1 YAML file in subfolders of agents not read (agents/sub/x.yaml): manifests are read from agents itself only"
    ]
    (repo / "agents" / "b.yaml").unlink()
    assert errors(repo, "model: m\nmodel: n\n") == [
        "agents/a.yaml:2:1: model: duplicate key (first defined on line 1)"
    ]
    assert errors(repo, "model: m\nname: yes\nmetadata: {on: '2024-01-01'}\n") == []  # YAML 1.2: strings


def test_a_fifo_is_refused_without_blocking(repo: Path) -> None:
    os.mkfifo(repo / "agents" / "a.yaml")
    assert [str(e) for e in load_agents(Path("agents")).errors] == [
        "agents/a.yaml:1:1: is a FIFO (named pipe), not a manifest file"
    ]


def test_an_agent_manifest_is_not_an_assistant_manifest(repo: Path) -> None:
    (repo / "agents" / "a.yaml").write_text("model: m\ntools: [{type: web_search}]\n")
    assert [str(e) for e in load_directory(Path("agents")).errors] == [
        "agents/a.yaml:2:9: tools[0]: unknown tool type 'web_search' (expected code_interpreter, retrieval or function)"
    ]


def test_the_docs_hold_the_agent_field_table() -> None:
    from reconciler.manifest import reference_table

    text = (ROOT / "docs" / "manifest.md").read_text()
    assert reference_table("agent") in text, (
        "regenerate with `python -c \"from reconciler.manifest import reference_table; print(reference_table('agent'))\"`"
    )
