# ruff: noqa: E501  (exact error messages read best on one line)
"""Hostile input gets one clear located line (never a crash or a hang), and the messages for the commonest
mistakes: each case asserts the exact message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_manifest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.manifest import load_directory

repo = test_manifest.repo  # the fixture: a fake repository (with .git) holding assistants/, the cwd
FIFO = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


def errors(repo: Path, name: str, text: str) -> list[str]:
    (repo / "assistants" / name).write_text(text, encoding="utf-8")
    return [str(e) for e in load_directory(Path("assistants")).errors]


def validate(repo: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`reconciler validate` in a real interpreter (a crash is a signal, a hang a timeout)."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("RECONCILER_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "validate"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- nesting


@pytest.mark.parametrize(("opening", "levels"), [("[", 100_000), ("{a: ", 60_000), ("- ", 200)])
def test_deep_nesting_is_one_line_in_a_real_process(repo: Path, opening: str, levels: int) -> None:
    """Deep nesting used to kill validate with signal 11 (the C composer recurses once per level)."""
    if opening == "- ":
        text = "model: m\nmetadata:\n" + "".join("  " * i + "- \n" for i in range(levels))
        where = "assistants/a.yaml:67:129"
    else:
        text = "model: m\nname: " + opening * levels + "\n"
        # The 65th level: a "[" of its own, or the key inside the 64th "{a: ".
        where = "assistants/a.yaml:2:71" if opening == "[" else "assistants/a.yaml:2:260"
    (repo / "assistants" / "a.yaml").write_text(text)
    proc = validate(repo)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines() == [
        f"{where}: nesting deeper than 64 levels",
        "Error: 1 error in assistants",
    ]


def test_nesting_at_the_limit_is_fine(repo: Path) -> None:
    value = "[" * 63 + "]" * 63
    assert errors(repo, "a.yaml", f"model: m\nname: {value}\n") == [
        "assistants/a.yaml:2:7: name: expected a string, got a list"
    ]


# --- not regular files


@FIFO
def test_fifo_manifest_is_refused_without_hanging(repo: Path) -> None:
    os.mkfifo(repo / "assistants" / "pipe.yaml")
    (repo / "assistants" / "ok.yaml").write_text("model: m\n")
    proc = validate(repo, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "assistants/pipe.yaml:1:1: is a FIFO (named pipe), not a manifest file",
        "Error: 1 error in assistants",
    ]


@FIFO
def test_fifo_instructions_file_and_knowledge_file(repo: Path) -> None:
    os.mkfifo(repo / "assistants" / "pipe.md")
    text = "model: m\ninstructions_file: pipe.md\ntools: [{type: retrieval}]\nfiles: [pipe.md]\n"
    assert errors(repo, "a.yaml", text) == [
        "assistants/a.yaml:2:20: instructions_file: 'pipe.md' is a FIFO (named pipe), not a regular file",
        "assistants/a.yaml:4:9: files[0]: 'pipe.md' is a FIFO (named pipe), not a regular file",
    ]


def test_directory_as_knowledge_file(repo: Path) -> None:
    (repo / "assistants" / "docs").mkdir()
    assert errors(repo, "a.yaml", "model: m\ntools: [{type: retrieval}]\nfiles: [docs]\n") == [
        "assistants/a.yaml:3:9: files[0]: 'docs' is a directory, not a regular file"
    ]


def test_directory_named_like_a_manifest(repo: Path) -> None:
    (repo / "assistants" / "dir.yaml").mkdir()
    (repo / "assistants" / "a.yaml").write_text("model: m\n")
    assert [str(e) for e in load_directory(Path("assistants")).errors] == [
        "assistants/dir.yaml:1:1: is a directory, not a manifest file"
    ]


def test_file_stem_with_a_newline_is_not_a_key(repo: Path) -> None:
    assert errors(repo, "a\nb.yaml", "model: m\n") == [
        "assistants/a\\nb.yaml:1:1: file name 'a\\nb' must be lowercase letters, digits, '-', '_' or '.', starting with a letter or digit, at most 63 characters; rename the file or set key:"
    ]


def test_file_stem_with_a_trailing_newline_is_not_a_key(repo: Path) -> None:
    assert errors(repo, "a\n.yaml", "model: m\n") == [
        "assistants/a\\n.yaml:1:1: file name 'a\\n' must be lowercase letters, digits, '-', '_' or '.', starting with a letter or digit, at most 63 characters; rename the file or set key:"
    ]


# --- what the real v1 API would have refused


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "model: m\nfiles:\n  - k.md\n",
            'assistants/a.yaml:2:1: files: files need a retrieval or code_interpreter tool in tools (the API refuses them: "file_ids are only supported if retrieval or code_interpreter tools are enabled.")',
        ),
        (
            "model: m\ntools: [{type: function, function: {name: f}}]\nfile_ids: [file-a]\n",
            'assistants/a.yaml:3:1: file_ids: file_ids need a retrieval or code_interpreter tool in tools (the API refuses them: "file_ids are only supported if retrieval or code_interpreter tools are enabled.")',
        ),
    ],
)
def test_file_ids_need_a_file_tool(repo: Path, text: str, expected: str) -> None:
    (repo / "assistants" / "k.md").write_text("k")
    assert errors(repo, "a.yaml", text) == [expected]


def test_function_name_over_64_characters_is_a_length_message(repo: Path) -> None:
    text = f"model: m\ntools: [{{type: function, function: {{name: {'f' * 65}}}}}]\n"
    assert errors(repo, "a.yaml", text) == [
        "assistants/a.yaml:2:43: tools[0].function.name: at most 64 characters, got 65"
    ]


# --- messages for the commonest mistakes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "model: m\ninstructions: Answer: yes or no\n",
            "assistants/a.yaml:2:21: invalid YAML: mapping values are not allowed in this context (the value holds ': '): quote the value or use a block scalar (|)",
        ),
        (
            'model: m\nname: "HR helper\ndescription: x\n\n\n',
            "assistants/a.yaml:2:7: invalid YAML: unterminated quoted string (the quote opens here)",
        ),
        (
            "model: m\nname: 'HR helper\ndescription: x\n",
            "assistants/a.yaml:2:7: invalid YAML: unterminated quoted string (the quote opens here)",
        ),
        (
            "model: m\ntools: [{type: function}]\n",
            "assistants/a.yaml:2:9: tools[0].function: required field 'function' is missing",
        ),
        (
            "<<: {name: x}\nmodel: m\n",
            "assistants/a.yaml:1:1: merge keys (<<) are not supported; repeat the fields instead",
        ),
        (
            "model: m\ntools:\n  - type: file_search\n",
            "assistants/a.yaml:3:5: tools[0]: unknown tool type 'file_search' (expected code_interpreter, retrieval or function; v1 calls it retrieval)",
        ),
    ],
)
def test_message(repo: Path, text: str, expected: str) -> None:
    assert errors(repo, "a.yaml", text) == [expected]


def test_misindented_key_gets_no_quoting_hint(repo: Path) -> None:
    assert errors(repo, "a.yaml", "model: m\n  name: x\n") == [
        "assistants/a.yaml:2:7: invalid YAML: mapping values are not allowed in this context"
    ]


# --- subfolders


def test_yaml_in_subfolders_is_named_in_one_note(repo: Path) -> None:
    (repo / "assistants" / "a.yaml").write_text("model: m\n")
    for name in ("team/b.yaml", "team/c.yml", "other/deep/d.yaml", "docs/readme.md"):
        (repo / "assistants" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / "assistants" / name).write_text("model: m\n")
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "note: 3 YAML files in subfolders of assistants not read (assistants/other/deep/d.yaml, "
        "assistants/team/b.yaml, assistants/team/c.yml): manifests are read from assistants itself only"
    ]
    assert [m.key for m in load_directory(Path("assistants")).manifests] == ["a"]


def test_a_manifest_with_an_upper_case_suffix_is_named_in_a_note(repo: Path) -> None:
    """`B.YAML` was skipped in silence: a manifest that looks right and is never planned."""
    for name in ("a.yaml", "B.YAML", "c.Yml", "notes.txt"):
        (repo / "assistants" / name).write_text("model: m\n")
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "note: 2 files in assistants not read (B.YAML, c.Yml): manifests end in .yaml or .yml, lower case"
    ]


# --- the repository boundary


def test_a_manifest_linked_from_outside_the_repository_is_not_read(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Today `ln -s /etc/passwd assistants/pw.yaml` was read, and a link to a valid YAML outside planned."""
    outside = tmp_path_factory.mktemp("outside") / "bot.yaml"
    outside.write_text("model: gpt-4\n")
    (repo / "assistants" / "pw.yaml").symlink_to("/etc/passwd")
    (repo / "assistants" / "bot.yaml").symlink_to(outside)
    (repo / "shared.yaml").write_text("model: gpt-4\n")
    (repo / "assistants" / "inside.yaml").symlink_to("../shared.yaml")  # inside the repository: read
    result = load_directory(Path("assistants"))
    root = repo.resolve()
    assert [str(e) for e in result.errors] == [
        f"assistants/bot.yaml:1:1: is a symlink to {outside.resolve()}, outside the repository ({root}); not read",
        f"assistants/pw.yaml:1:1: is a symlink to /etc/passwd, outside the repository ({root}); not read",
    ]
    assert [m.key for m in result.manifests] == ["inside"]


def test_a_symlinked_subfolder_is_not_walked_for_the_note(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.yaml").write_text("x: 1\n")
    (repo / "assistants" / "a.yaml").write_text("model: gpt-4\n")
    (repo / "assistants" / "linked").symlink_to(outside)
    (repo / "assistants" / "real").mkdir()
    (repo / "assistants" / "real" / "b.yaml").write_text("model: gpt-4\n")
    result = load_directory(Path("assistants"))
    assert result.notes == [
        "note: 1 YAML file in subfolders of assistants not read (assistants/real/b.yaml): manifests are read "
        "from assistants itself only"
    ]


@pytest.mark.parametrize(
    ("stale_size", "text"),
    [(5, b"model: gpt-4\n"), (40, b"model: gpt-4\n"), (0, b"x" * 100_000), (13, b"model: gpt-4\n")],
)
def test_a_read_takes_the_whole_file_whatever_its_size_was_when_stat_said(
    tmp_path: Path, stale_size: int, text: bytes
) -> None:
    """`read_open` trusts the size from fstat only to stop early: a file that grew since (more than the
    size) or shrank (fewer) is read to its end, up to the limit."""
    from reconciler.manifest.reading import read_open

    path = tmp_path / "m.yaml"
    path.write_bytes(text)
    assert read_open(os.open(path, os.O_RDONLY), stale_size, 1 << 20) == text
    assert read_open(os.open(path, os.O_RDONLY), stale_size, 10) == text[:11]


def test_no_manifest_reads_from_git_or_reconcilers_own_folders(repo: Path) -> None:
    """`instructions_file: ../.git/config` put a checkout's token (`http.extraheader`) into the plan and the
    pull-request comment; a link into `.git` or a knowledge file in `.reconciler/` likewise."""
    (repo / ".git" / "config").write_text('[http]\n\textraheader = "AUTHORIZATION: basic eC1hY2Nlc3M="\n')
    (repo / ".reconciler").mkdir()
    (repo / ".reconciler" / "state.md").write_text("state")
    (repo / "assistants" / "notes.md").symlink_to(repo / ".git" / "config")
    (repo / "sub" / ".git").mkdir(parents=True)
    (repo / "sub" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert errors(repo, "a.yaml", "model: m\ninstructions_file: ../.git/config\n") == [
        "assistants/a.yaml:2:20: instructions_file: '../.git/config' is in .git/, git's own files (a "
        "checkout's credentials may be there): not read"
    ]
    (repo / "assistants" / "a.yaml").unlink()
    assert errors(repo, "b.yaml", "model: m\ninstructions_file: notes.md\n") == [
        "assistants/b.yaml:2:20: instructions_file: 'notes.md' is in .git/, git's own files (a checkout's "
        "credentials may be there): not read"
    ]
    (repo / "assistants" / "b.yaml").unlink()
    text = "model: m\ntools: [{type: retrieval}]\nfiles: [../.reconciler/state.md, ../sub/.git/HEAD]\n"
    assert errors(repo, "c.yaml", text) == [
        "assistants/c.yaml:3:9: files[0]: '../.reconciler/state.md' is in .reconciler/, reconciler's own "
        "state: not read",
        "assistants/c.yaml:3:34: files[1]: '../sub/.git/HEAD' is in .git/, git's own files (a checkout's "
        "credentials may be there): not read",
    ]


def test_a_manifest_directory_linked_from_outside_the_repository_is_not_read(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The repository's boundary moved with the link: its `instructions_file` beside it was read as inside."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "o.yaml").write_text("model: m\ninstructions_file: notes.md\n")
    (outside / "notes.md").write_text("secret")
    shutil.rmtree(repo / "assistants")
    (repo / "assistants").symlink_to(outside)
    assert [str(e) for e in load_directory(Path("assistants")).errors] == [
        f"assistants: is a symlink to {outside.resolve()}, outside the repository ({repo.resolve()}); not read"
    ]
    (repo / "assistants").unlink()
    (repo / "kept" / "assistants").mkdir(parents=True)
    (repo / "kept" / "assistants" / "o.yaml").write_text("model: m\n")
    (repo / "assistants").symlink_to(repo / "kept" / "assistants")
    assert [m.key for m in load_directory(Path("assistants")).manifests] == ["o"]  # a link inside: read
