"""The command line's shared option declarations (decorators), and the values they build.

Each decorator adds one group of options to a click command; the `*_from` functions turn the parsed
parameters into the frozen values of `reconciler.options`, once per command. `target_from` and `all_targets`
apply `--env` (reconciler.yaml, `reconciler.environments`) to the directory and the connection.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from reconciler.errors import ConfigError
from reconciler.options import (
    DEFAULT_DIRECTORY,
    DEFAULT_SETTLE_SECONDS,
    MODEL_RULES,
    ApplyOptions,
    ConnectionOptions,
    PlanOptions,
    header_problem,
)

if TYPE_CHECKING:
    from reconciler.environments import Config, Target

F = TypeVar("F", bound=Callable[..., Any])


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange that also refuses NaN and the infinities, the type of every float option: NaN
    passes any range check (it compares false both ways) and `inf` any lower bound, and neither is a number
    of seconds, a rate or a share (`--lock-timeout nan` waited without end)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def bearer_key(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A key the emulator accepts (`--api-key`), as clients send it: stripped. An empty one (not the same
    as no key, which accepts any) or one no HTTP header can carry is a usage error that never quotes it."""
    if value is None:
        return None
    key = value.strip()
    if not key:
        raise click.BadParameter(
            "is empty: pass the key clients will send, or leave the option out to accept any key", ctx, param
        )
    problem = header_problem(key)
    if problem:
        raise click.BadParameter(f"has {problem}, which no HTTP header can carry", ctx, param)
    return key


def dir_option(func: F) -> F:
    return click.option(
        "--dir",
        "directory",
        type=click.Path(path_type=Path, file_okay=False),
        default=DEFAULT_DIRECTORY,
        show_default=True,
        help="Directory holding the manifests (relative to the current directory).",
    )(func)


def connection_options(func: F) -> F:
    """--local, --base-url, --max-retries and --timeout, shared by every command that talks to the API. The
    command receives them as one value, `connection: ConnectionOptions` (`connection_from`)."""

    @functools.wraps(func)
    def command(*args: Any, **params: Any) -> Any:
        flags = {name: params.pop(name) for name in ("local", "base_url", "max_retries", "timeout")}
        return func(*args, connection=connection_from(**flags), **params)

    wrapped: Any = command
    for option in reversed(_CONNECTION_OPTIONS):
        wrapped = option(wrapped)
    return wrapped


_CONNECTION_OPTIONS = (
    click.option(
        "--local",
        is_flag=True,
        help="Use the embedded emulator, with its state in .reconciler/ at the repository root "
        "(no key, no network).",
    ),
    click.option(
        "--base-url",
        envvar="OPENAI_BASE_URL",
        default=None,
        help="API base URL [env OPENAI_BASE_URL; default https://api.openai.com/v1].",
    ),
    click.option(
        "--max-retries",
        type=click.IntRange(0, 20),
        default=5,
        show_default=True,
        help="Retries for retryable failures (408, 409, 429, 5xx, timeouts, dropped connections).",
    ),
    click.option(
        "--timeout",
        type=FiniteFloatRange(1, 3600),
        default=None,
        metavar="SECONDS",
        help="Give up on one request after SECONDS in all, retries included, however slowly the server "
        "answers [default: 300; a read that stalls for 60 s fails sooner].",
    ),
)


def apply_options(func: F) -> F:
    """`apply`'s --auto-approve, --force, --parallelism, --format, --settle-seconds (runs that race on one
    server), --lock-timeout (another apply in this checkout; see docs/design.md, "Exactly once across runs"),
    --protect-drift and --no-color. The command receives them as one value, `options: ApplyOptions`."""

    @functools.wraps(func)
    def command(*args: Any, **params: Any) -> Any:
        options = ApplyOptions(
            auto_approve=params.pop("auto_approve"),
            force=params.pop("force"),
            parallelism=params.pop("parallelism"),
            fmt=params.pop("fmt"),
            color=use_color(params.pop("no_color")),
            settle_seconds=params.pop("settle_seconds"),
            lock_timeout=params.pop("lock_timeout"),
            protect_drift=params.pop("protect_drift"),
        )
        return func(*args, options=options, **params)

    wrapped: Any = command
    for option in reversed(_APPLY_OPTIONS):
        wrapped = option(wrapped)
    return wrapped


_APPLY_OPTIONS = (
    click.option("--auto-approve", is_flag=True, help="Apply without asking (for CI)."),
    click.option("--force", is_flag=True, help="Allow deletes over the safety limits."),
    click.option(
        "--parallelism",
        type=click.IntRange(1, 64),
        default=8,
        show_default=True,
        help="Changes applied at the same time.",
    ),
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: only the report on stdout, for programs (the plan goes to stderr).",
    ),
    click.option(
        "--settle-seconds",
        type=FiniteFloatRange(0, 600),
        default=DEFAULT_SETTLE_SECONDS,
        show_default=True,
        envvar="RECONCILER_SETTLE_SECONDS",
        show_envvar=True,
        metavar="SECONDS",
        help="After creating, wait this long plus 1 s, then list once and keep the oldest assistant per key, "
        "deleting duplicates made by racing applies (0: no check, for a single writer).",
    ),
    click.option(
        "--lock-timeout",
        type=FiniteFloatRange(0, 86400),
        default=0.0,
        show_default=True,
        metavar="SECONDS",
        help="Wait this long for another apply on the same target in this checkout (0: refuse at once).",
    ),
    click.option(
        "--protect-drift",
        is_flag=True,
        help="Refuse to overwrite edits made outside reconciler since the last apply (docs/drift.md).",
    ),
    click.option("--no-color", is_flag=True, help="Never colour the output."),
)


def connection_from(
    local: bool, base_url: str | None, max_retries: int, timeout: float | None
) -> ConnectionOptions:
    """The ConnectionOptions of the current command's flags. `--local` wins over an `OPENAI_BASE_URL`
    exported in the environment (an explicit flag over the environment); with an explicit `--base-url` the
    pair stays an error (`connection.open_client`). `timeout` is the client's overall deadline per request."""
    source = click.get_current_context().get_parameter_source("base_url")
    if local and source is click.core.ParameterSource.ENVIRONMENT:
        base_url = None
    options = ConnectionOptions.from_environment(
        local=local, base_url=base_url, max_retries=max_retries, cwd=Path.cwd()
    )
    return options if timeout is None else replace(options, deadline=timeout)


TARGET_HELP = {
    "plan": "Plan only the assistant (or saved agent) with this manifest key (repeatable); the others are "
    "not shown. assistant:KEY or agent:KEY when both kinds have the key.",
    "apply": "Apply only the changes to the assistant (or saved agent) with this manifest key (repeatable); "
    "the others are left as they are. assistant:KEY or agent:KEY when both kinds have the key.",
}


def plan_options(command: str) -> Callable[[F], F]:
    """--target, --prune, --allow-duplicate-names, --model-rules and --agents-dir, for `plan` and `apply`
    (`command` picks the help). The command receives them as one value, `planning: PlanOptions`."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def with_planning(*args: Any, **params: Any) -> Any:
            planning = PlanOptions(
                targets=params.pop("targets"),
                prune=params.pop("prune"),
                allow_duplicate_names=params.pop("allow_duplicate_names"),
                model_rules=params.pop("model_rules"),
                agents_dir=params.pop("agents_dir"),
            )
            return func(*args, planning=planning, **params)

        wrapped: Any = with_planning
        for option in (
            click.option(
                "--agents-dir",
                type=click.Path(path_type=Path, file_okay=False),
                help="Saved agents' manifests to plan too [default: agents/ beside --dir, when it exists].",
            ),
            click.option(
                "--model-rules",
                type=click.Choice(MODEL_RULES),
                default="auto",
                show_default=True,
                help="openai: a model Assistants v1 refuses is a plan error; server: a warning, the server "
                "decides; auto: openai for --local and api.openai.com, else server.",
            ),
            click.option(
                "--allow-duplicate-names",
                is_flag=True,
                help="Create assistants even when an unmanaged one has the same name.",
            ),
            click.option("--prune", is_flag=True, help="Delete managed assistants that no manifest names."),
            click.option("--target", "targets", multiple=True, metavar="KEY", help=TARGET_HELP[command]),
        ):
            wrapped = option(wrapped)
        return wrapped

    return decorate


def kind_option(help: str) -> Callable[[F], F]:
    """--kind assistant|agent (default assistant), for the commands that handle one kind at a time."""
    return click.option(
        "--kind", type=click.Choice(["assistant", "agent"]), default="assistant", show_default=True, help=help
    )


def explicit(name: str) -> bool:
    """True when the parameter `name` of the current command was given on the command line."""
    source = click.get_current_context().get_parameter_source(name)
    return source is click.core.ParameterSource.COMMANDLINE


def use_color(no_color: bool) -> bool:
    """Colour only on a TTY, never with --no-color or NO_COLOR."""
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def env_option(func: F) -> F:
    """--env NAME, for every command that reads manifests or talks to a server."""
    return click.option(
        "--env",
        "env",
        metavar="NAME",
        default=None,
        help="The environment of reconciler.yaml to use: its connection, manifest directory and overrides.",
    )(func)


def config_here() -> Config | None:
    """The reconciler.yaml at the repository root of the current directory, or None. When it is invalid,
    each FILE:LINE:COL line goes to stderr and the ConfigFileError (one line) is raised."""
    from reconciler import environments
    from reconciler.manifest import repository_root

    try:
        return environments.find(repository_root(Path.cwd()))
    except environments.ConfigFileError as err:
        for error in err.errors:
            click.echo(str(error), err=True)
        raise


def target_from(env: str | None, directory: Path, connection: ConnectionOptions) -> Target:
    """What the command works on. Without reconciler.yaml and `--env`: `directory` and `connection` as
    today. With `--env NAME`: that environment (an explicit `--base-url` is refused; the key's variable is
    masked in every output). With reconciler.yaml but no `--env`: ConfigError naming the environments."""
    from reconciler import environments, redact

    config = config_here()
    if env is None:
        if config is not None:
            raise ConfigError(
                f"{config.path.name} names environments ({', '.join(config.names)}): pass --env NAME"
            )
        return environments.Target(None, directory, connection)
    if explicit("base_url"):
        raise ConfigError(f"--env {env} and --base-url exclude each other: the environment names its server")
    target = environments.target(config, env, directory, connection, own_dir=explicit("directory"))
    redact.mask_variable(target.connection.key_variable)
    return target


def all_targets(
    env: str | None, directory: Path, connection: ConnectionOptions | None = None
) -> list[Target]:
    """Every environment's Target, in promotion order (only `env`'s when given); empty without
    reconciler.yaml and `--env` (then the command works as it did before environments)."""
    if env is not None:
        return [target_from(env, directory, connection or ConnectionOptions())]
    config = config_here()
    if config is None:
        return []
    from reconciler import environments, redact

    own_dir = explicit("directory")
    out = [
        environments.target(config, n, directory, connection or ConnectionOptions(), own_dir=own_dir)
        for n in config.names
    ]
    for target in out:
        redact.mask_variable(target.connection.key_variable)
    return out
