"""The manifest files of a directory, and the note naming YAML files in its subfolders (not read)."""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.manifest.errors import ManifestError
from reconciler.manifest.reading import display

SUFFIXES = (".yaml", ".yml")


def manifest_files(directory: Path) -> list[Path]:
    """The `*.yaml` and `*.yml` files directly in `directory`, sorted; OSError when it cannot be listed."""
    return [directory / n for n in sorted(os.listdir(directory)) if os.path.splitext(n)[1] in SUFFIXES]


def has_manifests(directory: Path) -> bool:
    """Whether `directory` is a directory holding a manifest file (True when it cannot be listed: loading it
    then says why)."""
    try:
        return directory.is_dir() and bool(manifest_files(directory))
    except OSError:
        return True


def entries(directory: Path, shown: str) -> list[Path] | ManifestError:
    """The manifest files of `directory`, sorted, or the one error that stops loading."""
    try:
        if not _exists(directory):
            return ManifestError(shown, None, None, None, "directory not found")
        if not directory.is_dir():
            return ManifestError(shown, None, None, None, "not a directory")
        entries = manifest_files(directory)
    except OSError as err:
        return ManifestError(shown, None, None, None, f"cannot read directory: {err.strerror}")
    if not entries:
        return ManifestError(shown, None, None, None, "no manifests found (expected *.yaml or *.yml files)")
    return entries


def _exists(path: Path) -> bool:
    """Whether `path` exists (symlinks followed); OSError when it cannot be told (a symlink loop), where
    `Path.exists` says False."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    return True


def case_note(directory: Path, shown: str) -> list[str]:
    """One note naming the files of `directory` whose suffix is `.yaml` or `.yml` in another case (`A.YAML`),
    which are not read, if any."""
    try:
        names = sorted(n for n in os.listdir(directory) if _other_case(os.path.splitext(n)[1]))
    except OSError:
        return []
    if not names:
        return []
    named = ", ".join(names[:_NOTE_NAMES]) + (", ..." if len(names) > _NOTE_NAMES else "")
    noun = "file" if len(names) == 1 else "files"
    why = "manifests end in .yaml or .yml, lower case"
    return [f"note: {len(names)} {noun} in {shown} not read ({named}): {why}"]


def _other_case(suffix: str) -> bool:
    return suffix not in SUFFIXES and suffix.lower() in SUFFIXES


#: At most this many subfolder files are named in the note.
_NOTE_NAMES = 3
#: Subfolders are looked at up to this many directories (the manifest directory may be a big tree).
_NOTE_MAX_DIRECTORIES = 200


def subfolder_note(directory: Path, shown: str) -> list[str]:
    """One note naming the YAML files in subfolders of `directory` (which are not read), if any."""
    found: list[str] = []
    try:
        subfolders = sorted(
            e.path
            for e in os.scandir(directory)
            if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
        )
    except OSError:
        return []
    visited = 0
    for subfolder in subfolders:
        for parent, dirs, names in os.walk(subfolder):
            visited += 1
            if visited > _NOTE_MAX_DIRECTORIES:
                break
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(
                display(Path(parent, n)) for n in sorted(names) if os.path.splitext(n)[1] in SUFFIXES
            )
    if not found:
        return []
    named = ", ".join(found[:_NOTE_NAMES]) + (", ..." if len(found) > _NOTE_NAMES else "")
    noun = "file" if len(found) == 1 else "files"
    return [
        f"note: {len(found)} YAML {noun} in subfolders of {shown} not read ({named}): manifests are read "
        f"from {shown} itself only"
    ]
