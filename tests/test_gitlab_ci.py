"""scripts/gitlab_ci.py (docs/ci.md's GitLab jobs) against a stand-in for GitLab's notes and issues API.

The stand-in keeps notes and issues in memory, pages lists like GitLab (`per_page`, `page`), checks the
PRIVATE-TOKEN header and records every request; the script runs as the GitLab job runs it, as a process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from http_support import JSONHandler

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gitlab_ci.py"
TOKEN = "glpat-canary-0123456789"


class FakeGitLab(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.notes: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v4"


class Handler(JSONHandler):
    server: FakeGitLab

    def answer(self, status: int, payload: Any) -> None:
        self.send_json(payload, status)

    def handle_any(self) -> None:
        url = urlsplit(self.path)
        self.server.calls.append((self.command, url.path))
        if self.headers.get("PRIVATE-TOKEN") != TOKEN:
            return self.answer(401, {"message": "401 Unauthorized"})
        length = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(length)) if length else {}
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        kind = "notes" if "/merge_requests/5/notes" in url.path else "issues"
        items = self.server.notes if kind == "notes" else self.server.issues
        ident = "id" if kind == "notes" else "iid"
        tail = re.search(r"/(\d+)$", url.path)
        if self.command == "GET":
            listed = [i for i in items if kind == "notes" or i["state"] == query.get("state", i["state"])]
            size, page = int(query.get("per_page", 20)), int(query.get("page", 1))
            return self.answer(200, listed[(page - 1) * size : page * size])
        if self.command == "POST":
            item = {ident: len(items) + 100, "state": "opened", **data}
            items.append(item)
            return self.answer(201, item)
        item = next(i for i in items if tail and i[ident] == int(tail.group(1)))
        if data.get("state_event") == "close":
            item["state"] = "closed"
        item.update({k: v for k, v in data.items() if k != "state_event"})
        return self.answer(200, item)

    do_GET = do_POST = do_PUT = handle_any


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    server = FakeGitLab()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run(gitlab: FakeGitLab, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "CI_API_V4_URL": gitlab.api,
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "5",
        "GITLAB_TOKEN": token,
    }
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True)


def test_note_is_created_once_then_edited_in_place(gitlab: FakeGitLab, tmp_path: Path) -> None:
    gitlab.notes.extend({"id": n, "body": f"chatter {n}"} for n in range(1, 121))  # two pages of other notes
    plan = tmp_path / "plan.md"
    plan.write_text("<!-- reconciler:plan -->\n**Plan: 1 to add, 0 to change, 0 to destroy.**\n")
    first = run(gitlab, "note", str(plan))
    assert (first.returncode, first.stdout, first.stderr) == (0, "gitlab_ci: created note 220\n", "")
    plan.write_text("<!-- reconciler:plan -->\n**No changes.**\n")
    second = run(gitlab, "note", str(plan))
    assert (second.returncode, second.stdout) == (0, "gitlab_ci: updated note 220\n")
    assert [n["body"] for n in gitlab.notes if n["id"] == 220] == [plan.read_text()]
    assert len(gitlab.notes) == 121
    assert gitlab.calls[-1] == ("PUT", "/api/v4/projects/42/merge_requests/5/notes/220")


def test_drift_opens_updates_and_closes_one_issue(gitlab: FakeGitLab, tmp_path: Path) -> None:
    drift = tmp_path / "drift.md"
    drift.write_text("<!-- reconciler:plan -->\n**Plan: 0 to add, 1 to change, 0 to destroy.**\n")
    assert run(gitlab, "drift", str(drift), "0").stdout == "gitlab_ci: no drift\n"
    assert run(gitlab, "drift", str(drift), "2").stdout == "gitlab_ci: drift: opened issue 100\n"
    issue = gitlab.issues[0]
    assert (issue["title"], issue["labels"], issue["description"]) == (
        "Drift: assistants differ from their manifests",
        "reconciler-drift",
        drift.read_text(),
    )
    drift.write_text("<!-- reconciler:plan -->\n**Plan: 0 to add, 2 to change, 0 to destroy.**\n")
    assert run(gitlab, "drift", str(drift), "2").stdout == "gitlab_ci: drift: updated issue 100\n"
    assert len(gitlab.issues) == 1 and gitlab.issues[0]["description"] == drift.read_text()
    assert run(gitlab, "drift", str(drift), "0").stdout == "gitlab_ci: no drift any more: closed issue 100\n"
    assert gitlab.issues[0]["state"] == "closed"


def test_a_failed_plan_leaves_the_issue_alone(gitlab: FakeGitLab, tmp_path: Path) -> None:
    result = run(gitlab, "drift", str(tmp_path / "drift.md"), "1")
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "gitlab_ci: the plan failed (exit code 1): the drift issue is left as it is\n",
    )
    assert gitlab.calls == []


def test_errors_are_one_line_without_the_token(gitlab: FakeGitLab, tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("x")
    denied = run(gitlab, "note", str(plan), token="glpat-wrong-0123456789")
    assert (denied.returncode, denied.stderr) == (
        1,
        f"gitlab_ci: GET {gitlab.api}/projects/42/merge_requests/5/notes: HTTP 401\n",
    )
    missing = run(gitlab, "note", str(tmp_path / "nope.md"))
    assert (missing.returncode, missing.stderr) == (
        1,
        f"gitlab_ci: {tmp_path / 'nope.md'}: No such file or directory\n",
    )
    usage = run(gitlab, "notes")
    assert usage.stderr == "gitlab_ci: usage: gitlab_ci.py note FILE | gitlab_ci.py drift FILE EXITCODE\n"
    for result in (denied, missing, usage):
        assert TOKEN not in result.stdout + result.stderr and "glpat-wrong" not in result.stderr
