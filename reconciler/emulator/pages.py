"""Cursor pagination of the emulator's lists: what a list request asks for (`PageQuery`), the keyset query
over a table's live rows (`paginate`) and the page it answers (`Page`).

Lists are ordered by `(created_at, seq)`, `seq` being the insertion sequence, so objects created within the
same second still paginate deterministically. Cursors are object ids and may name tombstoned rows (a client
paging with `after=<id>` keeps working if that object is deleted meanwhile).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.emulator.responses import dumps, list_body

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class PageQuery:
    """What a list request asks for: at most `limit` objects in `order`, after or before a cursor (an id)."""

    limit: int = 20
    order: Order = "desc"
    after: str | None = None
    before: str | None = None


class CursorNotFound(Exception):
    """An `after`/`before` cursor names no object of the listed kind."""

    def __init__(self, param: str, cursor: str):
        super().__init__(cursor)
        self.param = param
        self.cursor = cursor


@dataclass(frozen=True)
class Page:
    """One page of a cursor-paginated list, already in the requested order: each object's id and its JSON
    text as the API answers it (`reconciler.emulator.responses.dumps`)."""

    ids: list[str]
    texts: list[str]
    has_more: bool

    @classmethod
    def of(cls, objects: list[dict[str, Any]], has_more: bool) -> Page:
        """The page of these API objects (encoded here)."""
        return cls([o["id"] for o in objects], [dumps(o) for o in objects], has_more)

    @classmethod
    def of_texts(cls, rows: list[sqlite3.Row], has_more: bool) -> Page:
        """The page of rows holding each object's `id` and JSON text (`body`)."""
        return cls([row["id"] for row in rows], [row["body"] for row in rows], has_more)

    def body(self) -> str:
        """The API list object's JSON text."""
        return list_body(self.ids, self.texts, self.has_more)

    def objects(self) -> list[dict[str, Any]]:
        """The page's objects, decoded."""
        return [json.loads(text) for text in self.texts]


def paginate(
    conn: sqlite3.Connection,
    *,
    table: str,
    query: PageQuery,
    where: str = "1 = 1",
    params: tuple[Any, ...] = (),
    cursor_where: str = "id = ?",
    cursor_params: Callable[[str], tuple[Any, ...]] = lambda cursor: (cursor,),
    columns: str = "*",
) -> tuple[list[sqlite3.Row], bool]:
    """Keyset pagination over live rows by `(created_at, seq)`; by default every live row of `table`, the
    cursors naming rows by `id` (a table of top-level objects: assistants, agents).

    `after`: the objects following the cursor in `order`; `before`: those preceding it (the page closest to
    it), returned in `order` too. `has_more` says whether more objects lie beyond the page in the direction
    of travel. Cursors may name tombstoned rows. `columns`: what each row holds.
    """
    conditions = [f"deleted = 0 AND ({where})"]
    args: list[Any] = list(params)
    forward = query.order == "asc"
    for param, cursor in (("after", query.after), ("before", query.before)):
        if cursor is None:
            continue
        row = conn.execute(
            f"SELECT created_at, seq FROM {table} WHERE {cursor_where} ORDER BY seq DESC LIMIT 1",
            cursor_params(cursor),
        ).fetchone()
        if row is None:
            raise CursorNotFound(param, cursor)
        later = (param == "after") == forward  # the wanted rows sort after the cursor in ascending order
        op = ">" if later else "<"
        conditions.append(f"(created_at, seq) {op} (?, ?)")
        args += [row["created_at"], row["seq"]]
    # Walk away from `before` when it is the only cursor, so the page is the one adjacent to it.
    walk_forward = forward if not (query.before is not None and query.after is None) else not forward
    direction = "ASC" if walk_forward else "DESC"
    rows = conn.execute(
        f"SELECT {columns} FROM {table} WHERE {' AND '.join(conditions)}"
        f" ORDER BY created_at {direction}, seq {direction} LIMIT ?",
        (*args, query.limit + 1),
    ).fetchall()
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    if walk_forward != forward:
        rows.reverse()
    return rows, has_more
