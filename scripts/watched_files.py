#!/usr/bin/env python3
"""The files a plan of DIR depends on, and which of them changed since a commit (the action's `since:`).

python scripts/watched_files.py [--dir DIR] [--since REV] [PATH...]

Watched: DIR itself (as `DIR/`), every `instructions_file` and knowledge file (`files:`) its manifests read,
wherever they live in the repository (in every environment of reconciler.yaml, itself watched), and each
extra PATH (a file, or a folder ending in `/`). All are printed relative to the current directory, the
repository root in CI.

Without --since, prints the watched paths, one a line. With --since, prints the files changed between REV and
HEAD (`git diff --name-only`) that are watched; nothing means the change cannot affect the plan. When that
cannot be known, every changed file counts: a manifest that does not load (its references are unknown), or
REV not in the checkout (then the watched paths themselves are printed, with a notice on stderr). Exit 0, or
1 with one line on stderr when git itself fails. Runs with the Python that has the tool installed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from reconciler.manifest import Selected, load_directory, repository_root


def _relative(path: Path) -> str:
    return os.path.relpath(path.resolve(), Path.cwd().resolve()).replace(os.sep, "/")


def watched(directory: Path, extra: list[str]) -> tuple[list[str], bool]:
    """The watched paths (folders end in `/`), and whether every manifest loaded (so the list is complete)."""
    paths = {_relative(directory) + "/", *extra}
    config = repository_root(directory) / "reconciler.yaml"
    if config.exists():
        paths.add(_relative(config))
    complete = True
    for selected in _environments(directory):  # with reconciler.yaml, the files of every environment
        result = load_directory(directory, selected=selected)
        complete = complete and not result.errors
        for loaded in result.manifests:
            if loaded.manifest.instructions_file is not None:
                paths.add(_relative(loaded.path.parent / loaded.manifest.instructions_file))
            paths.update(_relative(local.path) for local in loaded.files)
    return sorted(paths), complete


def _environments(directory: Path) -> list[Selected | None]:
    """Each environment of the repository's reconciler.yaml (also watched), or [None] without one (or when
    it is invalid: then the manifests do not load, and every change counts)."""
    from reconciler import environments
    from reconciler.errors import ConfigError

    try:
        config = environments.find(repository_root(directory))
    except ConfigError:
        return [None]
    return [None] if config is None else [config.selected(name) for name in config.names]


def changed_since(rev: str) -> list[str] | None:
    """Files changed between `rev` and HEAD, or None when `rev` is not a commit of this checkout."""
    verify = ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"]
    known = subprocess.run(verify, capture_output=True)
    if known.returncode != 0:
        return None
    names = ["git", "diff", "--name-only", "--no-renames", rev, "HEAD"]
    diff = subprocess.run(names, capture_output=True, text=True, check=True)
    return [line for line in diff.stdout.splitlines() if line]


def is_watched(path: str, paths: list[str]) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in paths)


def _print_lines(lines: list[str]) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("assistants"), help="the manifest directory")
    parser.add_argument("--since", help="a commit: print only the watched files changed since it")
    parser.add_argument("paths", nargs="*", help="more paths to watch (folders end in /)")
    args = parser.parse_args(argv)
    paths, complete = watched(args.dir, args.paths)
    if args.since is None:
        _print_lines(paths)
        return 0
    try:
        changed = changed_since(args.since)
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"watched_files: git diff failed: {getattr(err, 'stderr', None) or err}", file=sys.stderr)
        return 1
    if changed is None:
        notice = f"::notice title=reconciler::{args.since} is not in the checkout: planning anyway"
        print(notice, file=sys.stderr)
        _print_lines(paths)
        return 0
    _print_lines([path for path in changed if not complete or is_watched(path, paths)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
