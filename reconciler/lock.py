"""The local advisory lock per target: one `reconciler apply` at a time per checkout and target.

`hold` takes an exclusive `fcntl.flock` on `ROOT/.reconciler/locks/<hash>.lock`, the hash naming the target
(base URL, or `local`, plus organisation and project), for as long as the apply runs; the file holds the
holder's pid, and `.reconciler/` gets a `.gitignore` of `*` (as `--local` writes it) unless it has one. A
second apply in the same checkout waits for it, printing one line (`waiting for another apply on TARGET
(pid N) ...`), up to `timeout` seconds; with 0 (the default) it refuses at once. The kernel
drops the lock when its process ends, however it ends. The lock file must be a regular file (or absent): a
symlink, a FIFO, a device or a directory in its place is refused (one line) and never opened for writing.

This is a convenience for one machine only: exactly-once across runs never depends on it (runs in other
checkouts or on other machines converge by the canonical rule, `reconciler.exactly_once`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from reconciler import fsio
from reconciler.errors import ReconcilerError
from reconciler.options import ConnectionOptions

#: The default server, for the target's name when no base URL is set.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: How often a waiting apply tries the lock again.
POLL_SECONDS = 0.1


def target_of(connection: ConnectionOptions) -> str:
    """The target's readable name: `local`, or the base URL without credentials, plus the organisation and
    project when set (`https://api.openai.com/v1 org-1/proj-2`)."""
    if connection.local:
        where = "local"
    else:
        parts = urlsplit(connection.base_url or DEFAULT_BASE_URL)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        where = f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/")
    scope = "/".join(p for p in (connection.organization, connection.project) if p)
    return f"{where} {scope}" if scope else where


def lock_path(connection: ConnectionOptions) -> Path:
    """The lock file of this target in the checkout (`connection.state_root`)."""
    digest = hashlib.sha256(target_of(connection).encode()).hexdigest()[:16]
    return connection.state_root / ".reconciler" / "locks" / f"{digest}.lock"


@contextmanager
def hold(connection: ConnectionOptions, timeout: float, notes: Callable[[str], None]) -> Iterator[None]:
    """Hold this target's lock for the block (module docstring). Raises ReconcilerError (one line) when
    another apply holds it beyond `timeout` seconds, or when the lock file cannot be opened."""
    path = lock_path(connection)
    target = target_of(connection)
    try:
        fd = _open(path)
    except OSError as err:
        raise ReconcilerError(f"cannot open the apply lock {path}: {err.strerror or err}") from None
    try:
        _acquire(fd, target, timeout, notes)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing drops the lock


#: Never follow a symlink at the lock's path, never block opening it (a FIFO swapped in after the check).
_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _open(path: Path) -> int:
    """The lock file opened for reading and writing, created if absent; `fsio.FileKindError` when anything
    but a regular file is there (truncating `/dev/zero`, a FIFO or a linked file is never what was meant)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise fsio.FileKindError(0, f"{path.parent} is not a directory") from None
    _ignored(path.parent.parent)
    try:
        mode: int | None = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise fsio.FileKindError(0, f"it is {fsio.kind(mode)}, not a regular file")
    fd = os.open(path, _FLAGS, 0o644)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise fsio.FileKindError(0, f"it is {fsio.kind(mode)}, not a regular file")
    return fd


def _ignored(folder: Path) -> None:
    """Give `folder` (`.reconciler/`) the `.gitignore` of everything `--local` gives it, unless it has one,
    so a lock file never shows in `git status` nor gets committed by `git add -A`."""
    try:
        fd = os.open(folder / ".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never via a link
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"*\n")


def _acquire(fd: int, target: str, timeout: float, notes: Callable[[str], None]) -> None:
    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(fd)
        if timeout <= 0:
            raise ReconcilerError(
                f"another apply on {target} is running (pid {holder}); wait for it to finish, "
                "or pass --lock-timeout SECONDS to wait"
            )
        if time.monotonic() >= deadline:
            raise ReconcilerError(
                f"another apply on {target} (pid {holder}) still runs after {timeout:g} s (--lock-timeout)"
            )
        if not waiting:
            notes(f"waiting for another apply on {target} (pid {holder}) ...")
            waiting = True
        time.sleep(POLL_SECONDS)


def _holder(fd: int) -> str:
    """The pid the holder wrote, or `unknown`."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"
