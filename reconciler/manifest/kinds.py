"""The kinds of manifest one loader reads: assistants (`assistants/`, `ASSISTANT`, here) and saved agents
(`agents/`, `agent_kind.AGENT`, imported only where agents are loaded: its model costs a plan of assistants
alone 17 ms of start-up).

A `ManifestKind` is what `loader` needs to know about a kind: its pydantic model, the loaded value it
builds, its instructions limit, whether it names knowledge files, and the words of its messages. Everything
else (YAML, positions, bounded reads, keys, paths inside the repository, environments) is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from reconciler import dialect
from reconciler.manifest.loaded import Loaded, LoadedManifest
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
