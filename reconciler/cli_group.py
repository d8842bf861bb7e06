"""The command group: how every command runs. Output goes through one masking layer (`MaskedStream`, as an
`OutputStream`: output that cannot be written, a full disk or a closed stdout, is one `OutputError` line),
errors are mapped once (`ReconcilerGroup.invoke`: a ReconcilerError is one `Error: ...` line and exit code 1),
usage errors exit 1 (exit code 2 means only "plan --detailed-exitcode found changes"), and logs are scrubbed
of the API key. The commands themselves are in `reconciler.cli`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import io
import logging
import os
import sys
import traceback
from collections.abc import Coroutine
from typing import Any, TextIO, cast

import click

from reconciler.errors import ConfigError, ReconcilerError
from reconciler.options import header_problem
from reconciler.redact import MaskedStream, plain_key_problem, scrub

__all__ = ["CommandError", "InternalError", "ReconcilerGroup", "check_api_key", "error_for", "run", "scrub"]


def check_api_key(variable: str = "OPENAI_API_KEY") -> None:
    """Refuse a key (in `variable`) too plain to mask (`redact.plain_key_problem`) or that no HTTP header can
    carry (a line break or a non-ASCII character inside it, say from a pasted secret), naming the position
    but never the key."""
    key = os.environ.get(variable, "").strip()
    problem = plain_key_problem(key) if key else None
    if problem:
        raise ReconcilerError(
            f"{variable} {problem}: that is no API key, and masking it would garble every line shown "
            "(keys look like sk-...)"
        )
    problem = header_problem(key)
    if problem:
        raise ReconcilerError(
            f"{variable} has {problem}, which no HTTP header can carry: set it to the key alone"
        )


class _ScrubFilter(logging.Filter):
    """Masks the API key in every log record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True


LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def setup_logging() -> None:
    """Log records of `reconciler.*` go to stderr as `reconciler: message`, key masked; the level is
    RECONCILER_LOG (debug, info, warning (default), error): warnings say when the server is unreachable and
    retries are waiting, info adds every retry, debug every request. Any other value is a ConfigError."""
    name = os.environ.get("RECONCILER_LOG", "").strip().lower() or "warning"
    if name not in LOG_LEVELS:
        raise ConfigError(
            f"RECONCILER_LOG={name!r} is not a log level: use one of {', '.join(LOG_LEVELS)} (or unset it)"
        )
    level = LOG_LEVELS[name]
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ScrubFilter())
    handler.setFormatter(logging.Formatter("reconciler: %(message)s"))
    root = logging.getLogger("reconciler")
    handler.setLevel(level)
    root.handlers[:] = [handler]
    if level < root.getEffectiveLevel():  # only ever lowered: callers (tests) may have set their own level
        root.setLevel(level)


class CommandError(click.ClickException):
    """An error shown as one line `Error: MESSAGE` on stderr, API key masked; exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {scrub(self.format_message())}", err=True)


class InternalError(CommandError):
    """An unexpected crash: one line, or with RECONCILER_DEBUG the whole traceback (masked)."""

    def __init__(self, err: BaseException) -> None:
        super().__init__(
            f"internal error: {type(err).__name__}: {err} (set RECONCILER_DEBUG=1 for a traceback)"
        )
        self.traceback = "".join(traceback.format_exception(type(err), err, err.__traceback__))

    def show(self, file: Any = None) -> None:
        if os.environ.get("RECONCILER_DEBUG"):
            click.echo(scrub(self.traceback), err=True, nl=False)
        else:
            super().show(file)


def error_for(err: Exception | KeyboardInterrupt) -> click.ClickException:
    """The click exception shown for an exception a command raised (see the module docstring)."""
    if isinstance(err, click.ClickException):
        return err
    if isinstance(err, ReconcilerError):
        return CommandError(str(err))
    if isinstance(err, KeyboardInterrupt):
        return CommandError("interrupted")
    return InternalError(err)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from a synchronous command."""
    return asyncio.run(coro)


#: The cyclic collector's thresholds for a run (Python's: 700, 10, 10), as mypy sets them. A command makes
#: many objects that live until it ends (manifests, listed objects, the plan) and few cycles; at the default
#: thresholds collections walking them again and again cost a plan 0.04 s of CPU at 1,000 assistants and
#: 0.26 s at 10,000 (0.07 s at these). Cycles are still collected, less often.
GC_THRESHOLDS = (200_000, 30, 30)
#: Python's own thresholds, for what runs for hours rather than as long as a command (`reconciler emulator`).
SERVER_GC_THRESHOLDS = (700, 10, 10)


class OutputError(ReconcilerError):
    """Standard output or error could not be written (a full disk, a closed descriptor)."""


class _Nowhere(io.TextIOBase):
    """Where a stream that could not be written goes from then on: everything is dropped."""

    def write(self, text: str) -> int:
        return len(text)

    def writable(self) -> bool:
        return True


class _Closed(_Nowhere):
    """A standard stream the process was started without (`>&-`): Python has None there."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.shown = name

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, f"{self.shown} is closed")


class OutputStream(MaskedStream):
    """The masked stdout or stderr (`name`) of a run: `redact.MaskedStream` over `target`, or over a closed
    stream when `target` is None. A failed write or flush is an OutputError, one line; the stream then drops
    what follows, and its descriptor is pointed at /dev/null so that Python's own flush at exit fails no
    more. A reader gone away stays a BrokenPipeError (a quiet exit, `ReconcilerGroup.invoke`)."""

    def __init__(self, target: TextIO | None, name: str) -> None:
        super().__init__(target if target is not None else cast(TextIO, _Closed(name)))

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except BrokenPipeError:
            raise
        except OSError as err:
            raise self._lost(err) from None

    def flush(self) -> None:
        try:
            super().flush()
        except BrokenPipeError:
            raise
        except OSError as err:
            raise self._lost(err) from None

    def _lost(self, err: OSError) -> OutputError:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            descriptor = self.target.fileno()
            nowhere = os.open(os.devnull, os.O_WRONLY)
            os.dup2(nowhere, descriptor)
            os.close(nowhere)
        self.target = cast(TextIO, _Nowhere())
        self._pending = ""
        return OutputError(f"cannot write the output: {err.strerror or err}")


class ReconcilerGroup(click.Group):
    """click's Group, except that a usage error (unknown option or command, bad option value, missing
    argument) exits 1 like every other error: the contract keeps exit code 2 for `plan --detailed-exitcode`.
    click still prints its usage message. Every usage error passes through one of these two methods: the
    group's own arguments in `make_context`, the command name and the command's arguments in `invoke`.
    `invoke` also maps every other exception of a command to its one-line error (`error_for`)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """click's main, with stdout and stderr masked (`OutputStream`) for the whole run: plans,
        diagnostics, usage errors and logs alike; a closed stdin reads as empty (`<&-`: Python has None
        there); the cyclic collector run rarely (`GC_THRESHOLDS`)."""
        thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
        streams = sys.stdin, sys.stdout, sys.stderr
        sys.stdout, sys.stderr = OutputStream(sys.stdout, "stdout"), OutputStream(sys.stderr, "stderr")
        if sys.stdin is None:
            sys.stdin = io.StringIO()
        try:
            return super().main(*args, **kwargs)
        except OutputError as err:  # outside a command: --help or --version to a full disk or closed stdout
            CommandError(str(err)).show()
            sys.exit(1)
        finally:
            gc.set_threshold(*thresholds)
            for masked in (sys.stdout, sys.stderr):
                # a reader that went away (`| head`) or a stream already closed
                if isinstance(masked, MaskedStream):
                    with contextlib.suppress(OSError, ValueError, OutputError):
                        masked.flush()
            sys.stdin, sys.stdout, sys.stderr = streams

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            _exit_1(err)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # output that cannot be written fails the command, not Python's exit
        except click.UsageError as err:
            _exit_1(err)
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # The reader went away (`reconciler plan | head`): stop quietly, and keep Python from
            # complaining again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(1) from None
        except (Exception, KeyboardInterrupt) as err:
            raise error_for(err) from None


def _exit_1(err: click.UsageError) -> None:
    # click declares exit_code a class variable (2 for usage errors); this one error exits 1.
    err.exit_code = 1  # type: ignore[misc]
