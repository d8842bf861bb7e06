"""The body of one Change as signed, indented lines, shared by the text and markdown renderers.

A `Line` has a sign (`+` added, `-` removed, `~` changed, ` ` context), a depth (0 = field level) and text.
Only changed fields appear (all non-default ones for a create, name and model for a delete), as
`field = old -> new`; `instructions` appear as unified line diffs (whitespace-only changes made visible),
changed function schemas as one line per changed path; file_ids,
metadata and tools list what was added, removed or changed (file ids from knowledge files by path, see
`render/files.py`). Long values are elided. A changed field that overwrites an edit made outside reconciler
(`Change.drift`) ends its first line with `OVERWRITES`; `drift_lines` lists those edits (docs/drift.md).
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.dialect import canonical_json
from reconciler.drift import Drift, fields_phrase
from reconciler.kinds import DEFAULT, Kind, kind_named
from reconciler.plan import Change, Plan
from reconciler.render.files import file_id_labels

#: A scalar value longer than this (as JSON) is cut, keeping its start and saying how long it was.
MAX_VALUE = 100
#: A single-line text up to this long changes as `old -> new`; longer or multi-line text as a line diff.
INLINE_TEXT = 60
#: Lines of a whole text or JSON block shown for a create or delete before eliding the rest.
MAX_BLOCK_LINES = 40
#: Context lines around each change in a unified diff.
CONTEXT = 3
#: The fields shown as text blocks unless the change's kind says otherwise (`Kind.text_fields`).
TEXT_FIELDS: tuple[str, ...] = ("instructions",)
#: The marker of a text without a final newline, as git shows it.
NO_NEWLINE = "\\ No newline at end of text"
#: The title of the section listing drift, in every rendering.
DRIFT_TITLE = "Changed outside reconciler since the last apply"
#: What ends the line of a changed field whose change overwrites an edit made outside reconciler.
OVERWRITES = "# overwrites an edit made outside reconciler"
#: The two ways to resolve drift, after the drift section.
DRIFT_ADVICE = "Applying overwrites these edits; `reconciler accept` writes them into the manifests instead."


@dataclass(frozen=True)
class Line:
    sign: str
    depth: int
    text: str


def header(change: Change) -> str:
    """`assistant "KEY" (ID) will be ...` (`agent "KEY" ...` for an agent; without the leading `# `)."""
    ident = f" ({change.id})" if change.id else ""
    if change.action == "create":
        verb = "will be created"
    elif change.action == "delete":
        verb = "will be destroyed"
    elif change.adopt:
        verb = "will be adopted (ownership marker added)"
    else:
        verb = "will be updated in-place"
    why = f" ({change.reason})" if change.reason else ""
    return f'{change.kind} "{change.key}"{ident} {verb}{why}'


def action_sign(change: Change) -> str:
    return {"create": "+", "delete": "-", "update": "~"}.get(change.action, " ")


def summary_line(plan: Plan) -> str:
    """`Plan: X to add, Y to change, Z to destroy.`, or, without changes, the no-changes sentence (which
    never claims a match while orphans are listed above it)."""
    if plan.has_changes:
        return f"Plan: {_counts(plan)}."
    if plan.orphans:
        kept = (
            "the orphan above is" if len(plan.orphans) == 1 else f"the {len(plan.orphans)} orphans above are"
        )
        return f"Nothing to apply: every manifest matches; {kept} kept."
    plurals = " and ".join(kind_named(part.kind).plural for part in plan.by_kind)
    return f"No changes. Your {plurals} match the manifests."


def kind_summary_lines(plan: Plan) -> list[str]:
    """With several kinds and changes, one line per kind (`Agents: 1 to add, 0 to change, 0 to destroy.`)."""
    if not plan.parts or not plan.has_changes:
        return []
    return [f"{kind_named(part.kind).title}: {_counts(part)}." for part in plan.parts]


def _counts(plan: Plan) -> str:
    counts = plan.summary
    return f"{counts['create']} to add, {counts['update']} to change, {counts['delete']} to destroy"


def unmanaged_lines(plan: Plan) -> list[str]:
    """A line per kind with unmanaged objects (`unmanaged_line`)."""
    return [unmanaged_line(part.unmanaged, kind_named(part.kind)) for part in plan.by_kind if part.unmanaged]


def unmanaged_line(count: int, kind: Kind = DEFAULT) -> str:
    """The line counting unmanaged objects of `kind`, with the command that brings them under management."""
    them = "it" if count == 1 else "them"
    command = "reconciler import --all" if kind is DEFAULT else f"reconciler import --kind {kind.name} --all"
    return f"{count} unmanaged {kind.noun(count)} left untouched (to manage {them}: `{command}`)."


def change_lines(change: Change) -> list[Line]:
    """The body lines of a create, update or delete (empty for a no-op)."""
    lines: list[Line] = []
    labels = file_id_labels(change)
    kind = kind_named(change.kind)
    fields, defaults = kind.fields, kind.defaults
    if change.action == "create":
        state = dict(change.after or change.desired)
        shown = [f for f in fields if f in state and not _is_default(f, state[f], defaults)]
        width = _width(shown)
        for field in shown:
            lines += _whole(field, state[field], "+", width, labels, kind.text_fields)
        hidden = len(fields) - len(shown)
        if hidden:
            lines.append(Line(" ", 0, f"({hidden} default {_fields(hidden)} hidden)"))
    elif change.action == "delete":
        state = dict(change.before)
        shown = [f for f in ("name", "model") if f in state]
        width = _width(shown)
        for field in shown:
            lines += _whole(field, state[field], "-", width, text=kind.text_fields)
        hidden = len(fields) - len(shown)
        lines.append(Line(" ", 0, f"({hidden} other {_fields(hidden)} hidden)"))
    elif change.action == "update":
        width = _width(change.changed_fields)
        for field in change.changed_fields:
            old, new = change.before.get(field), change.after.get(field)
            field_lines = _changed(field, old, new, width, labels, kind.text_fields)
            if field in change.drifted_fields:
                first = field_lines[0]
                field_lines[0] = Line(first.sign, first.depth, f"{first.text}  {OVERWRITES}")
            lines += field_lines
        hidden = len(fields) - len(change.changed_fields)
        if hidden:
            lines.append(Line(" ", 0, f"({hidden} unchanged {_fields(hidden)} hidden)"))
    return lines


def drift_line(item: Drift) -> str:
    """`assistant "KEY" (ID): model and tools (edited after the last apply, 2026-12-01T09:00:00Z)` (`agent
    "KEY"` for a saved agent)."""
    return (
        f'{item.kind} "{item.key}" ({item.id}): {fields_phrase(item.fields)} '
        f"(edited after the last apply, {item.since})"
    )


def map_key(key: str) -> str:
    """A metadata key as shown: as is when it is one printable word, else as an ASCII JSON string (as
    Terraform quotes a map key that is no identifier), so a key holding a line break cannot write a line of
    its own."""
    if key and key.isprintable() and not _UNWORDLIKE.search(key):
        return key
    return json.dumps(key)  # ASCII: a direction override (U+202E) is escaped too


def value(v: Any, limit: int = MAX_VALUE) -> str:
    """A value as compact JSON, cut to about `limit` characters with its full length noted."""
    text = json.dumps(v, ensure_ascii=False, separators=(", ", ": "))
    if len(text) <= limit:
        return text
    if isinstance(v, str):
        cut = json.dumps(v[: max(limit - 2, 8)].rstrip() + "…", ensure_ascii=False)
        return f"{cut} ({len(v)} chars)"
    return f"{text[: limit - 1].rstrip()}… ({len(text)} chars of JSON)"


# ------------------------------------------------------------------------------------------ helpers

#: What makes a map key need quotes: space, a quote, an equals sign or a backslash.
_UNWORDLIKE = re.compile(r'[\s"=\\]')


def _fields(n: int) -> str:
    return "field" if n == 1 else "fields"


def _width(fields: Sequence[str]) -> int:
    return max((len(f) for f in fields), default=0)


def _is_default(field: str, v: Any, defaults: Mapping[str, Any]) -> bool:
    if field not in defaults:
        return False
    return canonical_json(v) == canonical_json(defaults[field])


def _label(field: str, width: int) -> str:
    return f"{field.ljust(width)} ="


def _is_text_block(v: Any) -> bool:
    return isinstance(v, str) and ("\n" in v or len(v) > INLINE_TEXT)


def _whole(
    field: str,
    v: Any,
    sign: str,
    width: int,
    labels: Mapping[str, str] | None = None,
    text: Collection[str] = TEXT_FIELDS,
) -> list[Line]:
    """A whole field added (`+`) or removed (`-`); `labels` name file ids that come from knowledge files;
    `text`: the fields shown as text blocks (`Kind.text_fields`)."""
    label = _label(field, width)
    if field in text and _is_text_block(v):
        return [Line(sign, 0, f"{label} <<-EOT"), *_block(str(v).splitlines(), sign), Line(" ", 0, "EOT")]
    if field == "tools" and v:
        lines = [Line(sign, 0, f"{label} [")]
        for tool in v:
            lines += _tool_whole(tool, sign)
        return [*lines, Line(" ", 0, "]")]
    if field in ("file_ids", "metadata") and v:
        opener, closer = ("[", "]") if field == "file_ids" else ("{", "}")
        lines = [Line(sign, 0, f"{label} {opener}")]
        items = sorted(v) if field == "file_ids" else list(v.items())
        keys = _width([map_key(k) for k in v]) if field == "metadata" else 0
        for item in items:
            text = (
                _file_id(item, labels)
                if field == "file_ids"
                else f"{map_key(item[0]):<{keys}} = {value(item[1])}"
            )
            lines.append(Line(sign, 1, text))
        return [*lines, Line(" ", 0, closer)]
    return [Line(sign, 0, f"{label} {value(v)}")]


def _block(lines: list[str], sign: str) -> list[Line]:
    shown = [Line(sign, 1, line) for line in lines[:MAX_BLOCK_LINES]]
    if len(lines) > MAX_BLOCK_LINES:
        shown.append(Line(" ", 1, _more_lines(len(lines) - MAX_BLOCK_LINES)))
    return shown


def _more_lines(n: int) -> str:
    return f"({n} more {'line' if n == 1 else 'lines'})"


def _changed(
    field: str,
    old: Any,
    new: Any,
    width: int,
    labels: Mapping[str, str] | None = None,
    text: Collection[str] = TEXT_FIELDS,
) -> list[Line]:
    """One changed field of an update (`text`: the fields shown as text blocks)."""
    label = _label(field, width)
    if old is None and new is not None:
        return _whole(field, new, "+", width, labels, text)
    if field in text and (_is_text_block(old) or _is_text_block(new)):
        sign = "-" if new is None else "~"
        tail = " -> null" if new is None else ""
        return [
            Line(sign, 0, f"{label} <<-EOT{tail}"),
            *_text_diff(str(old or ""), str(new or "")),
            Line(" ", 0, "EOT"),
        ]
    if new is None:
        return [Line("-", 0, f"{label} {value(old)} -> null")]
    if field == "tools":
        return [Line("~", 0, f"{label} ["), *_tool_changes(old or [], new or []), Line(" ", 0, "]")]
    if field == "file_ids":
        before, after = set(old or []), set(new or [])
        lines = [Line("~", 0, f"{label} [")]
        lines += [Line("-", 1, _file_id(f, labels)) for f in sorted(before - after)]
        lines += [Line("+", 1, _file_id(f, labels)) for f in sorted(after - before)]
        return [*lines, Line(" ", 0, "]")]
    if field == "metadata":
        return [Line("~", 0, f"{label} {{"), *_metadata_changes(old or {}, new or {}), Line(" ", 0, "}")]
    return [Line("~", 0, f"{label} {value(old, MAX_VALUE // 2)} -> {value(new, MAX_VALUE // 2)}")]


def _file_id(file_id: str, labels: Mapping[str, str] | None) -> str:
    """A file id as shown: by path when it comes from a knowledge file, else as JSON."""
    return (labels or {}).get(file_id) or value(file_id)


def _metadata_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Line]:
    """The added, removed and changed pairs, their `=` aligned."""
    changed = [
        k
        for k in [*old, *(k for k in new if k not in old)]
        if k not in new or k not in old or canonical_json(old[k]) != canonical_json(new[k])
    ]
    width = _width([map_key(k) for k in changed])
    lines = []
    for k in changed:
        label = f"{map_key(k):<{width}} ="
        if k not in new:
            lines.append(Line("-", 1, f"{label} {value(old[k])}"))
        elif k not in old:
            lines.append(Line("+", 1, f"{label} {value(new[k])}"))
        else:
            lines.append(Line("~", 1, f"{label} {value(old[k], 48)} -> {value(new[k], 48)}"))
    return lines


def _unified(old: list[str], new: list[str], depth: int = 1) -> list[Line]:
    """A unified diff (no file headers) as lines one level deeper than `depth - 1`."""
    lines = []
    for row in difflib.unified_diff(old, new, lineterm="", n=CONTEXT):
        if row.startswith(("---", "+++")):
            continue
        if row.startswith("@@"):
            lines.append(Line(" ", depth, row))
        else:
            lines.append(Line(row[0] if row[0] in "+-" else " ", depth, row[1:]))
    return lines


def _text_diff(old: str, new: str) -> list[Line]:
    """The line diff of two texts, with what a line diff cannot show made visible: a final newline added or
    removed (`\\ No newline at end of text`, as git shows it) and a note when only whitespace changed."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    if old_lines == new_lines:  # only line endings differ: show the last line of each side
        lines = [Line("-", 1, old_lines[-1] if old_lines else "")]
        if not old.endswith(("\n", "\r")):
            lines.append(Line(" ", 1, NO_NEWLINE))
        lines.append(Line("+", 1, new_lines[-1] if new_lines else ""))
        if not new.endswith(("\n", "\r")):
            lines.append(Line(" ", 1, NO_NEWLINE))
    else:
        lines = _unified(old_lines, new_lines)
    if old.split() == new.split():
        lines.append(Line(" ", 1, f"(whitespace only: {_whitespace_change(old, new, old_lines, new_lines)})"))
    return lines


def _whitespace_change(old: str, new: str, old_lines: list[str], new_lines: list[str]) -> str:
    """What kind of whitespace differs between two texts with the same words."""
    if old_lines == new_lines:
        if old.rstrip("\r\n") == new.rstrip("\r\n") and ("\r" in old) == ("\r" in new):
            return "newline at the end added" if len(new) > len(old) else "newline at the end removed"
        return "line endings changed"
    if [line.rstrip() for line in old_lines] == [line.rstrip() for line in new_lines]:
        return "trailing spaces changed"
    return "spaces, tabs or blank lines changed"


def _schema_paths(old: Mapping[str, Any], new: Mapping[str, Any], depth: int) -> list[Line]:
    """The changes between two function definitions as one line per changed path, e.g.
    `~ parameters.properties.city.type: "string" -> "integer"` (added `+`, removed `-`), sorted by path."""
    from deepdiff import DeepDiff  # here: its import is a large share of a plan's start-up, rarely needed

    found = DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0, cache_size=0)
    rows: list[tuple[str, Line]] = []
    for kind, items in found.items():
        for item in items:
            path = _dotted(item.path(output_format="list"))
            if kind.endswith("_added"):
                rows.append((path, Line("+", depth, f"{path}: {value(item.t2)}")))
            elif kind.endswith("_removed"):
                rows.append((path, Line("-", depth, f"{path}: {value(item.t1)}")))
            else:
                text = f"{path}: {value(item.t1, MAX_VALUE // 2)} -> {value(item.t2, MAX_VALUE // 2)}"
                rows.append((path, Line("~", depth, text)))
    return [line for _, line in sorted(rows, key=lambda row: row[0])]


def _dotted(parts: Sequence[Any]) -> str:
    """`["parameters", "required", 0]` as `parameters.required[0]`."""
    out = ""
    for part in parts:
        name = map_key(str(part))  # a server's property name: a line break in it cannot write a line
        out += f"[{part}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out or "(whole)"


def _function(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    """A function tool's definition: v1's `function` object, or the tool itself where it is flat (agents)."""
    inner = tool.get("function")
    return inner if isinstance(inner, Mapping) else tool


def _tool_title(tool: Mapping[str, Any]) -> str:
    """`retrieval`, `function "name"`, `mcp "label"`: a name (or a type no word) from a server as a JSON
    string, which a line break in it cannot leave."""
    kind = str(tool.get("type"))
    if kind == "function":
        return f"function {json.dumps(str(_function(tool).get('name')))}"
    if kind == "mcp" and tool.get("server_label"):
        return f"mcp {json.dumps(str(tool['server_label']))}"
    return kind if kind.isidentifier() else json.dumps(kind)


def _pretty(tool: Mapping[str, Any]) -> list[str]:
    return json.dumps(_function(tool), indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def _tool_whole(tool: Mapping[str, Any], sign: str) -> list[Line]:
    if tool.get("type") != "function" and len(tool) == 1:
        return [Line(sign, 1, _tool_title(tool))]
    body = [Line(sign, 2, line) for line in _pretty(tool)[:MAX_BLOCK_LINES]]
    extra = len(_pretty(tool)) - MAX_BLOCK_LINES
    if extra > 0:
        body.append(Line(" ", 2, _more_lines(extra)))
    return [Line(sign, 1, _tool_title(tool)), *body]


def _tool_changes(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[Line]:
    """Tools compare as a multiset; a function removed and added under one name shows as a schema diff; the
    same tools in another order (a change for a saved agent, whose tools are not sorted) show both orders."""
    before = Counter(canonical_json(t) for t in old)
    after = Counter(canonical_json(t) for t in new)
    removed = [json.loads(t) for t in sorted((before - after).elements())]
    added = [json.loads(t) for t in sorted((after - before).elements())]
    lines: list[Line] = []
    for tool in removed:
        title = _tool_title(tool)
        twin = next((t for t in added if _tool_title(t) == title and title != t.get("type")), None)
        if twin is None:
            lines += _tool_whole(tool, "-")
        else:
            added.remove(twin)
            lines.append(Line("~", 1, title))
            lines += _schema_paths(_function(tool), _function(twin), depth=2)
    for tool in added:
        lines += _tool_whole(tool, "+")
    if not lines and list(old) != list(new):  # the same tools in another order (an agent's order counts)
        lines = [Line("-", 1, "order: " + ", ".join(map(_tool_title, old)))]
        lines.append(Line("+", 1, "order: " + ", ".join(map(_tool_title, new))))
    return lines
