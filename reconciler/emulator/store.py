"""The emulator's state in SQLite: assistants, files and their associations (agents: `agent_store`).

- `Store(None)` keeps everything in memory (one per app); `Store(path)` persists to a file that survives
  restarts and may be shared by several processes (WAL journal, `busy_timeout`, `BEGIN IMMEDIATE` writes).
  Within a process one connection is shared behind a lock, so concurrent requests never interleave.
- Lists are ordered by `(created_at, seq)` (`reconciler.emulator.pages`).
- Deleted assistants and detached assistant files stay as tombstones (`deleted = 1`), invisible except as
  pagination cursors: a client paging with `after=<id>` keeps working if that object is deleted meanwhile.
- An assistant's `file_ids` are its live associations, ordered by the files' creation (ascending).
  Deleting a File detaches it from every assistant.

An assistant is kept as its fields (`data`, JSON) and as the JSON text the API answers for it (`body`,
`reconciler.emulator.responses.dumps`), made again inside every write that changes the assistant or its live
associations; reads and lists serve `body` as it is, so a page costs no decoding or encoding. A state file
written before `body` existed gets the column, filled, when it is opened.

Assistant methods return that JSON text; the others return plain dicts shaped like the API objects.
Validation is the app's job, except the checks that must happen inside the write transaction (files exist and
have purpose `assistants`). Other tables (`agent_store`) use the same connection through `write()`, `read()`,
`now()` and `pages.paginate`.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from reconciler.emulator.pages import Page, PageQuery, paginate
from reconciler.emulator.responses import dumps
from reconciler.errors import ConfigError

ID_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 24
ASSISTANT_PURPOSE = "assistants"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assistants (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    body TEXT
);
CREATE INDEX IF NOT EXISTS assistants_by_order ON assistants (deleted, created_at, seq);
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS assistant_files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    assistant_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS assistant_files_live
    ON assistant_files (assistant_id, file_id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS assistant_files_by_order
    ON assistant_files (assistant_id, deleted, created_at, seq);
"""

#: Assistant fields kept in the `data` JSON column (everything but id, created_at and file_ids).
_DATA_FIELDS = (
    "name",
    "description",
    "model",
    "instructions",
    "tools",
    "metadata",
    "top_p",
    "temperature",
    "response_format",
)


class FileProblem(Exception):
    """A file id given for attachment does not have `purpose="assistants"`."""

    def __init__(self, index: int | None, file_id: str, purpose: str):
        super().__init__(file_id)
        self.index = index
        self.file_id = file_id
        self.purpose = purpose


class FilesNotFound(Exception):
    """File ids given for attachment name no file (in the order given)."""

    def __init__(self, file_ids: list[str]):
        super().__init__(", ".join(file_ids))
        self.file_ids = file_ids


#: Called inside a write with the resulting assistant and its attached files' names, in `file_ids` order;
#: raising rolls the write back.
AssistantCheck = Callable[[dict[str, Any], list[str]], None]


class StoreUnusable(ConfigError):
    """The state file cannot be used: its directory is missing, or it is not an SQLite database."""


class TooManyFiles(Exception):
    """Attaching one more file would exceed the per-assistant maximum."""


def new_id(prefix: str) -> str:
    """`prefix` + 24 random letters and digits, e.g. `asst_4nsG2qgNzimRPE7MazXTXbU7`."""
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


class Store:
    """Thread-safe SQLite state. `clock` (Unix seconds) can be replaced, e.g. to force equal `created_at`."""

    def __init__(self, path: str | Path | None = None, *, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.path = None if path is None or str(path) == ":memory:" else Path(path)
        self._lock = threading.RLock()
        if self.path is not None and not self.path.parent.is_dir():
            raise StoreUnusable(
                f"cannot keep the emulator state in {self.path}: directory {self.path.parent} does not exist "
                "(create it first)"
            )
        target = ":memory:" if self.path is None else str(self.path)
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        try:
            self._open()
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreUnusable(
                f"{self.path} is not a usable emulator state file ({err}): delete it to start over with an "
                "empty state"
            ) from None

    def _open(self) -> None:
        """Set the connection up and create the schema (sqlite3.DatabaseError for a file that is no
        database)."""
        with self._lock:
            self._conn.execute("PRAGMA busy_timeout = 30000")
            if self.path is not None:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
            with self.write() as conn:
                for statement in statements(_SCHEMA):
                    conn.execute(statement)
                add_body_column(conn, "assistants", _render)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- transactions -------------------------------------------------------------------------------

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction: `BEGIN IMMEDIATE` (takes the write lock at once), commit or roll back."""
        return self._transaction("BEGIN IMMEDIATE")

    def read(self) -> AbstractContextManager[sqlite3.Connection]:
        """A consistent read snapshot (`BEGIN`: a read's commit and rollback are the same)."""
        return self._transaction("BEGIN")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute(begin)
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def now(self) -> int:
        return int(self.clock())

    # -- assistants ---------------------------------------------------------------------------------

    def create_assistant(
        self, fields: dict[str, Any], file_ids: Sequence[str], check: AssistantCheck | None = None
    ) -> str:
        """Insert an assistant; `fields` holds every `_DATA_FIELDS` key; its JSON text. Raises
        FilesNotFound, FileProblem and what `check` raises."""
        with self.write() as conn:
            _check_files(conn, file_ids, indexed=True)
            assistant_id = new_id("asst_")
            now = self.now()
            data = {k: fields[k] for k in _DATA_FIELDS}
            conn.execute(
                "INSERT INTO assistants (id, created_at, data) VALUES (?, ?, ?)",
                (assistant_id, now, json.dumps(data)),
            )
            for file_id in file_ids:
                _attach(conn, assistant_id, file_id, now)
            text = _render(conn, assistant_id, check)
            assert text is not None, "inserted in this transaction"
            return text

    def get_assistant(self, assistant_id: str) -> str | None:
        """The live assistant's JSON text; None if there is no such assistant."""
        with self.read() as conn:
            row = conn.execute(
                "SELECT body FROM assistants WHERE id = ? AND deleted = 0", (assistant_id,)
            ).fetchone()
            return None if row is None else str(row["body"])

    def update_assistant(
        self,
        assistant_id: str,
        fields: dict[str, Any],
        file_ids: Sequence[str] | None,
        check: AssistantCheck | None = None,
    ) -> str | None:
        """Replace the given fields (and, unless None, the whole `file_ids`); the assistant's JSON text, None
        if there is no such assistant. Raises FilesNotFound, FileProblem and what `check` raises."""
        with self.write() as conn:
            row = conn.execute(
                "SELECT data FROM assistants WHERE id = ? AND deleted = 0", (assistant_id,)
            ).fetchone()
            if row is None:
                return None
            data = json.loads(row["data"])
            data.update({k: v for k, v in fields.items() if k in _DATA_FIELDS})
            conn.execute("UPDATE assistants SET data = ? WHERE id = ?", (json.dumps(data), assistant_id))
            if file_ids is not None:
                _check_files(conn, file_ids, indexed=True)
                current = set(_file_ids(conn, [assistant_id])[assistant_id])
                wanted = list(dict.fromkeys(file_ids))
                now = self.now()
                for file_id in current - set(wanted):
                    _detach(conn, assistant_id, file_id)
                for file_id in wanted:
                    if file_id not in current:
                        _attach(conn, assistant_id, file_id, now)
            return _render(conn, assistant_id, check)

    def delete_assistant(self, assistant_id: str) -> bool:
        """Soft-delete (the id stays usable as a cursor); False if there was no such live assistant."""
        with self.write() as conn:
            cur = conn.execute(
                "UPDATE assistants SET deleted = 1 WHERE id = ? AND deleted = 0", (assistant_id,)
            )
            if cur.rowcount == 0:
                return False
            conn.execute(
                "UPDATE assistant_files SET deleted = 1 WHERE assistant_id = ? AND deleted = 0",
                (assistant_id,),
            )
            return True

    def list_assistants(self, query: PageQuery) -> Page:
        """A page of live assistants. Raises CursorNotFound."""
        with self.read() as conn:
            return Page.of_texts(*paginate(conn, table="assistants", query=query, columns="id, body"))

    # -- assistant files ----------------------------------------------------------------------------

    def attach_file(
        self, assistant_id: str, file_id: str, max_files: int, check: AssistantCheck | None = None
    ) -> dict[str, Any] | None:
        """Attach a file (idempotent: an existing association is returned as is). None if there is no such
        assistant. Raises FilesNotFound, FileProblem, TooManyFiles and what `check` raises."""
        with self.write() as conn:
            if not _assistant_exists(conn, assistant_id):
                return None
            _check_files(conn, [file_id], indexed=False)
            existing = _get_assistant_file(conn, assistant_id, file_id)
            if existing is not None:
                return existing
            if len(_file_ids(conn, [assistant_id])[assistant_id]) >= max_files:
                raise TooManyFiles(file_id)
            _attach(conn, assistant_id, file_id, self.now())
            _render(conn, assistant_id, check)
            return _get_assistant_file(conn, assistant_id, file_id)

    def get_assistant_file(self, assistant_id: str, file_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            return _get_assistant_file(conn, assistant_id, file_id)

    def detach_file(self, assistant_id: str, file_id: str) -> bool:
        with self.write() as conn:
            done = _detach(conn, assistant_id, file_id)
            if done:
                _render(conn, assistant_id)
            return done

    def assistant_exists(self, assistant_id: str) -> bool:
        with self.read() as conn:
            return _assistant_exists(conn, assistant_id)

    def list_assistant_files(self, assistant_id: str, query: PageQuery) -> Page:
        """A page of an assistant's file associations, by association time. Raises CursorNotFound."""
        with self.read() as conn:
            rows, has_more = paginate(
                conn,
                table="assistant_files",
                where="assistant_id = ?",
                params=(assistant_id,),
                cursor_where="assistant_id = ? AND file_id = ?",
                cursor_params=lambda c: (assistant_id, c),
                query=query,
            )
            return Page.of([_assistant_file_from_row(r) for r in rows], has_more)

    # -- files --------------------------------------------------------------------------------------

    def create_file(self, *, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
        with self.write() as conn:
            file_id = new_id("file-")
            conn.execute(
                "INSERT INTO files (id, created_at, bytes, filename, purpose, status, content)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (file_id, self.now(), len(content), filename, purpose, "processed", content),
            )
            return _get_file(conn, file_id) or {}

    def get_file(self, file_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            return _get_file(conn, file_id)

    def file_content(self, file_id: str) -> bytes | None:
        with self.read() as conn:
            row = conn.execute("SELECT content FROM files WHERE id = ?", (file_id,)).fetchone()
            return None if row is None else bytes(row["content"])

    def delete_file(self, file_id: str) -> bool:
        """Delete a file and detach it from every assistant; False if there was no such file."""
        with self.write() as conn:
            cur = conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
            if cur.rowcount == 0:
                return False
            holders = conn.execute(
                "SELECT DISTINCT assistant_id FROM assistant_files WHERE file_id = ? AND deleted = 0",
                (file_id,),
            ).fetchall()
            conn.execute(
                "UPDATE assistant_files SET deleted = 1 WHERE file_id = ? AND deleted = 0", (file_id,)
            )
            for (assistant_id,) in holders:
                _render(conn, assistant_id)
            return True

    def list_files(self, purpose: str | None = None) -> list[dict[str, Any]]:
        """Every file, newest first, optionally only those with `purpose`."""
        with self.read() as conn:
            sql = "SELECT * FROM files"
            params: tuple[Any, ...] = ()
            if purpose is not None:
                sql += " WHERE purpose = ?"
                params = (purpose,)
            rows = conn.execute(sql + " ORDER BY created_at DESC, seq DESC", params).fetchall()
            return [_file_from_row(r) for r in rows]

    # -- maintenance --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Delete everything in every table, those of other modules (agents) and tombstones included."""
        with self.write() as conn:
            tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            for (table,) in tables:
                if not table.startswith("sqlite_"):
                    conn.execute(f'DELETE FROM "{table}"')

    def counts(self) -> dict[str, int]:
        """Live objects per kind (for `/_emulator/stats`)."""
        with self.read() as conn:
            return {
                "assistants": conn.execute("SELECT COUNT(*) FROM assistants WHERE deleted = 0").fetchone()[0],
                "files": conn.execute("SELECT COUNT(*) FROM files").fetchone()[0],
                "assistant_files": conn.execute(
                    "SELECT COUNT(*) FROM assistant_files WHERE deleted = 0"
                ).fetchone()[0],
            }


# -- helpers (run inside a transaction) -------------------------------------------------------------


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _check_files(conn: sqlite3.Connection, file_ids: Sequence[str], *, indexed: bool) -> None:
    """Every id names a file (else FilesNotFound, listing all that do not) with purpose `assistants`."""
    rows = [conn.execute("SELECT purpose FROM files WHERE id = ?", (f,)).fetchone() for f in file_ids]
    missing = [file_id for file_id, row in zip(file_ids, rows, strict=True) if row is None]
    if missing:
        raise FilesNotFound(missing)
    for index, (file_id, row) in enumerate(zip(file_ids, rows, strict=True)):
        if row["purpose"] != ASSISTANT_PURPOSE:
            raise FileProblem(index if indexed else None, file_id, row["purpose"])


def _render(conn: sqlite3.Connection, assistant_id: str, check: AssistantCheck | None = None) -> str | None:
    """Make the live assistant's `body` again from its fields and live associations, after `check` (if any)
    accepted it with its files' names; that JSON text, or None if there is no such live assistant."""
    assistant = _get_assistant(conn, assistant_id)
    if assistant is None:
        return None
    if check is not None:
        names = {
            r["id"]: r["filename"]
            for f in assistant["file_ids"]
            for r in conn.execute("SELECT id, filename FROM files WHERE id = ?", (f,))
        }
        check(assistant, [names[f] for f in assistant["file_ids"]])
    text = dumps(assistant)
    conn.execute("UPDATE assistants SET body = ? WHERE id = ?", (text, assistant_id))
    return text


def add_body_column(
    conn: sqlite3.Connection, table: str, render: Callable[[sqlite3.Connection, str], Any]
) -> None:
    """Give a `table` written before its `body` column (a state file from an earlier version) that column,
    and every live row its text through `render(conn, id)`; run it in the transaction that creates the
    schema, so no other process sees the column half filled."""
    if "body" in {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}:
        return
    conn.execute(f"ALTER TABLE {table} ADD COLUMN body TEXT")
    for (object_id,) in conn.execute(f"SELECT id FROM {table} WHERE deleted = 0").fetchall():
        render(conn, object_id)


def _attach(conn: sqlite3.Connection, assistant_id: str, file_id: str, now: int) -> None:
    conn.execute(
        "INSERT INTO assistant_files (assistant_id, file_id, created_at) VALUES (?, ?, ?)",
        (assistant_id, file_id, now),
    )


def _detach(conn: sqlite3.Connection, assistant_id: str, file_id: str) -> bool:
    cur = conn.execute(
        "UPDATE assistant_files SET deleted = 1 WHERE assistant_id = ? AND file_id = ? AND deleted = 0",
        (assistant_id, file_id),
    )
    return cur.rowcount > 0


def _assistant_exists(conn: sqlite3.Connection, assistant_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM assistants WHERE id = ? AND deleted = 0", (assistant_id,)).fetchone()
    return row is not None


def _file_ids(conn: sqlite3.Connection, assistant_ids: Sequence[str]) -> dict[str, list[str]]:
    """Live attached file ids per assistant, ordered by the files' creation (ascending)."""
    out: dict[str, list[str]] = {a: [] for a in assistant_ids}
    if not assistant_ids:
        return out
    marks = ",".join("?" * len(assistant_ids))
    rows = conn.execute(
        "SELECT af.assistant_id, af.file_id FROM assistant_files af JOIN files f ON f.id = af.file_id"
        f" WHERE af.deleted = 0 AND af.assistant_id IN ({marks}) ORDER BY f.created_at, f.seq",
        tuple(assistant_ids),
    ).fetchall()
    for row in rows:
        out[row["assistant_id"]].append(row["file_id"])
    return out


def _fetch_one(
    conn: sqlite3.Connection, sql: str, params: tuple[Any, ...], make: Callable[[sqlite3.Row], dict[str, Any]]
) -> dict[str, Any] | None:
    """The API object `make` builds from the one row `sql` selects, or None when there is none."""
    row = conn.execute(sql, params).fetchone()
    return None if row is None else make(row)


def _api_object(
    row: sqlite3.Row, object_type: str, id_column: str, columns: tuple[str, ...]
) -> dict[str, Any]:
    """An API object from a row: `id`, `object`, then `columns` in that order."""
    return {"id": row[id_column], "object": object_type, **{column: row[column] for column in columns}}


def _get_assistant(conn: sqlite3.Connection, assistant_id: str) -> dict[str, Any] | None:
    return _fetch_one(
        conn,
        "SELECT * FROM assistants WHERE id = ? AND deleted = 0",
        (assistant_id,),
        lambda row: _assistant_from_row(row, _file_ids(conn, [assistant_id])[assistant_id]),
    )


def _assistant_from_row(row: sqlite3.Row, file_ids: list[str]) -> dict[str, Any]:
    data = json.loads(row["data"])
    return {
        **_api_object(row, "assistant", "id", ("created_at",)),
        "name": data["name"],
        "description": data["description"],
        "model": data["model"],
        "instructions": data["instructions"],
        "tools": data["tools"],
        "file_ids": file_ids,
        "metadata": data["metadata"],
        "top_p": data["top_p"],
        "temperature": data["temperature"],
        "response_format": data["response_format"],
    }


def _get_assistant_file(conn: sqlite3.Connection, assistant_id: str, file_id: str) -> dict[str, Any] | None:
    return _fetch_one(
        conn,
        "SELECT * FROM assistant_files WHERE assistant_id = ? AND file_id = ? AND deleted = 0",
        (assistant_id, file_id),
        _assistant_file_from_row,
    )


def _assistant_file_from_row(row: sqlite3.Row) -> dict[str, Any]:
    return _api_object(row, "assistant.file", "file_id", ("created_at", "assistant_id"))


def _get_file(conn: sqlite3.Connection, file_id: str) -> dict[str, Any] | None:
    return _fetch_one(conn, "SELECT * FROM files WHERE id = ?", (file_id,), _file_from_row)


def _file_from_row(row: sqlite3.Row) -> dict[str, Any]:
    return _api_object(row, "file", "id", ("bytes", "created_at", "filename", "purpose", "status"))
