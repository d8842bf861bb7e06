"""Compare desired and existing objects: a cheap equality first, field by field only the pairs that differ.

Both sides are normal forms (`Kind.normalise` / `Kind.desired_state`), so order that carries no
meaning (file_ids, tools) and number spelling (1 vs 1.0) are already settled. A pair `same` shows equal
costs a walk of plain values and no serialising; the others are compared by canonical JSON, whole then
field by field (`Kind.changed_fields`). The fingerprint of the existing side (what a saved plan records) is
the planner's to take, only when it is wanted. No deepdiff here: a plan imports it only when a renderer
shows a nested change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.dialect import canonical_json
from reconciler.kinds import DEFAULT, Kind


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one pair: `changed` lists the differing top-level fields in `FIELDS` order
    (empty when equal)."""

    changed: tuple[str, ...]


def compare(desired: Mapping[str, Any], existing: Mapping[str, Any], kind: Kind = DEFAULT) -> Comparison:
    """Compare two normal forms of `kind`. Exact: a field is reported iff its canonical JSON differs.

    Nothing is serialised when `same` shows the pair equal (the common case); otherwise both sides' canonical
    JSON is compared whole, then field by field only when it differs."""
    if same(desired, existing) or canonical_json(desired) == canonical_json(existing):
        return Comparison(())
    return Comparison(changed_fields(desired, existing, kind))


def same(a: Any, b: Any) -> bool:
    """True only when `a` and `b` have equal canonical JSON, found without serialising them: plain values of
    the same type and value (an int and an integral float count as equal, a bool and a number do not),
    mappings with the same string keys and lists or tuples alike element by element. False means "not shown
    equal", not "different": anything else (other types, non-string keys, NaN) is left to the hash.

    A mapping's plain values are compared in its loop, not by a call each: this runs for every pair a plan
    compares. The same object is the same value (the plan shares instructions texts between the sides)."""
    if a is b:  # one object: one canonical JSON
        return True
    kind = type(a)
    if kind is str or kind is bool or a is None:
        return kind is type(b) and a == b
    if kind is int or kind is float:
        return type(b) in (int, float) and a == b
    if kind is dict and type(b) is dict:
        if len(a) != len(b):
            return False
        for k, v in a.items():
            if type(k) is not str or k not in b:
                return False
            w = b[k]
            if v is w:
                continue
            plain = type(v)
            if plain is str or plain is bool or v is None:
                if plain is not type(w) or v != w:
                    return False
            elif not same(v, w):
                return False
        return True
    if kind in (list, tuple) and type(b) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return False


def changed_fields(
    desired: Mapping[str, Any], existing: Mapping[str, Any], kind: Kind = DEFAULT
) -> tuple[str, ...]:
    """The top-level fields whose canonical JSON differs, in `kind.fields` order."""
    return tuple(kind.changed_fields(existing, desired))
