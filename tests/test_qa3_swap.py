"""Second look at issue 16's changes (qa3): a manifest swapped for a symlink while it is being loaded.

`reading.open_in` tells a plain file from a link with one lstat, then opens a plain file with O_NOFOLLOW.
Another process replaces the manifest, atomically and over and over, by a symlink to a manifest outside the
repository and back: whatever the timing, a load reads the inside manifest or refuses the file in one line;
it never reads the outside one.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from reconciler.manifest import load_directory

FLIPPER = """
import os, sys, time
manifest, outside, stop = sys.argv[1:]
inside = "name: inside\\nmodel: gpt-4\\n"
end = time.monotonic() + 30
while time.monotonic() < end and not os.path.exists(stop):
    os.symlink(outside, manifest + ".link")
    os.replace(manifest + ".link", manifest)
    with open(manifest + ".plain", "w") as f:
        f.write(inside)
    os.replace(manifest + ".plain", manifest)
"""


def test_a_manifest_swapped_for_an_outside_link_is_never_read(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "assistants").mkdir()
    manifest = repo / "assistants" / "bot.yaml"
    manifest.write_text("name: inside\nmodel: gpt-4\n")
    outside = tmp_path / "outside.yaml"
    outside.write_text("name: OUTSIDE\nmodel: gpt-4\n")
    stop = tmp_path / "stop"
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(manifest), str(outside), str(stop)])
    seen: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            result = load_directory(repo / "assistants")
            seen.update(m.manifest.name or "" for m in result.manifests)
            seen.update(error.message for error in result.errors)
    finally:
        stop.touch()
        flipper.wait(60)
    assert "OUTSIDE" not in seen
    allowed = {
        "inside",
        f"is a symlink to {outside}, outside the repository ({repo}); not read",
        "cannot read file: Too many levels of symbolic links",  # a link swapped in after the lstat
        "cannot read file: No such file or directory",  # replaced between the listing and the lstat
    }
    assert set(seen) <= allowed, seen
    assert seen["inside"] and seen[f"is a symlink to {outside}, outside the repository ({repo}); not read"]
