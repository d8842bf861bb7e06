"""The tool's three JSON forms as typed declarations, and their JSON Schemas (draft 2020-12).

- `PlanJSON`: the plan on stdout (`reconciler plan --format json`, `Plan.data()`);
- `SavedPlanJSON`: the saved plan file (`reconciler plan --out FILE`, `Plan.saved_data()`), read back by
  `reconciler apply FILE`;
- `ApplyReportJSON`: the apply report (`reconciler apply --format json`, `ApplyReport.data()`).

Each field's meaning is its `description`; `docs/formats.md` shows examples. The schemas are closed
(`additionalProperties: false`) so that a key the code emits but the schema does not declare fails the tests;
keys are only ever added within a `format_version`, so consumers should ignore keys they do not know.
`before`, `after` and `desired` are normal forms of the change's kind (`reconciler.kinds`): open objects.
A plan of assistants alone has no `kind` keys and no `kinds` object (exactly as before saved agents); a plan
with saved agents names each change's and orphan's `kind` and adds `kinds`, the summary and counts per kind.

`python -m reconciler.formats [--dir DIR]` writes `DIR/plan.json`, `DIR/saved-plan.json` and
`DIR/apply-report.json` (default `schema`); with `--check` it writes nothing and exits 1 naming every file
that is missing or out of date. A schema file is read only when it is a regular file of at most
`MAX_SCHEMA_BYTES` (else it is out of date), and written atomically (`fsio.write_atomic`): a FIFO, a device,
a directory or a symlink in its place is one line and exit 1, never a hang.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import NotRequired, TypedDict

from reconciler import fsio

#: A schema file larger than this is out of date without being read (they are about 20 KB).
MAX_SCHEMA_BYTES = 1 << 20
_CLOSED = ConfigDict(extra="forbid")
_NORMAL_FORM = "API fields in normal form (reconciler.kinds: the change's kind)"


def _doc(text: str) -> Any:
    """A field's description in the generated schema."""
    return Field(description=text)


_Kind = Annotated[
    Literal["assistant", "agent"],
    _doc("The kind of object (assistant, saved agent); only in a plan or report with saved agents."),
]


# ---------------------------------------------------------------------------------------- shared pieces


@with_config(_CLOSED)
class FileRefJSON(TypedDict):
    """One knowledge file of a manifest with `files:` (or an upload it detaches)."""

    path: Annotated[str, _doc("The local path (cwd-relative); for `detach` the upload's original name.")]
    sha256: Annotated[str, _doc("Hex SHA-256 of the content; for `detach` the prefix from its name.")]
    size: Annotated[int, _doc("Size in bytes.")]
    id: Annotated[str | None, _doc("The uploaded file's id; null for `upload` (known only after apply).")]
    status: Annotated[
        Literal["upload", "attach", "unchanged", "detach"],
        _doc(
            "upload: new content, uploaded by apply; attach: uploaded already, newly attached; "
            "unchanged: attached already; detach: attached now but no longer named."
        ),
    ]


@with_config(_CLOSED)
class PlanFileJSON(TypedDict):
    """One distinct knowledge-file content the plan deals with."""

    action: Annotated[
        Literal["upload", "no-op", "delete"],
        _doc("upload: to upload; no-op: uploaded already; delete: an unused upload (only with --prune)."),
    ]
    sha256: Annotated[str, _doc("Hex SHA-256 of the content (for delete: the prefix from its name).")]
    size: Annotated[int, _doc("Size in bytes.")]
    paths: Annotated[list[str], _doc("Local paths (cwd-relative) holding this content; empty for delete.")]
    filename: Annotated[str, _doc("The uploaded file's name (content-addressed).")]
    id: Annotated[str | None, _doc("The uploaded file's id; null for upload.")]
    used_by: Annotated[list[str], _doc("Keys of the manifests naming this content.")]


# Functional syntax: the key "no-op" is not an identifier.
FileSummaryJSON = TypedDict(
    "FileSummaryJSON",
    {
        "upload": Annotated[int, _doc("Contents to upload.")],
        "delete": Annotated[int, _doc("Uploads to delete.")],
        "no-op": Annotated[int, _doc("Contents uploaded already.")],
    },
)
with_config(_CLOSED)(FileSummaryJSON)
FileSummaryJSON.__doc__ = "Counts of the plan's `files` by action."

PlanSummaryJSON = TypedDict(
    "PlanSummaryJSON",
    {
        "create": Annotated[int, _doc("Assistants to create.")],
        "update": Annotated[int, _doc("Assistants to update (adoptions included).")],
        "delete": Annotated[int, _doc("Assistants to delete (only with --prune).")],
        "no-op": Annotated[int, _doc("Assistants that already match their manifest.")],
    },
)
with_config(_CLOSED)(PlanSummaryJSON)
PlanSummaryJSON.__doc__ = "Counts of the plan's changes by action."


@with_config(_CLOSED)
class OrphanJSON(TypedDict):
    """A managed assistant no manifest names, left alone because --prune was not given."""

    key: Annotated[str, _doc("The key in its ownership marker.")]
    id: Annotated[str, _doc("The assistant's id.")]
    name: Annotated[str | None, _doc("The assistant's name.")]
    kind: NotRequired[_Kind]


@with_config(_CLOSED)
class KindPlanJSON(TypedDict):
    """The plan of one kind of object, in a plan with saved agents."""

    summary: PlanSummaryJSON
    managed: Annotated[int, _doc("Objects of this kind carrying the ownership marker.")]
    unmanaged: Annotated[int, _doc("Objects of this kind without the ownership marker.")]


@with_config(_CLOSED)
class DriftJSON(TypedDict):
    """An assistant edited outside reconciler since the last apply, in fields the plan overwrites."""

    key: Annotated[str, _doc("The manifest's key.")]
    id: Annotated[str, _doc("The assistant's id.")]
    fields: Annotated[list[str], _doc("The fields edited outside reconciler that the plan overwrites.")]
    since: Annotated[
        str,
        _doc("When reconciler last applied it (`YYYY-MM-DDTHH:MM:SSZ`, or `unknown`): the edits are later."),
    ]
    kind: NotRequired[Annotated[Literal["agent"], _doc("Only for a saved agent: `agent`.")]]


# ---------------------------------------------------------------------------------------------- the plan


@with_config(_CLOSED)
class ChangeJSON(TypedDict):
    """One assistant's planned action."""

    key: Annotated[str, _doc("The manifest's key.")]
    id: Annotated[str | None, _doc("The assistant's id; null for a create.")]
    action: Annotated[Literal["create", "update", "delete", "no-op"], _doc("What apply does.")]
    changed_fields: Annotated[list[str], _doc("Top-level fields that differ (empty for a no-op).")]
    before: Annotated[
        dict[str, Any],
        _doc(f"Existing values ({{}}: create; changed fields: update; all: delete); {_NORMAL_FORM}."),
    ]
    after: Annotated[
        dict[str, Any],
        _doc(f"Desired values (all: create; changed fields: update; {{}}: delete); {_NORMAL_FORM}."),
    ]
    files: NotRequired[
        Annotated[list[FileRefJSON], _doc("The manifest's knowledge files; only when it names `files:`.")]
    ]
    reason: NotRequired[
        Annotated[
            str,
            _doc(
                "Why a delete is planned without --prune: `duplicate of KEY, keeping ID (oldest)`; only then."
            ),
        ]
    ]
    kind: NotRequired[_Kind]
    drifted_fields: NotRequired[
        Annotated[
            list[str],
            _doc("Fields edited outside reconciler that this update overwrites (docs/drift.md); only then."),
        ]
    ]


_Managed = Annotated[int, _doc("Assistants carrying the ownership marker (the base of the delete limits).")]
_Orphans = Annotated[list[OrphanJSON], _doc("Managed assistants no manifest names.")]
_Warnings = Annotated[list[str], _doc("One line each, shown by the text plan and again by apply.")]


@with_config(_CLOSED)
class _PlanCommon(TypedDict):
    """The keys the plan and the saved plan share."""

    summary: PlanSummaryJSON
    unmanaged: Annotated[int, _doc("Assistants without the ownership marker: counted, never touched.")]
    files: NotRequired[Annotated[list[PlanFileJSON], _doc("Knowledge-file contents; only when any.")]]
    file_summary: NotRequired[FileSummaryJSON]
    kinds: NotRequired[
        Annotated[
            dict[str, KindPlanJSON],
            _doc("The plan of each kind, by kind (`assistant`, `agent`); only in a plan with saved agents."),
        ]
    ]
    drift: NotRequired[
        Annotated[
            list[DriftJSON], _doc("Edits made outside reconciler that the plan overwrites; only when any.")
        ]
    ]


@with_config(_CLOSED)
class PlanJSON(_PlanCommon):
    """The plan printed by `reconciler plan --format json`."""

    format_version: Annotated[Literal["1"], _doc("The version of this form.")]
    changes: Annotated[list[ChangeJSON], _doc("Creates, updates, deletes, then no-ops; each group by key.")]
    managed: _Managed
    orphans: _Orphans
    warnings: _Warnings


@with_config(_CLOSED)
class SavedChangeJSON(ChangeJSON):
    """One planned change as saved: the public form plus what apply needs to run and check it."""

    fingerprint: Annotated[
        str,
        _doc('"sha256:..." of the existing normal form planned against, or "absent" for a create.'),
    ]
    source: Annotated[str | None, _doc("The manifest's path; null for a delete.")]
    adopt: Annotated[bool, _doc("True when the update binds an unmanaged assistant (adds the marker).")]
    desired: Annotated[
        dict[str, Any],
        _doc(f"The whole desired state apply writes and reads back ({{}}: delete, no-op); {_NORMAL_FORM}."),
    ]


@with_config(_CLOSED)
class SavedPlanJSON(_PlanCommon):
    """The plan file written by `reconciler plan --out FILE` and run by `reconciler apply FILE`."""

    format_version: Annotated[
        Literal["1", "2"],
        _doc(
            'The version of this form: "2" for a plan with saved agents (so that a reconciler from before '
            'agents refuses it rather than apply an agent as an assistant), else "1".'
        ),
    ]
    changes: Annotated[list[SavedChangeJSON], _doc("As in the plan, with what apply needs.")]
    managed: _Managed
    orphans: _Orphans
    targets: Annotated[list[str], _doc("The --target keys the plan was limited to (empty: all).")]
    prune: Annotated[bool, _doc("Whether the plan was made with --prune.")]
    allow_duplicate_names: Annotated[bool, _doc("Whether the plan was made with --allow-duplicate-names.")]
    target: Annotated[TargetJSON, _doc("Where the plan applies; apply refuses it anywhere else.")]
    root: Annotated[
        str, _doc("The repository root it was made in; local paths in the plan are relative to it.")
    ]
    environment: NotRequired[
        Annotated[
            str,
            _doc("The environment (`--env`) it was made for; apply refuses it for another. Only with --env."),
        ]
    ]
    warnings: _Warnings


# ------------------------------------------------------------------------------------------ the report


@with_config(_CLOSED)
class ChangeResultJSON(TypedDict):
    """What happened to one planned change (no-ops have none)."""

    key: Annotated[str, _doc("The manifest's key.")]
    id: Annotated[str | None, _doc("The assistant's id; null when a create failed before one was known.")]
    action: Annotated[Literal["create", "update", "delete"], _doc("The planned action.")]
    status: Annotated[Literal["created", "updated", "deleted", "failed"], _doc("The outcome.")]
    error: Annotated[str | None, _doc("The one-line reason when status is failed, else null.")]
    warnings: Annotated[list[str], _doc("Fields the server did not keep (read back), one line each.")]
    kind: NotRequired[Annotated[Literal["agent"], _doc("Only for a saved agent's change: `agent`.")]]


@with_config(_CLOSED)
class FileResultJSON(TypedDict):
    """What happened to one planned knowledge-file upload or delete."""

    action: Annotated[Literal["upload", "delete"], _doc("The planned operation.")]
    path: Annotated[str, _doc("The first local path (upload) or the uploaded name (delete).")]
    sha256: Annotated[str, _doc("Hex SHA-256 of the content (for delete: the prefix from its name).")]
    id: Annotated[str | None, _doc("The file's id; null when an upload failed.")]
    status: Annotated[
        Literal["uploaded", "reused", "deleted", "failed"],
        _doc("reused: found uploaded already at apply time; failed: see error."),
    ]
    error: Annotated[str | None, _doc("The one-line reason when status is failed, else null.")]
    warnings: Annotated[list[str], _doc("What the server did not keep, one line each.")]


@with_config(_CLOSED)
class ApplySummaryJSON(TypedDict):
    """Counts of the results by status."""

    created: Annotated[int, _doc("Assistants created.")]
    updated: Annotated[int, _doc("Assistants updated.")]
    deleted: Annotated[int, _doc("Assistants deleted.")]
    failed: Annotated[int, _doc("Changes that failed.")]


@with_config(_CLOSED)
class CallsJSON(TypedDict):
    """The API calls the apply made."""

    total: Annotated[int, _doc("All calls, retries and look-ups included.")]
    by_route: Annotated[dict[str, int], _doc('Calls by "METHOD /route", e.g. "POST /assistants".')]


@with_config(_CLOSED)
class PendingJSON(TypedDict):
    """A planned change without a result."""

    key: Annotated[str, _doc("The manifest's key.")]
    action: Annotated[Literal["create", "update", "delete"], _doc("The planned action.")]
    id: Annotated[str | None, _doc("The assistant's id; null for a create.")]
    kind: NotRequired[Annotated[Literal["agent"], _doc("Only for a saved agent's change: `agent`.")]]


@with_config(_CLOSED)
class InterruptionJSON(TypedDict):
    """What an interrupted apply did not finish; run `reconciler plan` to see the state."""

    unknown: Annotated[list[PendingJSON], _doc("Running when apply stopped waiting: outcome unknown.")]
    not_started: Annotated[list[PendingJSON], _doc("Never sent.")]


@with_config(_CLOSED)
class TargetJSON(TypedDict):
    """The server and project a saved plan was made for (never the key)."""

    base_url: Annotated[str, _doc('The API base URL, or "local" for the embedded emulator (--local).')]
    organization: Annotated[str | None, _doc("OPENAI_ORG_ID when the plan was made, or null.")]
    project: Annotated[str | None, _doc("OPENAI_PROJECT_ID when the plan was made, or null.")]


@with_config(_CLOSED)
class ApplyReportJSON(TypedDict):
    """The report printed by `reconciler apply --format json`."""

    format_version: Annotated[Literal["1"], _doc("The version of this form.")]
    ok: Annotated[bool, _doc("True when nothing failed and there are no warnings (exit code 0).")]
    results: Annotated[list[ChangeResultJSON], _doc("One per actionable change, in plan order.")]
    summary: ApplySummaryJSON
    warnings: Annotated[int, _doc("The number of warnings over all results and files.")]
    calls: CallsJSON
    files: NotRequired[
        Annotated[list[FileResultJSON], _doc("One per planned upload (first) and delete (last); if any.")]
    ]
    interrupted: NotRequired[
        Annotated[InterruptionJSON, _doc("Only when apply was stopped (Ctrl-C, SIGTERM) before the end.")]
    ]


# ---------------------------------------------------------------------------------------------- schemas


@dataclass(frozen=True)
class Form:
    """One JSON form: its declaration and where its schema lives (`schema/<file>`)."""

    file: str
    declaration: Any
    title: str


FORMS: tuple[Form, ...] = (
    Form("plan.json", PlanJSON, "reconciler plan (plan --format json)"),
    Form("saved-plan.json", SavedPlanJSON, "reconciler saved plan (plan --out FILE)"),
    Form("apply-report.json", ApplyReportJSON, "reconciler apply report (apply --format json)"),
)


def json_schema(form: Form) -> dict[str, Any]:
    """The draft 2020-12 JSON Schema of `form`, with `$id`, title and description."""
    schema = TypeAdapter(form.declaration).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:reconciler:schema:{form.file}",
        **schema,
        "title": form.title,
    }


def schema_text(form: Form) -> str:
    """The file content of `form`'s schema: indented JSON and a final newline."""
    return json.dumps(json_schema(form), indent=2, ensure_ascii=False) + "\n"


def out_of_date(directory: Path) -> list[Path]:
    """The schema files under `directory` that are missing or differ from the declarations."""
    stale = []
    for form in FORMS:
        path = directory / form.file
        if _current(path) != schema_text(form):
            stale.append(path)
    return stale


def _current(path: Path) -> str | None:
    """The text of schema file `path`, or None when it is missing, not a regular file, too large or no
    UTF-8 (`fsio.read_bounded`: a FIFO is never opened, so never waited on)."""
    try:
        return fsio.read_bounded(path, MAX_SCHEMA_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Write the schema files (or, with --check, report the out-of-date ones); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m reconciler.formats", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("schema"), help="where the schemas live (schema)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = out_of_date(args.dir)
    if args.check:
        for path in stale:
            print(f"{path}: out of date; run python -m reconciler.formats", file=sys.stderr)
        return 1 if stale else 0
    failed = 0
    for path in stale:
        form = next(f for f in FORMS if f.file == path.name)
        try:
            args.dir.mkdir(parents=True, exist_ok=True)
            fsio.write_atomic(path, schema_text(form).encode("utf-8"))
        except OSError as err:
            print(f"{path}: cannot write it: {err.strerror or err}", file=sys.stderr)
            failed += 1
            continue
        print(f"wrote {path}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
