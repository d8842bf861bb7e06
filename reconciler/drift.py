"""Drift, attributed: what the last apply wrote, recorded on the object itself, and the three-way comparison.

Pure and generic: a `Scheme` names a kind's fields and its *applied form* (its normal form with what the
tool itself writes left out, e.g. reserved metadata keys), so any kind of object with a metadata-like
string slot can reuse it (docs/drift.md).

**The entry** (one string value, at most `MAX_ENTRY` = 512 characters, the v1 metadata value limit):

    1:9c1e:1764580000:3f2a9c1b7d4e5f60...

`VERSION` `:` `FIELDSET` (4 hex digits of the hash of the scheme's field names: another field list reads
as unknown) `:` `APPLIED_AT` (Unix seconds) `:` one `HASH_CHARS`-hex-digit hash per field, in the scheme's
field order, of that field's applied form (`hash_value`). An entry that is missing, of another version or
field set, or malformed in any way (the server is untrusted input) decodes to None: **unknown**, never drift.

**Three states per field**: desired (the manifest), applied (the entry), current (the server). Whether desired
and current differ is the kind's own diff (`changed`); this module adds what was applied:

- `in_sync`: current equals desired: nothing to do, whatever was applied (a drift the manifest already
  matches, e.g. after `reconciler accept`, is silent);
- `drifted`: current differs from what was applied: edited outside the tool since the last apply;
- `overwrites`: drifted and not in sync: the planned change would overwrite that edit. Only these fields
  are reported as drift (`drifted_fields`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from reconciler import dialect
from reconciler.dialect import canonical_digest

VERSION = "1"
#: Hex digits kept of each field's hash: 32 bits, enough to tell an edit from the applied value.
HASH_CHARS = 8
#: The longest entry: the v1 API's metadata value limit.
MAX_ENTRY = 512
#: How many fields an entry can describe within MAX_ENTRY.
MAX_FIELDS = (MAX_ENTRY - len(f"{VERSION}:ffff:{2**40}:")) // HASH_CHARS

_ENTRY = re.compile(r"^([0-9]{1,4}):([0-9a-f]{4}):([0-9]{1,13}):([0-9a-f]*)$")


@dataclass(frozen=True)
class Scheme:
    """A kind's recorded fields, in a fixed order, and its applied form (a normal form without what the tool
    itself writes: `applied_form(state)[field]` is hashed for each field)."""

    fields: tuple[str, ...]
    #: From any state the kind compares (a desired normal form, an object the server holds).
    applied_form: Callable[[Any], Mapping[str, Any]]

    def __post_init__(self) -> None:
        if not 0 < len(self.fields) <= MAX_FIELDS:
            raise ValueError(f"a drift scheme records 1 to {MAX_FIELDS} fields, not {len(self.fields)}")

    @property
    def fieldset(self) -> str:
        """4 hex digits naming the field list, so an entry written for another list is not misread."""
        return hashlib.sha256(",".join(self.fields).encode()).hexdigest()[:4]


@dataclass(frozen=True)
class Applied:
    """A decoded entry: when the last apply wrote (`at`, Unix seconds) and each field's hash."""

    at: int
    hashes: Mapping[str, str]

    @property
    def since(self) -> str:
        """`at` as `YYYY-MM-DDTHH:MM:SSZ` (UTC)."""
        return since_text(self.at)


@dataclass(frozen=True)
class FieldState:
    """One field compared three ways (module docstring)."""

    field: str
    in_sync: bool
    drifted: bool

    @property
    def overwrites(self) -> bool:
        return self.drifted and not self.in_sync


@dataclass(frozen=True)
class Drift:
    """An object edited outside the tool since the last apply, in fields the plan would overwrite: its
    `key`, `id`, those `fields` (scheme order), `since` (the last apply, `YYYY-MM-DDTHH:MM:SSZ`) and its
    `kind` (`assistant` or `agent`; in JSON only for an agent, so assistant plans read as before)."""

    key: str
    id: str
    fields: tuple[str, ...]
    since: str
    kind: str = "assistant"

    def data(self) -> dict[str, Any]:
        data = {"key": self.key, "id": self.id, "fields": list(self.fields), "since": self.since}
        return data if self.kind == "assistant" else {**data, "kind": self.kind}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Drift:
        fields = tuple(map(str, data["fields"]))
        kind = str(data.get("kind", "assistant"))
        return cls(str(data["key"]), str(data["id"]), fields, str(data["since"]), kind)


def hash_value(value: Any) -> str:
    """HASH_CHARS hex digits of the sha256 of `value`'s canonical JSON."""
    return canonical_digest(value)[:HASH_CHARS]


def hashes(scheme: Scheme, state: Any) -> dict[str, str]:
    """Each field's hash of `state`'s applied form."""
    form = scheme.applied_form(state)
    return {field: hash_value(form.get(field)) for field in scheme.fields}


def encode(scheme: Scheme, state: Mapping[str, Any], at: float) -> str:
    """The entry recording that `state` (a desired normal form) was applied at `at` (Unix seconds)."""
    digests = hashes(scheme, state)
    return f"{VERSION}:{scheme.fieldset}:{int(at)}:" + "".join(digests[f] for f in scheme.fields)


def decode(scheme: Scheme, entry: object) -> Applied | None:
    """The entry `entry` (any value read from the server), or None when it is not one of `scheme`'s."""
    if not isinstance(entry, str) or len(entry) > MAX_ENTRY:
        return None
    found = _ENTRY.fullmatch(entry)
    if found is None:
        return None
    version, fieldset, at, digits = found.groups()
    if version != VERSION or fieldset != scheme.fieldset or len(digits) != HASH_CHARS * len(scheme.fields):
        return None
    parts = (digits[i : i + HASH_CHARS] for i in range(0, len(digits), HASH_CHARS))
    return Applied(int(at), dict(zip(scheme.fields, parts, strict=True)))


def compare(
    scheme: Scheme, current: Any, applied: Applied, changed: Collection[str]
) -> tuple[FieldState, ...]:
    """Each field of `scheme` compared three ways: `changed` names the fields in which the desired state and
    `current` differ (the kind's own diff: in sync are the others), `applied` what was last applied."""
    form = scheme.applied_form(current)
    return tuple(
        FieldState(field, in_sync=field not in changed, drifted=_edited(form, applied, field))
        for field in scheme.fields
    )


def drifted_fields(
    scheme: Scheme, current: Any, applied: Applied | None, changed: Collection[str]
) -> tuple[str, ...]:
    """The fields of `changed` (where the desired state and `current` differ) that were edited outside the
    tool since `applied`, in scheme order: what a plan to the desired state would overwrite. () when nothing
    was recorded (unknown). Only those fields are hashed: a plan compares three ways only what it changes."""
    if applied is None or not changed:
        return ()
    form = scheme.applied_form(current)
    return tuple(f for f in scheme.fields if f in changed and _edited(form, applied, f))


def _edited(form: Mapping[str, Any], applied: Applied, field: str) -> bool:
    """Whether `field` of an applied form differs from what was applied."""
    return hash_value(form.get(field)) != applied.hashes[field]


def matches(scheme: Scheme, entry: object, state: Any) -> bool:
    """True when `entry` decodes and records exactly `state`'s fields (used to check what faults left)."""
    applied = decode(scheme, entry)
    return applied is not None and dict(applied.hashes) == hashes(scheme, state)


def since_text(at: int) -> str:
    """Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`; out-of-range values (a hostile entry) as `unknown`."""
    try:
        return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "unknown"


def objects_phrase(items: Sequence[Drift]) -> str:
    """`1 agent`, `2 assistants`, `3 objects` (kinds mixed): how many objects `items` name."""
    kinds = {item.kind for item in items}
    noun = kinds.pop() if len(kinds) == 1 else "object"
    return f"{len(items)} {noun if len(items) == 1 else noun + 's'}"


def fields_phrase(fields: Sequence[str]) -> str:
    """`model`, `model and tools`, `model, tools and metadata`."""
    if len(fields) <= 1:
        return "".join(fields)
    return ", ".join(fields[:-1]) + " and " + fields[-1]


def stamped(scheme: Scheme, body: Mapping[str, Any], desired: Mapping[str, Any], at: float) -> dict[str, Any]:
    """`body` (a create or modify body for `desired`) with the whole desired `metadata` carrying the entry
    (`dialect.APPLIED_KEY`) that records `desired` as applied at `at`: one write stores both or neither."""
    metadata = {**(desired.get("metadata") or {}), dialect.APPLIED_KEY: encode(scheme, desired, at)}
    return {**body, "metadata": metadata}


def recorded(scheme: Scheme, metadata: object) -> Applied | None:
    """The entry an existing object's `metadata` carries, decoded (None: unknown)."""
    return decode(scheme, metadata.get(dialect.APPLIED_KEY)) if isinstance(metadata, Mapping) else None


def _v1_applied_form(state: dialect.Assistant) -> Mapping[str, Any]:
    """An assistant's normal form without the reserved metadata keys (the tool's own entries)."""
    form = dialect.normalise(state)
    form["metadata"] = {k: v for k, v in form["metadata"].items() if not dialect.is_reserved_metadata_key(k)}
    return form


#: Assistants v1: every manifest field, recorded in `metadata[dialect.APPLIED_KEY]`.
ASSISTANTS_V1 = Scheme(dialect.FIELDS, _v1_applied_form)
