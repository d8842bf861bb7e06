"""The command line. Commands only wire modules together: load, connect, plan, render, apply.

Every ReconcilerError becomes one line `Error: ...` on stderr and exit code 1; nothing else prints a
traceback unless RECONCILER_DEBUG=1. Usage errors keep click's message but exit 1, not click's 2: exit code 2
means only "plan --detailed-exitcode found changes". Nothing printed here can carry the API key: every error
line and debug traceback goes through `scrub`. Plans go to stdout; logs and progress to stderr.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler import DISTRIBUTION
from reconciler.errors import ReconcilerError
from reconciler.redact import scrub

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    """Print one error line and exit 1."""
    click.echo(f"Error: {scrub(message)}", err=True)
    sys.exit(1)


def check_api_key() -> None:
    """Refuse an `OPENAI_API_KEY` that no HTTP header can carry (a line break or a non-ASCII character inside
    it, say from a pasted secret), naming the position but never the key."""
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    for position, char in enumerate(key, start=1):
        if char == "\n" or char == "\r":
            what = "a line break"
        elif not char.isascii():
            what = "a non-ASCII character"
        elif not char.isprintable():
            what = f"a control character (code {ord(char)})"
        else:
            continue
        raise ReconcilerError(
            f"OPENAI_API_KEY has {what} at position {position} of {len(key)}, which no HTTP header can "
            "carry: set it to the key alone"
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
    retries are waiting, info adds every retry, debug every request."""
    level = LOG_LEVELS.get(os.environ.get("RECONCILER_LOG", "warning").strip().lower(), logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ScrubFilter())
    handler.setFormatter(logging.Formatter("reconciler: %(message)s"))
    root = logging.getLogger("reconciler")
    handler.setLevel(level)
    root.handlers[:] = [handler]
    if level < root.getEffectiveLevel():  # only ever lowered: callers (tests) may have set their own level
        root.setLevel(level)


def handle_errors(func: F) -> F:
    """Turn ReconcilerError (and any other crash, unless RECONCILER_DEBUG) into one line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReconcilerError as err:
            fail(str(err))
        except KeyboardInterrupt:
            fail("interrupted")
        except BrokenPipeError:
            # The reader went away (`reconciler plan | head`): stop quietly, and keep Python from
            # complaining again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as err:
            if os.environ.get("RECONCILER_DEBUG"):
                # The traceback, scrubbed: exception texts may quote the key (an illegal header value).
                click.echo(scrub(traceback.format_exc()), err=True, nl=False)
                sys.exit(1)
            fail(f"internal error: {type(err).__name__}: {err} (set RECONCILER_DEBUG=1 for a traceback)")

    return wrapper  # type: ignore[return-value]


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from a synchronous command."""
    return asyncio.run(coro)


def dir_option(func: F) -> F:
    return click.option(
        "--dir",
        "directory",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("assistants"),
        show_default=True,
        help="Directory holding the manifests.",
    )(func)


def connection_options(func: F) -> F:
    """--local, --base-url and --max-retries, shared by every command that talks to the API."""
    func = click.option(
        "--max-retries",
        type=click.IntRange(0, 20),
        default=5,
        show_default=True,
        help="Retries for retryable failures (408, 409, 429, 5xx, timeouts, dropped connections).",
    )(func)
    func = click.option(
        "--base-url",
        envvar="OPENAI_BASE_URL",
        default=None,
        help="API base URL [env OPENAI_BASE_URL; default https://api.openai.com/v1].",
    )(func)
    func = click.option(
        "--local",
        is_flag=True,
        help="Use the embedded emulator, with its state in .reconciler/ (no key, no network).",
    )(func)
    return func


def effective_base_url(local: bool, base_url: str | None) -> str | None:
    """The base URL to use: `--local` wins over an `OPENAI_BASE_URL` exported in the environment (an explicit
    flag over the environment); with an explicit `--base-url` the pair stays an error (`open_client`)."""
    source = click.get_current_context().get_parameter_source("base_url")
    if local and source is click.core.ParameterSource.ENVIRONMENT:
        return None
    return base_url


def plan_options(func: F) -> F:
    """Options shared by plan and apply."""
    func = click.option(
        "--allow-duplicate-names",
        is_flag=True,
        help="Create assistants even when an unmanaged one has the same name.",
    )(func)
    func = click.option("--prune", is_flag=True, help="Delete managed assistants that no manifest names.")(
        func
    )
    func = click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="KEY",
        help="Only plan these manifest keys (repeatable).",
    )(func)
    return func


def use_color(no_color: bool) -> bool:
    """Colour only on a TTY, never with --no-color or NO_COLOR."""
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


class ReconcilerGroup(click.Group):
    """click's Group, except that a usage error (unknown option or command, bad option value, missing
    argument) exits 1 like every other error: the contract keeps exit code 2 for `plan --detailed-exitcode`.
    click still prints its usage message. Every usage error passes through one of these two methods: the
    group's own arguments in `make_context`, the command name and the command's arguments in `invoke`."""

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
            return super().invoke(ctx)
        except click.UsageError as err:
            _exit_1(err)
            raise


def _exit_1(err: click.UsageError) -> None:
    # click declares exit_code a class variable (2 for usage errors); this one error exits 1.
    err.exit_code = 1  # type: ignore[misc]


EPILOG = """\b
Environment:
  OPENAI_API_KEY      the API key (never printed)
  OPENAI_BASE_URL     the server (default https://api.openai.com/v1)
  OPENAI_ORG_ID       sent as OpenAI-Organization
  OPENAI_PROJECT_ID   sent as OpenAI-Project
  NO_COLOR            no colour (nor without a terminal)
  RECONCILER_LOG      stderr log level: warning (default), info (retries), debug (requests)
  RECONCILER_DEBUG=1  a traceback instead of the one-line internal error

\b
Exit codes: 0 success; 1 any error or refusal;
2 only from `plan --detailed-exitcode` when there are changes.

Try it without a key: `reconciler plan --local` (the embedded emulator).
"""


@click.group(
    cls=ReconcilerGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.version_option(package_name=DISTRIBUTION, prog_name="reconciler")
def cli() -> None:
    """Assistants as code: plan and apply OpenAI assistants (Assistants API v1) from YAML manifests."""
    setup_logging()


@cli.command(short_help="Check every manifest offline (no API calls).")
@dir_option
@handle_errors
def validate(directory: Path) -> None:
    """Check every manifest offline; print all errors as FILE:LINE:COL: FIELD: message."""
    from reconciler import workflow

    count = len(workflow.load_manifests(directory))
    click.echo(f"{count} {'manifest' if count == 1 else 'manifests'} valid in {directory}.")


@cli.command(short_help="Print the JSON Schema of a manifest.")
@handle_errors
def schema() -> None:
    """Print the JSON Schema of a manifest (for yaml-language-server and editors)."""
    import json

    from reconciler.manifest import json_schema

    click.echo(json.dumps(json_schema(), indent=2, sort_keys=False))


@cli.command()
@dir_option
@connection_options
@plan_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="text for people, markdown for pull-request comments, json for programs.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also save the plan to FILE, for `reconciler apply FILE`.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 without changes, 2 with changes, 1 on error.")
@click.option("--no-color", is_flag=True, help="Never colour the output.")
@handle_errors
def plan(
    directory: Path,
    local: bool,
    base_url: str | None,
    max_retries: int,
    targets: tuple[str, ...],
    prune: bool,
    allow_duplicate_names: bool,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    no_color: bool,
) -> None:
    """Show what apply would change, without changing anything."""
    from reconciler import workflow

    if not local:
        check_api_key()
    result = run(
        workflow.plan(
            directory=directory,
            local=local,
            base_url=effective_base_url(local, base_url),
            max_retries=max_retries,
            targets=targets,
            prune=prune,
            allow_duplicate_names=allow_duplicate_names,
        )
    )
    workflow.emit_plan(result, fmt=fmt, out=out, color=use_color(no_color))
    if detailed_exitcode and result.has_changes:
        sys.exit(2)


@cli.command(short_help="Make the API match the manifests, or apply a saved plan.")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@dir_option
@connection_options
@plan_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking (for CI).")
@click.option("--force", is_flag=True, help="Allow deletes over the safety limits.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Changes applied at the same time.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: only the report on stdout, for programs (the plan goes to stderr).",
)
@click.option("--no-color", is_flag=True, help="Never colour the output.")
@handle_errors
def apply(
    plan_file: Path | None,
    directory: Path,
    local: bool,
    base_url: str | None,
    max_retries: int,
    targets: tuple[str, ...],
    prune: bool,
    allow_duplicate_names: bool,
    auto_approve: bool,
    force: bool,
    parallelism: int,
    fmt: str,
    no_color: bool,
) -> None:
    """Make the API match the manifests (or run exactly a saved PLAN_FILE)."""
    from reconciler import workflow

    if not local:
        check_api_key()
    ok = run(
        workflow.apply(
            plan_file=plan_file,
            directory=directory,
            local=local,
            base_url=effective_base_url(local, base_url),
            max_retries=max_retries,
            targets=targets,
            prune=prune,
            allow_duplicate_names=allow_duplicate_names,
            auto_approve=auto_approve,
            force=force,
            parallelism=parallelism,
            fmt=fmt,
            color=use_color(no_color),
        )
    )
    if not ok:
        sys.exit(1)


@cli.command(name="import", short_help="Write manifests for existing unmanaged assistants.")
@click.argument("ids", nargs=-1)
@click.option("--all", "import_all", is_flag=True, help="Import every unmanaged assistant.")
@dir_option
@connection_options
@click.option("--force", is_flag=True, help="Overwrite existing manifest files.")
@click.option(
    "--instructions-files",
    is_flag=True,
    help="Write long instructions to a sibling .md file referenced by instructions_file.",
)
@handle_errors
def import_(
    ids: tuple[str, ...],
    import_all: bool,
    directory: Path,
    local: bool,
    base_url: str | None,
    max_retries: int,
    force: bool,
    instructions_files: bool,
) -> None:
    """Write manifests for existing unmanaged assistants, so the next plan adopts them."""
    from reconciler import importer

    if not local:
        check_api_key()
    run(
        importer.run_import(
            ids=ids,
            import_all=import_all,
            directory=directory,
            local=local,
            base_url=effective_base_url(local, base_url),
            max_retries=max_retries,
            force=force,
            instructions_files=instructions_files,
        )
    )


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 listing files that would change.")
@dir_option
@handle_errors
def fmt(paths: tuple[Path, ...], check: bool, directory: Path) -> None:
    """Rewrite manifests into the canonical layout, keeping comments."""
    from reconciler import formatter

    if not formatter.run_fmt(paths or (directory,), check=check):
        sys.exit(1)


@cli.command(short_help="Serve the v1 API on loopback (a sandbox, with fault injection).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free one)."
)
@click.option(
    "--db", type=click.Path(path_type=Path, dir_okay=False), help="SQLite file (default: in memory)."
)
@click.option("--api-key", envvar="RECONCILER_EMULATOR_API_KEY", help="Accept only this bearer key.")
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, help="Delay added to every response.")
@click.option(
    "--fail-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of requests answered 500/503."
)
@click.option("--rate-limit-rps", type=click.FloatRange(0), default=0.0, help="Answer 429 above this rate.")
@click.option(
    "--drop-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of writes committed, then dropped."
)
@click.option(
    "--commit-delay-ms",
    type=click.FloatRange(0),
    default=0.0,
    help="With --drop-rate: commit a dropped write this long after the connection closes.",
)
@click.option("--seed", type=int, default=None, help="Seed for deterministic fault injection.")
@handle_errors
def emulator(
    host: str,
    port: int,
    db: Path | None,
    api_key: str | None,
    latency_ms: float,
    fail_rate: float,
    rate_limit_rps: float,
    drop_rate: float,
    seed: int | None,
    commit_delay_ms: float,
) -> None:
    """Serve the Assistants v1 API on loopback, with optional fault injection."""
    from reconciler.emulator.faults import FaultConfig
    from reconciler.emulator.server import serve

    serve(
        host=host,
        port=port,
        db=db,
        api_key=api_key,
        faults=FaultConfig(
            latency_ms=latency_ms,
            fail_rate=fail_rate,
            rate_limit_rps=rate_limit_rps,
            drop_rate=drop_rate,
            seed=seed,
            commit_delay_ms=commit_delay_ms,
        ),
    )


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="reconciler")
