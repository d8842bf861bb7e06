"""SQLite state: survives restarts, stays consistent under concurrent writers, `--local` layout."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from process_support import EmulatorProcess

from reconciler.cli import cli
from reconciler.emulator.inprocess import InProcessTransport, local_app
from reconciler.emulator.store import PageQuery, Store
from reconciler.emulator.testing import InProcessEmulator, LiveEmulator

#: A file tool: v1 refuses `file_ids` on an assistant without one.
RETRIEVAL = [{"type": "retrieval"}]
MakeEmulator = Callable[..., InProcessEmulator]


@pytest.mark.anyio
async def test_state_survives_a_restart(tmp_path: Path, make_emulator: MakeEmulator) -> None:
    db = tmp_path / "emulator.sqlite3"
    first = make_emulator(db=db)
    async with first.client() as client:
        file = (
            await client.post("/files", files={"file": ("a.txt", b"abc")}, data={"purpose": "assistants"})
        ).json()
        created = (
            await client.post(
                "/assistants", json={"model": "gpt-4", "tools": RETRIEVAL, "file_ids": [file["id"]]}
            )
        ).json()
        deleted = (await client.post("/assistants", json={"model": "gpt-4"})).json()
        await client.delete(f"/assistants/{deleted['id']}")
    first.state.store.close()

    second = make_emulator(db=db)
    async with second.client() as client:
        assert (await client.get(f"/assistants/{created['id']}")).json() == created
        assert [a["id"] for a in (await client.get("/assistants")).json()["data"]] == [created["id"]]
        assert (await client.get(f"/files/{file['id']}/content")).content == b"abc"
        # the tombstone of the deleted assistant still works as a cursor after the restart
        assert (await client.get("/assistants", params={"after": deleted["id"]})).status_code == 200


def test_live_server_restart_keeps_state(
    tmp_path: Path, make_live_emulator: Callable[..., LiveEmulator]
) -> None:
    db = tmp_path / "live.sqlite3"
    first = make_live_emulator(db=db)
    with first.client() as client:
        created = client.post("/assistants", json={"model": "gpt-4", "name": "kept"}).json()
    first.close()
    first.server.stop()
    second = make_live_emulator(db=db)
    with second.client() as client:
        assert client.get(f"/assistants/{created['id']}").json()["name"] == "kept"


def test_concurrent_writers_on_one_file(tmp_path: Path) -> None:
    """Several stores (as several processes would have) write the same file at once."""
    db = tmp_path / "shared.sqlite3"
    stores = [Store(db) for _ in range(4)]
    fields: dict[str, Any] = {
        "name": None,
        "description": None,
        "model": "gpt-4",
        "instructions": None,
        "tools": [],
        "metadata": {},
        "top_p": 1.0,
        "temperature": 1.0,
        "response_format": "auto",
    }
    errors: list[BaseException] = []

    def writer(store: Store, n: int) -> None:
        try:
            for i in range(25):
                created = json.loads(store.create_assistant({**fields, "name": f"{n}-{i}"}, []))
                if i % 5 == 0:
                    store.update_assistant(created["id"], {"metadata": {"i": str(i)}}, None)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(store, n)) for n, store in enumerate(stores * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    page = stores[0].list_assistants(PageQuery(limit=100, order="asc"))
    rest = stores[1].list_assistants(PageQuery(limit=100, order="asc", after=page.ids[-1]))
    names = {a["name"] for a in page.objects() + rest.objects()}
    assert len(names) == 200 and not rest.has_more
    for store in stores:
        store.close()


@pytest.mark.anyio
async def test_concurrent_requests_over_http(live_emulator: LiveEmulator) -> None:
    async with live_emulator.async_client() as client:
        responses = await asyncio.gather(
            *(client.post("/assistants", json={"model": "gpt-4", "name": f"c{i}"}) for i in range(40))
        )
        assert {r.status_code for r in responses} == {200}
        listed = (await client.get("/assistants", params={"limit": 100})).json()["data"]
    assert sorted(a["name"] for a in listed) == sorted(f"c{i}" for i in range(40))


@pytest.mark.anyio
async def test_local_app_layout(tmp_path: Path) -> None:
    app = local_app(tmp_path)
    folder = tmp_path / ".reconciler"
    assert (folder / ".gitignore").read_text() == "*\n"
    async with httpx.AsyncClient(
        transport=InProcessTransport(app),
        base_url="http://reconciler.local/v1",
        headers={"Authorization": "Bearer anything", "OpenAI-Beta": "assistants=v1"},
    ) as client:
        assert (await client.post("/assistants", json={"model": "gpt-4"})).status_code == 200
    app.state.emulator.store.close()
    assert (folder / "local.sqlite3").is_file()
    again = local_app(tmp_path)
    assert again.state.emulator.store.counts()["assistants"] == 1
    again.state.emulator.store.close()


# -- several `reconciler emulator` processes on one SQLite file ----------------------------------------


SpawnEmulators = Callable[..., list[EmulatorProcess]]
#: Exit statuses after SIGTERM: uvicorn shuts down gracefully, then re-raises the signal it caught.
STOPPED_CLEANLY = (0, -signal.SIGTERM)


@pytest.fixture
def spawn_emulators(tmp_path: Path) -> Iterator[SpawnEmulators]:
    """`spawn(db, n=1)`: start `n` emulator processes on `db` all at once, then wait until each answers.
    Every process started is stopped at teardown, whatever happened."""
    started: list[EmulatorProcess] = []

    def spawn(db: Path, n: int = 1) -> list[EmulatorProcess]:
        procs = []
        for _ in range(n):
            procs.append(EmulatorProcess(db, tmp_path / f"emulator-{len(started)}.log"))
            started.append(procs[-1])
        return [proc.wait_ready() for proc in procs]

    try:
        yield spawn
    finally:
        for proc in started:
            proc.stop()


def _walk(
    clients: list[httpx.Client], *, limit: int, order: str = "asc"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every assistant, page by page, asking `clients` in turn (page k from `clients[k % len]`).
    Returns (assistants, page envelopes without data)."""
    out: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    after: str | None = None
    for k in range(1000):
        params: dict[str, Any] = {"limit": limit, "order": order}
        if after is not None:
            params["after"] = after
        response = clients[k % len(clients)].get("/assistants", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        out += page["data"]
        pages.append({key: value for key, value in page.items() if key != "data"})
        if not page["has_more"]:
            return out, pages
        after = page["last_id"]
    raise AssertionError("pagination did not end")  # pragma: no cover


def _integrity(db: Path) -> list[str]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


PROCESSES = 3
WORKERS_PER_PROCESS = 4
CREATES_PER_WORKER = 10  # 3 processes x 4 workers x 10 = 120 creates (40 per process)


def test_processes_share_one_file(tmp_path: Path, spawn_emulators: SpawnEmulators) -> None:
    """Three emulator processes serve one SQLite file while 12 client threads write through all of them:
    120 creates (40 per process), 48 modifies and 24 deletes, each modify/delete through another process
    than the create, plus list walks during the writes. No client sees an error; afterwards every process
    lists every live assistant exactly once, in the same order, and the file passes `integrity_check`."""
    db = tmp_path / "shared.sqlite3"
    procs = spawn_emulators(db, PROCESSES)  # started together: they race to create the schema, too
    workers = PROCESSES * WORKERS_PER_PROCESS
    barrier = threading.Barrier(workers, timeout=20)
    errors: list[str] = []
    created: dict[str, str] = {}  # id -> name
    modified: set[str] = set()
    deleted: set[str] = set()
    record = threading.Lock()

    def check(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200 or "locked" in response.text:
            with record:
                errors.append(
                    f"{response.request.method} {response.request.url}: {response.status_code} "
                    f"{response.text[:300]}"
                )
            return {}
        body: dict[str, Any] = response.json()
        return body

    def worker(n: int) -> None:
        p = n % PROCESSES
        clients = [procs[(p + k) % PROCESSES].client() for k in range(PROCESSES)]
        try:
            barrier.wait()
            for i in range(CREATES_PER_WORKER):
                name = f"p{p}-w{n}-{i}"
                assistant = check(
                    clients[0].post(
                        "/assistants", json={"model": "gpt-4", "name": name, "metadata": {"n": name}}
                    )
                )
                if not assistant:
                    continue
                with record:
                    assert assistant["id"] not in created
                    created[assistant["id"]] = name
                if i % 3 == 0:  # modify through the next process
                    body = check(
                        clients[1].post(
                            f"/assistants/{assistant['id']}", json={"metadata": {"modified": "yes"}}
                        )
                    )
                    if body:
                        assert body["name"] == name and body["metadata"] == {"modified": "yes"}
                        with record:
                            modified.add(assistant["id"])
                deleting = i % 5 == 4  # delete through the process after that
                if deleting and check(clients[2].delete(f"/assistants/{assistant['id']}")).get("deleted"):
                    with record:
                        deleted.add(assistant["id"])
                if i == CREATES_PER_WORKER // 2:  # a walk while the others write: never a duplicate
                    seen, _ = _walk(clients, limit=9)
                    ids = [a["id"] for a in seen]
                    assert len(ids) == len(set(ids))
        finally:
            for client in clients:
                client.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(worker, n) for n in range(workers)]
        for future in futures:
            future.result(timeout=60)

    assert errors == []
    assert len(created) == PROCESSES * WORKERS_PER_PROCESS * CREATES_PER_WORKER == 120
    assert len(modified) == 48 and len(deleted) == 24
    live = set(created) - deleted

    clients = [proc.client() for proc in procs]
    admins = [proc.client(root=True) for proc in procs]
    try:
        walks = [_walk([client], limit=17) for client in clients]
        reference = walks[0][0]
        ids = [a["id"] for a in reference]
        assert len(ids) == len(set(ids)) == len(live) == 96
        assert set(ids) == live
        for assistant in reference:
            assert assistant["name"] == created[assistant["id"]]
            expected = {"modified": "yes"} if assistant["id"] in modified else {"n": assistant["name"]}
            assert assistant["metadata"] == expected
        created_at = [a["created_at"] for a in reference]
        assert created_at == sorted(created_at)
        for other in walks[1:]:  # every process: the same objects, the same order, the same pages
            assert other == walks[0]
        # a walk hopping from process to process on every page, and backwards
        assert _walk(clients, limit=13)[0] == reference
        assert _walk(clients[::-1], limit=7, order="desc")[0] == reference[::-1]
        for client in clients:
            for assistant_id in sorted(deleted)[:8]:
                assert client.get(f"/assistants/{assistant_id}").status_code == 404
            # a tombstone still works as a cursor on every process
            assert client.get("/assistants", params={"after": sorted(deleted)[0]}).status_code == 200
        for admin in admins:
            assert admin.get("/_emulator/stats").json()["objects"]["assistants"] == 96
    finally:
        for client in clients + admins:
            client.close()

    for proc in procs:
        proc.stop()
        assert proc.popen.returncode in STOPPED_CLEANLY, proc.log.read_text()
        assert "locked" not in proc.log.read_text()
    assert _integrity(db) == ["ok"]
    conn = sqlite3.connect(db)
    try:
        counts = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id), SUM(deleted) FROM assistants").fetchone()
        order = conn.execute(
            "SELECT id FROM assistants WHERE deleted = 0 ORDER BY created_at, seq"
        ).fetchall()
    finally:
        conn.close()
    assert counts == (120, 120, 24)
    assert [row[0] for row in order] == ids


def test_separate_process_restarts_keep_state(tmp_path: Path, spawn_emulators: SpawnEmulators) -> None:
    """Write through one process, kill it (SIGKILL: no clean shutdown), read and write through a new one,
    stop that one (SIGTERM), and a third still sees everything."""
    db = tmp_path / "restart.sqlite3"
    (first,) = spawn_emulators(db)
    with first.client() as client:
        file = client.post("/files", files={"file": ("a.txt", b"abc")}, data={"purpose": "assistants"}).json()
        kept = client.post(
            "/assistants",
            json={"model": "gpt-4", "name": "kept", "tools": RETRIEVAL, "file_ids": [file["id"]]},
        )
        gone = client.post("/assistants", json={"model": "gpt-4", "name": "gone"}).json()
        assert client.delete(f"/assistants/{gone['id']}").status_code == 200
    created = kept.json()
    first.stop(kill=True)

    (second,) = spawn_emulators(db)
    with second.client() as client:
        assert client.get(f"/assistants/{created['id']}").json() == created
        assert [a["id"] for a in client.get("/assistants").json()["data"]] == [created["id"]]
        assert client.get(f"/assistants/{gone['id']}").status_code == 404
        assert client.get(f"/files/{file['id']}/content").content == b"abc"
        renamed = client.post(f"/assistants/{created['id']}", json={"name": "renamed"}).json()
    second.stop()
    assert second.popen.returncode in STOPPED_CLEANLY

    (third,) = spawn_emulators(db)
    with third.client() as client:
        assert client.get(f"/assistants/{created['id']}").json() == renamed
        assert client.get("/assistants", params={"after": gone["id"]}).status_code == 200
    third.stop()
    assert _integrity(db) == ["ok"]


def test_db_under_a_missing_directory_is_refused(tmp_path: Path) -> None:
    """`reconciler emulator --db` does not create directories: one line, exit 1, nothing created."""
    db = tmp_path / "missing" / "state.sqlite3"
    result = CliRunner().invoke(cli, ["emulator", "--port", "0", "--db", str(db)], prog_name="reconciler")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot keep the emulator state in {db}: directory {db.parent} does not exist (create it "
        "first)\n"
    )
    assert not db.parent.exists()


@pytest.mark.parametrize("content", [b"\x00garbage" * 600, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_corrupt_local_state_file_names_the_file_to_delete(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "a.yaml").write_text("model: gpt-4\n")
    state = tmp_path / ".reconciler" / "local.sqlite3"
    state.parent.mkdir()
    state.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--local"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: {state} is not a usable emulator state file (file is not a database): delete it to start "
        "over with an empty state\n"
    )
    state.unlink()  # and once deleted, the plan works from an empty state
    again = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--local"], cwd=tmp_path, capture_output=True, timeout=60
    )
    assert again.returncode == 0, again.stderr
