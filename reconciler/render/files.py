"""How knowledge files read in plans and apply reports (shared by the text and markdown renderers).

Inside a change, a `file_ids` entry that comes from `files:` reads by path, size and short hash:

    + file assistants/docs/handbook.md (new content, 12 KB, sha256:ab12cd34) = (known after apply)
    + file assistants/docs/faq.md (3 KB, sha256:0f1e2d3c) = "file-abc123"      (uploaded already)
    - file old.md (sha256:9a8b7c6d) = "file-def456"                             (an upload no longer named)

and the plan lists each content to upload or delete once, under `# knowledge files`, with a
`Files: N to upload, M to delete.` line after the summary. Pure functions of the Plan: no API calls.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from reconciler.knowledge import human_size, short_hash
from reconciler.plan import FileRef, PlanFile

if TYPE_CHECKING:
    from reconciler.plan import Change, Plan
    from reconciler.results import FileResult

KNOWN_AFTER_APPLY = "(known after apply)"
SECTION_TITLE = "knowledge files"


def ref_text(ref: FileRef) -> str:
    """One FileRef as a `file_ids` item (without its sign)."""
    if ref.status == "detach":  # `path`: the original name in the server's name of the upload
        return f'file {_plain_or_quoted(ref.path)} ({short_hash(ref.sha256)}) = "{ref.id}"'
    if ref.id is None:
        new = f"new content, {human_size(ref.size)}, {short_hash(ref.sha256)}"
        return f"file {ref.path} ({new}) = {KNOWN_AFTER_APPLY}"
    return f'file {ref.path} ({human_size(ref.size)}, {short_hash(ref.sha256)}) = "{ref.id}"'


def file_id_labels(change: Change) -> dict[str, str]:
    """`{file_ids entry: label}` for the entries of `change` that come from (or were) knowledge files."""
    return {ref.file_id: ref_text(ref) for ref in change.files}


def plan_file_lines(plan: Plan) -> list[tuple[str, str]]:
    """`(sign, text)` for each content the plan uploads (`+`) or deletes (`-`); kept ones are not shown."""
    lines = []
    for item in plan.files:
        if item.action == "upload":
            lines.append(("+", _upload_text(item)))
        elif item.action == "delete":
            lines.append(
                (
                    "-",
                    f"file {quoted(item.filename)} ({item.id}, {human_size(item.size)}) will be deleted: "
                    "no manifest or assistant uses it",
                )
            )
    return lines


def _upload_text(item: PlanFile) -> str:
    users = ", ".join(item.used_by)
    return (
        f"file {', '.join(item.paths)} (new content, {human_size(item.size)}, {short_hash(item.sha256)}) "
        f"will be uploaded as {quoted(item.filename)} for {users}"
    )


def files_summary_line(plan: Plan) -> str | None:
    """`Files: 1 to upload, 0 to delete.`, or None when no file is uploaded or deleted."""
    counts = plan.file_summary
    if not counts["upload"] and not counts["delete"]:
        return None
    return f"Files: {counts['upload']} to upload, {counts['delete']} to delete."


_SIGN = {"uploaded": "+", "reused": "=", "deleted": "-", "failed": "!"}
_WORD = {"uploaded": "uploaded", "reused": "already uploaded", "deleted": "deleted"}


def result_text(result: FileResult) -> str:
    """One file operation's outcome, e.g. `+ file assistants/docs/handbook.md: uploaded (file-abc123)` or
    `! file assistants/docs/handbook.md: upload failed: <reason>`."""
    sign = _SIGN[result.status]
    path = quoted(result.path) if result.action == "delete" else result.path  # a delete's: the server's name
    if result.failed:
        return f"{sign} file {path}: {result.action} failed: {result.error}"
    ident = f" ({result.id})" if result.id else ""
    return f"{sign} file {path}: {_WORD[result.status]}{ident}"


def _plain_or_quoted(name: str) -> str:
    """`name` as it is when printable and JSON needs no escape in it, else as an ASCII JSON string: a
    server's name holding a line break cannot write a line of its own."""
    return name if name.isprintable() and quoted(name)[1:-1] == name else json.dumps(name)


def quoted(text: str) -> str:
    """`text` as a JSON string: a name from a server holding a line break stays on its line (and in a
    markdown code block, cannot close it)."""
    return json.dumps(text, ensure_ascii=False)
