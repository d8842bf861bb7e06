"""Saved agents in the emulator's SQLite store: the `agents` table beside the assistants.

`AgentStore(store)` shares the `Store`'s connection, lock and transactions (`write()`: `BEGIN IMMEDIATE`), so
the same concurrency rules hold: one file may be served by several processes. Lists are ordered by
`(created_at, seq)` through `pages.paginate`, and deleted agents stay as tombstones, usable as `after`
cursors. `Store.reset()` empties this table too.

The agent's fields are kept, already resolved to their read form (`reconciler.emulator.agent_validation`),
in the `data` JSON column; an update replaces the given fields whole and moves `updated_at`. Like an
assistant, an agent is also kept as the JSON text the API answers (`body`), written with every change and
served as it is; methods returning an agent return that text.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from reconciler import agents_facts as facts
from reconciler.emulator.pages import Page, PageQuery, paginate
from reconciler.emulator.responses import dumps
from reconciler.emulator.store import Store, add_body_column, new_id, statements

#: The agent id prefix: the reference's is unknown (docs/agents-api.md §11.1); `agent_` + 24 alphanumerics,
#: like `asst_`, is this emulator's choice.
ID_PREFIX = "agent_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    body TEXT
);
CREATE INDEX IF NOT EXISTS agents_by_order ON agents (deleted, created_at, seq);
"""

_DATA_FIELDS = tuple(field.name for field in facts.FIELDS)


class AgentStore:
    """The saved agents of one `Store` (thread-safe through it)."""

    def __init__(self, store: Store):
        self.store = store
        with store.write() as conn:
            for statement in statements(_SCHEMA):
                conn.execute(statement)
            add_body_column(conn, "agents", _render)

    def create(self, fields: dict[str, Any]) -> str:
        """Insert an agent; `fields` holds every field of `agents_facts.FIELDS`, in read form."""
        with self.store.write() as conn:
            agent_id = new_id(ID_PREFIX)
            now = self.store.now()
            data = {name: fields[name] for name in _DATA_FIELDS}
            conn.execute(
                "INSERT INTO agents (id, created_at, updated_at, data) VALUES (?, ?, ?, ?)",
                (agent_id, now, now, json.dumps(data)),
            )
            text = _render(conn, agent_id)
            assert text is not None, "inserted in this transaction"
            return text

    def get(self, agent_id: str) -> str | None:
        with self.store.read() as conn:
            row = conn.execute("SELECT body FROM agents WHERE id = ? AND deleted = 0", (agent_id,)).fetchone()
            return None if row is None else str(row["body"])

    def update(self, agent_id: str, fields: dict[str, Any]) -> str | None:
        """Replace the given fields whole and move `updated_at`; None if there is no such live agent."""
        with self.store.write() as conn:
            row = conn.execute("SELECT data FROM agents WHERE id = ? AND deleted = 0", (agent_id,)).fetchone()
            if row is None:
                return None
            data = {**json.loads(row["data"]), **{k: v for k, v in fields.items() if k in _DATA_FIELDS}}
            conn.execute(
                "UPDATE agents SET data = ?, updated_at = ? WHERE id = ?",
                (json.dumps(data), self.store.now(), agent_id),
            )
            return _render(conn, agent_id)

    def delete(self, agent_id: str) -> bool:
        """Soft-delete (the id stays usable as a cursor); False if there was no such live agent."""
        with self.store.write() as conn:
            cur = conn.execute("UPDATE agents SET deleted = 1 WHERE id = ? AND deleted = 0", (agent_id,))
            return cur.rowcount > 0

    def list(self, query: PageQuery) -> Page:
        """A page of live agents. Raises CursorNotFound."""
        with self.store.read() as conn:
            return Page.of_texts(*paginate(conn, table="agents", query=query, columns="id, body"))

    def count(self) -> int:
        """Live agents (for `/_emulator/stats`)."""
        with self.store.read() as conn:
            count: int = conn.execute("SELECT COUNT(*) FROM agents WHERE deleted = 0").fetchone()[0]
            return count


def _render(conn: sqlite3.Connection, agent_id: str) -> str | None:
    """Write the live agent's `body` again from its columns; that JSON text, or None if there is no such
    live agent."""
    row = conn.execute("SELECT * FROM agents WHERE id = ? AND deleted = 0", (agent_id,)).fetchone()
    if row is None:
        return None
    text = dumps(_agent_from_row(row))
    conn.execute("UPDATE agents SET body = ? WHERE id = ?", (text, agent_id))
    return text


def _agent_from_row(row: sqlite3.Row) -> dict[str, Any]:
    """The `Agent` object (§5): the server-set fields, then every field of `agents_facts.FIELDS`."""
    data = json.loads(row["data"])
    return {
        "id": row["id"],
        "object": facts.OBJECT,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        **{name: data[name] for name in _DATA_FIELDS},
    }
