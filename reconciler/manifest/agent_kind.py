"""The saved agent as a kind of manifest (`agents/`): its model, loaded value, limits and message words."""

from __future__ import annotations

from reconciler import agent_dialect, agents_facts
from reconciler.manifest import agent_model
from reconciler.manifest.kinds import ManifestKind
from reconciler.manifest.loaded import LoadedAgent
from reconciler.manifest.messages import Vocabulary

AGENT_WORDS = Vocabulary(
    unions={
        "tool": agent_dialect.TOOL_TYPES,
        "transport": agent_dialect.TRANSPORT_TYPES,
        "format": agents_facts.TEXT_FORMAT_TYPES,
    },
    hints={
        **{m.source: m.note for m in agents_facts.V1_TOOLS if m.target is None},
        "file_search": "saved agents have no retrieval or file search tool",
    },
    field_names_at=agent_model.field_names_at,
    example_tool="{type: web_search}",
    field_hints={
        **{("", m.source): m.note for m in agents_facts.V1_FIELDS if m.target is None},
        ("", "description"): "agents have no description; keep it in metadata",
        ("", "response_format"): "an agent's output format is text.format",
        ("tools[]", "function"): "an agent's function tool is flat: name, description and parameters sit "
        "beside type",
        **{
            ("transport", name): "a saved agent stores no credentials: name a vault credential with "
            "the tool's credential_id"
            for names in agents_facts.SESSION_ONLY_TRANSPORT_FIELDS.values()
            for name in names
        },
    },
)
AGENT = ManifestKind(
    "agent", agent_model.AgentManifest, LoadedAgent, agent_dialect.MAX_INSTRUCTIONS, False, AGENT_WORDS, True
)
