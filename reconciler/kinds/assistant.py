"""The Assistants v1 kind: `reconciler.dialect` as a `Kind` (the first-class default)."""

from __future__ import annotations

from reconciler import dialect, drift
from reconciler.kinds.base import Kind
from reconciler.remote import RemoteAssistant

ASSISTANT: Kind[RemoteAssistant] = Kind(
    name="assistant",
    plural="assistants",
    title="Assistants",
    directory="assistants",
    path="/assistants",
    id_param="assistant_id",
    beta_header=dialect.BETA_HEADER,
    deleted_object="assistant.deleted",
    fields=dialect.FIELDS,
    defaults=dialect.DEFAULTS,
    whole_fields=dialect.WHOLE_FIELDS,
    marker_key=dialect.MARKER_KEY,
    max_metadata_pairs=dialect.MAX_METADATA_PAIRS,
    has_files=True,
    text_fields=("instructions",),
    drift=drift.ASSISTANTS_V1,
    remote=RemoteAssistant.from_checked,
    marker_of=dialect.marker_of,
    claim_order=dialect.claim_order,
    normalise=dialect.normalise,
    desired_state=dialect.desired_state,
    changed_fields=dialect.changed_fields,
    create_body=dialect.create_body,
    update_body=dialect.update_body,
)
