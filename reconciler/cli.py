"""The command line. Each command parses its options, builds the option values (`reconciler.options`) and
calls one use case (`reconciler.usecases`).

How every command runs (output masking, the one-line errors and their exit codes, logging) is the group's
job: `reconciler.cli_group`. Plans go to stdout; logs and progress to stderr.
"""

from __future__ import annotations

import gc
import sys
from dataclasses import replace
from pathlib import Path

import click

from reconciler import DISTRIBUTION
from reconciler.cli_group import SERVER_GC_THRESHOLDS, ReconcilerGroup, check_api_key, run, setup_logging
from reconciler.cli_options import (
    FiniteFloatRange,
    apply_options,
    bearer_key,
    connection_options,
    dir_option,
    env_option,
    explicit,
    kind_option,
    plan_options,
    target_from,
    use_color,
)
from reconciler.errors import ConfigError
from reconciler.options import DEFAULT_DIRECTORY, ApplyOptions, ConnectionOptions, ImportOptions, PlanOptions
from reconciler.render import PLAN_FORMATS

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


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=ReconcilerGroup, context_settings=CONTEXT, epilog=EPILOG)
@click.version_option(package_name=DISTRIBUTION, prog_name="reconciler")
def cli() -> None:
    """Assistants as code: plan and apply OpenAI assistants (Assistants API v1) from YAML manifests."""
    setup_logging()


@cli.command(short_help="Check every manifest offline (no API calls).")
@dir_option
@env_option
@click.option(
    "--agents-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Agent manifests to check too [default: agents/ beside --dir, when it exists].",
)
def validate(directory: Path, env: str | None, agents_dir: Path | None) -> None:
    """Check every manifest offline; print all errors as FILE:LINE:COL: FIELD: message. Agent manifests
    (agents/ beside --dir, or --agents-dir) are checked too; a field holding the API key is an error, as
    in plan. With reconciler.yaml, every environment's merged manifests (only NAME's with --env NAME).

    \b
    Example:
      reconciler validate --dir assistants
    """
    from reconciler.cli_options import all_targets
    from reconciler.usecases import validating

    targets = all_targets(env, directory)
    agents = validating.agents_directory(directory, agents_dir)
    if targets:
        validating.validate_environments(targets, agents_dir)
        return
    validating.validate(directory, agents)


@cli.command(short_help="Print the JSON Schema of a manifest.")
@kind_option("assistant (assistants/) or agent (agents/) manifests.")
def schema(kind: str) -> None:
    """Print the JSON Schema of a manifest (for yaml-language-server and editors).

    \b
    Example:
      reconciler schema > schema/manifest.json
      reconciler schema --kind agent > schema/agent.json
    """
    import json

    from reconciler.manifest import agent_model, json_schema

    document = agent_model.json_schema() if kind == "agent" else json_schema()
    click.echo(json.dumps(document, indent=2, sort_keys=False))


@cli.command(short_help="Show what apply would change, without changing anything.")
@dir_option
@connection_options
@plan_options("plan")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(PLAN_FORMATS)),
    default="text",
    show_default=True,
    help="text for people, markdown for pull-request comments, json for programs.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also save the plan to FILE (a new path, or an earlier saved plan), for `reconciler apply FILE`.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 without changes, 2 with changes, 1 on error.")
@click.option("--no-color", is_flag=True, help="Never colour the output.")
@env_option
@click.option(
    "--all-envs", is_flag=True, help="Plan every environment of reconciler.yaml, in order, as one document."
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="With --all-envs: also save each environment's plan as DIR/ENV.json.",
)
def plan(
    directory: Path,
    connection: ConnectionOptions,
    planning: PlanOptions,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    no_color: bool,
    env: str | None,
    all_envs: bool,
    out_dir: Path | None,
) -> None:
    """Show what apply would change, without changing anything.

    \b
    Example:
      reconciler plan --out plan.json && reconciler apply plan.json
    """
    from reconciler.usecases.planning import emit_plan, run_plan

    options = planning
    if out_dir is not None and not all_envs:
        raise ConfigError("--out-dir belongs to --all-envs: for one plan, use --out FILE")
    if all_envs:
        changes = _plan_all_envs(
            env, directory, connection, options, (fmt, out, out_dir, use_color(no_color))
        )
        if detailed_exitcode and changes:
            sys.exit(2)
        return
    target = target_from(env, directory, connection)
    if not connection.local:
        check_api_key(target.connection.key_variable)
    options = replace(options, environment=target.selected, fingerprints=out is not None)
    result = run(run_plan(target.directory, target.connection, options))
    emit_plan(result, target.connection, fmt=fmt, out=out, color=use_color(no_color))
    if detailed_exitcode and result.has_changes:
        sys.exit(2)


def _plan_all_envs(
    env: str | None,
    directory: Path,
    connection: ConnectionOptions,
    options: PlanOptions,
    output: tuple[str, Path | None, Path | None, bool],
) -> bool:
    """`plan --all-envs`: every environment's plan as one document; True when any has changes."""
    from reconciler.cli_options import all_targets
    from reconciler.usecases import environments

    fmt, out, out_dir, color = output
    if env is not None or out is not None or fmt == "json":
        raise ConfigError(
            "--all-envs plans every environment: no --env; --out-dir DIR (one ENV.json each), not --out; "
            "--format text or markdown"
        )
    targets = all_targets(None, directory, connection)
    if not targets:
        raise ConfigError("--all-envs: no reconciler.yaml at the repository root names environments")
    for target in targets:
        if not target.connection.local:
            check_api_key(target.connection.key_variable)
    plans = run(environments.plan_all(targets, replace(options, fingerprints=out_dir is not None)))
    environments.emit_all(plans, fmt=fmt, out_dir=out_dir, color=color)
    return any(plan.has_changes for _, plan in plans)


@cli.command(short_help="Make the API match the manifests, or apply a saved plan.")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@dir_option
@connection_options
@plan_options("apply")
@apply_options
@env_option
def apply(
    plan_file: Path | None,
    directory: Path,
    connection: ConnectionOptions,
    planning: PlanOptions,
    options: ApplyOptions,
    env: str | None,
) -> None:
    """Make the API match the manifests, or run exactly the saved PLAN_FILE (made by `plan --out`).

    \b
    Example:
      reconciler apply --auto-approve
    """
    from reconciler.usecases import applying

    target = target_from(env, directory, connection)
    connection = target.connection
    options = replace(options, protect_drift=options.protect_drift or target.protect_drift)
    if plan_file is not None:
        _refuse_with_a_saved_plan(planning)
    if not connection.local:
        check_api_key(connection.key_variable)
    if plan_file is not None:
        ok = run(applying.apply_saved(plan_file, connection, options))
    else:
        planning = replace(planning, environment=target.selected)
        ok = run(applying.apply_manifests(target.directory, connection, planning, options))
    if not ok:
        sys.exit(1)


def _refuse_with_a_saved_plan(planning: PlanOptions) -> None:
    """A saved plan is applied exactly as it was made: planning options are refused with it."""
    if explicit("model_rules"):
        raise ConfigError(
            "a saved plan is applied exactly as it was made: --model-rules belongs to `reconciler plan`"
        )
    if planning != PlanOptions():
        raise ConfigError(
            "a saved plan is applied exactly as it was made: --target, --prune and "
            "--allow-duplicate-names belong to `reconciler plan`"
        )
    if explicit("directory"):
        raise ConfigError(
            "a saved plan is applied exactly as it was made: --dir belongs to `reconciler plan` (the "
            "manifests were read then)"
        )


@cli.command(name="import", short_help="Write manifests for existing unmanaged assistants (or agents).")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "import_all", is_flag=True, help="Import every unmanaged assistant (or agent).")
@kind_option("What to import: assistants into --dir, or saved agents into agents/ beside it.")
@dir_option
@connection_options
@env_option
@click.option("--force", is_flag=True, help="Overwrite existing manifest files.")
@click.option(
    "--instructions-files",
    is_flag=True,
    help="Write long instructions to a sibling .md file referenced by instructions_file.",
)
def import_(
    ids: tuple[str, ...],
    import_all: bool,
    directory: Path,
    connection: ConnectionOptions,
    env: str | None,
    force: bool,
    instructions_files: bool,
    kind: str,
) -> None:
    """Write a manifest for each unmanaged assistant ID (asst_...) or, with --all, for every one, so the
    next plan adopts them. With --kind agent, the same for saved agents, into agents/ beside --dir.

    \b
    Example:
      reconciler import asst_abc123
      reconciler import --kind agent --all
    """
    from reconciler.usecases.importing import import_directory, run_import

    target = target_from(env, directory, connection)
    options = ImportOptions(
        directory=import_directory(target.directory, kind),
        kind=kind,
        ids=ids,
        import_all=import_all,
        force=force,
        instructions_files=instructions_files,
    )
    if not connection.local:
        check_api_key(target.connection.key_variable)
    run(run_import(target.connection, options))


@cli.command(short_help="Keep edits made outside reconciler: write them into the manifests.")
@click.argument("keys", nargs=-1, metavar="[KEY]...")
@dir_option
@connection_options
@env_option
def accept(keys: tuple[str, ...], directory: Path, connection: ConnectionOptions, env: str | None) -> None:
    """Rewrite the manifests from the server's current values of the fields edited outside reconciler since
    the last apply (only the assistants KEY... when given), keeping comments and layout. Overridden fields
    are written in the environment's override, the others in the base manifest (docs/drift.md).

    \b
    Example:
      reconciler accept --env production hr-helper
    """
    from reconciler.usecases.accepting import run_accept

    target = target_from(env, directory, connection)
    if not connection.local:
        check_api_key(target.connection.key_variable)
    options = PlanOptions(targets=keys, environment=target.selected)
    run(run_accept(target.directory, target.connection, options))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH]...")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 listing files that would change.")
@dir_option
def fmt(paths: tuple[Path, ...], check: bool, directory: Path) -> None:
    """Rewrite manifests into the canonical layout, keeping comments: each PATH (a manifest or a directory
    of them), or --dir and the agents/ beside it.

    \b
    Example:
      reconciler fmt --check
    """
    from reconciler import formatter
    from reconciler.manifest.listing import has_manifests
    from reconciler.usecases.validating import agents_directory

    if not paths:
        agents = agents_directory(directory, None)
        paths = (directory,) if agents is None else (directory, agents)
        if agents is not None and not has_manifests(directory):
            paths = (agents,)  # a repository of saved agents alone
    if not formatter.run_fmt(paths, check=check):
        sys.exit(1)


@cli.command(short_help="Write agent manifests from assistant manifests.")
@click.argument("keys", nargs=-1, metavar="[KEY]...")
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DIRECTORY,
    show_default=True,
    help="The assistant manifests.",
)
@click.option(
    "--to",
    "target",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the agent manifests [default: agents/ beside --from].",
)
@click.option("--accept-loss", is_flag=True, help="Write them even when something cannot be carried over.")
@click.option("--force", is_flag=True, help="Overwrite agent manifests that exist with other content.")
@click.option(
    "--report", type=click.Path(path_type=Path, dir_okay=False), help="Also write the loss report to FILE."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="The loss report: text, or markdown for the pull request.",
)
def migrate(
    keys: tuple[str, ...],
    source: Path,
    target: Path | None,
    accept_loss: bool,
    force: bool,
    report: Path | None,
    fmt: str,
) -> None:
    """Write an agent manifest for each assistant manifest (or each KEY), and print the loss report. A
    lossy migration writes nothing without --accept-loss. The assistant manifests are left as they are.

    \b
    Example:
      reconciler migrate --format markdown --report migration.md --accept-loss
    """
    from reconciler.usecases import migrating

    options = migrating.MigrateOptions(
        source=source,
        target=target or migrating.default_target(source),
        keys=keys,
        accept_loss=accept_loss,
        force=force,
        report=report,
        format="markdown" if fmt == "markdown" else "text",
    )
    migrating.run_migrate(options)


@cli.command(short_help="Serve the v1 API on loopback (a sandbox, with fault injection).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free one)."
)
@click.option(
    "--db", type=click.Path(path_type=Path, dir_okay=False), help="SQLite file (default: in memory)."
)
@click.option(
    "--api-key",
    envvar="RECONCILER_EMULATOR_API_KEY",
    callback=bearer_key,
    help="Accept only this bearer key.",
)
@click.option("--latency-ms", type=FiniteFloatRange(0), default=0.0, help="Delay added to every response.")
@click.option(
    "--fail-rate", type=FiniteFloatRange(0, 1), default=0.0, help="Share of requests answered 500/503."
)
@click.option("--rate-limit-rps", type=FiniteFloatRange(0), default=0.0, help="Answer 429 above this rate.")
@click.option(
    "--drop-rate", type=FiniteFloatRange(0, 1), default=0.0, help="Share of writes committed, then dropped."
)
@click.option(
    "--commit-delay-ms",
    type=FiniteFloatRange(0),
    default=0.0,
    help="With --drop-rate: commit a dropped write this long after the connection closes.",
)
@click.option("--seed", type=int, default=None, help="Seed for deterministic fault injection.")
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
    """Serve the Assistants v1 API on loopback, with optional fault injection.

    \b
    Example:
      reconciler emulator --port 8080 --db sandbox.sqlite3
    """
    try:
        from reconciler.emulator.faults import FaultConfig
        from reconciler.emulator.server import serve
    except ImportError as err:
        from reconciler.connection import emulator_missing

        raise emulator_missing(err, "reconciler emulator") from None

    if db is not None:
        from reconciler.connection import check_state_file

        check_state_file(db)
    gc.set_threshold(*SERVER_GC_THRESHOLDS)
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
