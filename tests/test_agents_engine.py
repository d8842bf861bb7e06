"""Saved agents through the engine, against the emulator: planned and applied beside assistants (issue 18).

Creates, field-by-field updates (only the changed fields sent, null to clear; metadata whole, with the drift
entry, as for assistants), prunes and no-ops, asserted on
the exact requests the emulator received; one plan of both kinds (text, markdown PR comment, JSON against its
schema, saved plan and staleness); faults (dropped writes, 5xx after commit) without a duplicate agent.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from agents_support import migrated_repository
from apply_support import client_for, managed_body, seed, writes
from plan_support import write_manifests

from reconciler import drift, planfile, staleness
from reconciler.apply import Executor
from reconciler.client import Client
from reconciler.dialect import APPLIED_KEY
from reconciler.emulator.testing import InProcessEmulator
from reconciler.errors import PlanError, StalePlanError, UnsafePlanError
from reconciler.kinds import AGENT
from reconciler.kinds.agent import AGENTS
from reconciler.manifest import load_agents, load_directory
from reconciler.options import PlanOptions
from reconciler.plan import Plan, check_safety
from reconciler.render import render_plan
from reconciler.usecases.planning import plan_with

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent

HELPER = "name: HR helper\nmodel: gpt-4\ninstructions: Answer HR questions.\n"
TRIAGE = "name: Triage\nmodel: gpt-5\ninstructions: Sort the tickets.\nmetadata:\n  team: support\n"
SEARCH = "model: gpt-5\ntools:\n  - type: web_search\ntext:\n  verbosity: low\n"


def _write(root: Path, agents: dict[str, str], assistants: dict[str, str] | None = None) -> None:
    """`root/assistants` and `root/agents` holding exactly the manifests given."""
    for folder, manifests in (("assistants", assistants or {"hr-helper": HELPER}), ("agents", agents)):
        directory = root / folder
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.yaml"):
            old.unlink()
        write_manifests(directory, manifests)


async def _plan(client: Client, root: Path, **options: Any) -> Plan:
    assistants = load_directory(root / "assistants")
    agents = load_agents(root / "agents")
    assert not assistants.errors and not agents.errors
    return await plan_with(client, assistants.manifests, PlanOptions(**options), agents=agents.manifests)


#: The time every apply of these tests records as the moment it applied (`Executor(clock=...)`).
AT = 1_764_580_000


def _stamped(plan: Plan, key: str) -> dict[str, str]:
    """The metadata an agent's create or modify sends: its desired metadata and the drift entry."""
    desired = next(c.desired for c in plan.changes if c.kind == "agent" and c.key == key)
    return {**desired["metadata"], APPLIED_KEY: drift.encode(AGENTS, desired, AT)}


async def _apply(client: Client, plan: Plan, **executor: Any) -> Any:
    report = await Executor(client, **{"settle_window": 0, "clock": lambda: AT, **executor}).run(plan)
    assert [r.status for r in report.results if r.failed] == [], report.results
    return report


def _agent_writes(emulator: InProcessEmulator) -> list[tuple[str, str, Any]]:
    return [w for w in writes(emulator.requests()) if "/agents" in w[1]]


async def test_agents_are_created_updated_field_by_field_pruned_and_left_alone(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    _write(tmp_path, {"triage": TRIAGE, "search": SEARCH})
    async with client_for(emulator) as client:
        plan = await _plan(client, tmp_path)
        assert [(c.kind, c.key, c.action) for c in plan.changes] == [
            ("assistant", "hr-helper", "create"),
            ("agent", "search", "create"),
            ("agent", "triage", "create"),
        ]
        emulator.reset_stats()
        await _apply(client, plan)
        assert _agent_writes(emulator) == [
            (
                "POST",
                "/v1/agents",
                {
                    "model": "gpt-5",
                    "tools": [
                        {
                            "type": "web_search",
                            "allowed_domains": None,
                            "context_size": "medium",
                            "location": None,
                            "mode": "live",
                        }
                    ],
                    "metadata": _stamped(plan, "search"),
                    "text": {"format": {"type": "text"}, "verbosity": "low"},
                },
            ),
            (
                "POST",
                "/v1/agents",
                {
                    "name": "Triage",
                    "model": "gpt-5",
                    "instructions": "Sort the tickets.",
                    "metadata": _stamped(plan, "triage"),
                },
            ),
        ]
        ids = {a.metadata["reconciler_key"]: a.id for a in await client.list_objects(AGENT)}

        # Nothing changed: nothing to apply, no write.
        again = await _plan(client, tmp_path)
        assert not again.has_changes and again.summary["no-op"] == 3

        # The name removed (null clears it) and the instructions changed: only those fields are sent, and
        # metadata with the drift entry.
        _write(tmp_path, {"triage": "model: gpt-5\ninstructions: Sort them.\nmetadata:\n  team: support\n"})
        plan = await _plan(client, tmp_path, prune=True)
        assert [(c.key, c.action, c.changed_fields) for c in plan.actionable] == [
            ("triage", "update", ("name", "instructions")),
            ("search", "delete", ()),
        ]
        emulator.reset_stats()
        await _apply(client, plan)
        assert _agent_writes(emulator) == [
            (
                "POST",
                f"/v1/agents/{ids['triage']}",
                {"name": None, "instructions": "Sort them.", "metadata": _stamped(plan, "triage")},
            ),
            ("DELETE", f"/v1/agents/{ids['search']}", None),
        ]
        emulator.reset_stats()
        after = await _plan(client, tmp_path, prune=True)
        assert not after.has_changes
        await _apply(client, after)
        assert writes(emulator.requests()) == []


async def test_one_pr_comment_shows_both_kinds(emulator: InProcessEmulator, tmp_path: Path) -> None:
    _write(tmp_path, {"triage": TRIAGE})
    async with client_for(emulator) as client:
        await _apply(client, await _plan(client, tmp_path))
        _write(tmp_path, {"triage": TRIAGE.replace("Sort the tickets.", "Sort every ticket.")}, {})
        (tmp_path / "assistants" / "hr-helper.yaml").write_text(HELPER.replace("gpt-4", "gpt-4-turbo"))
        plan = await _plan(client, tmp_path)
    out = io.StringIO()
    render_plan(plan, out, "markdown")
    hr_id, triage_id = (c.id for c in plan.actionable)
    assert out.getvalue() == (
        "<!-- reconciler:plan -->\n"
        "**Plan: 0 to add, 2 to change, 0 to destroy.**\n"
        "**Assistants: 0 to add, 1 to change, 0 to destroy.**\n"
        "**Agents: 0 to add, 1 to change, 0 to destroy.**\n"
        "\n"
        f'<details><summary>~ assistant "hr-helper" ({hr_id}) will be updated in-place</summary>\n'
        "\n"
        "```diff\n"
        '~ model = "gpt-4" -> "gpt-4-turbo"\n'
        "  (9 unchanged fields hidden)\n"
        "```\n"
        "\n"
        "</details>\n"
        "\n"
        f'<details><summary>~ agent "triage" ({triage_id}) will be updated in-place</summary>\n'
        "\n"
        "```diff\n"
        '~ instructions = "Sort the tickets." -> "Sort every ticket."\n'
        "  (8 unchanged fields hidden)\n"
        "```\n"
        "\n"
        "</details>\n"
        "\n"
    )
    text = io.StringIO()
    render_plan(plan, text, "text")
    assert text.getvalue().endswith(
        "Assistants: 0 to add, 1 to change, 0 to destroy.\n"
        "Agents: 0 to add, 1 to change, 0 to destroy.\n"
        "Plan: 0 to add, 2 to change, 0 to destroy.\n"
    )
    assert '  ~ agent "triage" {\n' in text.getvalue()


async def test_the_json_plan_of_both_kinds_names_each_kind_and_validates(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    _write(tmp_path, {"triage": TRIAGE})
    async with client_for(emulator) as client:
        plan = await _plan(client, tmp_path)
    data = plan.data()
    assert [(c["kind"], c["key"]) for c in data["changes"]] == [
        ("assistant", "hr-helper"),
        ("agent", "triage"),
    ]
    assert data["summary"] == {"create": 2, "update": 0, "delete": 0, "no-op": 0}
    assert data["kinds"] == {
        "assistant": {
            "summary": {"create": 1, "update": 0, "delete": 0, "no-op": 0},
            "managed": 0,
            "unmanaged": 0,
        },
        "agent": {
            "summary": {"create": 1, "update": 0, "delete": 0, "no-op": 0},
            "managed": 0,
            "unmanaged": 0,
        },
    }
    schema = json.loads((ROOT / "schema" / "plan.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(json.dumps(data)))
    # A plan of assistants alone keeps its old form: no kind anywhere.
    assert "kinds" not in plan.parts[0].data() and "kind" not in plan.parts[0].data()["changes"][0]


async def test_a_saved_plan_of_both_kinds_applies_and_goes_stale_when_an_agent_changes(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    _write(tmp_path, {"triage": TRIAGE, "search": SEARCH})
    async with client_for(emulator) as client:
        await _apply(client, await _plan(client, tmp_path))
        _write(tmp_path, {"triage": TRIAGE.replace("Triage", "Ticket triage"), "search": SEARCH})
        plan = await _plan(client, tmp_path)
        saved = planfile.SavedPlan(plan, planfile.Target("local"), tmp_path)
        data = json.loads(json.dumps(planfile.to_data(saved)))
        schema = json.loads((ROOT / "schema" / "saved-plan.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(data)
        # "2": a reconciler from before agents refuses it; a plan of assistants alone stays "1".
        assert data["format_version"] == "2"
        assistants_only = planfile.SavedPlan(plan.parts[0], planfile.Target("local"), tmp_path)
        assert planfile.to_data(assistants_only)["format_version"] == "1"
        loaded = planfile.saved_from_data(data, tmp_path).plan
        assert loaded.data() == plan.data()
        assert [(p.kind, p.managed) for p in loaded.by_kind] == [("assistant", 1), ("agent", 2)]
        await staleness.check_stale(client, loaded)  # current

        triage = next(a for a in await client.list_objects(AGENT) if a.name == "Triage")
        await client.modify_object(AGENT, triage.id, {"instructions": "Edited by hand."})
        with pytest.raises(StalePlanError) as stale:
            await staleness.check_stale(client, loaded)
        assert str(stale.value) == (
            f"plan is stale: 1 object changed since it was made: triage changed ({triage.id}); "
            "make a new plan and review it"
        )


async def test_the_delete_limits_count_each_kind_alone(emulator: InProcessEmulator, tmp_path: Path) -> None:
    _write(tmp_path, {"triage": TRIAGE})
    async with client_for(emulator) as client:
        await _apply(client, await _plan(client, tmp_path))
        (tmp_path / "agents" / "triage.yaml").unlink()
        write_manifests(tmp_path / "agents", {"search": SEARCH})
        plan = await _plan(client, tmp_path, prune=True)
    with pytest.raises(UnsafePlanError) as unsafe:
        check_safety(plan, force=False)
    assert str(unsafe.value) == "plan deletes all 1 managed agents (1/1), --force required"


@pytest.mark.parametrize(
    "faults",
    [
        {"drop_rate": 0.5, "seed": 7},
        {"fail_rate": 0.4, "drop_rate": 0.3, "seed": 3},
        # The connection closed first, the write committed later: a client that timed out.
        {"drop_rate": 0.4, "commit_delay_ms": 50, "latency_ms": 5, "seed": 11},
    ],
)
async def test_no_duplicate_agent_under_dropped_writes_and_server_errors(
    emulator: InProcessEmulator, tmp_path: Path, faults: dict[str, Any]
) -> None:
    agents = {f"agent-{n:02d}": TRIAGE.replace("Triage", f"Agent {n}") for n in range(12)}
    _write(tmp_path, agents)
    async with client_for(emulator, max_retries=4) as client:
        for _ in range(5):
            emulator.set_faults(**faults)
            try:
                plan = await _plan(client, tmp_path)
                await Executor(client, settle_window=0, settle_seconds=0.1).run(plan)
            except Exception:  # a plan that failed under faults is retried by the next round
                pass
            emulator.set_faults()
            if not (await _plan(client, tmp_path)).has_changes:
                break
        emulator.set_faults()
        dropped = [r for r in emulator.requests() if r["dropped"] and r["path"] == "/v1/agents"]
        assert dropped, "no agent create was dropped: the faults did not reach the agents"
        held = await client.list_objects(AGENT)
        assert sorted(a.metadata["reconciler_key"] for a in held) == sorted(agents)
        assert not (await _plan(client, tmp_path)).has_changes


async def test_the_migrated_example_agents_plan_and_apply_cleanly(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    (tmp_path / ".git").mkdir()
    migrated = migrated_repository(tmp_path)
    async with client_for(emulator) as client:
        plan = await _plan(client, tmp_path)
        agents = plan.by_kind[1]
        assert (agents.kind, agents.summary["create"]) == ("agent", len(migrated))
        report = await _apply(client, plan)
        assert {r.kind for r in report.results} == {"assistant", "agent"}
        again = await _plan(client, tmp_path)
        assert not again.has_changes
        held = await client.list_objects(AGENT)
        assert sorted(a.metadata["reconciler_key"] for a in held) == sorted(m.key for m in migrated)


async def test_import_writes_unmanaged_agents_that_the_next_plan_adopts(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    from reconciler import formatter, importer
    from reconciler.options import ImportOptions

    _write(tmp_path, {"triage": TRIAGE})
    async with client_for(emulator) as client:
        await _apply(client, await _plan(client, tmp_path))
        body = {
            "name": "Docs Bot",
            "model": "gpt-5",
            "instructions": "Answer from the docs.",
            "tools": [{"type": "web_search", "context_size": "high"}],
            "metadata": {"team": "docs"},
            "reasoning": {"effort": "low"},
        }
        made = await client.create_object(AGENT, body)
        out, err = io.StringIO(), io.StringIO()
        options = ImportOptions(directory=tmp_path / "agents", kind="agent", import_all=True)
        await importer.run_import(client, options, out, err)
        assert out.getvalue() == (
            f'wrote {tmp_path / "agents" / "docs-bot.yaml"} ({made.id} "Docs Bot")\n'
            f"Imported 1 agent into {tmp_path / 'agents'} (1 file). "
            "Run `reconciler plan` to adopt them (it adds the ownership marker).\n"
        )
        assert err.getvalue() == "note: 1 managed agent skipped\n"
        assert (tmp_path / "agents" / "docs-bot.yaml").read_text() == (
            "# yaml-language-server: $schema=../schema/agent.json\n"
            "key: docs-bot\n"
            f"id: {made.id}\n"
            "name: Docs Bot\n"
            "model: gpt-5\n"
            "instructions: Answer from the docs.\n"
            "tools:\n"
            "  - type: web_search\n"
            "    context_size: high\n"
            "    mode: live\n"
            "metadata:\n"
            "  team: docs\n"
            "reasoning:\n"
            "  effort: low\n"
            "  summary: null\n"
        )
        assert formatter.run_fmt((tmp_path / "agents",), check=True)

        plan = await _plan(client, tmp_path)
        adopt = plan.actionable
        assert [(c.kind, c.key, c.action, c.adopt, c.changed_fields) for c in adopt] == [
            ("agent", "docs-bot", "update", True, ("metadata",))
        ]
        emulator.reset_stats()
        await _apply(client, plan)
        assert _agent_writes(emulator) == [
            ("POST", f"/v1/agents/{made.id}", {"metadata": _stamped(plan, "docs-bot")})
        ]
        assert not (await _plan(client, tmp_path)).has_changes


async def test_changes_sharing_a_key_run_at_once(emulator: InProcessEmulator, tmp_path: Path) -> None:
    """An assistant and an agent with one key, and an update beside the delete of its duplicate: every change
    runs in parallel and gets its own result (the executor tells in-flight changes apart by kind, key, action
    and id)."""
    _write(tmp_path, {"hr-helper": TRIAGE})
    async with client_for(emulator) as client:
        await _apply(client, await _plan(client, tmp_path))
        await seed(client, managed_body("hr-helper"))  # a younger duplicate of the assistant
        _write(
            tmp_path, {"hr-helper": TRIAGE.replace("Triage", "HR")}, {"hr-helper": HELPER + "top_p: 0.5\n"}
        )
        plan = await _plan(client, tmp_path)
        assert sorted((c.kind, c.action) for c in plan.actionable) == [
            ("agent", "update"),
            ("assistant", "delete"),
            ("assistant", "update"),
        ]
        report = await _apply(client, plan, parallelism=3)
        assert sorted((r.kind, r.status) for r in report.results) == [
            ("agent", "updated"),
            ("assistant", "deleted"),
            ("assistant", "updated"),
        ]
        assert not (await _plan(client, tmp_path)).has_changes


@pytest.mark.parametrize(
    ("page", "problem"),
    [
        (
            {"object": "list", "data": [{"id": "a1", "metadata": {"k": 1}}]},
            "data[0].metadata is an object, not an object of strings",
        ),
        (
            {"object": "list", "data": [{"id": "a1", "reasoning": "high"}]},
            "data[0].reasoning is a string, not an object or null",
        ),
    ],
)
async def test_a_malformed_agent_list_is_one_line_naming_its_endpoint(
    emulator: InProcessEmulator, tmp_path: Path, page: dict[str, Any], problem: str
) -> None:
    from reconciler.client import BadResponseError

    _write(tmp_path, {"triage": TRIAGE})
    emulator.inject(200, route="GET /v1/agents", body=page)
    async with client_for(emulator) as client:
        with pytest.raises(BadResponseError) as info:
            await _plan(client, tmp_path)
    assert str(info.value) == f"GET /agents: the server's answer is not an agent list: {problem}"


async def test_an_agent_edited_outside_reconciler_shows_as_drift(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    _write(tmp_path, {"triage": TRIAGE})
    async with client_for(emulator) as client:
        await _apply(client, await _plan(client, tmp_path))
        triage = next(a for a in await client.list_objects(AGENT) if a.name == "Triage")
        await client.modify_object(AGENT, triage.id, {"instructions": "Edited in the dashboard."})
        plan = await _plan(client, tmp_path)
    [change] = plan.actionable
    assert (change.kind, change.changed_fields, change.drifted_fields) == (
        "agent",
        ("instructions",),
        ("instructions",),
    )
    assert plan.data()["changes"][1]["drifted_fields"] == ["instructions"]
    [item] = plan.data()["drift"]
    assert (item["kind"], item["key"], item["fields"]) == ("agent", "triage", ["instructions"])
    out = io.StringIO()
    render_plan(plan, out, "text")
    assert f'  agent "triage" ({triage.id}): instructions (edited after the last apply, ' in out.getvalue()


async def test_import_refuses_agents_holding_credentials(emulator: InProcessEmulator, tmp_path: Path) -> None:
    """A saved agent the server accepted with a token in its instructions or a credential header is not
    written into the repository: one line per agent naming the field, never the secret, nothing written."""
    from reconciler import importer
    from reconciler.errors import ReconcilerError
    from reconciler.options import ImportOptions

    token = "sk-proj-" + "Ab3dE6gH9jK2mN5pQ8sT1vW4"
    transport: dict[str, Any] = {"type": "http", "server_url": "https://crm.test"}
    mcp: dict[str, Any] = {"type": "mcp", "server_label": "crm", "transport": transport}
    async with client_for(emulator) as client:
        leaky = await client.create_object(AGENT, {"model": "gpt-5", "instructions": f"Use {token}."})
        header = {**mcp, "transport": {**transport, "headers": {"Authorization": "Bearer x"}}}
        headed = await client.create_object(AGENT, {"model": "gpt-5", "tools": [header]})
        options = ImportOptions(directory=tmp_path / "agents", kind="agent", import_all=True)
        with pytest.raises(ReconcilerError) as info:
            await importer.run_import(client, options, io.StringIO(), io.StringIO())
    from reconciler.manifest.secrets import VAULT_ADVICE as advice

    assert sorted(str(info.value).splitlines()) == sorted(
        [
            f"{leaky.id}: instructions: holds what looks like an API key (sk-...); {advice}: not imported",
            f"{headed.id}: tools[0].transport.headers.Authorization: header 'Authorization' carries "
            f"credentials; {advice}: not imported",
        ]
    )
    assert token not in str(info.value)
    assert not (tmp_path / "agents").exists()


async def test_a_key_both_kinds_share_is_targeted_by_kind_never_both(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    """`--target hr-helper` planned (and applied) the assistant and the agent of that key alike: asked for
    one, a run changed both. Now the unqualified key is refused, and `assistant:`/`agent:` pick one."""
    _write(tmp_path, {"hr-helper": TRIAGE, "search": SEARCH})
    async with client_for(emulator) as client:
        with pytest.raises(PlanError) as info:
            await _plan(client, tmp_path, targets=("hr-helper",))
        assert str(info.value) == (
            "target 'hr-helper' names both an assistant and a saved agent: say --target assistant:hr-helper "
            "or --target agent:hr-helper"
        )
        plan = await _plan(client, tmp_path, targets=("agent:hr-helper",))
        assert [(c.kind, c.key, c.action) for c in plan.actionable] == [("agent", "hr-helper", "create")]
        await _apply(client, plan)
        assert [(method, path) for method, path, _ in writes(emulator.requests())] == [("POST", "/v1/agents")]
        plan = await _plan(client, tmp_path, targets=("assistant:hr-helper", "search"))
        assert sorted((c.kind, c.key) for c in plan.actionable) == [
            ("agent", "search"),
            ("assistant", "hr-helper"),
        ]
        with pytest.raises(PlanError) as info:
            await _plan(client, tmp_path, targets=("agent:hr-helpr",))
        assert str(info.value) == (
            "unknown target 'agent:hr-helpr' (did you mean 'agent:hr-helper'?): no manifest or managed "
            "agent has that key"
        )
        with pytest.raises(PlanError) as info:
            await _plan(client, tmp_path, targets=("robot:hr-helper",))
        assert str(info.value) == (
            "target 'robot:hr-helper': unknown kind 'robot'; a key is qualified as assistant:hr-helper or "
            "agent:hr-helper"
        )
        assistants = load_directory(tmp_path / "assistants").manifests
        with pytest.raises(PlanError) as info:
            await plan_with(client, assistants, PlanOptions(targets=("agent:search",)))
        assert str(info.value) == (
            "target 'agent:search': no agent manifests are planned here (saved agents are planned when "
            "agents/ exists beside the assistants directory, or with --agents-dir)"
        )
