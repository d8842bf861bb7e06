"""Safe file reads and writes for the files reconciler itself reads back or writes (saved plans, imported
manifests).

- `write_atomic(path, data)` writes only to a regular file or a new path, in one step: a temporary file in
  the same directory renamed over `path`, so a reader never sees half a file. A symlink, FIFO, device or
  directory at `path` is refused before anything is written (replacing `/dev/full` or a symlink to
  `/dev/stdout` with a regular file is never what was meant).
- `read_bounded(path, limit)` reads a regular file of at most `limit` bytes (`read_chunks`, streamed). FIFOs,
  devices and directories are refused before opening (opening a FIFO blocks until a writer comes;
  `/dev/zero` never ends).

Both raise `FileKindError` / `FileTooLargeError` (OSErrors whose `strerror` is the one-line reason) or the
OSError of the failing call; callers put the path and their own context in front.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

#: The permissions of a file `write_atomic` creates when no mode is given, before the umask.
DEFAULT_MODE = 0o666


class FileKindError(OSError):
    """The path is not a regular file (a FIFO, a device, a directory, a symlink for writes...)."""


class FileTooLargeError(OSError):
    """The file is larger than the reader accepts."""


def kind(mode: int) -> str:
    """What a `st_mode` is, in words: `a FIFO`, `a character device`... (also for manifests)."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def not_a_directory(path: Path) -> str | None:
    """None when `path` is a directory (symlinks followed) or absent; else what it is, in words: `it is a
    FIFO, not a directory`. OSError when it cannot be looked at (a symlink loop)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(mode):
        return None
    return f"it is {'a file' if stat.S_ISREG(mode) else kind(mode)}, not a directory"


def _refuse(mode: int) -> FileKindError:
    return FileKindError(0, f"it is {kind(mode)}, not a regular file")


def writable(path: Path) -> os.stat_result | None:
    """The lstat of `path` when it is a regular file, None when it is absent; FileKindError for anything
    else (what `write_atomic` refuses), so a caller writing several files can check them all first."""
    try:
        current = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(current.st_mode):
        raise _refuse(current.st_mode)
    return current


def write_atomic(path: Path, data: bytes | Iterable[bytes], *, mode: int | None = None) -> None:
    """Write `data` (bytes, or pieces of bytes written in order, never all held at once) to `path` exactly
    (no newline translation), replacing it in one step; a piece that raises leaves `path` as it was.

    `path` must be absent or a regular file (not a symlink). The new file gets `mode`, or by default the
    mode of the file it replaces, or `DEFAULT_MODE` less the umask.
    """
    path = Path(path)
    current = writable(path)
    if mode is None:
        mode = stat.S_IMODE(current.st_mode) if current is not None else DEFAULT_MODE & ~_umask()
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                handle.writelines(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path` (symlinks followed), refusing anything else before opening it
    and any file over `limit` bytes (checked before reading and while reading, should it grow)."""
    return b"".join(read_chunks(path, limit))


def read_chunks(path: Path, limit: int, size: int = 1 << 20) -> Iterator[bytes]:
    """`read_bounded`, streamed: the bytes of `path` in chunks of at most `size` (the checks made before the
    first chunk; FileTooLargeError raised at the chunk that passes `limit`, should the file grow)."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(info.st_mode)
    if info.st_size > limit:
        raise FileTooLargeError(0, f"it is {info.st_size} bytes, over the limit of {limit}")
    # O_NONBLOCK: should the path be swapped for a FIFO after the check, opening it still does not block.
    handle = os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")
    opened = os.fstat(handle.fileno())
    if not stat.S_ISREG(opened.st_mode):
        handle.close()
        raise _refuse(opened.st_mode)
    return _chunks(handle, limit, size)


def _chunks(handle: BinaryIO, limit: int, size: int) -> Iterator[bytes]:
    with handle:
        total = 0
        while chunk := handle.read(min(size, limit + 1 - total)):
            total += len(chunk)
            if total > limit:
                raise FileTooLargeError(0, f"it is over the limit of {limit} bytes")
            yield chunk
