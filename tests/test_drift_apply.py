"""The drift entry through apply and plan against the in-process emulator: written with every create and
update (in the same body), unknown for marker-only assistants until their next change, the metadata limit
with the extra entry, and no wrong entry whatever faults interrupt an apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apply_support import ENTRY, client_for, managed_body, plan_and_apply, plan_dir, seed, writes
from plan_support import write_manifests

from reconciler import dialect, drift
from reconciler.apply import Executor
from reconciler.client import Client, RemoteAssistant
from reconciler.emulator.testing import InProcessEmulator

pytestmark = pytest.mark.anyio


def entry_of(assistant: RemoteAssistant) -> str | None:
    return assistant.metadata.get(dialect.APPLIED_KEY)


async def by_key(client: Client) -> dict[str, RemoteAssistant]:
    return {dialect.marker_of(a) or a.id: a for a in await client.list_assistants()}


async def test_every_write_records_what_it_applied(emulator: InProcessEmulator, tmp_path: Path) -> None:
    async with client_for(emulator) as client:
        write_manifests(tmp_path, {"bot": "name: Bot\nmodel: gpt-4\ninstructions: v1\n"})
        await plan_and_apply(client, tmp_path)
        created = (await by_key(client))["bot"]
        assert drift.matches(drift.ASSISTANTS_V1, entry_of(created), created)

        write_manifests(tmp_path, {"bot": "name: Bot\nmodel: gpt-4\ninstructions: v2\n"})
        emulator.reset_stats()
        the_plan, report = await plan_and_apply(client, tmp_path)
        assert report.ok and the_plan.drift == ()
        assert writes(emulator.requests()) == [
            (
                "POST",
                f"/v1/assistants/{created.id}",
                {"instructions": "v2", "metadata": {dialect.MARKER_KEY: "bot", dialect.APPLIED_KEY: ENTRY}},
            )
        ]
        updated = (await by_key(client))["bot"]
        assert drift.matches(drift.ASSISTANTS_V1, entry_of(updated), updated)
        # Converged: the entry alone is never a change.
        assert not (await plan_dir(client, tmp_path)).has_changes


async def test_a_marker_only_assistant_is_unknown_until_its_next_change(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    async with client_for(emulator) as client:
        [old] = await seed(client, managed_body("bot", name="Bot", instructions="v1"))
        write_manifests(tmp_path, {"bot": "name: Bot\nmodel: gpt-4\ninstructions: v1\n"})
        emulator.reset_stats()
        quiet, report = await plan_and_apply(client, tmp_path)
        assert not quiet.has_changes and report.results == () and writes(emulator.requests()) == []
        assert entry_of((await by_key(client))["bot"]) is None, "no write only to add the entry"

        # Edited outside reconciler, but nothing was recorded: unknown, not drift.
        await client.modify_assistant(old.id, {"model": "gpt-4-turbo"})
        write_manifests(tmp_path, {"bot": "name: Bot\nmodel: gpt-4\ninstructions: v2\n"})
        the_plan, report = await plan_and_apply(client, tmp_path)
        assert the_plan.changes[0].changed_fields == ("model", "instructions")
        assert the_plan.drift == () and report.ok
        now = (await by_key(client))["bot"]
        assert drift.matches(drift.ASSISTANTS_V1, entry_of(now), now), "recorded at its next change"

        await client.modify_assistant(old.id, {"description": "from the dashboard"})
        [change] = (await plan_dir(client, tmp_path)).actionable
        assert change.drift is not None and change.drift.fields == ("description",)


async def test_an_adopted_assistant_is_unknown_whatever_entry_it_carries(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    async with client_for(emulator) as client:
        stale = drift.encode(drift.ASSISTANTS_V1, dialect.desired_state({"model": "gpt-3.5-turbo"}, "x"), 1)
        [bot] = await seed(client, {"model": "gpt-4", "metadata": {dialect.APPLIED_KEY: stale}})
        write_manifests(tmp_path, {"bot": f"id: {bot.id}\nmodel: gpt-4-turbo\n"})
        the_plan, report = await plan_and_apply(client, tmp_path)
        assert [c.adopt for c in the_plan.actionable] == [True] and the_plan.drift == ()
        adopted = (await by_key(client))["bot"]
        assert report.ok and drift.matches(drift.ASSISTANTS_V1, entry_of(adopted), adopted)


async def test_the_entry_records_the_uploaded_file_ids(emulator: InProcessEmulator, tmp_path: Path) -> None:
    """Knowledge files are planned as placeholders; the entry records the ids apply attached."""
    async with client_for(emulator) as client:
        (tmp_path / "kb.md").write_text("25 days of leave.\n")
        write_manifests(tmp_path, {"hr": "model: gpt-4\ntools: [{type: retrieval}]\nfiles: [kb.md]\n"})
        _, report = await plan_and_apply(client, tmp_path)
        assert report.ok, report.results
        hr = (await by_key(client))["hr"]
        assert len(hr.file_ids) == 1
        assert drift.matches(drift.ASSISTANTS_V1, entry_of(hr), hr)
        assert not (await plan_dir(client, tmp_path)).has_changes


async def test_fourteen_user_metadata_pairs_apply_with_both_reserved_entries(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    pairs = "".join(f"  k{i:02d}: {'v' * 512}\n" for i in range(14))
    async with client_for(emulator) as client:
        write_manifests(tmp_path, {"full": f"model: gpt-4\nmetadata:\n{pairs}"})
        _, report = await plan_and_apply(client, tmp_path)
        assert report.ok, report.results
        full = (await by_key(client))["full"]
        assert len(full.metadata) == dialect.MAX_METADATA_PAIRS
        write_manifests(tmp_path, {"full": f"model: gpt-4\ninstructions: changed\nmetadata:\n{pairs}"})
        _, report = await plan_and_apply(client, tmp_path)
        assert report.ok, report.results
        assert not (await plan_dir(client, tmp_path)).has_changes


SEEDS = range(12)


@pytest.mark.parametrize("seed_", SEEDS)
async def test_an_interrupted_apply_leaves_the_old_or_the_new_entry(
    emulator: InProcessEmulator, tmp_path: Path, seed_: int
) -> None:
    """Whatever faults interrupt an apply (5xx, writes committed but unanswered, answers given up on while
    the write commits later), every assistant's entry records exactly the fields it holds."""
    keys = [f"bot-{i}" for i in range(6)]
    async with client_for(emulator, max_retries=1) as client:
        write_manifests(tmp_path, {k: f"model: gpt-4\ninstructions: v1 {k}\n" for k in keys})
        await plan_and_apply(client, tmp_path)
        before = {k: entry_of(a) for k, a in (await by_key(client)).items()}
        manifests: dict[str, Any] = {
            k: f"model: gpt-4\ninstructions: v2 {k}\ntemperature: 0.5\n" for k in keys
        }
        manifests |= {f"new-{i}": f"model: gpt-4\nname: New {i}\n" for i in range(3)}
        write_manifests(tmp_path, manifests)
        the_plan = await plan_dir(client, tmp_path)
        emulator.set_faults(fail_rate=0.3, drop_rate=0.3, commit_delay_ms=20 * (seed_ % 2), seed=seed_)
        await Executor(client, settle_window=0, settle_seconds=0.05).run(the_plan)
        emulator.set_faults()
        await _settled()
        held = await client.list_assistants()
    for assistant in held:
        entry = entry_of(assistant)
        assert drift.matches(drift.ASSISTANTS_V1, entry, assistant), (seed_, assistant)
        key = dialect.marker_of(assistant)
        if key in before and entry != before[key]:
            assert assistant.instructions == f"v2 {key}", "a new entry only with the new fields"
    async with client_for(emulator) as client:
        assert (await plan_dir(client, tmp_path)).drift == (), "faults never look like drift"


async def _settled() -> None:
    """Wait for writes the emulator commits after closing the connection (`commit_delay_ms`)."""
    import anyio

    await anyio.sleep(0.1)
