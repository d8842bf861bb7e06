"""planner: plans against the in-process emulator (existing state made through the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from plan_support import assistant, create_managed, emulator_client, load, write_manifests

from reconciler.apply import Executor
from reconciler.dialect import FIELDS, MARKER_KEY
from reconciler.errors import PlanError
from reconciler.options import PlanOptions
from reconciler.planner import build_plan
from reconciler.usecases.planning import plan_with

pytestmark = pytest.mark.anyio

BASE = """\
name: HR helper
model: gpt-4-turbo
instructions: You help HR.
tools:
  - type: retrieval
metadata:
  team: hr
"""


async def test_create_then_noop_after_apply(emulator: Any, tmp_path: Path) -> None:
    loaded = load(tmp_path, {"hr": BASE})
    async with emulator_client(emulator) as client:
        plan = await plan_with(client, loaded, PlanOptions())
        (change,) = plan.changes
        assert (change.action, change.id, change.fingerprint) == ("create", None, "absent")
        assert change.after["metadata"] == {"team": "hr", MARKER_KEY: "hr"}
        report = await Executor(client, settle_window=0).run(plan)
        assert report.ok
        again = await plan_with(client, loaded, PlanOptions())
    assert [c.action for c in again.changes] == ["no-op"]
    assert not again.has_changes and again.managed == 1


@pytest.mark.parametrize(
    ("field", "replace", "by"),
    [
        ("name", "name: HR helper", "name: HR bot"),
        ("description", "name: HR helper", "name: HR helper\ndescription: Helps HR."),
        ("model", "model: gpt-4-turbo", "model: gpt-4"),
        ("instructions", "You help HR.", "You help everyone."),
        ("tools", "type: retrieval", "type: code_interpreter"),
        ("metadata", "team: hr", "team: ops"),
        ("temperature", "name: HR helper", "name: HR helper\ntemperature: 0.5"),
        ("top_p", "name: HR helper", "name: HR helper\ntop_p: 0.25"),
        ("response_format", "name: HR helper", "name: HR helper\nresponse_format: {type: json_object}"),
    ],
)
async def test_update_of_each_field(emulator: Any, tmp_path: Path, field: str, replace: str, by: str) -> None:
    async with emulator_client(emulator) as client:
        ids = await create_managed(client, load(tmp_path / "old", {"hr": BASE}))
        loaded = load(tmp_path / "new", {"hr": BASE.replace(replace, by)})
        plan = await plan_with(client, loaded, PlanOptions())
        (change,) = plan.changes
        assert (change.action, change.id, change.changed_fields) == ("update", ids["hr"], (field,))
        assert set(change.before) == set(change.after) == {field}
        assert (await Executor(client, settle_window=0).run(plan)).ok
        assert not (await plan_with(client, loaded, PlanOptions())).has_changes


async def test_update_of_file_ids_and_omitted_fields_go_back_to_defaults(
    emulator: Any, tmp_path: Path
) -> None:
    async with emulator_client(emulator) as client:
        file_id = (await client.upload_file("a.txt", b"hello")).id
        full = BASE + f"file_ids: [{file_id}]\ntemperature: 0.3\ndescription: d\n"
        await create_managed(client, load(tmp_path / "old", {"hr": full}))
        loaded = load(tmp_path / "new", {"hr": "model: gpt-4-turbo\n"})
        plan = await plan_with(client, loaded, PlanOptions())
        (change,) = plan.changes
        assert change.changed_fields == (
            "name", "description", "instructions", "tools", "file_ids", "metadata", "temperature"
        )  # fmt: skip
        assert change.after["file_ids"] == [] and change.after["temperature"] == 1.0
        assert change.after["metadata"] == {MARKER_KEY: "hr"}
        assert (await Executor(client, settle_window=0).run(plan)).ok
        assert not (await plan_with(client, loaded, PlanOptions())).has_changes


async def test_orphans_without_prune_and_deletes_with_it(emulator: Any, tmp_path: Path) -> None:
    async with emulator_client(emulator) as client:
        ids = await create_managed(client, load(tmp_path / "old", {"hr": BASE, "gone": BASE}))
        loaded = load(tmp_path / "new", {"hr": BASE})
        plan = await plan_with(client, loaded, PlanOptions())
        assert [c.action for c in plan.changes] == ["no-op"]
        assert [(o.key, o.id, o.name) for o in plan.orphans] == [("gone", ids["gone"], "HR helper")]
        pruned = await plan_with(client, loaded, PlanOptions(prune=True))
    assert [(c.action, c.key, c.id) for c in pruned.changes] == [
        ("delete", "gone", ids["gone"]),
        ("no-op", "hr", ids["hr"]),
    ]
    assert pruned.orphans == () and pruned.managed == 2
    assert pruned.changes[0].before["name"] == "HR helper" and pruned.changes[0].after == {}
    # Deleting 1 of 2 managed is within the limits (fewer than 10 managed, not all of them).
    assert pruned.warnings == ()


def test_safety_warnings(tmp_path: Path) -> None:
    existing = [assistant(f"a{i:02d}") for i in range(10)]
    keep_six = load(tmp_path / "six", {f"a{i:02d}": "model: gpt-4\n" for i in range(6)})
    plan = build_plan(keep_six, existing, PlanOptions(prune=True))
    assert plan.summary["delete"] == 4
    assert plan.warnings == ("plan deletes 40% of managed assistants, over 30% (4/10), --force required",)
    keep_seven = load(tmp_path / "seven", {f"a{i:02d}": "model: gpt-4\n" for i in range(7)})
    assert build_plan(keep_seven, existing, PlanOptions(prune=True)).warnings == ()
    everything = build_plan([], existing[:2], PlanOptions(prune=True))
    assert everything.warnings == ("plan deletes all 2 managed assistants (2/2), --force required",)
    assert build_plan([], existing[:2]).warnings == ()


def test_plan_repr_is_a_summary(tmp_path: Path) -> None:
    # asyncio.run (3.11) formats the finished main task's result while restoring the SIGINT handler: a plan
    # that printed every Change there cost ~90 MB and half a second at 10,000 assistants.
    existing = [assistant(f"a{i:02d}") for i in range(10)]
    plan = build_plan(load(tmp_path, {"a00": "model: gpt-4\n", "new": "model: gpt-4\n"}), existing)
    assert repr(plan) == (
        "<Plan create=1, update=0, delete=0, no-op=1; "
        "unmanaged=0, managed=10, orphans=9, files=0, warnings=0>"
    )


async def test_adoption_by_id(emulator: Any, tmp_path: Path) -> None:
    async with emulator_client(emulator) as client:
        legacy = await client.create_assistant({"model": "gpt-4", "name": "Legacy", "metadata": {"a": "b"}})
        other = await client.create_assistant({"model": "gpt-4", "name": "Untouched"})
        loaded = load(
            tmp_path, {"legacy": f"id: {legacy.id}\nmodel: gpt-4\nname: Legacy\nmetadata: {{a: b}}\n"}
        )
        plan = await plan_with(client, loaded, PlanOptions())
        (change,) = plan.changes
        assert (change.action, change.id, change.adopt, change.changed_fields) == (
            "update", legacy.id, True, ("metadata",)
        )  # fmt: skip
        assert change.after == {"metadata": {"a": "b", MARKER_KEY: "legacy"}}
        assert plan.unmanaged == 1 and plan.managed == 0
        assert (await Executor(client, settle_window=0).run(plan)).ok
        again = await plan_with(client, loaded, PlanOptions())
        assert [(c.action, c.id, c.adopt) for c in again.changes] == [("no-op", legacy.id, False)]
        assert again.unmanaged == 1 and again.managed == 1
        assert await client.retrieve_assistant(other.id) == other


async def test_duplicate_key_on_the_server(emulator: Any, tmp_path: Path) -> None:
    """Two assistants claiming a key: the oldest is managed, the other is deleted with its reason, without
    --prune; applying leaves one and a new plan is empty."""
    async with emulator_client(emulator) as client:
        loaded = load(tmp_path, {"hr": BASE})
        await create_managed(client, loaded)
        await create_managed(client, loaded)
        kept, extra = sorted(await client.list_assistants(), key=lambda a: (a.created_at, a.id))
        plan = await plan_with(client, loaded, PlanOptions())
        assert [(c.action, c.id, c.reason) for c in plan.changes] == [
            ("delete", extra.id, f"duplicate of hr, keeping {kept.id} (oldest)"),
            ("no-op", kept.id, None),
        ]
        assert plan.data()["changes"][0]["reason"] == f"duplicate of hr, keeping {kept.id} (oldest)"
        assert (await Executor(client, settle_window=0).run(plan)).ok
        assert (await plan_with(client, loaded, PlanOptions())).has_changes is False


async def test_name_collision_with_an_unmanaged_assistant(emulator: Any, tmp_path: Path) -> None:
    async with emulator_client(emulator) as client:
        theirs = await client.create_assistant({"model": "gpt-4", "name": "HR helper"})
        loaded = load(tmp_path, {"hr": BASE})
        with pytest.raises(PlanError) as err:
            await plan_with(client, loaded, PlanOptions())
        assert str(err.value) == (
            f"{tmp_path / 'hr.yaml'}:1:1: name: an unmanaged assistant ({theirs.id}) is already named "
            f"'HR helper'; to adopt it, add `id: {theirs.id}` to {tmp_path / 'hr.yaml'}, "
            "or pass --allow-duplicate-names to create another"
        )
        plan = await plan_with(client, loaded, PlanOptions(allow_duplicate_names=True))
        assert [c.action for c in plan.changes] == ["create"]


@pytest.mark.parametrize("written", ["hr helper", "HR helper ", "HR HELPER"])
async def test_a_name_clash_is_found_as_a_person_reads_the_names(
    emulator: Any, tmp_path: Path, written: str
) -> None:
    """Only an exact match was caught: `hr helper`, `HR helper ` and the other Unicode spelling of `Café`
    created a second assistant a person cannot tell from the first."""
    async with emulator_client(emulator) as client:
        theirs = await client.create_assistant({"model": "gpt-4", "name": "HR helper"})
        cafe = await client.create_assistant({"model": "gpt-4", "name": "Caf\u00e9"})
        loaded = load(
            tmp_path, {"hr": f"model: gpt-4\nname: '{written}'\n", "cafe": "model: gpt-4\nname: Cafe\u0301\n"}
        )
        with pytest.raises(PlanError) as err:
            await plan_with(client, loaded, PlanOptions())
    assert str(err.value).splitlines() == [
        f"{tmp_path / 'cafe.yaml'}:2:1: name: an unmanaged assistant ({cafe.id}) is already named "
        f"'Caf\u00e9'; to adopt it, add `id: {cafe.id}` to {tmp_path / 'cafe.yaml'}, or pass "
        "--allow-duplicate-names to create another",
        f"{tmp_path / 'hr.yaml'}:2:1: name: an unmanaged assistant ({theirs.id}) is already named "
        f"'HR helper'; to adopt it, add `id: {theirs.id}` to {tmp_path / 'hr.yaml'}, or pass "
        "--allow-duplicate-names to create another",
    ]


async def test_unknown_id_fails_the_plan(emulator: Any, tmp_path: Path) -> None:
    async with emulator_client(emulator) as client:
        loaded = load(tmp_path, {"hr": "id: asst_missing\nmodel: gpt-4\n"})
        with pytest.raises(PlanError, match=r"hr\.yaml:1:1: id: assistant asst_missing does not exist"):
            await plan_with(client, loaded, PlanOptions())


async def test_unmanaged_assistants_are_counted_never_changed(emulator: Any, tmp_path: Path) -> None:
    async with emulator_client(emulator) as client:
        for i in range(3):
            await client.create_assistant({"model": "gpt-4", "name": f"theirs {i}"})
        plan = await plan_with(client, [], PlanOptions(prune=True))
    assert plan.changes == () and plan.unmanaged == 3 and plan.managed == 0


async def test_targets_restrict_the_plan(emulator: Any, tmp_path: Path) -> None:
    async with emulator_client(emulator) as client:
        await create_managed(client, load(tmp_path / "old", {"gone": BASE, "gone2": BASE}))
        loaded = load(tmp_path / "new", {"hr": BASE, "hr-bot": BASE.replace("HR helper", "Bot")})
        plan = await plan_with(client, loaded, PlanOptions(targets=("hr", "gone"), prune=True))
        assert [(c.action, c.key) for c in plan.changes] == [("create", "hr"), ("delete", "gone")]
        assert plan.targets == ("hr", "gone")
        with pytest.raises(PlanError) as err:
            await plan_with(client, loaded, PlanOptions(targets=("hr-bott", "zzz")))
    assert str(err.value) == (
        "unknown targets 'hr-bott' (did you mean 'hr-bot'?), 'zzz': "
        "no manifest or managed assistant has that key"
    )


@pytest.mark.parametrize(
    ("target", "hint"),
    [
        ("assistants/hr-bot.yaml", "(a target is a key, not a file: did you mean 'hr-bot'?)"),
        ("assistant:hr.yml", "(a target is a key, not a file: did you mean 'assistant:hr'?)"),
        ("assistants/other.yaml", "(a target is a key, not a file)"),
    ],
)
async def test_a_manifest_path_as_target_names_its_key(
    emulator: Any, tmp_path: Path, target: str, hint: str
) -> None:
    loaded = load(tmp_path / "new", {"hr": BASE, "hr-bot": BASE.replace("HR helper", "Bot")})
    async with emulator_client(emulator) as client:
        with pytest.raises(PlanError) as err:
            await plan_with(client, loaded, PlanOptions(targets=(target,)))
    assert (
        str(err.value) == f"unknown target {target!r} {hint}: no manifest or managed assistant has that key"
    )


async def test_plan_order_creates_updates_deletes_noops_each_by_key(emulator: Any, tmp_path: Path) -> None:
    async with emulator_client(emulator) as client:
        await create_managed(
            client, load(tmp_path / "old", {k: BASE for k in ("u2", "u1", "n2", "n1", "d2", "d1")})
        )
        changed = BASE.replace("HR helper", "Changed")
        loaded = load(
            tmp_path / "new",
            {"c2": BASE, "c1": BASE, "u2": changed, "u1": changed, "n2": BASE, "n1": BASE},
        )
        plan = await plan_with(client, loaded, PlanOptions(prune=True, allow_duplicate_names=True))
    assert [c.key for c in plan.changes] == ["c1", "c2", "u1", "u2", "d1", "d2", "n1", "n2"]


async def test_unavailable_model(emulator: Any, tmp_path: Path) -> None:
    loaded = load(tmp_path, {"hr": BASE.replace("gpt-4-turbo", "gpt-9")})
    async with emulator_client(emulator) as client:
        with pytest.raises(PlanError) as err:
            await plan_with(client, loaded, PlanOptions())
    message = str(err.value)
    assert message.startswith(
        f"{tmp_path / 'hr.yaml'}:2:8: model: model 'gpt-9' is not available on {client.base_url} "
        "(available: gpt-4, "
    )
    assert message.endswith(", … (38 in all); the full list: GET /models)")


async def test_model_check_is_skipped_without_models_endpoint(emulator: Any, tmp_path: Path) -> None:
    loaded = load(tmp_path, {"hr": BASE.replace("gpt-4-turbo", "my-local-model")})
    emulator.inject(404, route="GET /v1/models")
    async with emulator_client(emulator) as client:
        plan = await plan_with(client, loaded, PlanOptions())
    assert [c.action for c in plan.changes] == ["create"]


async def test_no_models_call_when_no_model_is_set(emulator: Any, tmp_path: Path) -> None:
    async with emulator_client(emulator) as client:
        loaded = load(tmp_path, {"hr": BASE})
        await create_managed(client, loaded)
        emulator.reset_stats()
        await plan_with(
            client, load(tmp_path / "b", {"hr": BASE.replace("You help", "You assist")}), PlanOptions()
        )
    assert emulator.stats()["by_route"] == {"GET /v1/assistants": 1}


async def test_call_counts_for_250_assistants(emulator: Any, tmp_path: Path) -> None:
    manifests = {f"bot-{i:03d}": f"model: gpt-4\nname: Bot {i}\n" for i in range(250)}
    async with emulator_client(emulator) as client:
        await create_managed(client, load(tmp_path / "old", manifests))
        manifests["bot-000"] = "model: gpt-4-turbo\nname: Bot 0\n"
        manifests["bot-new"] = "model: gpt-4\nname: New\n"
        loaded = load(tmp_path / "new", manifests)
        emulator.reset_stats()
        client.calls.clear()
        plan = await plan_with(client, loaded, PlanOptions())
    assert plan.summary == {"create": 1, "update": 1, "delete": 0, "no-op": 249}
    assert emulator.stats()["by_route"] == {"GET /v1/assistants": 3, "GET /v1/models": 1}
    assert dict(client.calls) == {"GET /assistants": 3, "GET /models": 1}


def test_fields_are_the_dialect_fields() -> None:
    # The parametrized update test above covers every field but file_ids, which has its own test.
    assert set(FIELDS) == {
        "name", "description", "model", "instructions", "tools", "file_ids", "metadata",
        "temperature", "top_p", "response_format",
    }  # fmt: skip


def test_build_plan_is_pure_and_write_manifests_roundtrips(tmp_path: Path) -> None:
    directory = write_manifests(tmp_path, {"x": "model: gpt-4\n"})
    plan = build_plan(load(directory), [], models={"gpt-4"})
    assert [c.action for c in plan.changes] == ["create"]
    with pytest.raises(
        PlanError, match=r"model 'gpt-4' is not available on this server \(available: gpt-3\.5"
    ):
        build_plan(load(directory), [], models={"gpt-3.5-turbo"})


async def test_fingerprints_are_taken_only_when_wanted(emulator: Any, tmp_path: Path) -> None:
    """A plan only shown hashes no existing object; a plan to be saved records each one's canonical hash,
    and a plan made without them can't be saved."""
    from reconciler import planfile
    from reconciler.dialect import canonical_hash, normalise
    from reconciler.plan import UNTAKEN

    loaded = load(tmp_path, {"hr": BASE, "ops": BASE.replace("HR helper", "Ops helper")})
    async with emulator_client(emulator) as client:
        await Executor(client, settle_window=0).run(await plan_with(client, loaded[:1], PlanOptions()))
        existing = await client.list_assistants()
        shown = await plan_with(client, loaded, PlanOptions(fingerprints=False))
        saved = await plan_with(client, loaded, PlanOptions())
    assert [(c.action, c.fingerprint) for c in shown.changes] == [("create", "absent"), ("no-op", UNTAKEN)]
    assert [(c.action, c.fingerprint) for c in saved.changes] == [
        ("create", "absent"),
        ("no-op", canonical_hash(normalise(existing[0]))),
    ]
    target = planfile.Target(base_url="http://x/v1")
    with pytest.raises(ValueError, match="hr: planned without fingerprints"):
        planfile.to_data(planfile.SavedPlan(shown, target, tmp_path))
