"""The Plan: pure data describing what apply would do. It never prints and never calls the API.

A `Change` is one object's action; `kind` names its `Kind` (`assistant`, `agent`: `reconciler.kinds`).
`before`/`after` hold normal forms of that kind:
- create: `before` is `{}`, `after` the whole desired state;
- update: both hold only the changed fields;
- delete: `before` the whole existing state, `after` is `{}`;
- no-op: both `{}`.
`fingerprint` is the canonical hash of the whole existing normal form the change was planned against, or
`"absent"` for a create; a saved plan whose fingerprints no longer match the API is stale. A plan made only
to be shown skips them (`PlanOptions.fingerprints`): its changes carry `UNTAKEN`, and it can't be saved.

Knowledge files (planned by `reconciler.knowledge`): a Change of a manifest with `files:` carries its
`FileRef`s and the Plan its `PlanFile`s (uploads, kept uploads, deletes), both defined here with the Plan.
Both appear in the JSON only when present: a change gains `"files"`, the plan gains `"files"` and
`"file_summary"` (docs/formats.md). Likewise drift (`reconciler.drift`, docs/drift.md): an update that
overwrites edits made outside reconciler carries its `Drift` (JSON: `"drifted_fields"`), and the plan lists
them all (`"drift"`).

Several kinds: the planner builds one Plan per kind and `combine`s them; the combined Plan holds every change
(each knowing its kind) and its `parts`, the plan of each kind alone (its summary, counts, orphans, safety
limits). A plan of assistants alone has no parts and its JSON is exactly as before kinds existed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.drift import Drift
from reconciler.errors import UnsafePlanError
from reconciler.kinds import DEFAULT, KINDS, kind_named

FORMAT_VERSION = "1"
ABSENT = "absent"
#: The fingerprint of a change planned without fingerprints (`PlanOptions.fingerprints`).
UNTAKEN = ""

Action = Literal["create", "update", "delete", "no-op"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete", "no-op")

#: Prefix of the placeholder that stands for a not-yet-uploaded file's id in `file_ids`.
PLACEHOLDER_PREFIX = "sha256:"

RefStatus = Literal["upload", "attach", "unchanged", "detach"]
FileAction = Literal["upload", "no-op", "delete"]
FILE_ACTIONS: tuple[FileAction, ...] = ("upload", "delete", "no-op")

#: Deleting more than this share of the managed assistants needs --force ...
MAX_DELETE_SHARE = 0.30
#: ... once there are at least this many of them.
MIN_MANAGED_FOR_SHARE = 10


def placeholder(sha256: str) -> str:
    """The `file_ids` entry standing for content still to be uploaded: `sha256:<64 hex>`."""
    return PLACEHOLDER_PREFIX + sha256


@dataclass(frozen=True)
class FileRef:
    """One knowledge file of one Change.

    `status`: `upload` (content not uploaded yet: `id` is None, known after apply), `attach` (uploaded
    already, newly attached), `unchanged` (already attached) or `detach` (an upload attached now that the
    manifest no longer names: `path` is its original base name, `sha256` the 16-digit prefix from its name).
    """

    path: str
    sha256: str
    size: int
    id: str | None
    status: RefStatus

    @property
    def file_id(self) -> str:
        """The `file_ids` entry: the id, or the placeholder while unknown."""
        return self.id if self.id is not None else placeholder(self.sha256)

    def data(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "id": self.id,
            "status": self.status,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> FileRef:
        return cls(str(data["path"]), str(data["sha256"]), int(data["size"]), data.get("id"), data["status"])


@dataclass(frozen=True)
class PlanFile:
    """One distinct content the plan deals with.

    `upload`: to be uploaded as `filename` from one of `paths` (cwd-relative), for the keys in `used_by`;
    `no-op`: uploaded already as `id`; `delete` (only with --prune): an upload (`filename`, `id`) that no
    manifest and no assistant uses (`sha256` is then the 16-digit prefix from its name, `paths` empty).
    """

    action: FileAction
    sha256: str
    size: int
    filename: str
    paths: tuple[str, ...] = ()
    id: str | None = None
    used_by: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The first local path, or the uploaded name for a delete."""
        return self.paths[0] if self.paths else self.filename

    def data(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "sha256": self.sha256,
            "size": self.size,
            "paths": list(self.paths),
            "filename": self.filename,
            "id": self.id,
            "used_by": list(self.used_by),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PlanFile:
        return cls(
            action=data["action"],
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            filename=str(data["filename"]),
            paths=tuple(data.get("paths") or ()),
            id=data.get("id"),
            used_by=tuple(data.get("used_by") or ()),
        )


def tally(keys: Sequence[str], values: Iterable[str]) -> dict[str, int]:
    """How many of `values` are each of `keys`: every key, in order, 0 when absent."""
    counts = dict.fromkeys(keys, 0)
    for value in values:
        counts[value] += 1
    return counts


def file_summary(files: Sequence[PlanFile]) -> dict[str, int]:
    """`{"upload": n, "delete": n, "no-op": n}`."""
    return tally(FILE_ACTIONS, (item.action for item in files))


@dataclass(frozen=True)
class Change:
    """One assistant's planned action (an immutable value)."""

    key: str
    id: str | None
    action: Action
    changed_fields: tuple[str, ...] = ()
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str = ABSENT
    #: The manifest's path (`assistants/hr.yaml`), or None for a delete.
    source: str | None = None
    #: True when this update binds an unmanaged assistant (adds the ownership marker).
    adopt: bool = False
    #: The whole desired normal form (creates, updates): what the executor writes and reads back.
    desired: Mapping[str, Any] = field(default_factory=dict)
    #: The manifest's knowledge files (and uploads it detaches), by path; empty without `files:`.
    files: tuple[FileRef, ...] = ()
    #: Why a delete is planned without --prune: `duplicate of KEY, keeping asst_... (oldest)`.
    reason: str | None = None
    #: The name of the change's `Kind`.
    kind: str = DEFAULT.name
    #: The fields this update overwrites although they were edited outside reconciler since the last apply
    #: (`reconciler.drift`); None when there are none, or when nothing was recorded (unknown).
    drift: Drift | None = None

    @property
    def drifted_fields(self) -> tuple[str, ...]:
        return self.drift.fields if self.drift is not None else ()

    @property
    def name(self) -> str | None:
        """The assistant's display name, desired or existing."""
        return (self.desired or self.before or self.after).get("name")

    def data(self) -> dict[str, Any]:
        """The public JSON form (docs/formats.md, `formats.ChangeJSON`), in a stable key order."""
        out: dict[str, Any] = {
            "key": self.key,
            "id": self.id,
            "action": self.action,
            "changed_fields": list(self.changed_fields),
            "before": dict(self.before),
            "after": dict(self.after),
        }
        if self.files:
            out["files"] = [f.data() for f in self.files]
        if self.reason is not None:
            out["reason"] = self.reason
        if self.drift is not None:
            out["drifted_fields"] = list(self.drift.fields)
        return out


@dataclass(frozen=True)
class Orphan:
    """A managed object no manifest names, left alone because --prune was not given."""

    key: str
    id: str
    name: str | None
    kind: str = DEFAULT.name

    def data(self) -> dict[str, Any]:
        return {"key": self.key, "id": self.id, "name": self.name}


@dataclass(frozen=True, repr=False)
class Plan:
    """Ordered Changes (creates, updates, deletes, then no-ops; each group by key) and what was seen.

    Its repr is a one-line summary, not every Change: Python 3.11's `asyncio.run` formats the repr of the
    finished main task, result included, while it restores the SIGINT handler, and the full repr of a plan
    over 10,000 assistants is ~90 MB and half a second of CPU.
    """

    changes: tuple[Change, ...]
    unmanaged: int = 0
    managed: int = 0
    orphans: tuple[Orphan, ...] = ()
    targets: tuple[str, ...] = ()
    prune: bool = False
    warnings: tuple[str, ...] = ()
    #: Whether creates may duplicate an unmanaged assistant's name (`--allow-duplicate-names`).
    allow_duplicate_names: bool = False
    #: Knowledge file contents to upload, kept, or (with --prune) delete; see `reconciler.knowledge`.
    files: tuple[PlanFile, ...] = ()
    #: The kind of a plan of one kind (`parts` empty); a combined plan's is its first part's.
    kind: str = DEFAULT.name
    #: A combined plan's plan of each kind (`combine`); empty for a plan of one kind.
    parts: tuple[Plan, ...] = ()

    def __repr__(self) -> str:
        counts = ", ".join(f"{action}={n}" for action, n in self.summary.items())
        return (
            f"<Plan {counts}; unmanaged={self.unmanaged}, managed={self.managed}, "
            f"orphans={len(self.orphans)}, files={len(self.files)}, warnings={len(self.warnings)}>"
        )

    @property
    def by_kind(self) -> tuple[Plan, ...]:
        """The plan of each kind: `parts`, or this plan alone."""
        return self.parts or (self,)

    @property
    def single(self) -> bool:
        """True for a plan of assistants alone: shown and saved exactly as before kinds existed."""
        return not self.parts and self.kind == DEFAULT.name

    @property
    def summary(self) -> dict[str, int]:
        return tally(ACTIONS, (change.action for change in self.changes))

    @property
    def file_summary(self) -> dict[str, int]:
        """`{"upload": n, "delete": n, "no-op": n}` over `files`."""
        return file_summary(self.files)

    @property
    def has_changes(self) -> bool:
        return any(c.action != "no-op" for c in self.changes) or any(f.action != "no-op" for f in self.files)

    @property
    def drift(self) -> tuple[Drift, ...]:
        """The assistants edited outside reconciler in fields this plan overwrites, in plan order."""
        return tuple(c.drift for c in self.changes if c.drift is not None)

    @property
    def actionable(self) -> tuple[Change, ...]:
        """The changes that need a write call."""
        return tuple(c for c in self.changes if c.action != "no-op")

    def data(self) -> dict[str, Any]:
        """The public JSON plan (docs/formats.md, schema/plan.json)."""
        out: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "changes": [c.data() for c in self.changes],
            "summary": self.summary,
            "unmanaged": self.unmanaged,
            "managed": self.managed,
            "orphans": [o.data() for o in self.orphans],
            "warnings": list(self.warnings),
        }
        if self.files:
            out["files"] = [f.data() for f in self.files]
            out["file_summary"] = self.file_summary
        if not self.single:
            for data, change in zip(out["changes"], self.changes, strict=True):
                data["kind"] = change.kind
            for data, orphan in zip(out["orphans"], self.orphans, strict=True):
                data["kind"] = orphan.kind
            out["kinds"] = {
                part.kind: {"summary": part.summary, "managed": part.managed, "unmanaged": part.unmanaged}
                for part in self.by_kind
            }
        if self.drift:
            out["drift"] = [d.data() for d in self.drift]
        return out


def combine(plans: Sequence[Plan]) -> Plan:
    """One plan of the plans of several kinds (in `KINDS` order): every change, orphan, warning and file of
    each, the counts summed, the plans kept as `parts`. A single plan is returned as it is."""
    plans = sorted(plans, key=lambda p: list(KINDS).index(p.kind))
    if len(plans) == 1:
        return plans[0]
    first = plans[0]
    return Plan(
        changes=tuple(c for p in plans for c in p.changes),
        unmanaged=sum(p.unmanaged for p in plans),
        managed=sum(p.managed for p in plans),
        orphans=tuple(o for p in plans for o in p.orphans),
        targets=first.targets,
        prune=first.prune,
        warnings=tuple(dict.fromkeys(w for p in plans for w in p.warnings)),
        allow_duplicate_names=first.allow_duplicate_names,
        files=tuple(f for p in plans for f in p.files),
        kind=first.kind,
        parts=tuple(plans),
    )


def check_safety(plan: Plan, *, force: bool) -> None:
    """Refuse mass deletes, kind by kind: more than 30% of at least 10 managed objects of a kind, or all of
    them (when any).

    Raises UnsafePlanError carrying every number, e.g. `35% is over 30% (7/20), --force required`.
    """
    if force:
        return
    for part in plan.by_kind:
        _check_part(part.summary["delete"], part.managed, kind_named(part.kind).plural)


def _check_part(deletes: int, managed: int, plural: str) -> None:
    if deletes == 0 or managed == 0:
        return
    share = deletes / managed
    if deletes >= managed:
        raise UnsafePlanError(
            f"plan deletes all {managed} managed {plural} ({deletes}/{managed}), --force required"
        )
    if managed >= MIN_MANAGED_FOR_SHARE and share > MAX_DELETE_SHARE:
        raise UnsafePlanError(
            f"plan deletes {share:.0%} of managed {plural}, over {MAX_DELETE_SHARE:.0%} "
            f"({deletes}/{managed}), --force required"
        )
