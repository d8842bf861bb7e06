"""Manifests: the pydantic models of one assistant's (or one saved agent's) desired state, and loading a
directory of them.

A manifest is one YAML document. `load_directory` reads the assistant manifests of a directory, `load_agents`
the agent manifests (`agents/`): one loader, two kinds (`kinds`), the same rules below. It reads `*.yaml` and
`*.yml` (sorted by name; YAML files in subfolders are not read, and named in a note) and never raises for bad
input: every problem becomes a `ManifestError` with file, line and column, so `reconciler validate` can report
all of them in one run.

Loading rules:
- Only regular files are read (a FIFO, a device or a directory is refused before it is opened, and never
  blocks), each read bounded: a manifest at most `MAX_MANIFEST_BYTES`.
- YAML is parsed safely: only plain data (mappings, lists, strings, numbers, booleans, null); any tag
  other than the core ones (`!!str`, `!!int`...) is refused, nothing is ever constructed. Duplicate mapping
  keys and merge keys (`<<`) are errors. Nesting deeper than `MAX_DEPTH` levels is refused on the event
  stream, before anything recursive reads it; aliases are expanded with bounds (`MAX_NODES` per document,
  and `MAX_EXPANDED_BYTES` of text the aliases repeat).
- Scalars follow the YAML 1.2 core schema (`yes`/`no`/`on` are strings; `2024-01-01` stays a string).
- The key of a manifest is its `key:` or, for a file holding one document, the file's stem (same rule).
  A file holding several documents needs an explicit `key:` in each.
- Paths in `instructions_file` and `files` are relative to the manifest's directory and must stay inside the
  repository, both as written (`..`) and once symlinks are resolved. The repository root is the nearest
  ancestor of the manifest directory that contains `.git`; without one, the current working directory when
  the manifest directory is inside it, else the manifest directory itself.
- An `instructions_file` is read as UTF-8 with line endings normalised to `\\n` and one final newline
  removed (the newline that ends a text file's last line is not part of the instructions).

Modules: `model` (pydantic, assistants), `agent_model` (pydantic, agents), `secrets` (credentials an agent
manifest may not hold), `kinds` (what differs per kind), `yaml12` (scalars), `events` (fast reader, nesting
limit), `composer` (position-tracking reader), `reading` (safe file reads), `listing` (a directory's
manifest files), `messages` (pydantic errors → text), `loaded` (LoadedManifest, LoadedAgent), `loader`
(directory → manifests and errors), `overrides` (per-environment overrides), `reference` (docs and schema).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.manifest.agent_kind import AGENT
    from reconciler.manifest.errors import ManifestError, Path_, format_field_path
    from reconciler.manifest.kinds import ASSISTANT, ManifestKind
    from reconciler.manifest.listing import SUFFIXES
    from reconciler.manifest.loaded import Loaded, LoadedAgent, LoadedManifest, LoadResult, LocalFile
    from reconciler.manifest.loader import check_text, load_agents, load_directory
    from reconciler.manifest.model import (
        ASSISTANT_ID_PATTERN,
        FILE_ID_PATTERN,
        KEY_PATTERN,
        MAX_FILES_TOTAL,
        MAX_USER_METADATA_PAIRS,
        CodeInterpreterTool,
        FunctionDefinition,
        FunctionTool,
        Manifest,
        ResponseFormatObject,
        RetrievalTool,
        json_schema,
    )
    from reconciler.manifest.overrides import Selected
    from reconciler.manifest.reading import MAX_MANIFEST_BYTES, repository_root
    from reconciler.manifest.reference import reference_table
    from reconciler.manifest.yaml12 import MAX_DEPTH, MAX_EXPANDED_BYTES, MAX_NODES

#: Where each public name lives. Imported on first use (PEP 562): `from reconciler.manifest import
#: repository_root` must not cost a plan the import of pydantic and the YAML library on its main thread,
#: where the listing is waiting to start (see `usecases.planning.run_plan`).
_HOMES = {
    "reconciler.manifest.errors": ("ManifestError", "Path_", "format_field_path"),
    "reconciler.manifest.agent_kind": ("AGENT",),
    "reconciler.manifest.kinds": ("ASSISTANT", "ManifestKind"),
    "reconciler.manifest.listing": ("SUFFIXES",),
    "reconciler.manifest.loaded": ("Loaded", "LoadedAgent", "LoadedManifest", "LoadResult", "LocalFile"),
    "reconciler.manifest.loader": ("check_text", "load_agents", "load_directory"),
    "reconciler.manifest.model": (
        "ASSISTANT_ID_PATTERN",
        "FILE_ID_PATTERN",
        "KEY_PATTERN",
        "MAX_FILES_TOTAL",
        "MAX_USER_METADATA_PAIRS",
        "CodeInterpreterTool",
        "FunctionDefinition",
        "FunctionTool",
        "Manifest",
        "ResponseFormatObject",
        "RetrievalTool",
        "json_schema",
    ),
    "reconciler.manifest.overrides": ("Selected",),
    "reconciler.manifest.reading": ("MAX_MANIFEST_BYTES", "repository_root"),
    "reconciler.manifest.reference": ("reference_table",),
    "reconciler.manifest.yaml12": ("MAX_DEPTH", "MAX_EXPANDED_BYTES", "MAX_NODES"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use; a submodule (`reconciler.manifest.model`) too."""
    module = _HOME_OF.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "AGENT",
    "ASSISTANT",
    "ASSISTANT_ID_PATTERN",
    "FILE_ID_PATTERN",
    "KEY_PATTERN",
    "MAX_DEPTH",
    "MAX_EXPANDED_BYTES",
    "MAX_FILES_TOTAL",
    "MAX_MANIFEST_BYTES",
    "MAX_NODES",
    "MAX_USER_METADATA_PAIRS",
    "SUFFIXES",
    "CodeInterpreterTool",
    "FunctionDefinition",
    "FunctionTool",
    "LoadResult",
    "Loaded",
    "LoadedAgent",
    "LoadedManifest",
    "LocalFile",
    "Manifest",
    "ManifestError",
    "ManifestKind",
    "Path_",
    "ResponseFormatObject",
    "RetrievalTool",
    "Selected",
    "check_text",
    "format_field_path",
    "json_schema",
    "load_agents",
    "load_directory",
    "reference_table",
    "repository_root",
]
