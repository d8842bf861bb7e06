"""`reconciler migrate`: assistant manifests → agent manifests, with a loss report (docs/migrate.md).

Contract:

- Loads every assistant manifest of `source` (any error stops, as for `plan`), or only the `keys` named
  (an unknown key is an error naming the keys there are), and converts each (`reconciler.migrate`).
- Prints the loss report on stdout (`text` or `markdown`), and writes it to `report` when given; a report
  path that is a manifest, or a manifest file name in either directory, is refused before anything.
- A converted manifest the agent model refuses (a secret in the instructions, say) stops everything: each
  problem is printed, nothing is written.
- Lossy (a `total` or `partial` entry) without `accept_loss`: writes no manifest and raises (exit 1).
- Writes `<key>.yaml` into `target` (created if missing), atomically. A file that already holds exactly the
  text to write is left alone (re-running is idempotent); any other existing file is refused (every one
  named, nothing written) unless `force`, and so, even with `force`, is a key another agent manifest of
  `target` declares in another file (a duplicate key). What is there is read as a manifest is (a regular
  file only, never a blocking open, at most `MAX_MANIFEST_BYTES`): anything but a regular file (a FIFO, a
  device, a directory) is refused, even with `force`, before anything is written. The written manifests
  are then loaded like `validate` does.
- The assistant manifests are never changed: they stay until the team prunes the assistants.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import click

from reconciler import fsio, migrate
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.manifest.listing import SUFFIXES
from reconciler.manifest.reading import MAX_MANIFEST_BYTES, NotRegularError, read_bounded
from reconciler.migrate import Migrated


@dataclass(frozen=True)
class MigrateOptions:
    """Where to read (`source`) and write (`target`), which `keys` (all when empty), and how."""

    source: Path
    target: Path
    keys: tuple[str, ...] = ()
    accept_loss: bool = False
    force: bool = False
    report: Path | None = None
    format: Literal["text", "markdown"] = "text"


def default_target(source: Path) -> Path:
    """The agents directory beside an assistants directory: `agents/` in the same parent."""
    return source.parent / "agents"


def run_migrate(options: MigrateOptions) -> list[Migrated]:
    """Migrate as `options` say (see the module docstring); returns what was converted."""
    from reconciler.usecases.planning import load_manifests

    if not options.source.exists():
        raise ConfigError(
            f"no {options.source}/ in {Path.cwd()}: run from the repository root or pass --from"
        )
    _check_target(options.target)
    if options.target.resolve() == options.source.resolve():
        raise ConfigError(f"--to {options.target} is the assistants directory: write the agents elsewhere")
    loaded = load_manifests(options.source)
    if options.keys:
        by_key = {m.key: m for m in loaded}
        unknown = [k for k in options.keys if k not in by_key]
        if unknown:
            raise ConfigError(
                f"no assistant manifest with key {', '.join(map(repr, unknown))} in {options.source} "
                f"(keys: {', '.join(sorted(by_key))})"
            )
        loaded = [by_key[k] for k in dict.fromkeys(options.keys)]
    migrated = [migrate.convert(m, options.target) for m in loaded]
    if options.report is not None:
        _check_report(options, [m.path for m in loaded], [m.target for m in migrated])
    _report(migrated, options)
    refused = [f"{m.source}: the agent manifest would not validate: {e}" for m in migrated for e in m.errors]
    if refused:
        for line in refused[:-1]:
            click.echo(line, err=True)
        raise ReconcilerError(refused[-1] + "; nothing written")
    lossy = sum(len(m.lossy) for m in migrated)
    if lossy and not options.accept_loss:
        raise ReconcilerError(
            f"{lossy} lossy {'conversion' if lossy == 1 else 'conversions'} (see the report): nothing "
            "written; rerun with --accept-loss to write the agent manifests"
        )
    _write(migrated, options.force)
    _check_written(options.target)
    return migrated


def _check_target(target: Path) -> None:
    """ConfigError when `target` is there but is not a directory, or cannot be looked at (a loop)."""
    try:
        problem = fsio.not_a_directory(target)
    except OSError as err:
        raise ConfigError(f"--to {target}: {err.strerror or err}") from None
    if problem is not None:
        raise ConfigError(f"--to {target}: {problem}")


def _check_report(options: MigrateOptions, sources: Sequence[Path], targets: Sequence[Path]) -> None:
    """ConfigError when `--report` would replace a manifest, or put a file named like one in either
    directory (the assistant manifests are never changed; the agents directory must stay loadable)."""
    assert options.report is not None
    report = options.report.resolve()
    what = None
    if report in {p.resolve() for p in sources}:
        what = "an assistant manifest"
    elif report in {p.resolve() for p in targets}:
        what = "an agent manifest"
    elif report.suffix in SUFFIXES:
        where = {options.source.resolve(): options.source, options.target.resolve(): options.target}
        if report.parent in where:
            what = f"a manifest file name in {where[report.parent]}"
    if what is not None:
        raise ConfigError(f"--report {options.report} is {what}: write the report elsewhere")


def _report(migrated: Sequence[Migrated], options: MigrateOptions) -> None:
    render = migrate.render_markdown if options.format == "markdown" else migrate.render_text
    text = render(migrated)
    click.echo(text, nl=False)
    if options.report is not None:
        try:
            fsio.write_atomic(options.report, text.encode("utf-8"))
        except OSError as err:
            raise ReconcilerError(
                f"{options.report}: cannot write the report: {err.strerror or err}"
            ) from None


def _write(migrated: Sequence[Migrated], force: bool) -> None:
    """Write each agent manifest, or nothing when one would overwrite a different file without `force`."""
    todo = [m for m in migrated if _current(m.target) != m.text]
    clashes = _declared_elsewhere(todo)
    if clashes:
        for line in clashes[:-1]:
            click.echo(line, err=True)
        raise ReconcilerError(f"{clashes[-1]}; nothing written (rename one of them: a key names one agent)")
    taken = [m for m in todo if os.path.lexists(m.target)]
    if taken and not force:
        named = ", ".join(str(m.target) for m in taken)
        raise ReconcilerError(
            f"{named}: already exists with other content; nothing written (--force overwrites)"
        )
    for m in migrated:
        if m not in todo:
            click.echo(f"unchanged {m.target}", err=True)
            continue
        try:
            m.target.parent.mkdir(parents=True, exist_ok=True)
            fsio.write_atomic(m.target, m.text.encode("utf-8"))
        except OSError as err:
            raise ReconcilerError(f"{m.target}: cannot write it: {err.strerror or err}") from None
        click.echo(f"wrote {m.target} (from {m.source})", err=True)


def _declared_elsewhere(todo: Sequence[Migrated]) -> list[str]:
    """One line per manifest to write whose key an agent manifest in another file of its directory declares
    (writing it would make the directory unloadable: a duplicate key)."""
    from reconciler.manifest import load_agents

    directories = {m.target.parent for m in todo if m.target.parent.is_dir()}
    declared = {m.key: m.path for d in directories for m in load_agents(d).manifests}
    return [
        f"{m.target}: key '{m.key}' is already declared by {declared[m.key]}"
        for m in todo
        if m.key in declared and declared[m.key].resolve() != m.target.resolve()
    ]


def _current(path: Path) -> str | None:
    """The text of the file at `path` (symlinks followed), None when there is none or it cannot be read as
    text; ReconcilerError when it is not a regular file (opening a FIFO would block, `/dev/zero` never end).
    A file over the manifest limit is read only that far: it differs from any text to write."""
    try:
        return read_bounded(path, MAX_MANIFEST_BYTES).decode("utf-8")
    except NotRegularError as err:
        raise ReconcilerError(f"{path}: is {err.kind}, not a manifest file; nothing written") from None
    except (OSError, UnicodeDecodeError):
        return None


def _check_written(target: Path) -> None:
    """Load the agents directory as `validate` does: a migrated manifest that does not load is an error."""
    from reconciler.usecases.validating import load_agent_manifests

    load_agent_manifests(target)
