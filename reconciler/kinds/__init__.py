"""The kinds of managed object, by name: Assistants v1 (`ASSISTANT`, the default) first.

`KINDS` is the registry every layer looks a change's kind up in (`kind_named`); its order is the order of
a plan's sections and of apply.
"""

from __future__ import annotations

from reconciler.kinds.agent import AGENT
from reconciler.kinds.assistant import ASSISTANT
from reconciler.kinds.base import Kind

__all__ = ["AGENT", "ASSISTANT", "DEFAULT", "KINDS", "Kind", "kind_named", "kind_of_route"]

#: The kind a change, a plan or a command is of unless it says otherwise.
DEFAULT = ASSISTANT

#: Every kind, by name, in section order.
KINDS: dict[str, Kind] = {kind.name: kind for kind in (ASSISTANT, AGENT)}


def kind_named(name: str) -> Kind:
    """The kind called `name`; ValueError naming the known ones for any other."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown kind {name!r} (expected {' or '.join(KINDS)})") from None


def kind_of_route(route: str) -> Kind | None:
    """The kind whose API collection `route` is under (`/agents/{agent_id}`: agents), or None."""
    for kind in KINDS.values():
        if route == kind.path or route.startswith(kind.path + "/"):
            return kind
    return None
