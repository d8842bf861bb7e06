"""The command line. Commands only wire modules together: load, connect, plan, render, apply.

Every ReconcilerError becomes one line `Error: ...` on stderr and exit code 1; nothing else prints a
traceback unless RECONCILER_DEBUG=1. Plans go to stdout; logs and progress to stderr.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError

F = TypeVar("F", bound=Callable[..., Any])


def _scrub(text: str) -> str:
    """Remove the API key from any text before it is shown."""
    key = os.environ.get("OPENAI_API_KEY")
    if key and len(key) >= 4:
        text = text.replace(key, "***")
    return text


def fail(message: str) -> None:
    """Print one error line and exit 1."""
    click.echo(f"Error: {_scrub(message)}", err=True)
    sys.exit(1)


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
                raise
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Assistants as code: plan and apply OpenAI assistants (Assistants API v1) from YAML manifests."""


@cli.command()
@dir_option
@handle_errors
def validate(directory: Path) -> None:
    """Check every manifest offline; print all errors as FILE:LINE:COL: FIELD: message."""
    from reconciler.manifest import load_directory

    result = load_directory(directory)
    for error in result.errors:
        click.echo(str(error), err=True)
    if result.errors:
        noun = "error" if len(result.errors) == 1 else "errors"
        fail(f"{len(result.errors)} {noun} in {directory}")
    click.echo(f"{len(result.manifests)} manifests valid in {directory}.")


@cli.command()
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
)
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan (JSON) for apply."
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

    result = run(
        workflow.plan(
            directory=directory,
            local=local,
            base_url=base_url,
            max_retries=max_retries,
            targets=targets,
            prune=prune,
            allow_duplicate_names=allow_duplicate_names,
        )
    )
    workflow.emit_plan(result, fmt=fmt, out=out, color=use_color(no_color))
    if detailed_exitcode and result.has_changes:
        sys.exit(2)


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@dir_option
@connection_options
@plan_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking (for CI).")
@click.option("--force", is_flag=True, help="Allow deletes over the safety limits.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
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

    ok = run(
        workflow.apply(
            plan_file=plan_file,
            directory=directory,
            local=local,
            base_url=base_url,
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


@cli.command(name="import")
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

    run(
        importer.run_import(
            ids=ids,
            import_all=import_all,
            directory=directory,
            local=local,
            base_url=base_url,
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


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--db", type=click.Path(path_type=Path, dir_okay=False), help="SQLite file (default: in memory)."
)
@click.option("--api-key", envvar="RECONCILER_EMULATOR_API_KEY", help="Accept only this bearer key.")
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0)
@click.option(
    "--fail-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of requests answered 500/503."
)
@click.option("--rate-limit-rps", type=click.FloatRange(0), default=0.0, help="Answer 429 above this rate.")
@click.option(
    "--drop-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of writes committed, then dropped."
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
        ),
    )


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="reconciler")
