"""`--target`: the managed objects a plan is limited to.

A target is a key (`hr`: the assistant and the saved agent with that key) or a key qualified by its kind
(`assistant:hr`, `agent:hr`). An unqualified key that names both an assistant and an agent is refused (which
one was meant?) rather than taken for both: `apply --target hr` must not change what was not asked for. Keys
cannot hold `:` (`manifest.KEY_PATTERN`), so a qualified target is never a key.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from reconciler.errors import PlanError

#: The kinds a target may be qualified with (`Kind.name`).
KINDS = ("assistant", "agent")


def split(target: str) -> tuple[str | None, str]:
    """(kind, key) of `target`; kind None when it is not qualified."""
    kind, colon, key = target.partition(":")
    return (kind, key) if colon else (None, target)


def keys_of(targets: Sequence[str], kind: str) -> frozenset[str]:
    """The keys of `kind` that `targets` select (the unqualified ones and those qualified with `kind`)."""
    return frozenset(key for qualifier, key in map(split, targets) if qualifier in (None, kind))


def selector(targets: Sequence[str], kind: str) -> Callable[[str], bool]:
    """Whether a plan limited to `targets` (none: everything) covers the object of `kind` with a key."""
    if not targets:
        return lambda key: True
    return keys_of(targets, kind).__contains__


def check_qualifiers(targets: Sequence[str], planned: Collection[str]) -> None:
    """PlanError for a target qualified with an unknown kind, or with a kind not planned (`planned`: the
    names of the kinds this plan covers)."""
    for target in targets:
        qualifier, key = split(target)
        if qualifier is None or qualifier in planned:
            continue
        if qualifier in KINDS:
            raise PlanError(
                f"target {target!r}: no {qualifier} manifests are planned here (saved agents are planned "
                "when agents/ exists beside the assistants directory, or with --agents-dir)"
            )
        raise PlanError(
            f"target {target!r}: unknown kind {qualifier!r}; a key is qualified as assistant:{key} or "
            f"agent:{key}"
        )


def check_ambiguous(targets: Sequence[str], own: Collection[str], others: Collection[str]) -> None:
    """PlanError for an unqualified target naming both an object of the kind planned (`own` keys) and one of
    another kind (`others`)."""
    for target in targets:
        qualifier, key = split(target)
        if qualifier is None and key in own and key in others:
            raise PlanError(
                f"target {target!r} names both an assistant and a saved agent: say --target "
                f"assistant:{key} or --target agent:{key}"
            )
