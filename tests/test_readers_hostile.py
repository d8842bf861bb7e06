# ruff: noqa: E501  (exact error messages read best on one line)
"""Every file reconciler reads or opens, put in an attacker's shape: a FIFO (opening one blocks until a
writer comes), a link to `/dev/zero` (never ends), a directory, a sparse 1 GB file, a symlink loop. Each
gets one line naming the path and what is wrong, exit code 1, never a hang, a MemoryError or a traceback.

The cases that used to hang run in a real process with a timeout, so a regression fails instead of hanging
the suite. (Manifests, instructions and knowledge files, the read cache and saved plans have tests of their
own: test_manifest_hostile.py, test_manifest_cache.py, test_planfile.py.)"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from process_support import EmulatorProcess

from reconciler.emulator.testing import EMULATOR_API_KEY

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
#: A hang is a failure after this many seconds (the slowest case runs in about 2 s).
TIMEOUT = 30
#: The address space a command gets: a read of a whole 1 GB file is a MemoryError, a bounded one is not.
MEMORY = 512 * 1024 * 1024


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding a copy of the example assistants (and their knowledge file) and the schemas;
    the cwd."""
    (tmp_path / ".git").mkdir()
    shutil.copytree(ROOT / "assistants", tmp_path / "assistants")
    shutil.copytree(ROOT / "schema", tmp_path / "schema")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _bounded_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def environment(server: str | None = None) -> dict[str, str]:
    """The environment of a command: no debug, no key, and `server` (`http://HOST:PORT`) as the base URL with
    the test emulator's key when given."""
    env = {**os.environ, "NO_COLOR": "1"}
    for name in ("RECONCILER_DEBUG", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    if server is not None:
        env |= {"OPENAI_API_KEY": EMULATOR_API_KEY, "OPENAI_BASE_URL": f"{server}/v1"}
    return env


def reconciler(
    repo: Path, *args: str, module: str = "reconciler", server: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` (`reconciler ARGS`) in a real interpreter in `repo`, with `MEMORY` (a hang is
    a timeout, a crash a signal, reading a huge file whole a MemoryError), against `server` when given."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=repo,
        env=environment(server),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_bounded_memory,
    )


def plant(path: Path, kind: str) -> None:
    """Put `kind` at `path`: `fifo`, `/dev/zero` (a symlink to it), `directory`, `sparse` (1 GB of holes:
    no disk used), `loop` (a symlink to itself)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "/dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "sparse":
        with path.open("wb") as sparse:
            sparse.truncate(1 << 30)
    else:
        path.symlink_to(path.name)


def last_line(proc: subprocess.CompletedProcess[str]) -> tuple[int, str]:
    return proc.returncode, proc.stderr.splitlines()[-1] if proc.stderr else ""


# --- migrate: the agent manifest it would replace (`usecases/migrating.py` `_current`)


@pytest.mark.parametrize(
    ("kind", "what"),
    [("fifo", "a FIFO (named pipe)"), ("/dev/zero", "a character device"), ("directory", "a directory")],
)
def test_migrate_refuses_a_target_that_is_not_a_regular_file(repo: Path, kind: str, what: str) -> None:
    """Before: a FIFO in place of agents/hr-helper.yaml hung migrate (reading what is there to compare),
    /dev/zero read until memory ran out, a directory was `already exists with other content`."""
    plant(repo / "agents" / "hr-helper.yaml", kind)
    for args in (("migrate", "--accept-loss"), ("migrate", "--accept-loss", "--force")):
        proc = reconciler(repo, *args)
        assert last_line(proc) == (
            1,
            f"Error: agents/hr-helper.yaml: is {what}, not a manifest file; nothing written",
        )
        assert sorted(p.name for p in (repo / "agents").iterdir()) == ["hr-helper.yaml"]


def test_migrate_reads_no_more_of_a_huge_target_than_a_manifest_may_hold(repo: Path) -> None:
    """A sparse 1 GB file in the way is different content, read up to the manifest limit (before: read whole,
    a MemoryError in `MEMORY`)."""
    plant(repo / "agents" / "hr-helper.yaml", "sparse")
    proc = reconciler(repo, "migrate", "--accept-loss")
    assert last_line(proc) == (
        1,
        "Error: agents/hr-helper.yaml: already exists with other content; nothing written (--force overwrites)",
    )


@pytest.mark.parametrize(
    ("kind", "problem"),
    [("fifo", "it is a FIFO, not a directory"), ("loop", "Too many levels of symbolic links")],
)
def test_migrate_says_what_its_target_directory_is(repo: Path, kind: str, problem: str) -> None:
    """Before: a FIFO as `--to out` was `out/hr-helper.yaml: cannot write it: File exists`, a loop
    `internal error: RuntimeError: Symlink loop from '.../out'`."""
    plant(repo / "out", kind)
    proc = reconciler(repo, "migrate", "--accept-loss", "--to", "out")
    assert last_line(proc) == (1, f"Error: --to out: {problem}")


# --- fmt: the files named, and the manifests of a directory (`formatter.py` `collect`, `format_file`)

ALL_KINDS = [
    ("fifo", "is a FIFO (named pipe), not a manifest file"),
    ("/dev/zero", "is a character device, not a manifest file"),
    ("sparse", "file too large (1,073,741,824 bytes; a manifest may have at most 10 MB)"),
    ("loop", "cannot read file: Too many levels of symbolic links"),
]


@pytest.mark.parametrize(("kind", "problem"), ALL_KINDS)
def test_fmt_says_what_a_named_file_is(repo: Path, kind: str, problem: str) -> None:
    """Before: `assistants/f.yaml: no such file or directory` for a FIFO, /dev/zero or a loop (they
    exist); a sparse 1 GB file was read whole (a MemoryError in `MEMORY`)."""
    plant(repo / "assistants" / "f.yaml", kind)
    proc = reconciler(repo, "fmt", "assistants/f.yaml")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines() == [
        f"assistants/f.yaml: {problem}",
        "0 files left unchanged, 1 file with errors.",
    ]


@pytest.mark.parametrize(
    ("kind", "problem"), [*ALL_KINDS, ("directory", "is a directory, not a manifest file")]
)
def test_fmt_of_a_directory_names_what_is_no_manifest_file(repo: Path, kind: str, problem: str) -> None:
    """Before: a FIFO, a device or a directory named *.yaml was skipped in silence (validate reports it),
    a sparse 1 GB manifest read whole."""
    plant(repo / "assistants" / "f.yaml", kind)
    proc = reconciler(repo, "fmt", "--check", "assistants")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines() == [
        f"assistants/f.yaml: {problem}",
        "2 files already formatted, 1 file with errors.",
    ]


def test_fmt_still_says_when_a_file_is_missing(repo: Path) -> None:
    proc = reconciler(repo, "fmt", "missing.yaml")
    assert (proc.returncode, proc.stderr) == (
        1,
        "missing.yaml: no such file or directory\n0 files left unchanged, 1 file with errors.\n",
    )


# --- the manifest directory (`--dir`, `directory:` of an environment): `usecases/planning.py`,
# `usecases/validating.py`, `manifest/listing.py`, `environments.py`


def agents(repo: Path) -> None:
    """Agent manifests beside the manifest directory (so a missing assistants directory is no assistants)."""
    shutil.copytree(ROOT / "agents", repo / "agents")


@pytest.mark.parametrize("command", [("validate",), ("plan", "--local")])
@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("fifo", "not a directory"),
        ("/dev/zero", "not a directory"),
        ("loop", "cannot read directory: Too many levels of symbolic links"),
    ],
)
def test_a_manifest_directory_that_is_no_directory_is_an_error(
    repo: Path, command: tuple[str, ...], kind: str, problem: str
) -> None:
    """Before: beside agent manifests, a FIFO or /dev/zero as `--dir team` was no assistants (validate
    passed; plan planned none of them, and with --prune every managed one to destroy); a loop was `internal error:
    RuntimeError: Symlink loop from '.../team'`."""
    agents(repo)
    plant(repo / "team", kind)
    proc = reconciler(repo, *command, "--dir", "team")
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", f"Error: team: {problem}\n")


def test_a_looping_assistants_directory_is_not_missing(repo: Path) -> None:
    """Before: `no assistants/ in REPO: run from the repository root or pass --dir` (it is there)."""
    agents(repo)
    shutil.rmtree(repo / "assistants")
    plant(repo / "assistants", "loop")
    proc = reconciler(repo, "validate")
    assert (proc.returncode, proc.stderr) == (
        1,
        "Error: assistants: cannot read directory: Too many levels of symbolic links\n",
    )


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("fifo", "'team': it is a FIFO, not a directory"),
        ("loop", "cannot read 'team': Too many levels of symbolic links"),
    ],
)
def test_an_environment_directory_that_is_no_directory_says_what_it_is(
    repo: Path, kind: str, problem: str
) -> None:
    """Before: a FIFO was `directory 'team' not found` (it is there), a loop `internal error: RuntimeError`."""
    (repo / "reconciler.yaml").write_text("environments:\n  staging:\n    directory: team\n")
    plant(repo / "team", kind)
    proc = reconciler(repo, "validate")
    assert (proc.returncode, proc.stderr.splitlines()) == (
        1,
        [
            f"reconciler.yaml:3:16: environments.staging.directory: {problem.format(repo=repo)}",
            "Error: 1 error in reconciler.yaml",
        ],
    )


# --- apply: the lock file under .reconciler/locks/ (`lock.py`)


def lock_file(repo: Path) -> Path:
    from reconciler.lock import lock_path
    from reconciler.options import ConnectionOptions

    return lock_path(ConnectionOptions(local=True, state_root=repo))


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("fifo", "it is a FIFO, not a regular file"),
        ("/dev/zero", "it is a symbolic link, not a regular file"),
        ("loop", "it is a symbolic link, not a regular file"),
        ("directory", "it is a directory, not a regular file"),
    ],
)
def test_apply_refuses_a_lock_file_that_is_not_a_regular_file(repo: Path, kind: str, what: str) -> None:
    """Before: a FIFO or a link to /dev/zero was opened for writing and truncated (`internal error: OSError:
    [Errno 22] Invalid argument`); a link to a file would have had it truncated; a loop or a directory was
    the bare strerror."""
    path = lock_file(repo)
    plant(path, kind)
    proc = reconciler(repo, "apply", "--local", "--auto-approve")
    assert last_line(proc) == (1, f"Error: cannot open the apply lock {path}: {what}")
    assert proc.stdout == ""  # nothing planned, nothing applied


def test_apply_never_truncates_the_file_a_lock_links_to(repo: Path) -> None:
    target = repo / "precious.txt"
    target.write_text("kept\n")
    path = lock_file(repo)
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    proc = reconciler(repo, "apply", "--local", "--auto-approve")
    assert last_line(proc) == (
        1,
        f"Error: cannot open the apply lock {path}: it is a symbolic link, not a regular file",
    )
    assert target.read_text() == "kept\n"


def test_apply_says_when_the_locks_folder_is_not_a_directory(repo: Path) -> None:
    path = lock_file(repo)
    plant(path.parent, "fifo")
    proc = reconciler(repo, "apply", "--local", "--auto-approve")
    assert last_line(proc) == (
        1,
        f"Error: cannot open the apply lock {path}: {path.parent} is not a directory",
    )


# --- --local: the embedded emulator's state under .reconciler/ (`connection.py` `local_state`)

UNUSABLE = "is not a usable emulator state file ({}): delete it to start over with an empty state"


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("fifo", UNUSABLE.format("it is a FIFO, not a regular file")),
        ("/dev/zero", UNUSABLE.format("it is a character device, not a regular file")),
        ("directory", UNUSABLE.format("it is a directory, not a regular file")),
        ("sparse", UNUSABLE.format("file is not a database")),
        ("loop", UNUSABLE.format("Too many levels of symbolic links")),
    ],
)
def test_local_refuses_a_state_file_that_is_not_a_regular_file(repo: Path, kind: str, problem: str) -> None:
    """Before: a FIFO was `internal error: OperationalError: disk I/O error`, a directory or a loop
    `internal error: OperationalError: unable to open database file`."""
    state = repo / ".reconciler" / "local.sqlite3"
    plant(state, kind)
    proc = reconciler(repo, "plan", "--local")
    assert last_line(proc) == (1, f"Error: {state} {problem}")


def test_local_state_of_an_environment_is_checked_too(repo: Path) -> None:
    (repo / "reconciler.yaml").write_text("environments:\n  staging: {}\n")
    state = repo / ".reconciler" / "envs" / "staging" / "local.sqlite3"
    plant(state, "fifo")
    proc = reconciler(repo, "plan", "--local", "--env", "staging")
    assert last_line(proc) == (1, f"Error: {state} {UNUSABLE.format('it is a FIFO, not a regular file')}")


def test_local_says_when_its_folder_is_a_file(repo: Path) -> None:
    """Before: `internal error: FileExistsError: [Errno 17] File exists: '.../.reconciler'`."""
    (repo / ".reconciler").write_text("")
    proc = reconciler(repo, "plan", "--local")
    assert last_line(proc) == (
        1,
        f"Error: {repo}/.reconciler: it is a file, not a directory (it holds the --local state)",
    )


@pytest.mark.parametrize("where", [".reconciler", ".reconciler/envs"])
def test_local_says_when_its_folder_is_not_a_directory(repo: Path, where: str) -> None:
    """Before: `internal error: FileExistsError: [Errno 17] File exists: '.../.reconciler'`."""
    (repo / "reconciler.yaml").write_text("environments:\n  staging: {}\n")
    plant(repo / where, "fifo")
    proc = reconciler(repo, "plan", "--local", "--env", "staging")
    assert last_line(proc) == (
        1,
        f"Error: {repo / where}: it is a FIFO, not a directory (it holds the --local state)",
    )


def test_local_names_a_looping_gitignore(repo: Path) -> None:
    """Before: `internal error: OSError: [Errno 40] Too many levels of symbolic links: '.../.gitignore'`."""
    plant(repo / ".reconciler" / ".gitignore", "loop")
    proc = reconciler(repo, "plan", "--local")
    folder = repo / ".reconciler"
    assert last_line(proc) == (
        1,
        f"Error: {folder}/.gitignore: Too many levels of symbolic links (the --local state is kept in {folder})",
    )


@pytest.mark.parametrize(
    ("kind", "problem"),
    [("fifo", "it is a FIFO, not a regular file"), ("loop", "Too many levels of symbolic links")],
)
def test_emulator_refuses_a_db_that_is_not_a_regular_file(repo: Path, kind: str, problem: str) -> None:
    """`reconciler emulator --db`, checked as the --local state is. Before: `internal error:
    OperationalError: disk I/O error` (a FIFO), `... unable to open database file` (a loop)."""
    plant(repo / "state.sqlite3", kind)
    proc = reconciler(repo, "emulator", "--port", "0", "--db", "state.sqlite3")
    assert last_line(proc) == (1, f"Error: state.sqlite3 {UNUSABLE.format(problem)}")


# --- accept: the manifests it rewrites, read again after the plan (`acceptance.py` `manifest_text`)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """`reconciler emulator` as a separate process, stopped after the test."""
    process = EmulatorProcess(tmp_path / "state.sqlite3", tmp_path / "emulator.log").wait_ready()
    yield process
    process.stop()


def swap_for_fifo_while_planning(
    repo: Path, server: EmulatorProcess, path: Path, *args: str
) -> tuple[int, str, str]:
    """Run `reconciler ARGS` against `server`, slowed down to 3 s per request, and replace `path` by a FIFO
    once the command asks for the knowledge files (`GET /v1/files`, logged as it arrives): it does so only
    once the manifests are loaded (planning waits for them), and reads them again (the rewrite) or hashes
    their files only with the answer, 3 s later. Returns (exit code, stdout, stderr); a command blocked
    on the FIFO fails on the timeout."""
    with server.client(root=True) as admin:
        admin.post("/_emulator/stats/reset").raise_for_status()
        admin.post("/_emulator/faults", json={"latency_ms": 3000}).raise_for_status()
        command = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            cwd=repo,
            env=environment(server.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while not any(e["path"] == "/v1/files" for e in admin.get("/_emulator/requests").json()):
                assert command.poll() is None, command.communicate()
                time.sleep(0.05)
            os.mkfifo(repo / "fifo")
            os.replace(repo / "fifo", path)
            out, err = command.communicate(timeout=TIMEOUT)
        finally:
            command.kill()
            command.wait()
    return command.returncode, out, err


def test_accept_refuses_a_manifest_swapped_for_a_fifo_while_it_plans(
    repo: Path, server: EmulatorProcess
) -> None:
    """A real race: accept loads the manifests, plans against a slow server (a separate process), and
    reads the drifted manifest again to rewrite it; meanwhile it is replaced by a FIFO. Before: accept
    blocked forever opening it."""
    run = reconciler(repo, "apply", "--auto-approve", server=server.url)
    assert run.returncode == 0, run.stderr
    with server.client() as api:
        listed = api.get("/assistants", params={"limit": 100}).json()["data"]
        edited = next(a for a in listed if a["metadata"]["reconciler_key"] == "it-helpdesk")
        api.post(f"/assistants/{edited['id']}", json={"description": "edited outside"}).raise_for_status()
    manifest = repo / "assistants" / "it-helpdesk.yaml"
    code, out, err = swap_for_fifo_while_planning(repo, server, manifest, "accept")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "assistants/it-helpdesk.yaml: is a FIFO (named pipe), not a manifest file",
        "Error: 1 drifted field cannot be accepted; nothing was written",
    ]


# --- plan: a knowledge file hashed after the listing (`manifest/loaded.py` `LocalFile.sha256`)


def test_plan_names_a_knowledge_file_swapped_for_a_fifo_while_it_lists(
    repo: Path, server: EmulatorProcess
) -> None:
    """Before: `internal error: NotRegularError: is a FIFO (named pipe), not a regular file` (the FIFO was
    refused without blocking, but with no path and as an internal error)."""
    knowledge = repo / "assistants" / "docs" / "leave-policy.md"
    code, out, err = swap_for_fifo_while_planning(repo, server, knowledge, "plan")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "Error: assistants/docs/leave-policy.md: is a FIFO (named pipe), not a regular file (replaced since "
        "the manifests were loaded)"
    ]


# --- python -m reconciler.formats: the schema files it checks and rewrites (`formats.py`)


def formats(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return reconciler(repo, *args, module="reconciler.formats")


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("fifo", "it is a FIFO, not a regular file"),
        ("/dev/zero", "it is a symbolic link, not a regular file"),
        ("directory", "it is a directory, not a regular file"),
        ("loop", "it is a symbolic link, not a regular file"),
    ],
)
def test_formats_refuses_to_write_a_schema_that_is_not_a_regular_file(
    repo: Path, kind: str, what: str
) -> None:
    """Before: a FIFO hung the writer (opening it for writing waits for a reader), /dev/zero was written
    through the link (`wrote schema/plan.json`), a directory or a loop was a traceback."""
    (repo / "schema" / "plan.json").unlink()
    plant(repo / "schema" / "plan.json", kind)
    check = formats(repo, "--check")
    assert (check.returncode, check.stderr) == (
        1,
        "schema/plan.json: out of date; run python -m reconciler.formats\n",
    )
    write = formats(repo)
    assert (write.returncode, write.stderr) == (1, f"schema/plan.json: cannot write it: {what}\n")


def test_formats_does_not_read_a_huge_schema_file(repo: Path) -> None:
    """Before: a sparse 1 GB schema file was read whole (a MemoryError in `MEMORY`); now it is out of date
    unread, and replaced."""
    (repo / "schema" / "plan.json").unlink()
    plant(repo / "schema" / "plan.json", "sparse")
    check = formats(repo, "--check")
    assert (check.returncode, check.stderr) == (
        1,
        "schema/plan.json: out of date; run python -m reconciler.formats\n",
    )
    write = formats(repo)
    assert (write.returncode, write.stderr) == (0, "wrote schema/plan.json\n")
    assert (repo / "schema" / "plan.json").read_bytes() == (ROOT / "schema" / "plan.json").read_bytes()
