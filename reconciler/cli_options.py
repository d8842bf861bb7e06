"""The command line's shared option declarations (decorators), and the values they build.

Each decorator adds one group of options to a click command; the `*_from` functions turn the parsed
parameters into the frozen values of `reconciler.options`, once per command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.options import DEFAULT_DIRECTORY, ConnectionOptions, PlanOptions

F = TypeVar("F", bound=Callable[..., Any])


def dir_option(func: F) -> F:
    return click.option(
        "--dir",
        "directory",
        type=click.Path(path_type=Path, file_okay=False),
        default=DEFAULT_DIRECTORY,
        show_default=True,
        help="Directory holding the manifests (relative to the current directory).",
    )(func)


#: Where `--timeout` keeps its value in the click context (the option is not a command parameter:
#: `connection_from` reads it, so every command's signature stays the same).
TIMEOUT_META = "reconciler.timeout"


def _keep_timeout(ctx: click.Context, _param: click.Parameter, value: float | None) -> None:
    ctx.meta[TIMEOUT_META] = value


def connection_options(func: F) -> F:
    """--local, --base-url, --max-retries and --timeout, shared by every command that talks to the API."""
    func = click.option(
        "--timeout",
        type=click.FloatRange(1, 3600),
        default=None,
        expose_value=False,
        callback=_keep_timeout,
        metavar="SECONDS",
        help="Give up on one request attempt after SECONDS in all, however slowly the server answers "
        "[default: 300; a read that stalls for 60 s fails sooner].",
    )(func)
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
        help="Use the embedded emulator, with its state in .reconciler/ at the repository root "
        "(no key, no network).",
    )(func)
    return func


def connection_from(local: bool, base_url: str | None, max_retries: int) -> ConnectionOptions:
    """The ConnectionOptions of the current command's flags. `--local` wins over an `OPENAI_BASE_URL`
    exported in the environment (an explicit flag over the environment); with an explicit `--base-url` the
    pair stays an error (`connection.open_client`)."""
    source = click.get_current_context().get_parameter_source("base_url")
    if local and source is click.core.ParameterSource.ENVIRONMENT:
        base_url = None
    options = ConnectionOptions.from_environment(
        local=local, base_url=base_url, max_retries=max_retries, cwd=Path.cwd()
    )
    deadline = click.get_current_context().meta.get(TIMEOUT_META)
    return options if deadline is None else replace(options, deadline=deadline)


TARGET_HELP = {
    "plan": "Plan only the assistant with this manifest key (repeatable); the others are not shown.",
    "apply": "Apply only the changes to the assistant with this manifest key (repeatable); the others are "
    "left as they are.",
}


def plan_options(command: str) -> Callable[[F], F]:
    """--target, --prune and --allow-duplicate-names, for `plan` and `apply` (`command` picks the help)."""

    def decorate(func: F) -> F:
        func = click.option(
            "--allow-duplicate-names",
            is_flag=True,
            help="Create assistants even when an unmanaged one has the same name.",
        )(func)
        func = click.option(
            "--prune", is_flag=True, help="Delete managed assistants that no manifest names."
        )(func)
        func = click.option(
            "--target",
            "targets",
            multiple=True,
            metavar="KEY",
            help=TARGET_HELP[command],
        )(func)
        return func

    return decorate


def plan_from(targets: tuple[str, ...], prune: bool, allow_duplicate_names: bool) -> PlanOptions:
    return PlanOptions(targets=targets, prune=prune, allow_duplicate_names=allow_duplicate_names)


def explicit(name: str) -> bool:
    """True when the parameter `name` of the current command was given on the command line."""
    source = click.get_current_context().get_parameter_source(name)
    return source is click.core.ParameterSource.COMMANDLINE


def use_color(no_color: bool) -> bool:
    """Colour only on a TTY, never with --no-color or NO_COLOR."""
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
