"""The saved-agent kind: `reconciler.agent_dialect` as a `Kind` (`/v1/agents`, `OpenAI-Beta: agents=v1`)."""

from __future__ import annotations

from reconciler import agent_dialect
from reconciler.kinds.base import Kind
from reconciler.remote import RemoteAgent

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
    drift=None,
    remote=RemoteAgent.from_checked,
    marker_of=agent_dialect.marker_of,
    claim_order=agent_dialect.claim_order,
    normalise=agent_dialect.normalise,
    desired_state=agent_dialect.desired_state,
    changed_fields=agent_dialect.changed_fields,
    create_body=agent_dialect.create_body,
    update_body=agent_dialect.update_body,
)
