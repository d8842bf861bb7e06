"""Compare desired and existing assistants: hash first, a field-by-field look only at pairs that differ.

Both sides are normal forms (`dialect.normalise` / `dialect.desired_state`), so order that carries no
meaning (file_ids, tools) and number spelling (1 vs 1.0) are already settled. Equal canonical hashes mean no
change and cost one hash each; only pairs whose hashes differ are compared field by field, by canonical
JSON (`dialect.changed_fields`), which is exactly what the hash saw. No deepdiff here: a plan imports it
only when a renderer shows a nested change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.dialect import canonical_hash
from reconciler.dialect import changed_fields as _changed_fields


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one pair: `changed` lists the differing top-level fields in `FIELDS` order
    (empty when equal); `fingerprint` is the canonical hash of the existing side."""

    changed: tuple[str, ...]
    fingerprint: str


def compare(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> Comparison:
    """Compare two normal forms. Exact: a field is reported iff its canonical JSON differs."""
    fingerprint = canonical_hash(existing)
    if canonical_hash(desired) == fingerprint:
        return Comparison((), fingerprint)
    return Comparison(changed_fields(desired, existing), fingerprint)


def changed_fields(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> tuple[str, ...]:
    """The top-level fields whose canonical JSON differs, in `FIELDS` order."""
    return tuple(_changed_fields(existing, desired))
