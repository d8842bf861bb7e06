"""The saved plan (`plan --out FILE`, `apply FILE`): its format, saving, loading and staleness.

**Format.** The public JSON plan (`Plan.data()`), each change extended with what apply needs (`fingerprint`,
`source`, `adopt`, `desired`) and the plan with `targets`, `prune`, `allow_duplicate_names`, the `target` it
was made for (`Target`: base URL or `local`, organisation, project; never the key) and the repository `root`
it was made in. Local paths (knowledge files) are saved relative to that root and, when loaded, resolved
from the repository root of the current directory (its nearest parent with `.git`), else from the saved
root. `format_version` is `plan.FORMAT_VERSION`, or `WITH_KINDS` for a plan with saved agents: a
reconciler from before agents refuses that plan (`unsupported plan format_version '2'`) instead of applying
an agent's change as an assistant's. Both load.

**Saving** goes through `fsio.write_atomic`: only to a new path or a regular file, in one step, mode 0600.

**Loading** reads a regular file of at most `MAX_BYTES` (`fsio.read_bounded`) and turns every way it can fail
into one `ReconcilerError` line naming the file: not readable, not a regular file, too large, not UTF-8,
not JSON (with line and column), nested too deeply, some other JSON, or the stdout form of `plan --format
json` (which has no fingerprints).

**Before apply** (`check_environment`, `check_target`, `check_local_files`, then `staleness.check_stale`), in
that order, all before any write: the plan is refused when the run is for another environment (`--env`) than
the plan was made for, or targets another server or project than the plan names; when a local file it uploads
no longer hashes as planned (so it is applied whole or not at all for local reasons); when a change would
touch an assistant that is not its own (an update or delete needs the ownership marker with the planned key;
an adopt, an unmanaged assistant), whatever the file says; and when it is stale: a fingerprint no longer
matches what the API holds, or a create's name now belongs to an unmanaged assistant. Changes the server shows
applied already (`without_applied`: the same plan applied before) become no-ops first, so a plan applied twice
makes no call the second time.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler import dialect, fsio
from reconciler.drift import Drift
from reconciler.errors import ReconcilerError
from reconciler.kinds import DEFAULT, kind_named
from reconciler.manifest.reading import ReadError, open_regular, read_open
from reconciler.plan import ACTIONS, FORMAT_VERSION, UNTAKEN, Change, FileRef, Orphan, Plan, PlanFile, combine
from reconciler.redact import mask

if TYPE_CHECKING:
    from reconciler.options import ConnectionOptions

#: The `format_version` of a saved plan with saved agents (a plan of assistants alone keeps `FORMAT_VERSION`).
WITH_KINDS = "2"
#: The largest plan file `load` reads (a plan of 10,000 assistants with long instructions fits).
MAX_BYTES = 1 << 30
#: How much of an existing file `plan --out` reads to tell a saved plan from anything else.
HEAD_BYTES = 64 * 1024
#: Saved plans may quote instructions: only their owner may read them.
FILE_MODE = 0o600
#: How many stale keys a StalePlanError names before saying "and N more".
STALE_NAMED = 3
#: The advice every "not a saved plan" error ends with.
MAKE_ONE = "; save a plan with `reconciler plan --out FILE`"
#: How a saved plan names the embedded emulator (`--local`) as its target.
LOCAL = "local"
#: The advice every refusal of a saved plan ends with.
REPLAN = "make a new plan and review it"


@dataclass(frozen=True)
class Target:
    """The server and project a plan was made for: `base_url` (or `LOCAL`), organisation and project."""

    base_url: str
    organization: str | None = None
    project: str | None = None

    @classmethod
    def of(cls, connection: ConnectionOptions) -> Target:
        """The target `connection` reaches (its base URL checked as `connection.check_base_url` does)."""
        from reconciler.client import DEFAULT_BASE_URL
        from reconciler.connection import check_base_url

        if connection.local:
            return cls(LOCAL)
        url = check_base_url(connection.base_url or DEFAULT_BASE_URL)
        return cls(url, connection.organization, connection.project)

    def __str__(self) -> str:
        scope = [f"{name} {value}" for name, value in self.data().items() if name != "base_url" and value]
        return self.base_url + (f" ({', '.join(scope)})" if scope else "")

    def data(self) -> dict[str, str | None]:
        return {"base_url": self.base_url, "organization": self.organization, "project": self.project}


@dataclass(frozen=True)
class SavedPlan:
    """A plan as saved: the Plan, the `target` and `environment` it was made for and the repository `root` it
    was made in (absolute; its local paths are relative to the current directory, as in any Plan)."""

    plan: Plan
    target: Target
    root: Path
    #: The environment (`--env`, reconciler.yaml) it was made for; None without environments.
    environment: str | None = None


# ------------------------------------------------------------------------------------------------ format


def to_data(saved: SavedPlan) -> dict[str, Any]:
    """The saved form: the public form plus what apply needs to run it and to detect staleness, its local
    paths relative to `saved.root`."""
    plan = _with_paths(saved.plan, lambda path: os.path.relpath(Path(path).absolute(), saved.root))
    data = plan.data()
    for out, change in zip(data["changes"], plan.changes, strict=True):
        if change.fingerprint == UNTAKEN:
            raise ValueError(
                f"{change.key}: planned without fingerprints (PlanOptions.fingerprints), can't be saved"
            )
        out["fingerprint"] = change.fingerprint
        out["source"] = change.source
        out["adopt"] = change.adopt
        out["desired"] = dict(change.desired)
    data["targets"] = list(plan.targets)
    data["prune"] = plan.prune
    data["allow_duplicate_names"] = plan.allow_duplicate_names
    data["target"] = saved.target.data()
    data["root"] = str(saved.root)
    if not plan.single:
        data["format_version"] = WITH_KINDS
    if saved.environment is not None:
        data["environment"] = saved.environment
    return data


def saved_from_data(data: Mapping[str, Any], here: Path) -> SavedPlan:
    """Rebuild `to_data()`'s saved plan, its local paths resolved from the repository root of `here` (the
    nearest parent with `.git`), else from the root it names; ReconcilerError for anything else."""
    from reconciler.knowledge import display_path

    plan = from_data(data)
    try:
        saved = SavedPlan(
            plan,
            _at(
                "target",
                lambda t: Target(str(t["base_url"]), t["organization"], t["project"]),
                data["target"],
            ),
            Path(data["root"]),
            _environment(data.get("environment")),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise _not_a_plan(err) from None
    root = _git_root(here) or saved.root
    return dataclasses.replace(saved, plan=_with_paths(plan, lambda path: display_path(root / path)))


def _environment(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"environment {value!r}")
    return value


def _git_root(here: Path) -> Path | None:
    """The nearest parent of `here` (itself included) holding `.git`, or None."""
    start = here.resolve()
    return next((c for c in (start, *start.parents) if (c / ".git").exists()), None)


def _with_paths(plan: Plan, convert: Any) -> Plan:
    """`plan` with every local path (knowledge files to upload or keep) passed through `convert`."""

    def ref(item: FileRef) -> FileRef:
        return item if item.status == "detach" else dataclasses.replace(item, path=convert(item.path))

    changes = tuple(dataclasses.replace(c, files=tuple(ref(f) for f in c.files)) for c in plan.changes)
    files = tuple(dataclasses.replace(f, paths=tuple(convert(p) for p in f.paths)) for f in plan.files)
    return dataclasses.replace(plan, changes=changes, files=files)


def from_data(data: Mapping[str, Any]) -> Plan:
    """Rebuild a plan from `to_data()`; raises ReconcilerError for anything else."""
    try:
        if data.get("format_version") not in (FORMAT_VERSION, WITH_KINDS):
            raise ReconcilerError(f"unsupported plan format_version {data.get('format_version')!r}")
        drift = [_at(f"drift[{i}]", Drift.from_data, d) for i, d in enumerate(data.get("drift") or ())]
        drifts = {(d.key, d.id): d for d in drift}
        changes = tuple(
            _at(f"changes[{i}]", lambda c: _change(c, drifts), c) for i, c in enumerate(data["changes"])
        )
        for change in changes:
            if change.action not in ACTIONS:
                raise ReconcilerError(f"unknown action {change.action!r} for {change.key!r}")
        orphans = tuple(_at(f"orphans[{i}]", _orphan, o) for i, o in enumerate(data.get("orphans", [])))
        plan = Plan(
            changes=changes,
            unmanaged=int(data["unmanaged"]),
            managed=int(data.get("managed", 0)),
            orphans=orphans,
            targets=tuple(data.get("targets", [])),
            prune=bool(data.get("prune", False)),
            allow_duplicate_names=bool(data.get("allow_duplicate_names", False)),
            warnings=tuple(data.get("warnings", [])),
            files=tuple(
                _at(f"files[{i}]", PlanFile.from_data, f) for i, f in enumerate(data.get("files") or ())
            ),
        )
        return _split(plan, data["kinds"]) if "kinds" in data else plan
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise _not_a_plan(err) from None


class _BadField(ValueError):
    """A field of a saved plan that is missing or of the wrong type, named by its path (`changes[3].id`)."""


_Read = TypeVar("_Read")


def _at(where: str, read: Callable[[Mapping[str, Any]], _Read], value: Any) -> _Read:
    """`read(value)` for the object at `where`; what it lacks or cannot read is a `_BadField` naming it."""
    if not isinstance(value, Mapping):
        raise _BadField(f"{where} is {_json_kind(value)}, not an object")
    try:
        return read(value)
    except _BadField as inner:
        raise _BadField(f"{where}.{inner}") from None
    except KeyError as err:
        raise _BadField(f"{where} has no {err}") from None
    except (TypeError, AttributeError, ValueError) as err:
        raise _BadField(f"{where} has a bad field ({err})") from None


def _not_a_plan(err: Exception) -> ReconcilerError:
    """The one line for a plan file whose fields are not a saved plan's."""
    if isinstance(err, _BadField):
        problem = str(err)
    elif isinstance(err, KeyError):
        problem = f"it has no {err}"
    else:
        problem = f"bad field: {err}"
    return ReconcilerError(f"not a saved reconciler plan ({problem})")


def _json_kind(value: Any) -> str:
    kinds = {str: "a string", list: "a list", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def _split(plan: Plan, kinds: Mapping[str, Any]) -> Plan:
    """The combined plan of several kinds that `plan` (read flat) holds, its per-kind counts from `kinds`
    (the saved `kinds` object); the combined plan keeps `plan`'s warnings and change order."""
    parts = []
    for name, counts in kinds.items():
        kind = kind_named(name).name
        parts.append(
            dataclasses.replace(
                plan,
                changes=tuple(c for c in plan.changes if c.kind == kind),
                unmanaged=int(counts["unmanaged"]),
                managed=int(counts["managed"]),
                orphans=tuple(o for o in plan.orphans if o.kind == kind),
                warnings=(),
                files=plan.files if kind == DEFAULT.name else (),
                kind=kind,
            )
        )
    unknown = {c.kind for c in plan.changes} - set(kinds)
    if unknown:
        raise ValueError(f"changes of kind {sorted(unknown)[0]!r} but no counts for it")
    combined = combine(parts)
    return dataclasses.replace(combined, changes=plan.changes, warnings=plan.warnings)


def _orphan(o: Mapping[str, Any]) -> Orphan:
    return Orphan(_key(o["key"]), _id(o["id"]), o.get("name"), kind_named(o.get("kind", DEFAULT.name)).name)


def _key(value: Any) -> str:
    """`value` when it is a manifest key; else ValueError (the message shows it as JSON, on one line)."""
    if not isinstance(value, str) or not dialect.is_key(value):
        raise ValueError(f"key {json.dumps(value)[:80]} is no key")
    return value


def _id(value: Any) -> str:
    """`value` when it has the form of an object id; else ValueError, as `_key`."""
    if not isinstance(value, str) or not dialect.is_object_id(value):
        raise ValueError(f"id {json.dumps(value)[:80]} is no object id")
    return value


def _change(c: Mapping[str, Any], drifts: Mapping[tuple[str, str], Drift]) -> Change:
    return Change(
        key=_key(c["key"]),
        id=None if c["id"] is None else _id(c["id"]),
        action=c["action"],
        changed_fields=tuple(c["changed_fields"]),
        before=c["before"],
        after=c["after"],
        fingerprint=c["fingerprint"],
        source=c.get("source"),
        adopt=bool(c.get("adopt", False)),
        desired=c.get("desired") or {},
        files=tuple(_at(f"files[{i}]", FileRef.from_data, f) for i, f in enumerate(c.get("files") or ())),
        reason=c.get("reason"),
        kind=kind_named(c.get("kind", DEFAULT.name)).name,
        drift=drifts.get((c["key"], c["id"])) if c.get("drifted_fields") else None,
    )


# ------------------------------------------------------------------------------------------ save and load


def save(saved: SavedPlan, path: Path, *, secret: str | None = None) -> None:
    """Write the saved form of `saved` as JSON to `path` atomically, every form of `secret` (the API key)
    masked; ReconcilerError (one line) when `path` is not a new path or a regular file (a symlink, FIFO,
    device...), is a non-empty file that is not a saved plan (a manifest, say), or cannot be written."""
    text = mask(json.dumps(to_data(saved), indent=2, ensure_ascii=False) + "\n", secret)
    _refuse_overwrite(path)
    try:
        # A lone surrogate (a server's `"\\ud800"`) can only be in a JSON string: written as that escape.
        fsio.write_atomic(path, text.encode("utf-8", "backslashreplace"), mode=FILE_MODE)
    except OSError as err:
        raise ReconcilerError(f"cannot save the plan to {path}: {err.strerror or err}") from None


def _refuse_overwrite(path: Path) -> None:
    """ReconcilerError when `path` is a non-empty regular file whose content is not a saved plan (a JSON
    object with a `format_version`): `plan --out` replaces only earlier plans, never a manifest or a config.
    What is not a regular file is left to `fsio.write_atomic` to refuse."""
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size == 0:
            return
        # Opened without blocking or following a link: a FIFO or link swapped in since the checks is refused.
        head = read_open(*open_regular(path, follow=False), HEAD_BYTES)
    except (OSError, ReadError):
        return  # unreadable, or no longer a regular file: writing it fails with its own message
    text = head.decode("utf-8", errors="replace").lstrip()
    if not (text.startswith("{") and '"format_version"' in text):
        raise ReconcilerError(
            f"cannot save the plan to {path}: it exists and is not a saved plan; choose another path "
            "(a saved plan is replaced, nothing else is)"
        )


def load(path: Path) -> SavedPlan:
    """The plan saved in `path`, its local paths resolved (`saved_from_data`) from the current directory;
    ReconcilerError (one line, see the module docstring) when it cannot be."""
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
        return saved_from_data(data, Path.cwd())
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


# ------------------------------------------------------------------------------------------ before apply


def check_target(saved: SavedPlan, connection: ConnectionOptions) -> None:
    """Raise ReconcilerError when this run reaches another server or project than the plan was made for."""
    here = Target.of(connection)
    if here != saved.target:
        raise ReconcilerError(
            f"the saved plan was made for {saved.target}, not for {here} (this run's target): apply it "
            f"there, or {REPLAN}"
        )


def check_environment(saved: SavedPlan, environment: str | None) -> None:
    """Raise ReconcilerError when the plan was made for another environment (`--env`) than this run's."""
    if saved.environment == environment:
        return
    made = f"environment {saved.environment}" if saved.environment else "no environment (no --env)"
    run = f"--env {environment}" if environment else "no --env"
    advice = f"apply it with --env {saved.environment}" if saved.environment else "apply it without --env"
    raise ReconcilerError(
        f"the saved plan was made for {made}, not for this run's ({run}): {advice}, or {REPLAN}"
    )


def check_local_files(plan: Plan) -> None:
    """Read every local file `plan` uploads and raise ReconcilerError (one line, every problem counted)
    unless each still hashes as planned: a saved plan is applied whole or not at all for local reasons."""
    from reconciler.knowledge import short_hash
    from reconciler.uploads import hash_file

    problems = []
    for item in plan.files:
        if item.action != "upload":
            continue
        for path in item.paths:
            try:
                digest = hash_file(Path(path))
            except OSError as err:
                problems.append(f"cannot read {path} ({err.strerror or err})")
                continue
            if digest != item.sha256:
                now = short_hash(digest)
                problems.append(f"{path} changed since plan (planned {short_hash(item.sha256)}, now {now})")
    if problems:
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise ReconcilerError(
            f"the saved plan needs local files that changed: {problems[0]}{more}; nothing was applied; "
            + REPLAN
        )
