"""`reconciler.agents_facts` is consistent with itself and with its reference, `docs/agents-api.md`."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from reconciler import agents_facts as facts

DOC = (Path(__file__).parent.parent / "docs" / "agents-api.md").read_text(encoding="utf-8")
MODULE = Path(facts.__file__)
ALL_SUBFIELD_GROUPS = {
    "reasoning": facts.REASONING_FIELDS,
    "text": facts.TEXT_FIELDS,
    "multi_agent": facts.MULTI_AGENT_FIELDS,
    "json_schema format": facts.JSON_SCHEMA_FORMAT_FIELDS,
    "web_search.location": facts.WEB_SEARCH_LOCATION_FIELDS,
    **{f"tool {variant.type}": variant.fields for variant in facts.TOOL_VARIANTS},
    **{f"transport {variant.type}": variant.fields for variant in facts.MCP_TRANSPORTS},
}
JSON_TYPES = {"string", "object", "array", "integer", "boolean"}
UPDATE_RULES = {"unchanged", "clear", "reset_default", "not_nullable", "unconfirmed"}
CONFIDENCES = {"documented", "inferred", "unconfirmed"}


def test_the_module_is_pure_data_importing_nothing_from_reconciler() -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(MODULE.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported == {"__future__", "dataclasses", "enum", "typing"}
    assert "docs/agents-api.md" in (facts.__doc__ or "")


def test_routes_cover_the_five_operations_under_agents() -> None:
    assert [route.name for route in facts.ROUTES] == ["create", "retrieve", "update", "list", "delete"]
    for route in facts.ROUTES:
        assert route.path in ("/agents", "/agents/{agent_id}")
        assert (route.method == "POST") == (route.body != "none")
    assert facts.BETA_HEADER == ("OpenAI-Beta", "agents=v1")
    assert facts.BASE_URL.endswith("/v1")


def test_every_limit_is_a_positive_integer() -> None:
    limits = [
        facts.AGENT_ID_MAX_LENGTH,
        facts.MODEL_MAX_LENGTH,
        facts.INSTRUCTIONS_MAX_LENGTH,
        facts.NAME_MAX_LENGTH,
        facts.METADATA_MAX_PAIRS,
        facts.METADATA_KEY_MAX_LENGTH,
        facts.METADATA_VALUE_MAX_LENGTH,
        facts.TOOLS_MAX_JSON_BYTES,
        facts.MAX_CONCURRENT_SUBAGENTS_DEFAULT,
        facts.LIST_LIMIT_MIN,
        *facts.MAX_CONCURRENT_SUBAGENTS_RANGE,
        *(field.max_length for field in facts.FIELDS if field.max_length is not None),
    ]
    assert all(isinstance(limit, int) and limit > 0 for limit in limits)
    low, high = facts.MAX_CONCURRENT_SUBAGENTS_RANGE
    assert low <= facts.MAX_CONCURRENT_SUBAGENTS_DEFAULT <= high
    assert facts.TOOLS_MAX_JSON_BYTES == 3 * 1024 * 1024


def test_enums_are_non_empty_without_duplicates() -> None:
    enums = [
        facts.SERVICE_TIERS_REQUEST,
        facts.SERVICE_TIERS_RESPONSE,
        facts.REASONING_EFFORTS,
        facts.REASONING_SUMMARIES,
        facts.TEXT_VERBOSITIES,
        facts.TEXT_FORMAT_TYPES,
        facts.LIST_ORDERS,
        *(field.enum for field in facts.FIELDS if field.enum),
        *(sub.enum for group in ALL_SUBFIELD_GROUPS.values() for sub in group if sub.enum),
    ]
    for enum in enums:
        assert enum and len(set(enum)) == len(enum), enum
    # Whatever a request may send, a read may return.
    assert set(facts.SERVICE_TIERS_REQUEST) < set(facts.SERVICE_TIERS_RESPONSE)
    assert facts.LIST_ORDER_DEFAULT in facts.LIST_ORDERS


def test_agent_fields_are_well_formed() -> None:
    names = [field.name for field in facts.FIELDS]
    assert len(set(names)) == len(names)
    assert [field.name for field in facts.FIELDS if field.default is facts.REQUIRED] == ["model"]
    assert not set(names) & set(facts.READ_ONLY_FIELDS)
    assert set(facts.RESPONSE_FIELDS) == set(names) | set(facts.READ_ONLY_FIELDS)
    for field in facts.FIELDS:
        assert field.json_type in JSON_TYPES, field.name
        for rule, confidence in (field.update_when_omitted, field.update_when_null):
            assert rule in UPDATE_RULES and confidence in CONFIDENCES, field.name
            assert (rule == "unconfirmed") == (confidence == "unconfirmed"), field.name
        # a field that takes no null has a rule saying so, and only that field
        assert (field.update_when_null[0] == "not_nullable") == (not field.request_nullable), field.name
        if field.enum and not isinstance(field.default, facts.Marker):
            assert field.default in field.enum, field.name
        if field.max_length is not None:
            assert field.json_type == "string", field.name


@pytest.mark.parametrize("group", sorted(ALL_SUBFIELD_GROUPS))
def test_nested_and_tool_fields_are_well_formed(group: str) -> None:
    fields = ALL_SUBFIELD_GROUPS[group]
    names = [sub.name for sub in fields]
    assert len(set(names)) == len(names), group
    assert "type" not in names, group  # the discriminator is the variant's own `type`
    for sub in fields:
        assert sub.json_type in JSON_TYPES, (group, sub.name)
        if sub.enum and not isinstance(sub.default, facts.Marker):
            assert sub.default in sub.enum, (group, sub.name)
        if sub.default is None:  # reads back null when omitted, so null is a valid value
            assert sub.response_nullable, (group, sub.name)
        if sub.required:
            assert not sub.request_nullable, (group, sub.name)


def test_every_tool_type_has_a_field_list() -> None:
    types = [variant.type for variant in facts.TOOL_VARIANTS]
    assert types == [
        "function",
        "tool_search",
        "programmatic_tool_calling",
        "mcp",
        "web_search",
        "computer_use",
    ]
    assert all(isinstance(variant.fields, tuple) for variant in facts.TOOL_VARIANTS)
    # tool_search is the only variant made of its `type` alone
    assert [variant.type for variant in facts.TOOL_VARIANTS if not variant.fields] == ["tool_search"]
    required = {
        variant.type: [sub.name for sub in variant.fields if sub.required] for variant in facts.TOOL_VARIANTS
    }
    assert required["function"] == ["name", "description", "parameters"]
    assert required["mcp"] == ["server_label", "transport"]


def test_saved_agents_hold_no_credential_bearing_transport_field() -> None:
    assert {variant.type for variant in facts.MCP_TRANSPORTS} == set(facts.SESSION_ONLY_TRANSPORT_FIELDS)
    for variant in facts.MCP_TRANSPORTS:
        stored = {sub.name for sub in variant.fields}
        assert not stored & set(facts.SESSION_ONLY_TRANSPORT_FIELDS[variant.type]), variant.type


def test_defaults_are_json_values_or_markers() -> None:
    for field in facts.FIELDS:
        if not isinstance(field.default, facts.Marker):
            json.dumps(field.default)
    assert json.loads(json.dumps(facts.DEFAULT_TEXT))["format"]["type"] in facts.TEXT_FORMAT_TYPES
    assert facts.DEFAULT_MULTI_AGENT == {"enabled": False, "max_concurrent_subagents": None}


def test_migrations_point_at_existing_agent_fields_and_tools() -> None:
    field_names = {field.name for field in facts.FIELDS}
    tool_types = {variant.type for variant in facts.TOOL_VARIANTS}
    for migration in facts.V1_FIELDS:
        assert migration.target is None or migration.target in field_names, migration.source
    for migration in facts.V1_TOOLS:
        assert migration.target is None or migration.target in tool_types, migration.source
    for migration in (*facts.V1_FIELDS, *facts.V1_TOOLS):
        assert (migration.target is None) == (migration.loss == "total"), migration.source
        assert migration.note, migration.source
    assert {m.source for m in facts.V1_TOOLS} == {"function", "retrieval", "code_interpreter"}


def test_unknowns_stay_unknown() -> None:
    assert facts.ID_PREFIX is facts.UNKNOWN
    assert facts.LIST_LIMIT_MAX is facts.UNKNOWN and facts.LIST_LIMIT_DEFAULT is facts.UNKNOWN
    assert facts.DOCUMENTED_ERROR_MESSAGES == ()
    assert facts.ERROR_FIELDS == ("message", "type", "param", "code")
    assert "before" not in facts.LIST_PARAMS


def test_the_reference_names_every_fact_of_the_module() -> None:
    for name in (
        *facts.RESPONSE_FIELDS,
        *(variant.type for variant in facts.TOOL_VARIANTS),
        *(sub.name for group in ALL_SUBFIELD_GROUPS.values() for sub in group),
        *facts.SERVICE_TIERS_RESPONSE,
        *facts.REASONING_EFFORTS,
        *facts.LIST_PARAMS,
        *facts.LIST_ENVELOPE_FIELDS,
        facts.DELETED_OBJECT,
    ):
        assert f"`{name}`" in DOC or f'"{name}"' in DOC, name
    for limit in (facts.MODEL_MAX_LENGTH, facts.NAME_MAX_LENGTH, facts.MAX_CONCURRENT_SUBAGENTS_RANGE[1]):
        assert str(limit) in DOC, limit
    assert "3,145,728" in DOC
    header, value = facts.BETA_HEADER
    assert f"`{header}: {value}`" in DOC


def test_the_reference_lists_as_many_unknowns_as_the_module() -> None:
    section = DOC.split("## 11.", 1)[1].split("\n## ", 1)[0]
    numbered = re.findall(r"^\d+\. ", section, flags=re.M)
    assert len(numbered) == len(facts.UNCONFIRMED)
