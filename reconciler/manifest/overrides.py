"""Per-environment overrides inside a manifest: the `environments:` block and `only:`.

```yaml
model: gpt-4-turbo
only: [staging, production]      # optional: the environments the assistant exists in (default: all)
environments:                    # optional: what differs, keyed by environment name
  staging:
    model: gpt-3.5-turbo         # a field replaces the base value
    metadata: {tier: test}       # metadata merges by key (a key set to null is removed)
    description: null            # null removes the field: back to the API default
```

`merge` turns a document's data into the data of one environment (or None when the assistant is not in it).
The three rules are the whole contract: a field replaces; metadata merges by key; null removes. `key` cannot
differ per environment (it is the assistant's identity across them). Every problem is reported through a
callback with its field path, so the loader places it at FILE:LINE:COL.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.manifest.errors import Path_, describe

ENVIRONMENTS = "environments"
ONLY = "only"
#: Fields that cannot differ per environment.
FIXED = ("key", ENVIRONMENTS, ONLY)

#: Reports a problem: (message, field path, whether to point at the key rather than the value).
Report = Callable[[str, Path_, bool], None]


@dataclass(frozen=True)
class Selected:
    """The environment being loaded (`name`) among every configured one (`names`, in promotion order).
    `names` empty means no configuration: then `environments:` and `only:` are errors."""

    name: str | None
    names: tuple[str, ...] = ()


@dataclass
class Merged:
    """One environment's data. `data` is None when the assistant is not in that environment. `moved` maps a
    field path of `data` to where its value was written (inside `environments.NAME`), for positions."""

    data: dict[str, Any] | None
    moved: dict[Path_, Path_] = field(default_factory=dict)


def merge(data: dict[str, Any], selected: Selected, report: Report) -> Merged:
    """The data of environment `selected.name`: the base fields (without `environments` and `only`) with that
    environment's overrides applied. Unknown environment names, a non-list `only`, a non-mapping override and
    an override of `key` are reported (the base data is returned, so other errors are found too)."""
    base = {k: v for k, v in data.items() if k not in (ENVIRONMENTS, ONLY)}
    if ENVIRONMENTS not in data and ONLY not in data:
        return Merged(base)
    if not selected.names:
        for name in (ENVIRONMENTS, ONLY):
            if name in data:
                report(
                    "no environments are configured: name them in reconciler.yaml at the repository root "
                    "(docs/environments.md)",
                    (name,),
                    True,
                )
        return Merged(base)
    only = _only(data.get(ONLY, list(selected.names)), selected, report) if ONLY in data else None
    blocks = _blocks(data.get(ENVIRONMENTS), selected, only, report) if ENVIRONMENTS in data else {}
    if only is not None and selected.name not in only:
        return Merged(None)
    override = blocks.get(selected.name or "")
    if override is None:
        return Merged(base)
    return _apply(base, override, (ENVIRONMENTS, selected.name or ""), report)


def _only(value: Any, selected: Selected, report: Report) -> set[str] | None:
    """The environments `only:` names (each checked), or None after reporting a value that is not a list."""
    if not isinstance(value, list) or not value:
        report(f"expected a non-empty list of environment names, got {describe(value)}", (ONLY,), False)
        return None
    names: set[str] = set()
    for index, name in enumerate(value):
        problem = unknown_environment(name, selected.names)
        if problem:
            report(problem, (ONLY, index), False)
        else:
            names.add(name)
    return names or None  # every name unknown (reported): as if `only:` were not there


def _blocks(
    value: Any, selected: Selected, only: set[str] | None, report: Report
) -> dict[str, dict[str, Any]]:
    """The override mappings of `environments:` by environment name, each name and value checked."""
    if not isinstance(value, dict):
        report(
            f"expected a mapping of environment names to overrides, got {describe(value)}",
            (ENVIRONMENTS,),
            False,
        )
        return {}
    blocks: dict[str, dict[str, Any]] = {}
    for name, override in value.items():
        where: Path_ = (ENVIRONMENTS, name)
        problem = unknown_environment(name, selected.names)
        if problem:
            report(problem, where, True)
        elif only is not None and name not in only:
            listed = ", ".join(sorted(only))
            report(f"never applies: the assistant exists only in {listed} (only:)", where, True)
        elif not isinstance(override, dict):
            report(f"expected a mapping of fields to override, got {describe(override)}", where, False)
        else:
            blocks[name] = override
    return blocks


def _apply(base: dict[str, Any], override: dict[str, Any], prefix: Path_, report: Report) -> Merged:
    """The three rules: a field replaces, metadata merges by key, null removes."""
    merged = dict(base)
    moved: dict[Path_, Path_] = {}
    for name, value in override.items():
        if name in FIXED:
            report(f"'{name}' cannot differ per environment", (*prefix, name), True)
            continue
        if name == "metadata" and isinstance(value, dict) and isinstance(base.get(name), dict):
            merged[name] = _merge_metadata(base[name], value)
            moved.update({(name, key): (*prefix, name, key) for key in value})
            continue
        moved[(name,)] = (*prefix, name)
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return Merged(merged, moved)


def _merge_metadata(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def move_positions(table: dict[Path_, Any], moved: dict[Path_, Path_]) -> None:
    """Point the merged fields of a position table (field path → position) at their overrides: entries under
    each moved path are replaced by those under its source."""
    for target, source in moved.items():
        for path in [p for p in table if p[: len(target)] == target]:
            del table[path]
        for path in [p for p in table if p[: len(source)] == source]:
            table[target + path[len(source) :]] = table[path]


def written_path(path: Path_, moved: dict[Path_, Path_]) -> Path_:
    """Where the value at field path `path` of the merged data was written (`environments.NAME...` for an
    override), so a message names the line a reviewer reads."""
    for target, source in moved.items():
        if path[: len(target)] == target:
            return source + path[len(target) :]
    return path


def unknown_environment(name: Any, names: tuple[str, ...]) -> str | None:
    """None when `name` is one of `names`; else the message, with a did-you-mean when one is close."""
    if isinstance(name, str) and name in names:
        return None
    if not isinstance(name, str):
        return f"expected an environment name, got {describe(name)}"
    return (
        f"unknown environment '{name}'{did_you_mean(name, names)}: reconciler.yaml names {', '.join(names)}"
    )


def did_you_mean(name: str, names: tuple[str, ...]) -> str:
    """` (did you mean 'X'?)` for the configured name closest to `name` (or starting with it), else ``."""
    close = [n for n in names if n.startswith(name)] or difflib.get_close_matches(
        name, names, n=1, cutoff=0.6
    )
    return f" (did you mean '{close[0]}'?)" if close and len(name) >= 2 else ""
