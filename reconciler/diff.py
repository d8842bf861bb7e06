"""Compare desired and existing assistants: hash first, deepdiff only on the pairs that differ.

Both sides are normal forms (`dialect.normalise` / `dialect.desired_state`), so order that carries no
meaning (file_ids, tools) and number spelling (1 vs 1.0) are already settled. Equal canonical hashes mean no
change and cost one hash each; only pairs whose hashes differ go through deepdiff, whose
`affected_root_keys` name the changed top-level fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from reconciler.dialect import FIELDS, canonical_hash, canonical_json


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
    """The top-level fields deepdiff finds different, in `FIELDS` order.

    Both sides pass through canonical JSON first, so deepdiff sees exactly what the hash saw (lists
    not tuples, integral floats as ints) and its default, order-sensitive, type-strict comparison is exact.
    """
    before = _plain(existing)
    after = _plain(desired)
    result = DeepDiff(before, after, view="tree", cache_size=0, threshold_to_diff_deeper=0)
    roots = {str(key) for key in result.affected_root_keys}
    return tuple(field for field in FIELDS if field in roots)


def _plain(state: Mapping[str, Any]) -> dict[str, Any]:
    """`state` restricted to `FIELDS` (missing ones null), round-tripped through canonical JSON."""
    loaded: dict[str, Any] = json.loads(canonical_json({field: state.get(field) for field in FIELDS}))
    return loaded
