"""Identity: which existing object (assistant, saved agent: its `Kind`) each manifest describes.

An existing assistant is **managed** when it carries the ownership marker (`Kind.marker_of`), whose value
is its key. A manifest matches the managed assistant with its key, or the assistant its `id:` names
(**adopt**: binding an unmanaged assistant, which the plan shows as an update adding the marker). Unmanaged
assistants are only counted; managed ones no manifest names are orphans.

Several assistants claiming one key (left by applies that raced, or by a lost create) are not an error: the
**canonical** one, the minimum by `(created_at, id)` (`Kind.claim_order`), is the managed one, and every
other claimant is a **duplicate**, which the plan deletes (docs/design.md, "Exactly once across runs").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.errors import PlanError
from reconciler.kinds import DEFAULT, Kind
from reconciler.manifest.errors import format_field_path, parse_field_path
from reconciler.manifest.overrides import written_path

if TYPE_CHECKING:
    from reconciler.manifest.loaded import Loaded
    from reconciler.remote import Remote


@dataclass(frozen=True)
class Match:
    """One manifest and the existing assistant it describes (None: to be created)."""

    loaded: Loaded
    existing: Remote | None
    #: True when `existing` is unmanaged and bound through `id:`.
    adopt: bool = False


@dataclass(frozen=True)
class Duplicate:
    """An assistant claiming a key whose canonical claimant is another one, `kept` (its id)."""

    key: str
    assistant: Remote
    kept: str


@dataclass(frozen=True)
class Matching:
    """The outcome of `match`: a Match per manifest (manifest order), the managed assistants no manifest names
    (`orphans`, by key), the non-canonical claimants of every key (`duplicates`, by key, oldest first), and
    the counts and unmanaged assistants seen."""

    matches: tuple[Match, ...]
    orphans: tuple[Remote, ...]
    managed: int
    unmanaged: tuple[Remote, ...]
    duplicates: tuple[Duplicate, ...] = ()


def manifest_id(loaded: Loaded) -> str | None:
    """The `id:` a manifest sets to adopt an assistant, or None."""
    value = getattr(loaded.manifest, "id", None)
    return value if isinstance(value, str) and value else None


def written_field(loaded: Loaded, field: str) -> str:
    """`field` as the manifest writes it: `environments.ENV.FIELD` when an environment's override set it."""
    if not loaded.moved:
        return field
    return format_field_path(written_path(parse_field_path(field), dict(loaded.moved)))


def field_location(loaded: Loaded, field: str | None = None) -> str:
    """`FILE:LINE:COL: FIELD` for a manifest field, or `FILE:LINE` for the manifest itself."""
    if field is not None:
        try:
            line, col = loaded.position(field)
        except (KeyError, LookupError, ValueError):
            pass
        else:
            return f"{loaded.path}:{line}:{col}: {written_field(loaded, field)}"
    return f"{loaded.path}:{loaded.line}"


def value_location(loaded: Loaded, field: str) -> str:
    """`FILE:LINE:COL: FIELD` at the value of a top-level field (for messages about the value itself); at the
    override when an environment's override set it (`field_location`)."""
    if loaded.moved:
        return field_location(loaded, field)
    try:
        line, col = loaded.value_position(field)
    except (KeyError, LookupError, ValueError):
        return field_location(loaded, field)
    return f"{loaded.path}:{line}:{col}: {field}"


def match(loaded: Sequence[Loaded], existing: Sequence[Remote], kind: Kind = DEFAULT) -> Matching:
    """Match manifests to existing objects of `kind` (a key claimed several times: its canonical claimant;
    the others are `duplicates`). Raises PlanError, one line per problem, when an `id:` does not exist,
    belongs to another key, or is named by two manifests, or when a key is managed by one assistant while its
    manifest's `id:` names another."""
    errors: list[str] = []
    by_id = {a.id: a for a in existing}
    by_key: dict[str, list[Remote]] = {}
    unmanaged: list[Remote] = []
    marker_of = kind.marker_of
    for assistant in existing:
        key = marker_of(assistant)
        if key is None:
            unmanaged.append(assistant)
        else:
            by_key.setdefault(key, []).append(assistant)

    manifest_keys = {m.key: m for m in loaded}
    duplicates: list[Duplicate] = []
    for key, claimants in sorted(by_key.items()):
        claimants.sort(key=kind.claim_order)
        duplicates += [Duplicate(key, a, claimants[0].id) for a in claimants[1:]]

    matches: list[Match] = []
    claimed_ids: dict[str, Loaded] = {}
    for manifest in loaded:
        wanted = manifest_id(manifest)
        managed = by_key.get(manifest.key, [])
        if wanted is None:
            matches.append(Match(manifest, managed[0] if managed else None))
            continue
        if wanted in claimed_ids:
            other = claimed_ids[wanted]
            errors.append(
                f"{field_location(manifest, 'id')}: {wanted} is also adopted by {other.path}:{other.line}"
            )
            continue
        claimed_ids[wanted] = manifest
        target = by_id.get(wanted)
        problem = _adoption_problem(manifest, wanted, target, managed, kind)
        if problem is not None:
            errors.append(f"{field_location(manifest, 'id')}: {problem}")
        elif target is not None:
            matches.append(Match(manifest, target, adopt=marker_of(target) is None))

    if errors:
        raise PlanError("\n".join(errors))
    orphans = tuple(claimants[0] for key, claimants in sorted(by_key.items()) if key not in manifest_keys)
    return Matching(
        matches=tuple(matches),
        orphans=orphans,
        managed=sum(len(c) for c in by_key.values()),
        unmanaged=tuple(unmanaged),
        duplicates=tuple(duplicates),
    )


def _adoption_problem(
    manifest: Loaded,
    wanted: str,
    target: Remote | None,
    managed: Sequence[Remote],
    kind: Kind,
) -> str | None:
    """Why `manifest` cannot bind the object of `kind` its `id:` names (`wanted`), or None when it can."""
    if target is None:
        return f"{kind.name} {wanted} does not exist on this server"
    owner = kind.marker_of(target)
    if owner is not None and owner != manifest.key:
        return f"{kind.name} {wanted} is managed under key {owner!r}, not {manifest.key!r}"
    if managed and managed[0].id != wanted:  # `managed` is oldest first: [0] is the canonical claimant
        kept = managed[0].id
        if owner == manifest.key:
            return f"{kind.name} {wanted} is a duplicate of key {manifest.key!r} (keeping {kept}, the oldest)"
        return f"key {manifest.key!r} is already managed by {kept}, but id: names {wanted}"
    return None
