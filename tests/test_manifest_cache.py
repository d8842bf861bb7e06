"""The manifest read cache: on only with `.reconciler/cache/`, and a cached load gives exactly the manifests
and errors of an uncached one (cold, warm, after edits, from a damaged or foreign cache file)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifest import load_directory
from reconciler.manifest.cache import CACHE_DIR, CACHE_FILE, MAX_CACHE_BYTES

MANIFESTS = {
    "hr.yaml": "name: HR helper\nmodel: gpt-4\ninstructions: |\n  Be kind.\n  Cite policy.\n"
    "tools: [{type: retrieval}]\nfiles: [docs/policy.md]\nmetadata: {team: hr, level: '3'}\n"
    "temperature: 0.5\n",
    "multi.yaml": "key: one\nmodel: gpt-4\n---\nkey: two\nmodel: gpt-4-turbo\ntop_p: 1\n",
    "bad-type.yaml": "model: gpt-4\nname: [not, text]\n",
    "bad-file.yaml": "model: gpt-4\ntools: [{type: retrieval}]\nfiles: [docs/chart.png]\n",
    "anchors.yaml": "model: &m gpt-4\ndescription: *m\n",
    "syntax.yaml": "model: gpt-4\nname: 'open\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    directory = tmp_path / "assistants"
    (directory / "docs").mkdir(parents=True)
    (directory / "docs" / "policy.md").write_text("policy")
    (directory / "docs" / "chart.png").write_text("png")
    for name, text in MANIFESTS.items():
        (directory / name).write_text(text)
    return tmp_path


def outcome(repo: Path) -> tuple[list[Any], list[str]]:
    result = load_directory(repo / "assistants")
    manifests = [(m, m.api_fields(), m.instructions_text, m.positions) for m in result.manifests]
    return manifests, [str(e) for e in result.errors]


def test_off_without_the_folder(repo: Path) -> None:
    outcome(repo)
    assert not (repo / ".reconciler").exists()


def test_cached_loads_equal_uncached_ones(repo: Path) -> None:
    uncached = outcome(repo)
    assert len(uncached[0]) == 4 and len(uncached[1]) == 3
    (repo / CACHE_DIR).mkdir(parents=True)
    assert outcome(repo) == uncached  # cold: fills the cache
    stored = json.loads((repo / CACHE_DIR / CACHE_FILE).read_text())
    # The texts the fast reader takes (the anchors and syntax error go to the careful reader, uncached).
    assert len(stored["entries"]) == 4
    assert outcome(repo) == uncached  # warm
    (repo / "assistants" / "hr.yaml").write_text(MANIFESTS["hr.yaml"].replace("Be kind.", "Be brief."))
    edited = outcome(repo)
    (repo / CACHE_DIR / CACHE_FILE).unlink()
    assert outcome(repo) == edited
    [hr] = [fields for m, fields, _, _ in edited[0] if m.key == "hr"]
    assert hr["instructions"] == "Be brief.\nCite policy.\n"


def test_a_warm_load_shares_the_cached_instructions(repo: Path) -> None:
    """With `shared`, the texts read from the cache are the shared ones too (one copy with the listing's)."""
    (repo / CACHE_DIR).mkdir(parents=True)
    uncached = outcome(repo)
    held = "".join(["Be kind.\n", "Cite policy.\n"])  # the HR helper's instructions, another object
    shared = {held: held}
    warm = load_directory(repo / "assistants", shared=shared)
    assert [m.api_fields() for m in warm.manifests] == [fields for _, fields, _, _ in uncached[0]]
    [hr] = [m for m in warm.manifests if m.key == "hr"]
    assert hr.api_fields()["instructions"] is held


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"reader": "another version", "entries": {}}),
        json.dumps([1, 2]),
        "[" * 100_000,
    ],
)
def test_a_damaged_or_foreign_cache_is_ignored(repo: Path, content: str) -> None:
    uncached = outcome(repo)
    (repo / CACHE_DIR).mkdir(parents=True)
    (repo / CACHE_DIR / CACHE_FILE).write_text(content)
    assert outcome(repo) == uncached
    assert outcome(repo) == uncached


def test_entries_of_the_wrong_shape_are_read_again(repo: Path) -> None:
    (repo / CACHE_DIR).mkdir(parents=True)
    uncached = outcome(repo)
    path = repo / CACHE_DIR / CACHE_FILE
    stored = json.loads(path.read_text())
    stored["entries"] = {digest: [["not a document"]] for digest in stored["entries"]}
    path.write_text(json.dumps(stored))
    assert outcome(repo) == uncached


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "oversized"])
def test_a_cache_that_is_no_regular_file_or_too_large_is_ignored_without_a_hang(
    repo: Path, kind: str
) -> None:
    """Read before: a FIFO in its place blocked every load, and `/dev/zero` read until memory ran out."""
    uncached = outcome(repo)
    (repo / CACHE_DIR).mkdir(parents=True)
    path = repo / CACHE_DIR / CACHE_FILE
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "/dev/zero":
        path.symlink_to("/dev/zero")
    else:
        with path.open("wb") as sparse:  # holes: no disk used, and it is never read
            sparse.truncate(MAX_CACHE_BYTES + 1)
    assert outcome(repo) == uncached
