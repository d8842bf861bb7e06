"""diff: hash-first comparison, fields compared only where hashes differ, exact changed top-level fields."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import diff
from reconciler.dialect import FIELDS, canonical_json, desired_state, normalise

BASE: dict[str, Any] = {
    "name": "HR helper",
    "model": "gpt-4",
    "instructions": "You help HR.",
    "tools": [{"type": "retrieval"}],
    "file_ids": ["file-a", "file-b"],
    "metadata": {"team": "hr"},
}


def existing(**fields: Any) -> dict[str, Any]:
    obj = {"id": "asst_1", "object": "assistant", "created_at": 1, **BASE, **fields}
    obj["metadata"] = {**obj["metadata"], "reconciler_key": "hr"}
    return normalise(obj)


def test_equal_states_are_equal_and_skip_the_field_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("fields compared on an equal pair")

    monkeypatch.setattr(diff, "changed_fields", boom)
    result = diff.compare(desired_state(BASE, "hr"), existing())
    assert result.changed == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Other"),
        ("description", "Helps."),
        ("model", "gpt-4-turbo"),
        ("instructions", "You help people."),
        ("tools", [{"type": "code_interpreter"}]),
        ("file_ids", ["file-a"]),
        ("metadata", {"team": "ops"}),
        ("temperature", 0.5),
        ("top_p", 0.9),
        ("response_format", {"type": "json_object"}),
    ],
)
def test_each_field_change_is_reported_alone(field: str, value: Any) -> None:
    assert field in FIELDS
    result = diff.compare(desired_state({**BASE, field: value}, "hr"), existing())
    assert result.changed == (field,)


def test_meaningless_differences_are_ignored() -> None:
    desired = desired_state(
        {
            **BASE,
            "file_ids": ["file-b", "file-a"],
            "tools": [{"type": "retrieval"}],
            "temperature": 1,
            "response_format": "auto",
        },
        "hr",
    )
    assert diff.compare(desired, existing(temperature=1.0, top_p=None)).changed == ()


def test_function_parameters_compare_as_json_values() -> None:
    params_a = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}}}
    params_b = {"properties": {"n": {"maximum": 10.0, "type": "integer"}}, "type": "object"}
    tool_a = {"type": "function", "function": {"name": "f", "parameters": params_a}}
    tool_b = {"type": "function", "function": {"name": "f", "parameters": params_b, "description": None}}
    desired = desired_state({**BASE, "tools": [tool_a, {"type": "retrieval"}]}, "hr")
    assert diff.compare(desired, existing(tools=[{"type": "retrieval"}, tool_b])).changed == ()


def test_several_fields_in_fields_order() -> None:
    desired = desired_state({**BASE, "top_p": 0.5, "name": "X", "tools": []}, "hr")
    assert diff.compare(desired, existing()).changed == ("name", "tools", "top_p")


def test_tool_multiset_counts_duplicates() -> None:
    desired = desired_state({**BASE, "tools": [{"type": "retrieval"}, {"type": "retrieval"}]}, "hr")
    assert diff.compare(desired, existing()).changed == ("tools",)


def test_int_and_bool_are_not_confused() -> None:
    desired = desired_state({**BASE, "metadata": {"team": "1"}}, "hr")
    assert diff.compare(desired, existing(metadata={"team": "1"})).changed == ()
    tool_1 = {"type": "function", "function": {"name": "f", "parameters": {"x": 1}}}
    tool_true = {"type": "function", "function": {"name": "f", "parameters": {"x": True}}}
    desired = desired_state({**BASE, "tools": [tool_1]}, "hr")
    assert diff.compare(desired, existing(tools=[tool_true])).changed == ("tools",)


def test_planning_does_not_import_deepdiff() -> None:
    """deepdiff costs a large share of start-up: only rendering a changed function schema needs it."""
    code = (
        "import sys; import reconciler.planner, reconciler.diff, reconciler.usecases.planning; "
        "print('deepdiff' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


_JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-3, 3)
    | st.sampled_from([1.0, 0.0, -0.0])
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=2) | st.integers(0, 2), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(_JSONISH, _JSONISH)
def test_same_implies_equal_canonical_json(a: Any, b: Any) -> None:
    """`same` is only a shortcut: whenever it says equal, the canonical JSON (what the hash sees) is equal."""
    if diff.same(a, b):
        assert canonical_json(a) == canonical_json(b)
    assert diff.same(a, a) or canonical_json(a) == canonical_json(a)
