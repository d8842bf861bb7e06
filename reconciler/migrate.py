"""Assistant manifest → agent manifest: the pure conversion behind `reconciler migrate` (docs/migrate.md).

`convert` maps one loaded assistant manifest to the text of an agent manifest and its losses; `render_text`
and `render_markdown` print the loss report. Nothing here reads or writes files (the instructions of an
`instructions_file` stay in that file: the agent manifest names it by its path from the agents directory).

The mapping is `agents_facts.V1_FIELDS` / `V1_TOOLS` (docs/agents-api.md §9). Each entry of the report has a
level: `total` (dropped), `partial` (kept in another form, or shortened) or `note` (kept, but read this).
Only `total` and `partial` entries make a migration lossy (`--accept-loss`). Decisions of reconciler's own:

- `description` goes to the metadata entry `description` when metadata has a free pair and no such key
  (partial), else it is dropped (total).
- A `name` over `agent_dialect.MAX_NAME` characters is cut to that length (partial).
- A function without `description` gets `""`, one without `parameters` an empty object schema (notes: the
  API requires both; whether it takes them empty is not documented).
- An `id:` (adoption) is not carried: the agent is a new object, matched by key (note).
- Every migrated file starts with a comment naming its source manifest and saying that its instructions are
  appended to the agent's base instructions rather than being the whole system prompt.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from reconciler import agent_dialect, agents_facts, dialect, layout
from reconciler.manifest import LoadedManifest, format_field_path
from reconciler.manifest.agent_model import AgentManifest
from reconciler.manifest.model import MAX_USER_METADATA_PAIRS

Level = Literal["total", "partial", "note"]

#: The modeline of an agent manifest in `agents/` (the schema `reconciler schema --kind agent` prints).
AGENT_MODELINE = "yaml-language-server: $schema=../schema/agent.json"
INSTRUCTIONS_NOTE = "appended to the agent's default base instructions"
#: The second line of every migrated file.
HEADER_NOTE = f"Its instructions are {INSTRUCTIONS_NOTE}: they are not the whole system prompt."
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}

#: Report entries follow the assistant manifest's field order.
_ORDER = {name: index for index, name in enumerate(layout.ORDER)}
_NOTES = {m.source: m.note for m in (*agents_facts.V1_FIELDS, *agents_facts.V1_TOOLS)}


@dataclass(frozen=True)
class Loss:
    """One line of the loss report: the assistant `field`, its `level`, `what` happens and `why`."""

    field: str
    level: Level
    what: str
    why: str


@dataclass(frozen=True)
class Migrated:
    """One assistant manifest converted: its key, source and target paths, the agent manifest's text."""

    key: str
    source: str
    target: Path
    text: str
    losses: tuple[Loss, ...]
    #: Why the agent manifest would not validate (a secret in the instructions, say): it is then not written.
    errors: tuple[str, ...] = ()

    @property
    def lossy(self) -> tuple[Loss, ...]:
        """The entries that need `--accept-loss` (everything but notes)."""
        return tuple(loss for loss in self.losses if loss.level != "note")


def convert(loaded: LoadedManifest, to: Path) -> Migrated:
    """The agent manifest (in directory `to`, as `<key>.yaml`) for an assistant manifest, and its losses."""
    fields = loaded.api_fields()
    out: dict[str, Any] = {}
    losses: list[Loss] = []
    _name(fields.get("name"), out, losses)
    out["model"] = fields["model"]
    losses.append(Loss("model", "note", f"kept as '{fields['model']}'", _NOTES["model"].rpartition("; ")[2]))
    _instructions(loaded, fields, to, out, losses)
    out["tools"] = _tools(fields.get("tools") or [], losses)
    metadata = dict(fields.get("metadata") or {})
    _description(fields.get("description"), metadata, losses)
    out["metadata"] = metadata
    _dropped(loaded, fields, losses)
    target = to / f"{loaded.key}.yaml"
    text = render_manifest(out, str(loaded.path))
    losses.sort(key=lambda loss: _ORDER.get(loss.field.split("[")[0], len(_ORDER)))
    return Migrated(loaded.key, str(loaded.path), target, text, tuple(losses), _problems(out))


def _problems(fields: dict[str, Any]) -> tuple[str, ...]:
    """What the agent model refuses in the converted fields, as `FIELD: message` lines."""
    try:
        AgentManifest.model_validate(fields)
    except ValidationError as err:
        return tuple(
            f"{format_field_path((*e['loc'], *(e.get('ctx') or {}).get('subpath', ())))}: {e['msg']}"
            for e in err.errors()
        )
    return ()


def _name(name: str | None, out: dict[str, Any], losses: list[Loss]) -> None:
    if name is None:
        return
    if len(name) > agent_dialect.MAX_NAME:
        losses.append(
            Loss(
                "name",
                "partial",
                f"cut to its first {agent_dialect.MAX_NAME} characters (it has {len(name)})",
                _NOTES["name"],
            )
        )
        name = name[: agent_dialect.MAX_NAME]
    out["name"] = name


def _instructions(
    loaded: LoadedManifest, fields: dict[str, Any], to: Path, out: dict[str, Any], losses: list[Loss]
) -> None:
    """The instructions as written (or the `instructions_file`, named from `to`), and the note saying they
    are now appended to the agent's base instructions."""
    named = loaded.manifest.instructions_file
    if named is not None:
        source = loaded.path.parent / named
        out["instructions_file"] = Path(os.path.relpath(source, to)).as_posix()
    elif fields.get("instructions") is not None:
        out["instructions"] = fields["instructions"]
    else:
        return
    why = (
        "an assistant's instructions were its whole system prompt, and the agent's base instructions are "
        "not published"
    )
    losses.append(Loss("instructions", "note", INSTRUCTIONS_NOTE, why))


def _tools(tools: Sequence[dict[str, Any]], losses: list[Loss]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        kind = tool["type"]
        where = f"tools[{index}]"
        if kind != "function":
            losses.append(Loss(f"{where} {kind}", "total", "dropped", _NOTES[kind]))
            continue
        function = tool["function"]
        name = function["name"]
        if "description" not in function:
            why = "agents require a description; whether the API takes an empty one is not documented"
            losses.append(Loss(f"{where} function {name}", "note", 'description written as ""', why))
        if "parameters" not in function:
            why = "agents require parameters; an empty object schema means no arguments, as before"
            losses.append(Loss(f"{where} function {name}", "note", "parameters written as {}", why))
        out.append(
            {
                "type": "function",
                "name": name,
                "description": function.get("description", ""),
                "parameters": function.get("parameters", EMPTY_PARAMETERS),
            }
        )
    return out


def _description(description: str | None, metadata: dict[str, str], losses: list[Loss]) -> None:
    if description is None:
        return
    why = "agents have no description field"
    if "description" not in metadata and len(metadata) < MAX_USER_METADATA_PAIRS:
        metadata["description"] = description
        losses.append(Loss("description", "partial", "kept as metadata.description", why))
    else:
        taken = "has 'description' already" if "description" in metadata else "has no free pair"
        losses.append(Loss("description", "total", "dropped", f"{why}, and metadata {taken}"))


def _dropped(loaded: LoadedManifest, fields: dict[str, Any], losses: list[Loss]) -> None:
    """The fields agents have no place for: file ids, knowledge files, sampling, JSON mode, adoption."""
    if fields.get("file_ids"):
        count = len(fields["file_ids"])
        losses.append(Loss("file_ids", "total", f"dropped ({_count(count, 'file id')})", _NOTES["file_ids"]))
    if loaded.manifest.files:
        count = len(loaded.manifest.files)
        why = "knowledge files belong to environments and sessions, not to agents"
        losses.append(Loss("files", "total", f"dropped ({_count(count, 'file')})", why))
    for name in ("temperature", "top_p"):
        value = fields.get(name)
        if value is not None and dialect.canonical_json(value) != dialect.canonical_json(
            dialect.DEFAULTS[name]
        ):
            losses.append(Loss(name, "total", f"dropped (it is {value:g})", _NOTES[name]))
    response_format = fields.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        why = "an agent's text.format is text or json_schema: there is no JSON mode without a schema"
        losses.append(Loss("response_format", "total", "dropped ({type: json_object})", why))
    if loaded.manifest.id is not None:
        why = "id adopts an existing assistant; the agent is created new and matched by key"
        losses.append(Loss("id", "note", f"not carried ({loaded.manifest.id})", why))


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def render_manifest(fields: dict[str, Any], source: str) -> str:
    """The agent manifest text: the header comment (source, instructions note, modeline), a blank line, then
    the fields in the canonical layout (`reconciler fmt` leaves it as it is)."""
    doc = CommentedMap()
    for name, value in fields.items():
        if name != "model" and layout.is_default(name, value):
            continue
        doc[name] = layout.style_instructions(value) if name == "instructions" else layout.to_node(value)
    header = (
        f"# Migrated from {Path(source).as_posix()} by `reconciler migrate`.\n"
        f"# {HEADER_NOTE}\n"
        f"# {AGENT_MODELINE}\n"
    )
    return header + "\n" + layout.dump(doc)


# --- the report


def _summary(migrated: Sequence[Migrated]) -> str:
    losses = [loss for m in migrated for loss in m.losses]
    total = sum(loss.level == "total" for loss in losses)
    partial = sum(loss.level == "partial" for loss in losses)
    notes = len(losses) - total - partial
    head = _count(len(migrated), "manifest")
    lost = _count(total + partial, "loss", "losses")
    return f"{head}: {lost} ({total} total, {partial} partial), {_count(notes, 'note')}."


def render_text(migrated: Sequence[Migrated]) -> str:
    """The loss report for people: per manifest `SOURCE -> TARGET`, then one line per entry."""
    lines: list[str] = []
    for m in migrated:
        lines.append(f"{m.source} -> {m.target}")
        lines.extend(f"  {loss.field} [{loss.level}]: {loss.what}: {loss.why}" for loss in m.losses)
    lines.append(_summary(migrated))
    return "\n".join(lines) + "\n"


def render_markdown(migrated: Sequence[Migrated]) -> str:
    """The loss report for a pull request: one table of every entry, then the summary."""
    lines = [
        "### Migration from assistants to agents",
        "",
        "| assistant | agent | field | loss | what happens | why |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m in migrated:
        for loss in m.losses:
            cells = (f"`{m.source}`", f"`{m.target}`", f"`{loss.field}`", loss.level, loss.what, loss.why)
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += [
        "",
        f"**{_summary(migrated)}** Each agent's instructions are {INSTRUCTIONS_NOTE}: they are not its whole "
        "system prompt. The assistants stay untouched until they are pruned.",
    ]
    return "\n".join(lines) + "\n"
