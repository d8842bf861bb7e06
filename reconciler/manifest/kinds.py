"""The kinds of manifest one loader reads: assistants (`assistants/`) and saved agents (`agents/`).

A `ManifestKind` is what `loader` needs to know about a kind: its pydantic model, the loaded value it
builds, its instructions limit, whether it names knowledge files, and the words of its messages. Everything
else (YAML, positions, bounded reads, keys, paths inside the repository, environments) is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from reconciler import agent_dialect, agents_facts, dialect
from reconciler.manifest import agent_model
from reconciler.manifest.loaded import Loaded, LoadedAgent, LoadedManifest
from reconciler.manifest.messages import ASSISTANT_WORDS, Vocabulary
from reconciler.manifest.model import Manifest


@dataclass(frozen=True)
class ManifestKind:
    """One kind of manifest, as the loader reads it."""

    name: str
    model: type[BaseModel]
    loaded: type[Loaded]
    max_instructions: int
    has_files: bool
    words: Vocabulary
    #: Refuse an `instructions_file` whose text looks like it holds a credential (`secrets`), as the model
    #: refuses such strings in the manifest itself.
    refuses_secrets: bool = False


ASSISTANT = ManifestKind(
    "assistant", Manifest, LoadedManifest, dialect.MAX_INSTRUCTIONS, True, ASSISTANT_WORDS
)

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
