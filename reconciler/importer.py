"""`reconciler import`: write manifests for existing unmanaged assistants (or, with `--kind agent`, saved
agents: the same contract, their fields, into the agents directory), so the next plan adopts them.

Contract:

- One list of every assistant (one call per 100), nothing else: no per-assistant reads, no writes to the API.
- Picks the unmanaged assistants named by `ids` (each must exist: unknown ids are one error naming them all;
  managed ones are skipped with a note on stderr) or, with `import_all`, every unmanaged assistant.
- Writes one manifest per assistant into `directory` (created if missing) in the canonical layout of
  `reconciler.layout` (so `reconciler fmt --check` is clean), carrying `key:` and `id:`. The key, which is
  also the file's stem, is the name slugged (`slug`); an assistant without a usable name gets its id. A key
  taken by an existing manifest or file, by a managed assistant on the server, or by an earlier assistant of
  the same import (oldest first), gets a `-2`, `-3`... suffix. An assistant already adopted by a manifest
  (`id:`) is written back to that manifest.
- With `instructions_files`, instructions over `LONG_LINES` lines or `LONG_CHARS` characters go to a sibling
  `<key>.md` named by `instructions_file` (the text plus the final newline a text file has; the manifest
  loader reads exactly the text back).
- Never overwrites an existing file unless `force`: every target is checked before anything is written,
  and the error names each existing file.
- The ownership marker and other reserved metadata keys are left out (the plan adds the marker); sampling
  fields appear only when they differ from the API defaults.
- Refuses (nothing written) every selected assistant whose fields hold the API key, in any letter case (a
  file name is the name lower-cased), as `plan` refuses a manifest holding it: the key would be committed.
- Output: one `wrote FILE` line per file on stdout and a summary line; notes and warnings on stderr.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from reconciler import dialect, fsio, layout
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.kinds import AGENT, ASSISTANT, Kind, kind_named
from reconciler.redact import secret_forms

if TYPE_CHECKING:
    from reconciler.client import Client
    from reconciler.options import ImportOptions
    from reconciler.remote import Remote

#: Instructions with more lines than this, or more characters than `LONG_CHARS`, go to a `.md` file
#: with `--instructions-files`.
LONG_LINES = 10
LONG_CHARS = 1000
#: The longest key (the manifest key pattern allows 63 characters).
MAX_KEY = 63
MANIFEST_SUFFIX = ".yaml"
INSTRUCTIONS_SUFFIX = ".md"
#: The modeline of an agent manifest (`schema/agent.json`).
AGENT_MODELINE = layout.MODELINE.replace("manifest.json", "agent.json")
#: A key is taken when a file with its stem and one of these suffixes exists.
OWN_SUFFIXES = (".yaml", ".yml", INSTRUCTIONS_SUFFIX)


@dataclass(frozen=True)
class ExistingManifest:
    """What import needs to know about a manifest already in the directory."""

    key: str
    path: Path
    id: str | None = None
    #: The assistant name the manifest asks for (None: none).
    name: str | None = None


@dataclass(frozen=True)
class Output:
    """One file import writes."""

    path: Path
    content: bytes


@dataclass(frozen=True)
class Imported:
    """One assistant as it will be written: its key and files."""

    key: str
    assistant_id: str
    name: str | None
    manifest: Output
    instructions: Output | None = None
    warnings: tuple[str, ...] = ()

    @property
    def outputs(self) -> tuple[Output, ...]:
        return (self.manifest,) if self.instructions is None else (self.manifest, self.instructions)


@dataclass
class ImportPlan:
    """What an import would write, and what it skips (with the reason shown to the user)."""

    imported: list[Imported] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------- keys


def slug(text: str) -> str:
    """`text` as a key (`^[a-z0-9][a-z0-9._-]{0,62}$`), or "" when nothing usable is left: accents dropped,
    lowercase, every run of other characters a single `-`, leading and trailing punctuation trimmed,
    at most `MAX_KEY` characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    out = re.sub(r"[^a-z0-9._-]+", "-", ascii_text)
    out = re.sub(r"-{2,}", "-", out)
    out = out.lstrip("._-")[:MAX_KEY].rstrip("._-")
    return out if dialect.is_key(out) else ""


def key_for(assistant: Remote, kind: Kind = ASSISTANT) -> str:
    """The base key of an object: its name slugged, else its id slugged."""
    base = slug(assistant.name) if assistant.name is not None else ""
    return base or slug(assistant.id) or kind.name


def with_suffix(base: str, number: int) -> str:
    """`base-N` (N ≥ 2), cut so the result is still a valid key; `base` itself for N = 1."""
    if number <= 1:
        return base
    suffix = f"-{number}"
    return base[: MAX_KEY - len(suffix)].rstrip("._-") + suffix


# ------------------------------------------------------------------------------------------------- content


def manifest_fields(assistant: Remote, key: str, kind: Kind = ASSISTANT) -> tuple[dict[str, Any], list[str]]:
    """The manifest fields for an API object of `kind` (in `layout.ORDER`), and warnings about what could
    not be kept. Defaults are left out (by `layout.manifest_document`, or here for an agent's own fields);
    reserved metadata keys are dropped."""
    warnings: list[str] = []
    fields: dict[str, Any] = {"key": key, "id": assistant.id}
    state = kind.normalise(assistant) if kind is not ASSISTANT else None
    for name in kind.fields:
        value = getattr(assistant, name)
        if state is not None and name != "metadata":  # an agent: its normal form, without its defaults
            if name != "model" and dialect.canonical_json(state[name]) == dialect.canonical_json(
                kind.defaults.get(name)
            ):
                continue
            value = [_agent_tool(t) for t in state[name]] if name == "tools" else state[name]
        elif name == "tools":
            value = [_tool(t) for t in value]
        elif name == "file_ids":
            value = list(value)
        elif name == "metadata":
            metadata = dict(value or {})
            reserved = sorted(k for k in metadata if dialect.is_reserved_metadata_key(k))
            for k in reserved:
                del metadata[k]
            if reserved:
                warnings.append(
                    f"metadata {', '.join(repr(k) for k in reserved)} left out (reserved for reconciler); "
                    "the plan will remove it"
                )
            taken = (
                "the ownership marker and the drift entry take two" if kind.drift else "the marker takes one"
            )
            limit = kind.max_metadata_pairs - (2 if kind.drift else 1)
            if len(metadata) > limit:
                warnings.append(
                    f"{len(metadata)} metadata pairs, but a manifest may set at most {limit} ({taken} of the "
                    f"{kind.max_metadata_pairs}): remove some before planning"
                )
            value = metadata
        fields[name] = value
    return fields, warnings


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool as a manifest writes it: function `description`/`parameters` only when set."""
    out = dict(tool)
    if out.get("type") == "function" and isinstance(out.get("function"), Mapping):
        out["function"] = {k: v for k, v in out["function"].items() if v is not None}
    return out


def _agent_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """An agent's tool as a manifest writes it: the fields that read back null left out."""
    return {k: v for k, v in tool.items() if v is not None}


def is_long(text: str) -> bool:
    """True for instructions that `--instructions-files` moves to a file."""
    return len(text) > LONG_CHARS or text.count("\n") + 1 > LONG_LINES


def fits_instructions_file(text: str) -> bool:
    """True when an instructions file reads back as exactly `text` (the loader turns `\\r\\n` into `\\n` and
    drops a byte order mark)."""
    return "\r" not in text and not text.startswith("\ufeff")


def render(
    assistant: Remote,
    key: str,
    directory: Path,
    *,
    instructions_files: bool,
    path: Path | None = None,
    kind: Kind = ASSISTANT,
) -> Imported:
    """The files one object of `kind` is written to (nothing is written here): `path` (default
    `directory/<key>.yaml`) and maybe `directory/<key>.md`."""
    fields, warnings = manifest_fields(assistant, key, kind)
    instructions = fields.get("instructions")
    md: Output | None = None
    if instructions_files and isinstance(instructions, str) and is_long(instructions):
        if fits_instructions_file(instructions):
            md_name = key + INSTRUCTIONS_SUFFIX
            md = Output(directory / md_name, (instructions + "\n").encode("utf-8"))
            fields = {("instructions_file" if k == "instructions" else k): v for k, v in fields.items()}
            fields["instructions_file"] = md_name
        else:
            bom = instructions.startswith("\ufeff")
            what = "start with a byte order mark" if bom else "contain carriage returns"
            warnings.append(
                f"instructions {what}: kept inline, as an instructions file would not read back exactly"
            )
    text = layout.render_manifest(fields)
    if kind is AGENT:  # its own schema, as `reconciler fmt` writes it for agents/
        text = text.replace(layout.MODELINE, AGENT_MODELINE, 1)
    return Imported(
        key=key,
        assistant_id=assistant.id,
        name=assistant.name,
        manifest=Output(path or directory / (key + MANIFEST_SUFFIX), text.encode("utf-8")),
        instructions=md,
        warnings=tuple(warnings),
    )


# ------------------------------------------------------------------------------------------------- planning


def plan_import(
    assistants: Sequence[Remote],
    *,
    ids: Iterable[str],
    import_all: bool,
    directory: Path,
    existing: Sequence[ExistingManifest],
    taken_names: Iterable[str] = (),
    instructions_files: bool = False,
    kind: Kind = ASSISTANT,
) -> ImportPlan:
    """Decide what to write for `assistants` (as listed, oldest first). Pure: reads and writes nothing.

    `existing` are the manifests already in `directory`; `taken_names` the lowercased names of every file
    there (a key whose `.yaml`, `.yml` or `.md` file exists is taken). The selection was checked before
    (`check_options`). Raises ReconcilerError for unknown ids.
    """
    result = ImportPlan()
    picked = _select(assistants, list(dict.fromkeys(ids)), import_all, result.notes, kind)
    adopted = {m.id: m for m in existing if m.id}
    _refuse_wanted_names(picked, existing, assistants, adopted)
    per_file: dict[str, int] = {}
    for m in existing:
        per_file[m.path.name] = per_file.get(m.path.name, 0) + 1
    taken = {m.key for m in existing} | {
        name.rsplit(".", 1)[0] for name in (n.lower() for n in taken_names) if name.endswith(OWN_SUFFIXES)
    }
    taken |= {marker for marker in map(dialect.marker_of, assistants) if marker is not None}
    used: set[str] = set()
    for assistant in picked:
        aid = assistant.id
        previous = adopted.get(aid)
        path: Path | None = None
        if previous is not None:
            key = previous.key
            if per_file[previous.path.name] > 1:
                raise ReconcilerError(
                    f"{aid} is already imported as '{key}' in {previous.path}, which holds other manifests "
                    "too: edit it by hand"
                )
            path = directory / previous.path.name
            result.notes.append(f"{aid} is already imported as '{key}' in {previous.path}")
        else:
            base = key_for(assistant, kind)
            number = 1
            while True:
                key = with_suffix(base, number)
                if key not in taken and key not in used:
                    break
                number += 1
        used.add(key)
        result.imported.append(
            render(assistant, key, directory, instructions_files=instructions_files, path=path, kind=kind)
        )
    return result


def _select(
    assistants: Sequence[Remote], wanted: list[str], import_all: bool, notes: list[str], kind: Kind
) -> list[Remote]:
    """The unmanaged assistants among `wanted` ids (all of them with `import_all`), noting the managed
    ones skipped; ReconcilerError naming every unknown id."""
    by_id = {a.id: a for a in assistants}
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        noun = "id" if len(unknown) == 1 else "ids"
        other = next(k for k in (ASSISTANT, AGENT) if k is not kind)
        raise ReconcilerError(
            f"unknown {kind.name} {noun} {', '.join(unknown)} (not among the {len(assistants)} "
            f"{kind.plural} listed; for {other.plural}, pass --kind {other.name})"
        )
    picked: list[Remote] = []
    for assistant in [by_id[i] for i in wanted] if wanted else list(assistants):
        marker = dialect.marker_of(assistant)
        if marker is None:
            picked.append(assistant)
        elif wanted:
            notes.append(f"{assistant.id} is already managed (key '{marker}'), skipped")
    managed = sum(1 for a in assistants if dialect.marker_of(a) is not None)
    if import_all and managed:
        notes.append(f"{managed} managed {kind.noun(managed)} skipped")
    return picked


def _refuse_wanted_names(
    picked: Sequence[Remote],
    existing: Sequence[ExistingManifest],
    assistants: Sequence[Remote],
    adopted: Mapping[str, ExistingManifest],
) -> None:
    """Raise ReconcilerError (a line per assistant) when a picked assistant has the name a manifest without
    `id:` and without a managed assistant asks for: importing it would write a second manifest for it, and
    the plan would then create a duplicate. The advice is the `id:` line that adopts it in that manifest."""
    managed = {dialect.marker_of(a) for a in assistants} - {None}
    wanting = {m.name: m for m in existing if m.name and not m.id and m.key not in managed}
    problems = []
    for assistant in picked:
        aid = assistant.id
        manifest = wanting.get(assistant.name) if assistant.name is not None else None
        if manifest is not None and aid not in adopted:
            problems.append(
                f"{aid} is named {manifest.name!r}, which {manifest.path} (key '{manifest.key}') already "
                f"describes: add `id: {aid}` to {manifest.path} to adopt it there instead of importing it"
            )
    if problems:
        raise ReconcilerError("\n".join(problems))


# ------------------------------------------------------------------------------------------------- running


def existing_manifests(
    directory: Path, kind: Kind = ASSISTANT
) -> tuple[list[ExistingManifest], list[str], int]:
    """The manifests of `kind` in `directory` (with their `id:`), the names of all files there, and the
    number of manifests with errors (their files still count as taken)."""
    if not directory.is_dir():
        return [], [], 0
    from reconciler.manifest import load_agents, load_directory

    loaded: Any = load_agents(directory) if kind is AGENT else load_directory(directory)
    manifests = [
        ExistingManifest(
            key=m.key, path=m.path, id=getattr(m.manifest, "id", None), name=getattr(m.manifest, "name", None)
        )
        for m in loaded.manifests
    ]
    names = [p.name for p in directory.iterdir()]
    bad_files = {e.path for e in loaded.errors if e.path.endswith((".yaml", ".yml"))}
    return manifests, names, len(bad_files)


def check_targets(plan: ImportPlan, *, force: bool) -> None:
    """Raise ReconcilerError naming every target that exists (unless `force`)."""
    if force:
        return
    existing = [out.path for item in plan.imported for out in item.outputs if _exists(out.path)]
    if existing:
        noun = "file" if len(existing) == 1 else "files"
        raise ReconcilerError(
            f"refusing to overwrite {len(existing)} existing {noun}: "
            f"{', '.join(str(p) for p in existing)} (use --force to overwrite)"
        )


def _exists(path: Path) -> bool:
    """True when `path` exists, also under another case (case-insensitive file systems)."""
    if path.exists():
        return True
    try:
        return path.name.lower() in {p.name.lower() for p in path.parent.iterdir()}
    except OSError:
        return False


def check_options(options: ImportOptions) -> None:
    """Raise ConfigError for options no import can satisfy (checked before connecting)."""
    kind = kind_named(options.kind)
    example = " (asst_...)" if kind is ASSISTANT else ""
    if not options.ids and not options.import_all:
        raise ConfigError(f"nothing to import: give {kind.name} ids{example} or --all")
    if options.ids and options.import_all:
        raise ConfigError(f"give {kind.name} ids or --all, not both")
    if options.directory.exists() and not options.directory.is_dir():
        raise ConfigError(f"{options.directory} is not a directory")


def refuse_secrets(
    plan: ImportPlan, listed: Sequence[Remote], secret: str | None, variable: str, kind: Kind = ASSISTANT
) -> None:
    """Raise ReconcilerError, a line per imported object whose fields hold `secret` in any letter case, or,
    for a saved agent, a credential the agent model refuses (`manifest.secrets`: a credential header, a
    token-like value), naming the id and fields, never the secret: the manifest would carry it into the
    repository."""
    from reconciler.manifest.errors import format_field_path
    from reconciler.manifest.secrets import first_secret

    forms = [form.lower() for form in secret_forms(secret)] if secret else []
    by_id = {a.id: a for a in listed}
    errors = []
    for item in plan.imported:
        fields, _ = manifest_fields(by_id[item.assistant_id], item.key, kind)
        found = first_secret(fields) if kind is AGENT else None
        if found is not None:
            path, problem, _ = found
            errors.append(f"{item.assistant_id}: {format_field_path(path)}: {problem}: not imported")
        held = [
            name
            for name, value in fields.items()
            if name != "key" and any(form in dialect.canonical_json(value).lower() for form in forms)
        ]
        if held:
            errors.append(
                f"{item.assistant_id}: {', '.join(held)} {'holds' if len(held) == 1 else 'hold'} the API key "
                f"(the value of {variable}): not imported, remove it from the {kind.name} first"
            )
    if errors:
        raise ReconcilerError("\n".join(errors))


async def run_import(
    client: Client,
    options: ImportOptions,
    out: TextIO,
    err: TextIO,
    secret: tuple[str | None, str] = (None, "OPENAI_API_KEY"),
) -> ImportPlan:
    """List the assistants once, decide (`plan_import`), check every target (`check_targets`) and refuse
    any assistant holding the key (`refuse_secrets`; `secret` is the key and its variable), then write.

    Raises ConfigError / ReconcilerError (nothing written) for bad options, unknown ids, existing files
    without `force`, assistants holding the key, or API failures. Returns what was written.
    """
    check_options(options)
    kind = kind_named(options.kind)
    directory = options.directory
    existing, names, bad = existing_manifests(directory, kind)
    listed = await client.list_objects(kind)
    plan = plan_import(
        listed,
        ids=options.ids,
        import_all=options.import_all,
        directory=directory,
        existing=existing,
        taken_names=names,
        instructions_files=options.instructions_files,
        kind=kind,
    )
    for note in plan.notes:
        print(f"note: {note}", file=err)
    if bad:
        noun = "file has" if bad == 1 else "files have"
        print(f"note: {bad} {noun} errors in {directory} (see reconciler validate)", file=err)
    if not plan.imported:
        print(f"Nothing to import: no unmanaged {kind.plural} selected.", file=out)
        return plan
    refuse_secrets(plan, listed, *secret, kind)
    check_targets(plan, force=options.force)
    write(plan, directory, out, err, kind)
    return plan


def write(plan: ImportPlan, directory: Path, out: TextIO, err: TextIO, kind: Kind = ASSISTANT) -> None:
    """Write every file of `plan` into `directory` (created if missing), with a line for each."""
    directory.mkdir(parents=True, exist_ok=True)
    files = 0
    for item in plan.imported:
        for output in item.outputs:
            try:
                fsio.write_atomic(output.path, output.content)
            except OSError as error:
                raise ReconcilerError(f"cannot write {output.path}: {error.strerror or error}") from None
            files += 1
            # The name as a JSON string: a server's name holding a line break would print a line of its own.
            name = json.dumps(item.name, ensure_ascii=False)
            label = f"{item.assistant_id} {name}" if item.name is not None else item.assistant_id
            what = label if output is item.manifest else f"instructions of {item.key}"
            print(f"wrote {output.path} ({what})", file=out)
        for warning in item.warnings:
            print(f"warning: {item.manifest.path}: {warning}", file=err)
    count = len(plan.imported)
    print(
        f"Imported {count} {kind.noun(count)} into {directory} ({files} file{'' if files == 1 else 's'}). "
        "Run `reconciler plan` to adopt them (it adds the ownership marker).",
        file=out,
    )
