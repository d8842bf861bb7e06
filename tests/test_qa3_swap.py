"""Second look at issue 16's changes (qa3): a file swapped for a symlink while the manifests load.

`reading.open_in` tells a plain manifest from a link with one lstat, resolves a link once and opens what it
checked without following links; files a manifest names (`instructions_file`, `files`) are resolved and
checked, then opened the same way (`reading.open_regular(..., follow=False)`). Another process replaces the
file, atomically and over and over, by a symlink to a file outside the repository and back: whatever the
timing, a load reads the inside file or refuses it in one line; it never reads the outside one.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from pytest import MonkeyPatch

from reconciler.cli import cli
from reconciler.manifest import load_directory

FLIPPER = """
import os, sys, time
path, plain, outside, stop = sys.argv[1:]
end = time.monotonic() + 30
while time.monotonic() < end and not os.path.exists(stop):
    os.symlink(outside, path + ".link")
    os.replace(path + ".link", path)
    with open(path + ".plain", "w") as f:
        f.write(plain)
    os.replace(path + ".plain", path)
"""

#: What a load may see of a file being swapped, besides the inside file.
REFUSED = (
    "is a symlink to {outside}, outside the repository ({repo}); not read",
    "cannot read file: Too many levels of symbolic links",  # a link swapped in after the check
    "cannot read 'notes.md': Too many levels of symbolic links",
    "cannot read 'notes.md': Invalid argument",  # a link replaced while it was resolved
    "'notes.md' resolves outside the repository through a symlink (to {outside})",
)


def race(tmp_path: Path, name: str, plain: str, outcome: Callable[[Path], list[str]]) -> Counter[str]:
    """`outcome` of the repository's assistants/ loaded again and again for 3 s while `assistants/name`
    flips between `plain` (inside) and a symlink to tmp_path/outside (holding OUTSIDE)."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "assistants").mkdir()
    path = repo / "assistants" / name
    path.write_text(plain)
    outside = tmp_path / "outside"
    outside.write_text("name: OUTSIDE\nmodel: gpt-4\n")
    stop = tmp_path / "stop"
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(path), plain, str(outside), str(stop)])
    seen: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            seen.update(outcome(repo / "assistants"))
    finally:
        stop.touch()
        flipper.wait(60)
    allowed = {"inside", *(line.format(outside=outside, repo=repo) for line in REFUSED)}
    assert set(seen) <= allowed, seen
    assert seen["inside"] and len(seen) > 1, seen  # both sides of the swap were met
    return seen


def test_a_manifest_swapped_for_an_outside_link_is_never_read(tmp_path: Path) -> None:
    def names(directory: Path) -> list[str]:
        result = load_directory(directory)
        return [m.manifest.name or "" for m in result.manifests] + [e.message for e in result.errors]

    race(tmp_path, "bot.yaml", "name: inside\nmodel: gpt-4\n", names)


def test_an_instructions_file_swapped_for_an_outside_link_is_never_read(tmp_path: Path) -> None:
    def instructions(directory: Path) -> list[str]:
        if not (directory / "bot.yaml").exists():
            (directory / "bot.yaml").write_text("name: Bot\nmodel: gpt-4\ninstructions_file: notes.md\n")
        result = load_directory(directory)
        texts = [m.api_fields()["instructions"] for m in result.manifests]
        return [text.strip() for text in texts] + [e.message for e in result.errors]

    race(tmp_path, "notes.md", "inside", instructions)


def test_a_named_file_that_is_a_symlink_loop_is_one_line(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    """Before: `internal error: RuntimeError: Symlink loop from ...`."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "bot.yaml").write_text(
        "name: Bot\nmodel: gpt-4\ninstructions_file: loop.md\ntools: [{type: retrieval}]\nfiles: [loop.md]\n"
    )
    (tmp_path / "assistants" / "loop.md").symlink_to("loop.md")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate"])
    loop = f"Symlink loop from '{tmp_path / 'assistants' / 'loop.md'}'"
    assert (result.exit_code, result.stdout) == (1, ""), result.output
    assert result.stderr == (
        f"assistants/bot.yaml:3:20: instructions_file: cannot read 'loop.md': {loop}\n"
        f"assistants/bot.yaml:5:9: files[0]: cannot read 'loop.md': {loop}\n"
        "Error: 2 errors in assistants\n"
    )
