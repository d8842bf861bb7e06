"""Reading the files a manifest names, safely: only regular files, never a blocking open, bounded reads.

A FIFO, a device, a socket or a directory is refused before it is opened (stat), and again after (the
file is opened with O_NONBLOCK, so a FIFO swapped in between cannot block, and checked with fstat), so
`validate` can neither hang nor read without end. `ReadError` carries one line saying what the file is
(named by `fsio.kind`, but for a FIFO, which manifest authors know as a named pipe).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from reconciler import fsio

#: What a text shown on one line cannot hold as is: C0 and C1 controls (line breaks, tabs, escapes), line and
#: paragraph separators, bidirectional marks, overrides and isolates (they reorder what a reader sees).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

#: Manifest files larger than this are refused without being read.
MAX_MANIFEST_BYTES = 10 * 1024 * 1024


class ReadError(Exception):
    """A file that is not a regular file or could not be read; `str()` is the message."""


class DecodeError(ValueError):
    """Bytes that are no YAML text: `str()` is the message, `position` the (line, col) it points at."""

    def __init__(self, message: str, position: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.position = position


def decode_yaml(data: bytes, noun: str = "manifest") -> str:
    """The text of a YAML file read as `data` (UTF-8, a BOM dropped); DecodeError for UTF-16, NUL bytes
    (a binary file) and invalid UTF-8, pointing at the first bad byte. `noun` names what the file should be
    (manifests and reconciler.yaml share this reading and its messages)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DecodeError(f"file is UTF-16; {noun}s must be UTF-8")
    if b"\x00" in data:
        nul = data.index(b"\x00")
        raise DecodeError(f"binary file (contains NUL bytes), not a YAML {noun}", _position(data, nul))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        message = f"invalid UTF-8 (byte 0x{data[err.start]:02x}); {noun}s must be UTF-8"
        raise DecodeError(message, _position(data, err.start)) from None


def _position(data: bytes, offset: int) -> tuple[int, int]:
    return (data.count(b"\n", 0, offset) + 1, offset - (data.rfind(b"\n", 0, offset) + 1) + 1)


class NotRegularError(ReadError):
    """The file is not a regular file; `kind` says what it is (`a directory`, `a FIFO (named pipe)`...)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"is {kind}, not a regular file")
        self.kind = kind


def kind_of(mode: int) -> str | None:
    """What a non-regular file is (`a FIFO (named pipe)`...), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    return fsio.kind(mode)


#: Open without following a symlink at the path's last part, where the platform can.
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_regular(path: Path, *, follow: bool = True) -> tuple[int, int]:
    """An open read-only descriptor of `path` and its size; NotRegularError for anything but a regular file,
    OSError when it can't be opened. Symlinks are followed, unless not `follow`: for a path resolved (and
    checked) before, which held no symlink then, so a link swapped in since is not followed (`Too many levels
    of symbolic links`)."""
    return _open_checked(path, 0 if follow else _NO_FOLLOW, os.stat(path).st_mode)


def _open_checked(path: Path, flags: int, mode: int | None = None) -> tuple[int, int]:
    """Open `path` read-only, non-blocking (a FIFO swapped in cannot block) with `flags`, refusing what is
    not a regular file: by `mode` (its stat) before opening, when given, and by its fstat after."""
    if mode is not None and (kind := kind_of(mode)) is not None:
        raise NotRegularError(kind)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | flags)
    try:
        info = os.fstat(fd)
        kind = kind_of(info.st_mode)
        if kind is not None:
            raise NotRegularError(kind)
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


class OutsideLinkError(ReadError):
    """A symlink leading outside the repository (`open_in`); `str()` is the message, e.g. `is a symlink to
    /etc/passwd, outside the repository (/repo); not read`."""


def open_in(path: Path, root: Path) -> tuple[int, int]:
    """`open_regular(path)` for a file that must stay inside `root`: OutsideLinkError when it is a symlink
    leading outside (resolved). One lstat tells a plain file from a link; a link is resolved once, and
    what is opened is the plain file checked (the path itself, or the link's resolved target), without
    following links (O_NOFOLLOW). So a link swapped in meanwhile, at the path or at the target, is never
    followed: the file read is the one checked, or none (`Too many levels of symbolic links`)."""
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        try:
            path = path.resolve()
        except (OSError, RuntimeError):  # a loop, or no longer a link: opening it tells (never following)
            return _open_checked(path, _NO_FOLLOW)
        if not is_within(path, root):
            raise OutsideLinkError(outside_message(path, root))
        mode = os.stat(path).st_mode
    return _open_checked(path, _NO_FOLLOW, mode)


def read_manifest(path: Path, root: Path | None = None) -> bytes:
    """The bytes of manifest file `path`, as `validate` reads one: a regular file only, never a blocking
    open, at most `MAX_MANIFEST_BYTES` (refused from its size, or as it grows); with `root`, a symlink leading
    outside it is not read (`open_in`). ReadError when it cannot be, `str()` the one-line reason every
    command reports: `is a FIFO (named pipe), not a manifest file`, `file too large (...)`, `cannot read
    file: ...`."""
    try:
        fd, size = open_in(path, root) if root is not None else open_regular(path)
        if size > MAX_MANIFEST_BYTES:
            os.close(fd)
            limit = MAX_MANIFEST_BYTES // 2**20
            raise ReadError(f"file too large ({size:,} bytes; a manifest may have at most {limit} MB)")
        data = read_open(fd, size, MAX_MANIFEST_BYTES)
    except NotRegularError as err:
        raise ReadError(f"is {err.kind}, not a manifest file") from None
    except PermissionError:
        raise ReadError("cannot read file: permission denied") from None
    except OSError as err:
        raise ReadError(f"cannot read file: {err.strerror or err}") from None
    if len(data) > MAX_MANIFEST_BYTES:  # it grew while read
        raise ReadError(f"file too large (over {MAX_MANIFEST_BYTES:,} bytes)")
    return data


def read_bounded(path: Path, limit: int) -> bytes:
    """The content of regular file `path`, at most `limit + 1` bytes (so a caller sees that it is over)."""
    fd, size = open_regular(path)
    return read_open(fd, size, limit)


def read_open(fd: int, size: int, limit: int) -> bytes:
    """Read (and close) `fd`, a regular file of `size` bytes as of its fstat: at most `limit + 1` bytes.

    Asks for `size + 1` bytes first (a 10 MB buffer per small file would cost more than the parse): exactly
    `size` bytes is the whole file (the byte past it was not there), with no read to find the end; more (the
    file grew meanwhile) or fewer (a short read) reads on for the rest."""
    try:
        chunks = [os.read(fd, min(size, limit) + 1)]
        total = len(chunks[0])
        while chunks[-1] and total <= limit and total != size:
            chunks.append(os.read(fd, limit + 1 - total))
            total += len(chunks[-1])
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_instructions(path: Path, limit: int) -> str:
    """The instructions in a file: UTF-8, `\\r\\n` → `\\n`, one final newline removed; at most `limit`
    bytes are read. UnicodeDecodeError for invalid UTF-8."""
    return instructions_text(read_bounded(path, limit))


def instructions_text(data: bytes) -> str:
    """The instructions read as `data` (see `read_instructions`)."""
    text = data.decode("utf-8-sig").replace("\r\n", "\n")
    return text[:-1] if text.endswith("\n") else text


def printable(text: str) -> str:
    """`text` with control characters and direction overrides escaped (`\\n`, `\\u202e`), so a message stays
    on one line and reads as written."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def is_within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def outside_message(resolved: Path, root: Path) -> str:
    """Why a symlink (a manifest, or the manifest directory) leading to `resolved`, outside `root`, is not
    read: `is a symlink to /etc/passwd, outside the repository (/repo); not read`."""
    where = f"outside the repository ({printable(str(root))})"
    return f"is a symlink to {printable(str(resolved))}, {where}; not read"


def repository_root(directory: Path) -> Path:
    """The nearest ancestor of `directory` holding `.git`; else the cwd if `directory` is inside it; else
    `directory` itself (the result resolved). Ancestors as written, not through symlinks: a manifest
    directory that is a link to a folder elsewhere stays in the repository it is written in (and loading
    refuses it), rather than moving the repository's boundary to wherever the link leads."""
    written = Path(os.path.normpath(directory.absolute()))
    for candidate in (written, *written.parents):
        if (candidate / ".git").exists():
            return candidate.resolve()
    cwd = Path.cwd().resolve()
    return cwd if is_within(written, cwd) or is_within(written.resolve(), cwd) else written.resolve()


def display(path: Path) -> str:
    """`path` relative to the cwd when it is under it, else as given; control characters escaped."""
    try:
        shown = str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return printable(shown)
