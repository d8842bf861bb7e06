"""Build a Plan: match manifests to existing assistants, compare each pair, order the Changes.

Pure: no I/O but hashing knowledge files. What it needs from the server (assistants, uploaded files, models)
is fetched by the use case (`usecases.planning.plan_with`).
"""

from __future__ import annotations

import dataclasses
import difflib
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, cast

from reconciler import dialect, diff, drift, identity, knowledge
from reconciler.dialect import canonical_hash, canonical_json
from reconciler.errors import PlanError, UnsafePlanError
from reconciler.kinds import DEFAULT, Kind
from reconciler.options import PlanOptions
from reconciler.plan import ABSENT, ACTIONS, UNTAKEN, Change, FileRef, Orphan, Plan, PlanFile, check_safety
from reconciler.targets import check_ambiguous, selector, split

if TYPE_CHECKING:
    from reconciler.manifest import LoadedManifest
    from reconciler.manifest.loaded import Loaded
    from reconciler.remote import Remote, RemoteAssistant, RemoteFile

#: Plan everything, delete nothing, refuse duplicate names.
DEFAULT_OPTIONS = PlanOptions()
#: How many model names a "not available" error lists.
MODELS_SHOWN = 8


def build_plan(
    loaded: Sequence[Loaded],
    existing: Sequence[Remote],
    options: PlanOptions = DEFAULT_OPTIONS,
    *,
    models: Collection[str] | None = None,
    remote_files: Sequence[RemoteFile] | None = None,
    kind: Kind = DEFAULT,
    known_keys: Collection[str] = (),
) -> Plan:
    """The Plan turning `existing` (API objects of `kind`) into what `loaded` (manifests of `kind`) describes.

    `options.targets` restricts the plan to those keys (manifest keys or managed keys on the server, or
    `known_keys`, the keys of the other kinds planned with this one; any other raises PlanError naming near
    matches). `options.prune` plans deletes for managed orphans; without it they are listed as
    `Plan.orphans`. A create whose name equals an unmanaged object's is refused unless
    `options.allow_duplicate_names`. With `models`, creates and model changes must name one of them.
    A delete over the safety limits adds a warning (apply enforces them). `remote_files` is the
    `GET /files?purpose=assistants` listing: knowledge files found there by content are attached by id, the
    others planned as uploads; with `prune`, uploads nothing uses any more are planned as file deletes (see
    `reconciler.knowledge`).
    """
    targets = tuple(dict.fromkeys(options.targets))
    marker_of = kind.marker_of
    matching = identity.match(loaded, existing, kind)
    managed_keys = {marker_of(a) for a in existing} - {None}
    own = {m.key for m in loaded} | {k for k in managed_keys if k}
    check_ambiguous(targets, own, set(known_keys))
    if options.require_targets:
        _check_targets(targets, kind.name, own, set(known_keys))

    targeted = selector(targets, kind.name)

    adopted = {m.existing.id for m in matching.matches if m.adopt and m.existing}
    index = knowledge.RemoteIndex(remote_files or ())
    changes = [_change_for(m, index, kind, options) for m in matching.matches if targeted(m.loaded.key)]
    if not options.allow_duplicate_names:
        _refuse_name_clashes(changes, loaded, [a for a in matching.unmanaged if a.id not in adopted], kind)
    duplicates = [d for d in matching.duplicates if targeted(d.key)]
    changes += [_delete(d.assistant, kind, options, _duplicate_reason(d)) for d in duplicates]
    orphaned = [a for a in matching.orphans if targeted(marker_of(a) or "")]
    changes += [_delete(a, kind, options) for a in orphaned] if options.prune else []
    orphans = [] if options.prune else [_orphan(a, kind) for a in orphaned]
    files = _plan_files(changes, existing, loaded, index, prune=options.prune) if kind.has_files else ()
    rank = {action: i for i, action in enumerate(ACTIONS)}
    changes.sort(key=lambda c: (rank[c.action], c.key))
    plan = Plan(
        changes=tuple(changes),
        unmanaged=len(matching.unmanaged) - len(adopted),
        managed=matching.managed,
        orphans=tuple(orphans),
        targets=targets,
        prune=options.prune,
        allow_duplicate_names=options.allow_duplicate_names,
        files=files,
        kind=kind.name,
    )
    if models is not None:
        check_models(plan, loaded, models)
    return _with_warnings(plan)


def _plan_files(
    changes: Sequence[Change],
    listed: Sequence[Remote],
    manifests: Sequence[Loaded],
    index: knowledge.RemoteIndex,
    *,
    prune: bool,
) -> tuple[PlanFile, ...]:
    """The knowledge files to upload or keep and, with `prune`, the uploads nothing uses any more: not the
    changes' desired states, nor the assistants no change touches (assistants only: the kind with files)."""
    existing = cast("Sequence[RemoteAssistant]", listed)
    loaded = cast("Sequence[LoadedManifest]", manifests)
    planned = {c.id for c in changes if c.id}
    still_used = {f for c in changes if c.action != "delete" for f in c.desired.get("file_ids") or ()}
    still_used |= {f for a in existing if a.id not in planned for f in a.file_ids}
    by_key = {c.key: c.files for c in changes if c.files}
    return knowledge.plan_files(by_key, loaded, index, still_used, prune=prune)


def _delete(assistant: Remote, kind: Kind, options: PlanOptions, reason: str | None = None) -> Change:
    """The delete of a managed object no manifest names (`--prune`), or of a duplicate (`reason`)."""
    state = kind.normalise(assistant)
    key = kind.marker_of(assistant) or ""
    return Change(
        key=key,
        id=assistant.id,
        action="delete",
        before=state,
        fingerprint=_fingerprint(state, options),
        reason=reason,
        kind=kind.name,
    )


def _duplicate_reason(duplicate: identity.Duplicate) -> str:
    return f"duplicate of {duplicate.key}, keeping {duplicate.kept} (oldest)"


def _orphan(assistant: Remote, kind: Kind) -> Orphan:
    return Orphan(key=kind.marker_of(assistant) or "", id=assistant.id, name=assistant.name, kind=kind.name)


def _refuse_name_clashes(
    changes: Sequence[Change],
    loaded: Sequence[Loaded],
    unmanaged: Sequence[Remote],
    kind: Kind,
) -> None:
    """Raise PlanError (a line per manifest) when a create would duplicate the name of an `unmanaged`
    object of `kind`, advising the `id:` line that adopts it instead. Names are compared as a person reads
    them (`_same_name`): `HR Helper`, `hr helper` and `HR Helper ` are one name, and so are the two Unicode
    spellings of `Café`."""
    names: dict[str, tuple[str, str]] = {}
    for assistant in unmanaged:
        if assistant.name is not None:
            names.setdefault(_same_name(assistant.name), (assistant.id, assistant.name))
    by_key = {m.key: m for m in loaded}
    errors = []
    for change in changes:
        name = change.desired.get("name")
        found = names.get(_same_name(name)) if change.action == "create" and isinstance(name, str) else None
        if found is not None:
            clash, theirs = found
            manifest = by_key[change.key]
            errors.append(
                f"{identity.field_location(manifest, 'name')}: an unmanaged {kind.name} ({clash}) is already "
                f"named {theirs!r}; to adopt it, add `id: {clash}` to {manifest.path}, "
                "or pass --allow-duplicate-names to create another"
            )
    if errors:
        raise PlanError("\n".join(errors))


def _same_name(name: str) -> str:
    """`name` as compared for clashes: Unicode NFC, case folded, outer whitespace dropped."""
    return unicodedata.normalize("NFC", name).strip().casefold()


def models_to_check(plan: Plan) -> dict[str, str]:
    """`{key: model}` for the creates and model-changing updates of `plan`."""
    return {
        c.key: c.desired["model"]
        for c in plan.changes
        if c.action == "create" or (c.action == "update" and "model" in c.changed_fields)
    }


def check_models(
    plan: Plan, loaded: Sequence[Loaded], models: Collection[str], *, server: str = "this server"
) -> None:
    """Raise PlanError (a line per manifest) when a create or model change names a model not in `models`,
    the list `server` (its base URL, or a description) offers at `GET /models`."""
    available = set(models)
    by_key = {m.key: m for m in loaded}
    errors = []
    for key, model in models_to_check(plan).items():
        if model in available:
            continue
        shown = difflib.get_close_matches(model, sorted(available), n=MODELS_SHOWN, cutoff=0.0)
        listing = ", ".join(shown) or "none"
        if len(available) > len(shown):
            listing += f", … ({len(available)} in all)"
        at = identity.value_location(by_key[key], "model") if key in by_key else f"{key}: model"
        errors.append(
            f"{at}: model {model!r} is not available on {server} (available: {listing}; "
            "the full list: GET /models)"
        )
    if errors:
        raise PlanError("\n".join(errors))


def check_model_rules(plan: Plan, loaded: Sequence[LoadedManifest], rules: str) -> Plan:
    """Judge the creates and model changes of `plan` by what Assistants v1 refused: models a `/models` listing
    offers that v1 would not take (`dialect.V1_REFUSED_MODELS`). Under `openai` rules raise PlanError, a line
    per manifest at its `model:` value in the service's own words; under `server` rules return `plan` with a
    warning per manifest instead (that server decides at apply)."""
    by_key = {m.key: m for m in loaded}
    lines = []
    for key, model in models_to_check(plan).items():
        refusal = dialect.v1_model_refusal(model) if model in dialect.V1_REFUSED_MODELS else None
        if refusal is None:
            continue
        at = identity.value_location(by_key[key], "model") if key in by_key else f"{key}: model"
        if rules == "openai":
            lines.append(f'{at}: Assistants v1 refuses this model: "{refusal[1]}"')
        else:
            lines.append(
                f'{at}: OpenAI\'s Assistants v1 refuses {model!r} ("{refusal[1]}"); this server decides at '
                "apply (--model-rules openai makes this an error)"
            )
    if lines and rules == "openai":
        raise PlanError("\n".join(lines))
    return dataclasses.replace(plan, warnings=(*plan.warnings, *lines)) if lines else plan


def _fingerprint(state: Mapping[str, Any], options: PlanOptions) -> str:
    """The fingerprint of an existing normal form (its canonical hash), when `options` wants them."""
    return canonical_hash(state) if options.fingerprints else UNTAKEN


def _change_for(m: identity.Match, index: knowledge.RemoteIndex, kind: Kind, options: PlanOptions) -> Change:
    """The create, update or no-op for one matched manifest (its `files:` resolved through `index`)."""
    key = m.loaded.key
    source = str(m.loaded.path)
    fields = m.loaded.api_fields()
    files: tuple[FileRef, ...] = ()
    if kind.has_files:
        existing_ids = cast("RemoteAssistant", m.existing).file_ids if m.existing is not None else ()
        fields["file_ids"], files = knowledge.manifest_files(
            cast("LoadedManifest", m.loaded), index, existing_ids
        )
    desired = kind.desired_state(fields, key)
    if m.existing is None:
        defaults = kind.defaults
        return Change(
            key=key,
            id=None,
            action="create",
            changed_fields=tuple(
                f for f in desired if canonical_json(desired[f]) != canonical_json(defaults.get(f))
            ),
            after=desired,
            fingerprint=ABSENT,
            source=source,
            desired=desired,
            files=files,
            kind=kind.name,
        )
    state = kind.normalise(m.existing)
    result = diff.compare(desired, state, kind)
    if not result.changed:
        return Change(
            key=key,
            id=m.existing.id,
            action="no-op",
            fingerprint=_fingerprint(state, options),
            source=source,
            desired=desired,
            files=files,
            kind=kind.name,
        )
    return Change(
        key=key,
        id=m.existing.id,
        action="update",
        changed_fields=result.changed,
        before={f: state[f] for f in result.changed},
        after={f: desired[f] for f in result.changed},
        fingerprint=_fingerprint(state, options),
        source=source,
        adopt=m.adopt,
        desired=desired,
        files=files,
        kind=kind.name,
        drift=None
        if m.adopt or not kind.drift
        else _drift(kind.drift, key, m.existing, state, result.changed, kind.name),
    )


def _drift(
    scheme: drift.Scheme,
    key: str,
    existing: Remote,
    state: Mapping[str, Any],
    changed: Sequence[str],
    kind: str,
) -> drift.Drift | None:
    """The edits made outside reconciler since the last apply that this update (of the `changed` fields of
    `state`, the existing normal form) overwrites, or None (none, or no record: unknown), by the kind's drift
    `scheme`. Not asked for an adopt: an object reconciler did not manage has no last apply of its own."""
    applied = drift.recorded(scheme, existing.metadata)
    fields = drift.drifted_fields(scheme, state, applied, changed)
    if applied is None or not fields:
        return None
    return drift.Drift(key, existing.id, fields, applied.since, kind)


def _check_targets(targets: Sequence[str], kind: str, own: set[str], others: set[str]) -> None:
    """PlanError for a target of this `kind` that no key of it has (`own`), or an unqualified one no kind has
    (`others`: the keys of the other kinds planned), naming near matches. Targets qualified with another
    kind are that kind's plan's to check."""
    known = own | others
    parts = []
    qualified = True
    for target in targets:
        qualifier, key = split(target)
        candidates = known if qualifier is None else own
        if qualifier not in (None, kind) or key in candidates:
            continue
        path = "/" in key or key.endswith((".yaml", ".yml"))  # a manifest's path given for its key
        if path:
            near = [PurePath(key).stem] if PurePath(key).stem in candidates else []
        else:
            near = difflib.get_close_matches(key, sorted(candidates), n=3)
        hints = ["a target is a key, not a file"] if path else []
        if near:
            shown = [repr(n if qualifier is None else f"{qualifier}:{n}") for n in near]
            hints.append(f"did you mean {' or '.join(shown)}?")
        parts.append(f"{target!r}" + (f" ({': '.join(hints)})" if hints else ""))
        qualified = qualified and qualifier is not None
    if not parts:
        return
    noun = "target" if len(parts) == 1 else "targets"
    what = kind if qualified else "assistant"  # `agent:x`: no agent has it (an unqualified key: no object)
    raise PlanError(f"unknown {noun} {', '.join(parts)}: no manifest or managed {what} has that key")


def _with_warnings(plan: Plan) -> Plan:
    """`plan` with a warning when its deletes exceed the safety limits (apply then needs --force)."""
    try:
        check_safety(plan, force=False)
    except UnsafePlanError as err:
        return dataclasses.replace(plan, warnings=(*plan.warnings, str(err)))
    return plan
