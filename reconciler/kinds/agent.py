"""The saved-agent kind: `reconciler.agent_dialect` as a `Kind` (`/v1/agents`, `OpenAI-Beta: agents=v1`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler import agent_dialect, dialect
from reconciler.drift import Scheme
from reconciler.kinds.base import Kind
from reconciler.remote import RemoteAgent


def normalise(agent: Any) -> dict[str, Any]:
    """`agent_dialect.normalise` without the drift entry in `metadata` (as `dialect.normalise` leaves it out
    of an assistant's): what the last apply recorded is not part of the agent compared."""
    form = agent_dialect.normalise(agent)
    form["metadata"].pop(dialect.APPLIED_KEY, None)
    return form


def _applied_form(state: Any) -> Mapping[str, Any]:
    """An agent's normal form without the reserved metadata keys (the tool's own entries)."""
    form = normalise(state)
    form["metadata"] = {k: v for k, v in form["metadata"].items() if not dialect.is_reserved_metadata_key(k)}
    return form


#: Saved agents: every manifest field, recorded in `metadata[dialect.APPLIED_KEY]` as for assistants.
AGENTS = Scheme(agent_dialect.FIELDS, _applied_form)

AGENT: Kind[RemoteAgent] = Kind(
    name="agent",
    plural="agents",
    title="Agents",
    directory="agents",
    path="/agents",
    id_param="agent_id",
    beta_header=agent_dialect.BETA_HEADER,
    deleted_object="agent.deleted",
    fields=agent_dialect.FIELDS,
    defaults=agent_dialect.DEFAULTS,
    whole_fields=agent_dialect.WHOLE_FIELDS,
    marker_key=agent_dialect.MARKER_KEY,
    max_metadata_pairs=agent_dialect.MAX_METADATA_PAIRS,
    has_files=False,
    text_fields=("instructions",),
    drift=AGENTS,
    remote=RemoteAgent.from_checked,
    marker_of=agent_dialect.marker_of,
    claim_order=agent_dialect.claim_order,
    normalise=normalise,
    desired_state=agent_dialect.desired_state,
    changed_fields=agent_dialect.changed_fields,
    create_body=agent_dialect.create_body,
    update_body=agent_dialect.update_body,
)
