"""Whether a saved plan still holds against what the API holds now, checked before apply writes anything.

`check_stale` lists each kind the plan touches once (read only; and the files once when the plan uploads),
turns the changes the server shows applied already into no-ops (`without_applied`: the same plan applied
before, so applying it twice makes no call the second time, uploads included), then refuses the plan when a
change would touch an object that is not its own (`ownership_problems`) or when it is stale (`stale_reasons`:
a fingerprint no longer matches; `name_collisions`: a create's name now belongs to an unmanaged object). The
saved plan's format is `reconciler.planfile`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reconciler import dialect, knowledge
from reconciler.errors import ReconcilerError, StalePlanError
from reconciler.kinds import DEFAULT, Kind, kind_named
from reconciler.plan import ABSENT, PLACEHOLDER_PREFIX, Change, Plan, PlanFile, combine
from reconciler.planfile import REPLAN, STALE_NAMED
from reconciler.targets import selector

if TYPE_CHECKING:
    from reconciler.client import Client
    from reconciler.remote import Remote


def ownership_problems(plan: Plan, existing: list[Remote], kind: Kind = DEFAULT) -> list[str]:
    """The changes of `plan` (of one `kind`; `existing`: its objects) that would write to an object that is
    not theirs, one phrase each:

    an update or delete needs the assistant it names to carry the ownership marker with the change's key, an
    adopt (an update only) an unmanaged assistant; a create or update must write the marker with its key.
    Whatever fingerprints a (hand-edited) file carries, these hold against what the API holds now.
    """
    by_id = {a.id: a for a in existing}
    problems = []
    for change in plan.actionable:
        if change.action != "delete" and kind.marker_of(change.desired) != change.key:
            problems.append(f"{change.key} would not carry {kind.marker_key}: {change.key}")
        current = by_id.get(change.id) if change.id else None
        if current is None or change.action == "create":
            continue
        marker = kind.marker_of(current)
        if change.adopt and (change.action != "update" or marker is not None):
            problems.append(f"{change.key}: {change.id} cannot be adopted by a {change.action}")
        elif not change.adopt and marker != change.key:
            owner = "is unmanaged" if marker is None else f"carries {kind.marker_key}: {marker}"
            problems.append(f"{change.key}: {change.action} of {change.id}, which {owner}")
    return problems


def name_collisions(plan: Plan, existing: list[Remote], kind: Kind = DEFAULT) -> list[str]:
    """`KEY's name 'N' was taken (asst_x, unmanaged)` for each create whose name an unmanaged assistant
    (not one the plan adopts) now has; [] when the plan was made with `--allow-duplicate-names`."""
    if plan.allow_duplicate_names:
        return []
    adopted = {c.id for c in plan.changes if c.adopt}
    names: dict[str, str] = {}
    for assistant in existing:
        name = assistant.name
        if kind.marker_of(assistant) is None and name is not None and assistant.id not in adopted:
            names.setdefault(name, assistant.id)
    return [
        f"{c.key}'s name {c.desired.get('name')!r} was taken ({names[c.desired['name']]}, unmanaged)"
        for c in plan.changes
        if c.action == "create" and c.desired.get("name") in names
    ]


# ------------------------------------------------------------------------------------------------ staleness


def fingerprint(existing: Remote, kind: Kind = DEFAULT) -> str:
    """The fingerprint of an existing API object of `kind`: the canonical hash of its normal form."""
    return dialect.canonical_hash(kind.normalise(existing))


def stale_reasons(
    plan: Plan, existing: list[Remote], kind: Kind = DEFAULT, uploads: knowledge.RemoteIndex | None = None
) -> list[str]:
    """Why `plan` (of one `kind`) no longer matches `existing` (the API's objects of that kind), one phrase
    per key; [] when current.

    - a change planned against an assistant whose normal form changed: `KEY changed`;
    - one whose assistant is gone: `KEY deleted` (not for a duplicate's delete: gone is what it wanted);
    - a create whose key now has a managed assistant that differs from the planned state: `KEY appeared`;
    - with a `--prune` plan, a (targeted) managed assistant no change accounts for: `KEY appeared`.

    Another claimant of a planned key (a duplicate that appeared since the plan, e.g. from an apply of the
    same plan racing this one) is not staleness: the apply converges it (docs/design.md, "Exactly once across
    runs"), as does a create whose key appeared already in the planned state (`uploads`: see `planned`).
    """
    by_id = {a.id: a for a in existing}
    by_marker: dict[str, list[Remote]] = {}
    for assistant in existing:
        marker = kind.marker_of(assistant)
        if marker is not None:
            by_marker.setdefault(marker, []).append(assistant)
    reasons: list[str] = []
    for change in plan.changes:
        if change.fingerprint == ABSENT or change.id is None:
            claimants = by_marker.get(change.key, [])
            appeared = [a for a in claimants if fingerprint(a, kind) != planned(change, a, uploads)]
            if appeared:
                reasons.append(f"{change.key} appeared ({', '.join(a.id for a in appeared)})")
            continue
        current = by_id.get(change.id)
        if current is None:
            if change.reason is None:
                reasons.append(f"{change.key} deleted ({change.id})")
        elif fingerprint(current, kind) != change.fingerprint:
            reasons.append(f"{change.key} changed ({change.id})")
    if plan.prune:
        accounted = {c.id for c in plan.changes if c.id} | {o.id for o in plan.orphans}
        keys = {c.key for c in plan.changes}
        targeted = selector(plan.targets, kind.name)
        for marker, assistants in sorted(by_marker.items()):
            if marker in keys or not targeted(marker):
                continue
            for assistant in assistants:
                if assistant.id not in accounted:
                    reasons.append(f"{marker} appeared ({assistant.id})")
    return reasons


def without_applied(
    plan: Plan, existing: list[Remote], kind: Kind = DEFAULT, uploads: knowledge.RemoteIndex | None = None
) -> tuple[Plan, list[str]]:
    """`plan` (of one `kind`; `existing`: its objects) with every change `existing` shows applied already
    (the same plan applied before) made a no-op of the object that holds it, and those changes' keys.
    Applied already: a create whose key has exactly one claimant, in exactly the planned state (more than one
    is a race: the create goes ahead and converges); an update whose object is in exactly the planned state;
    a delete whose object is gone (dropped). `uploads`: see `planned`."""
    by_id = {a.id: a for a in existing}
    claimants: dict[str, list[Remote]] = {}
    for item in existing:
        claimants.setdefault(kind.marker_of(item) or "", []).append(item)
    changes: list[Change] = []
    done: list[str] = []
    for change in plan.changes:
        holder: Remote | None = None
        if change.action == "create" and len(claimants.get(change.key, [])) == 1:
            holder = claimants[change.key][0]
        elif change.action == "update" and change.id is not None:
            holder = by_id.get(change.id)
        now = fingerprint(holder, kind) if holder is not None else None
        if holder is not None and now == planned(change, holder, uploads):
            changes.append(dataclasses.replace(change, action="no-op", id=holder.id, fingerprint=now))
        elif change.action == "delete" and change.id not in by_id:
            pass
        else:
            changes.append(change)
            continue
        done.append(change.key)
    files = _uploads_done(plan.files, changes, uploads)
    return dataclasses.replace(plan, changes=tuple(changes), files=files), done


def _uploads_done(
    files: Sequence[PlanFile], changes: Sequence[Change], uploads: knowledge.RemoteIndex | None
) -> tuple[PlanFile, ...]:
    """`files` with each upload that no change left to apply needs, and whose content `uploads` lists (an
    earlier apply of the plan uploaded it), made a no-op of the listed copy."""
    if uploads is None:
        return tuple(files)
    needed = {r.sha256 for c in changes if c.action != "no-op" for r in c.files if r.status == "upload"}
    out = []
    for item in files:
        done = item.action == "upload" and item.sha256 not in needed
        copy = uploads.find(item.sha256, item.size) if done else None
        out.append(item if copy is None else dataclasses.replace(item, action="no-op", id=copy.id))
    return tuple(out)


def planned(change: Change, holder: Remote, uploads: knowledge.RemoteIndex | None) -> str:
    """The canonical hash of the state `change` plans, as `holder` would show it once applied: a placeholder
    (content the plan uploads, its id unknown when the plan was made) stands for the copy of that content in
    `uploads` (the files listed now) that `holder` holds, when it holds one."""
    pending = {ref.sha256: ref.size for ref in change.files if ref.status == "upload"}
    if uploads is None or not pending:
        return dialect.canonical_hash(change.desired)
    held = set(getattr(holder, "file_ids", ()))
    ids = {
        PLACEHOLDER_PREFIX + sha256: copy.id
        for sha256, size in pending.items()
        for copy in uploads.copies(sha256, size)
        if copy.id in held
    }
    file_ids = sorted(ids.get(v, v) for v in change.desired.get("file_ids") or ())
    return dialect.canonical_hash({**change.desired, "file_ids": file_ids})


async def check_stale(client: Client, plan: Plan) -> tuple[Plan, list[str]]:
    """Re-list the API (read only) and return the plan left to apply with the keys applied already
    (`without_applied`, kind by kind); raise ReconcilerError when a change would touch an object that is not
    its own (`ownership_problems`), and StalePlanError when any fingerprint no longer matches or a create's
    name was taken (`name_collisions`), e.g. `plan is stale: hr-helper changed (asst_1), faq deleted (asst_2)
    and 1 more; make a new plan and review it`."""
    kinds = [kind_named(part.kind) for part in plan.by_kind]
    listings = [await client.list_objects(kind) for kind in kinds]
    uploading = any(ref.status == "upload" for change in plan.changes for ref in change.files)
    uploads = knowledge.RemoteIndex(await client.list_files(knowledge.PURPOSE)) if uploading else None
    trimmed = [
        without_applied(part, got, kind, uploads)
        for part, got, kind in zip(plan.by_kind, listings, kinds, strict=True)
    ]
    done = [key for _, keys in trimmed for key in keys]
    parts = [part for part, _ in trimmed]
    plan = dataclasses.replace(combine(parts), warnings=plan.warnings) if plan.parts else parts[0]
    listed = list(zip(parts, kinds, strict=True))
    problems = [
        p
        for (part, kind), got in zip(listed, listings, strict=True)
        for p in ownership_problems(part, got, kind)
    ]
    if problems:
        plurals = " or ".join(kind.plural for _, kind in listed)
        raise ReconcilerError(
            f"the saved plan is refused: it would write to {plurals} that are not its own: "
            f"{_named(problems)}; nothing was applied; {REPLAN}"
        )
    reasons = [
        reason
        for (part, kind), got in zip(listed, listings, strict=True)
        for reason in stale_reasons(part, got, kind, uploads) + name_collisions(part, got, kind)
    ]
    if not reasons:
        return plan, done
    noun = _noun(plan, len(reasons))
    raise StalePlanError(
        f"plan is stale: {len(reasons)} {noun} changed since it was made: {_named(reasons)}; {REPLAN}"
    )


def _noun(plan: Plan, count: int) -> str:
    """`assistant(s)` for a plan of one kind, `object(s)` for several."""
    if plan.parts:
        return "object" if count == 1 else "objects"
    return kind_named(plan.kind).noun(count)


def applied_already(keys: list[str], *, left: bool) -> str:
    """The line naming the changes of a saved plan the server shows applied already (`without_applied`);
    `left`: whether other changes remain to apply."""
    if not left:
        return f"The saved plan was applied already: nothing to do ({_named(keys)} as planned)."
    noun = "change" if len(keys) == 1 else "changes"
    return f"{len(keys)} {noun} of the saved plan applied already, skipped: {_named(keys)}."


def _named(reasons: list[str]) -> str:
    """The first STALE_NAMED of `reasons`, then `and N more`."""
    more = f" and {len(reasons) - STALE_NAMED} more" if len(reasons) > STALE_NAMED else ""
    return ", ".join(reasons[:STALE_NAMED]) + more
