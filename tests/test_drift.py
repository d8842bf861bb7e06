"""reconciler.drift: the entry's encoding and its bound, hostile entries, and the three-way comparison."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler import dialect, drift, planfile
from reconciler.drift import ASSISTANTS_V1
from reconciler.plan import Change, Plan
from reconciler.render import render_plan

AT = 1_764_580_000  # 2025-12-01T09:06:40Z


def state(**fields: Any) -> dict[str, Any]:
    return dialect.desired_state({"model": "gpt-4", **fields}, "bot")


def test_encode_decode_round_trip() -> None:
    entry = drift.encode(ASSISTANTS_V1, state(name="Bot"), AT)
    assert entry.startswith(f"1:{ASSISTANTS_V1.fieldset}:{AT}:")
    assert len(entry) == len(f"1:abcd:{AT}:") + drift.HASH_CHARS * len(dialect.FIELDS)
    applied = drift.decode(ASSISTANTS_V1, entry)
    assert applied is not None
    assert applied.at == AT and applied.since == "2025-12-01T09:06:40Z"
    assert dict(applied.hashes) == drift.hashes(ASSISTANTS_V1, state(name="Bot"))
    assert drift.matches(ASSISTANTS_V1, entry, state(name="Bot"))
    assert not drift.matches(ASSISTANTS_V1, entry, state(name="Other"))


def test_the_largest_field_set_fits_the_metadata_value_limit() -> None:
    fields = tuple(f"field_{i}" for i in range(drift.MAX_FIELDS))
    scheme = drift.Scheme(fields, lambda s: s)
    entry = drift.encode(scheme, {f: "x" * 10_000 for f in fields}, 2**40)
    assert len(entry) <= drift.MAX_ENTRY == dialect.MAX_METADATA_VALUE
    assert drift.decode(scheme, entry) is not None
    with pytest.raises(ValueError, match="records 1 to"):
        drift.Scheme((*fields, "one_more"), lambda s: s)


def test_the_entry_ignores_reserved_metadata_and_number_spelling() -> None:
    a = state(metadata={"team": "a"}, temperature=1)
    b = {**state(metadata={"team": "a"}, temperature=1.0)}
    b["metadata"] = {**b["metadata"], dialect.APPLIED_KEY: "anything", "reconciler_other": "x"}
    assert drift.hashes(ASSISTANTS_V1, a) == drift.hashes(ASSISTANTS_V1, b)


GOOD = drift.encode(ASSISTANTS_V1, state(), AT)


@pytest.mark.parametrize(
    "entry",
    [
        None,
        "",
        42,
        ["1"],
        {"v": 1},
        "2" + GOOD[1:],  # another version
        GOOD.replace(f":{ASSISTANTS_V1.fieldset}:", ":0000:"),  # another field list
        GOOD[:-1],  # a hash cut short
        GOOD + "0",
        GOOD.upper(),
        GOOD.replace(":", ";"),
        "1:" + ASSISTANTS_V1.fieldset + ":-5:" + "0" * 80,
        "1:" + ASSISTANTS_V1.fieldset + ":1:" + "g" * 80,
        GOOD + "\n",
        "x" * 100_000,
    ],
)
def test_anything_else_is_unknown_never_an_error(entry: object) -> None:
    assert drift.decode(ASSISTANTS_V1, entry) is None
    assert drift.recorded(ASSISTANTS_V1, {dialect.APPLIED_KEY: entry}) is None
    assert drift.drifted_fields(ASSISTANTS_V1, state(), None, ["model"]) == ()


def test_a_time_out_of_range_is_shown_as_unknown() -> None:
    entry = f"1:{ASSISTANTS_V1.fieldset}:9999999999999:" + "0" * 80
    applied = drift.decode(ASSISTANTS_V1, entry)
    assert applied is not None and applied.since == "unknown"


@pytest.mark.parametrize(
    ("applied", "current", "desired", "in_sync", "drifted", "overwritten"),
    [
        # nothing happened
        ("gpt-4", "gpt-4", "gpt-4", True, False, ()),
        # the manifest changed: a pending change, no drift
        ("gpt-4", "gpt-4", "gpt-4-turbo", False, False, ()),
        # edited outside, manifest unchanged: the plan would overwrite it
        ("gpt-4", "gpt-4-turbo", "gpt-4", False, True, ("model",)),
        # edited outside and the manifest changed to something else: overwritten too
        ("gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", False, True, ("model",)),
        # edited outside to what the manifest now says (accepted): silent
        ("gpt-4", "gpt-4-turbo", "gpt-4-turbo", True, True, ()),
    ],
)
def test_three_way_comparison(
    applied: str, current: str, desired: str, in_sync: bool, drifted: bool, overwritten: tuple[str, ...]
) -> None:
    record = drift.decode(ASSISTANTS_V1, drift.encode(ASSISTANTS_V1, state(model=applied), AT))
    assert record is not None
    now = state(model=current)
    changed = dialect.changed_fields(state(model=desired), now)
    states = {s.field: s for s in drift.compare(ASSISTANTS_V1, now, record, changed)}
    assert (states["model"].in_sync, states["model"].drifted) == (in_sync, drifted)
    assert states["model"].overwrites == bool(overwritten)
    assert not any(s.drifted or not s.in_sync for f, s in states.items() if f != "model")
    assert drift.drifted_fields(ASSISTANTS_V1, now, record, changed) == overwritten


def test_stamped_body_carries_the_whole_metadata_and_the_entry() -> None:
    desired = state(metadata={"team": "a"})
    body = drift.stamped(ASSISTANTS_V1, {"model": "gpt-4"}, desired, AT)
    assert body == {
        "model": "gpt-4",
        "metadata": {
            "team": "a",
            dialect.MARKER_KEY: "bot",
            dialect.APPLIED_KEY: drift.encode(ASSISTANTS_V1, desired, AT),
        },
    }
    # the entry never counts as a difference by itself
    assert dialect.normalise(body)["metadata"] == desired["metadata"]


def test_fields_phrase() -> None:
    assert drift.fields_phrase(["model"]) == "model"
    assert drift.fields_phrase(["model", "tools"]) == "model and tools"
    assert drift.fields_phrase(["model", "tools", "metadata"]) == "model, tools and metadata"


# -- rendering ----------------------------------------------------------------------------------------------


def drifted_plan() -> Plan:
    change = Change(
        key="hr",
        id="asst_1",
        action="update",
        changed_fields=("model", "instructions"),
        before={"model": "gpt-4", "instructions": "a"},
        after={"model": "gpt-4-turbo", "instructions": "b"},
        fingerprint="sha256:" + "0" * 64,
        desired=state(model="gpt-4-turbo", instructions="b"),
        drift=drift.Drift("hr", "asst_1", ("model",), "2026-12-01T09:00:00Z"),
    )
    return Plan(changes=(change,), managed=1)


def test_markdown_shows_the_drift_and_marks_the_overwriting_field() -> None:
    out = io.StringIO()
    render_plan(drifted_plan(), out, "markdown")
    assert out.getvalue() == (
        "<!-- reconciler:plan -->\n"
        "**Plan: 0 to add, 1 to change, 0 to destroy.**\n"
        "\n"
        "> [!CAUTION]\n"
        "> **Changed outside reconciler since the last apply:**\n"
        '> - assistant "hr" (asst_1): model (edited after the last apply, 2026-12-01T09:00:00Z)\n'
        ">\n"
        "> Applying overwrites these edits; `reconciler accept` writes them into the manifests instead.\n"
        "\n"
        '<details><summary>~ assistant "hr" (asst_1) will be updated in-place</summary>\n'
        "\n"
        "```diff\n"
        '~ model        = "gpt-4" -> "gpt-4-turbo"  # overwrites an edit made outside reconciler\n'
        '~ instructions = "a" -> "b"\n'
        "  (8 unchanged fields hidden)\n"
        "```\n"
        "\n"
        "</details>\n"
        "\n"
    )


def test_json_and_saved_plans_carry_the_drift(tmp_path: Path) -> None:
    plan = drifted_plan()
    data = plan.data()
    assert data["changes"][0]["drifted_fields"] == ["model"]
    assert data["drift"] == [
        {"key": "hr", "id": "asst_1", "fields": ["model"], "since": "2026-12-01T09:00:00Z"}
    ]
    for name, form in (("plan.json", data), ("saved-plan.json", None)):
        if form is None:
            saved = planfile.SavedPlan(plan, planfile.Target("local"), tmp_path, "production")
            form = planfile.to_data(saved)
            assert planfile.saved_from_data(form, tmp_path).plan.changes[0].drift == plan.changes[0].drift
            assert planfile.saved_from_data(form, tmp_path).environment == "production"
        schema = json.loads((Path(__file__).resolve().parent.parent / "schema" / name).read_text())
        jsonschema.Draft202012Validator(schema).validate(form)
    assert "drift" not in Plan(changes=()).data(), "quiet: no drift, no key"
