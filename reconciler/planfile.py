"""The saved plan (`plan --out FILE`, `apply FILE`): its format, saving, loading and staleness.

**Format.** The public JSON plan (`Plan.data()`), each change extended with what apply needs (`fingerprint`,
`source`, `adopt`, `desired`) and the plan with `targets` and `prune`. `format_version` is
`plan.FORMAT_VERSION`.

**Saving** goes through `fsio.write_atomic`: only to a new path or a regular file, in one step, mode 0600.

**Loading** reads a regular file of at most `MAX_BYTES` (`fsio.read_bounded`) and turns every way it can fail
into one `ReconcilerError` line naming the file: not readable, not a regular file, too large, not UTF-8,
not JSON (with line and column), nested too deeply, some other JSON, or the stdout form of `plan --format
json` (which has no fingerprints).

**Staleness.** A saved plan is applied only while every fingerprint still matches what the API holds:
`check_stale` re-lists the assistants (read only) and raises `StalePlanError` naming what changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import dialect, fsio
from reconciler.errors import ReconcilerError, StalePlanError
from reconciler.plan import ABSENT, ACTIONS, FORMAT_VERSION, Change, FileRef, Orphan, Plan, PlanFile

if TYPE_CHECKING:
    from reconciler.client import Client

#: The largest plan file `load` reads (a plan of 10,000 assistants with long instructions fits).
MAX_BYTES = 1 << 30
#: Saved plans may quote instructions: only their owner may read them.
FILE_MODE = 0o600
#: How many stale keys a StalePlanError names before saying "and N more".
STALE_NAMED = 3
#: The advice every "not a saved plan" error ends with.
MAKE_ONE = "; save a plan with `reconciler plan --out FILE`"


# ------------------------------------------------------------------------------------------------ format


def to_data(plan: Plan) -> dict[str, Any]:
    """The saved form of `plan`: the public form plus what apply needs to run it and to detect staleness."""
    data = plan.data()
    for out, change in zip(data["changes"], plan.changes, strict=True):
        out["fingerprint"] = change.fingerprint
        out["source"] = change.source
        out["adopt"] = change.adopt
        out["desired"] = dict(change.desired)
    data["targets"] = list(plan.targets)
    data["prune"] = plan.prune
    return data


def from_data(data: Mapping[str, Any]) -> Plan:
    """Rebuild a plan from `to_data()`; raises ReconcilerError for anything else."""
    try:
        if data.get("format_version") != FORMAT_VERSION:
            raise ReconcilerError(f"unsupported plan format_version {data.get('format_version')!r}")
        changes = tuple(_change(c) for c in data["changes"])
        for change in changes:
            if change.action not in ACTIONS:
                raise ReconcilerError(f"unknown action {change.action!r} for {change.key!r}")
        return Plan(
            changes=changes,
            unmanaged=int(data["unmanaged"]),
            managed=int(data.get("managed", 0)),
            orphans=tuple(Orphan(o["key"], o["id"], o.get("name")) for o in data.get("orphans", [])),
            targets=tuple(data.get("targets", [])),
            prune=bool(data.get("prune", False)),
            warnings=tuple(data.get("warnings", [])),
            files=tuple(PlanFile.from_data(f) for f in data.get("files") or ()),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise ReconcilerError(f"not a saved reconciler plan (missing or bad field: {err})") from None


def _change(c: Mapping[str, Any]) -> Change:
    return Change(
        key=c["key"],
        id=c["id"],
        action=c["action"],
        changed_fields=tuple(c["changed_fields"]),
        before=c["before"],
        after=c["after"],
        fingerprint=c["fingerprint"],
        source=c.get("source"),
        adopt=bool(c.get("adopt", False)),
        desired=c.get("desired") or {},
        files=tuple(FileRef.from_data(f) for f in c.get("files") or ()),
    )


# ------------------------------------------------------------------------------------------ save and load


def save(plan: Plan, path: Path) -> None:
    """Write the saved form of `plan` as JSON to `path` atomically; ReconcilerError (one line) when `path` is
    not a new path or a regular file (a symlink, FIFO, device...) or cannot be written."""
    text = json.dumps(to_data(plan), indent=2, ensure_ascii=False) + "\n"
    try:
        fsio.write_atomic(path, text.encode("utf-8"), mode=FILE_MODE)
    except OSError as err:
        raise ReconcilerError(f"cannot save the plan to {path}: {err.strerror or err}") from None


def load(path: Path) -> Plan:
    """The Plan saved in `path`; ReconcilerError (one line, see the module docstring) when it cannot be."""
    try:
        raw = fsio.read_bounded(path, MAX_BYTES)
    except OSError as err:
        raise ReconcilerError(f"cannot read the plan file {path}: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ReconcilerError(
            f"{path}: not a saved plan: not UTF-8 text (byte {err.start + 1}){MAKE_ONE}"
        ) from None
    data = _parse(path, text)
    if not isinstance(data, dict):
        raise ReconcilerError(f"{path}: not a saved plan: expected a JSON object{MAKE_ONE}")
    if "format_version" not in data:
        raise ReconcilerError(f"{path}: not a saved plan: it has no format_version{MAKE_ONE}")
    if {"changes", "summary", "unmanaged"} <= data.keys() and "prune" not in data:
        raise ReconcilerError(
            f"{path}: this is the output of `plan --format json`, which cannot be applied (it has no "
            f"fingerprints){MAKE_ONE}"
        )
    try:
        return from_data(data)
    except ReconcilerError as err:
        raise ReconcilerError(f"{path}: {err}") from None


def _parse(path: Path, text: str) -> Any:
    """`text` as JSON; ReconcilerError naming the line and column (and a likely truncation) otherwise."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ReconcilerError(f"{path}: not a saved plan: JSON nested too deeply{MAKE_ONE}") from None
    except json.JSONDecodeError as err:
        rest = text[err.pos :].rstrip()
        ends_early = not rest or (err.msg.startswith("Unterminated string") and "\n" not in rest)
        truncated = "; the file ends early: truncated?" if ends_early else ""
        reason = err.msg.removesuffix(" starting at")
        raise ReconcilerError(
            f"{path}:{err.lineno}:{err.colno}: not a saved plan: invalid JSON ({reason}{truncated})"
        ) from None


# ------------------------------------------------------------------------------------------------ staleness


def fingerprint(existing: Mapping[str, Any]) -> str:
    """The fingerprint of an existing API assistant: the canonical hash of its normal form."""
    return dialect.canonical_hash(dialect.normalise(existing))


def stale_reasons(plan: Plan, existing: list[dict[str, Any]]) -> list[str]:
    """Why `plan` no longer matches `existing` (the API's assistants), one phrase per key; [] when current.

    - a change planned against an assistant whose normal form changed: `KEY changed`;
    - one whose assistant is gone: `KEY deleted`;
    - a create whose key now has a managed assistant, or another change's key a second one: `KEY appeared`;
    - with a `--prune` plan, a (targeted) managed assistant no change accounts for: `KEY appeared`.
    """
    by_id = {a["id"]: a for a in existing if a.get("id")}
    by_marker: dict[str, list[dict[str, Any]]] = {}
    for assistant in existing:
        marker = dialect.marker_of(assistant)
        if marker is not None:
            by_marker.setdefault(marker, []).append(assistant)
    reasons: list[str] = []
    for change in plan.changes:
        if change.fingerprint == ABSENT or change.id is None:
            if change.key in by_marker:
                ids = ", ".join(a["id"] for a in by_marker[change.key])
                reasons.append(f"{change.key} appeared ({ids})")
            continue
        others = [a["id"] for a in by_marker.get(change.key, []) if a["id"] != change.id]
        if others:
            reasons.append(f"{change.key} appeared ({', '.join(others)})")
        current = by_id.get(change.id)
        if current is None:
            reasons.append(f"{change.key} deleted ({change.id})")
        elif fingerprint(current) != change.fingerprint:
            reasons.append(f"{change.key} changed ({change.id})")
    if plan.prune:
        accounted = {c.id for c in plan.changes if c.id} | {o.id for o in plan.orphans}
        keys = {c.key for c in plan.changes}
        for marker, assistants in sorted(by_marker.items()):
            if marker in keys or (plan.targets and marker not in plan.targets):
                continue
            for assistant in assistants:
                if assistant["id"] not in accounted:
                    reasons.append(f"{marker} appeared ({assistant['id']})")
    return reasons


async def check_stale(client: Client, plan: Plan) -> None:
    """Re-list the API (read only) and raise StalePlanError when any of `plan`'s fingerprints no longer
    matches, e.g. `plan is stale: hr-helper changed (asst_1), faq deleted (asst_2) and 1 more; run plan
    again`."""
    reasons = stale_reasons(plan, await client.list_assistants())
    if not reasons:
        return
    named = ", ".join(reasons[:STALE_NAMED])
    more = f" and {len(reasons) - STALE_NAMED} more" if len(reasons) > STALE_NAMED else ""
    noun = "assistant" if len(reasons) == 1 else "assistants"
    raise StalePlanError(
        f"plan is stale: {len(reasons)} {noun} changed since it was made: {named}{more}; "
        "make a new plan and review it"
    )
