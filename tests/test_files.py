"""Knowledge files (`files:`) end to end against the in-process emulator: identity by content, one upload
per content, one create/modify per assistant, pruning, failures, exactly-once uploads, saved plans and
renderings. Calls are counted with the emulator's stats (`/_emulator/stats`)."""

from __future__ import annotations

import hashlib
import io
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apply_support import ENTRY, client_for, plan_dir, seed, writes

from reconciler import dialect, knowledge, planfile
from reconciler.apply import Executor
from reconciler.client import Client, RemoteAssistant
from reconciler.emulator.testing import InProcessEmulator
from reconciler.manifest import load_directory
from reconciler.plan import Plan
from reconciler.render import render_plan
from reconciler.render.report import render_report
from reconciler.results import ApplyReport
from reconciler.staleness import check_stale

pytestmark = pytest.mark.anyio

AFTER = "(known after apply)"
NEW = "new content"
#: A file tool: v1 refuses `file_ids` on an assistant without one.
RETRIEVAL = [{"type": "retrieval"}]
POLICY = b"# Leave policy\n\n25 days a year.\n"
HANDBOOK = b"# Handbook\n\nBe kind.\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A repository (`.git`) as the working directory, with `assistants/docs/`."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants" / "docs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def put(repo: Path, rel: str, content: bytes | str) -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(textwrap.dedent(content).lstrip())
    else:
        path.write_bytes(content)
    return path


def manifest_with(*files: str) -> str:
    """A manifest (gpt-4, with retrieval) whose `files:` are `files`."""
    return f"model: gpt-4\ntools: [{{type: retrieval}}]\nfiles: [{', '.join(files)}]\n"


def put_hr_with_policy(repo: Path) -> Path:
    """`hr.yaml` with `files: [docs/policy.md]`, and that file (POLICY); returns its path."""
    policy = put(repo, "assistants/docs/policy.md", POLICY)
    put(repo, "assistants/hr.yaml", manifest_with("docs/policy.md"))
    return policy


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def routes(emulator: InProcessEmulator) -> dict[str, int]:
    by_route: dict[str, int] = emulator.stats()["by_route"]
    return by_route


async def plan_apply(
    client: Client, emulator: InProcessEmulator, repo: Path, **options: Any
) -> tuple[Plan, ApplyReport, dict[str, int]]:
    """Plan `assistants/`, apply it; returns the plan, the report and the calls both made."""
    emulator.reset_stats()
    parallelism = options.pop("parallelism", 8)
    the_plan = await plan_dir(client, repo / "assistants", **options)
    report = await Executor(client, settle_window=0, parallelism=parallelism).run(the_plan)
    return the_plan, report, routes(emulator)


async def by_key(client: Client) -> dict[str, RemoteAssistant]:
    return {a.metadata.get("reconciler_key", ""): a for a in await client.list_assistants()}


def text(the_plan: Plan, fmt: str = "text") -> str:
    out = io.StringIO()
    render_plan(the_plan, out, fmt)
    return out.getvalue()


# ------------------------------------------------------------------------------------------ naming


def test_remote_names_carry_the_hash_and_keep_the_name_readable() -> None:
    digest = sha(POLICY)
    assert knowledge.remote_name("docs/leave-policy.md", digest) == f"leave-policy.sha256-{digest[:16]}.md"
    assert knowledge.remote_name("report.v2.pdf", digest) == f"report.v2.sha256-{digest[:16]}.pdf"
    assert knowledge.remote_name("LICENSE", digest) == f"LICENSE.sha256-{digest[:16]}"
    assert knowledge.remote_name(".env", digest) == f".env.sha256-{digest[:16]}"
    for original in ("leave-policy.md", "report.v2.pdf", "LICENSE", ".env", "a.sha256-0123456789abcdef.md"):
        assert knowledge.parse_name(knowledge.remote_name(original, digest)) == (original, digest[:16])
    assert knowledge.parse_name("leave-policy.md") is None
    assert knowledge.parse_name("x.sha256-0123.md") is None
    assert knowledge.parse_name("x.sha256-0123456789ABCDEF.md") is None


# ------------------------------------------------------------------------------------------ behaviour


async def test_first_upload_then_nothing_to_do(emulator: InProcessEmulator, repo: Path) -> None:
    put(repo, "assistants/docs/leave-policy.md", POLICY)
    put(repo, "assistants/hr.yaml", manifest_with("docs/leave-policy.md"))
    async with client_for(emulator) as client:
        first, report, calls = await plan_apply(client, emulator, repo)
        assert [f.action for f in first.files] == ["upload"]
        assert first.changes[0].desired["file_ids"] == [f"sha256:{sha(POLICY)}"]
        assert report.ok, [r.data() for r in (*report.files, *report.results)]
        assert calls == {
            "GET /v1/assistants": 1,
            "GET /v1/files": 2,  # the plan's, and the re-check before uploading
            "GET /v1/models": 1,  # the plan checks the model of a create
            "POST /v1/files": 1,
            "POST /v1/assistants": 1,
        }
        [uploaded] = await client.list_files("assistants")
        assert uploaded.filename == f"leave-policy.sha256-{sha(POLICY)[:16]}.md"
        assert uploaded.bytes == len(POLICY)
        assert list((await by_key(client))["hr"].file_ids) == [uploaded.id]
        assert [(f.status, f.id) for f in report.files] == [("uploaded", uploaded.id)]

        # unchanged content: no upload, no modify; one files listing
        again, report, calls = await plan_apply(client, emulator, repo)
    assert not again.has_changes
    assert [(f.action, f.id) for f in again.files] == [("no-op", uploaded.id)]
    assert report.files == () and report.results == ()
    assert calls == {"GET /v1/assistants": 1, "GET /v1/files": 1}
    assert text(again).splitlines()[-1] == "No changes. Your assistants match the manifests."


async def test_edited_content_is_one_upload_and_one_modify(emulator: InProcessEmulator, repo: Path) -> None:
    policy = put(repo, "assistants/docs/leave-policy.md", POLICY)
    put(
        repo,
        "assistants/hr.yaml",
        manifest_with("docs/leave-policy.md") + "file_ids: []\n",
    )
    async with client_for(emulator) as client:
        await plan_apply(client, emulator, repo)
        [old] = await client.list_files("assistants")
        edited = POLICY + b"\n30 days from 2027.\n"
        policy.write_bytes(edited)
        the_plan, _, calls = await plan_apply(client, emulator, repo)
        [change] = the_plan.actionable
        assert (change.action, change.changed_fields) == ("update", ("file_ids",))
        assert [(f.path, f.status) for f in change.files] == [
            ("assistants/docs/leave-policy.md", "upload"),
            ("leave-policy.md", "detach"),
        ]
        assert calls == {
            "GET /v1/assistants": 1,
            "GET /v1/files": 2,
            "POST /v1/files": 1,
            "POST /v1/assistants/{assistant_id}": 1,
        }
        new = next(f for f in await client.list_files("assistants") if f.id != old.id)
        assert list((await by_key(client))["hr"].file_ids) == [new.id]
        assert new.filename == f"leave-policy.sha256-{sha(edited)[:16]}.md"
        modify = next(r for r in emulator.requests() if r["route"] == "/v1/assistants/{assistant_id}")
        metadata = {dialect.MARKER_KEY: "hr", dialect.APPLIED_KEY: ENTRY}
        assert writes([modify]) == [("POST", modify["path"], {"file_ids": [new.id], "metadata": metadata})]
    rendered = text(the_plan)
    assert (
        f"""\
      ~ file_ids = [
          - file leave-policy.md (sha256:{sha(POLICY)[:8]}) = "{old.id}"
          + file assistants/docs/leave-policy.md ({NEW}, {len(edited)} B, sha256:{sha(edited)[:8]}) = {AFTER}
        ]
        (9 unchanged fields hidden)
"""
        in rendered
    )
    assert (
        f"  + file assistants/docs/leave-policy.md (new content, {len(edited)} B, sha256:{sha(edited)[:8]}) "
        f'will be uploaded as "leave-policy.sha256-{sha(edited)[:16]}.md" for hr\n'
    ) in rendered
    assert rendered.endswith("Plan: 0 to add, 1 to change, 0 to destroy.\nFiles: 1 to upload, 0 to delete.\n")


async def test_same_content_at_two_paths_and_in_two_assistants_is_uploaded_once(
    emulator: InProcessEmulator, repo: Path
) -> None:
    put(repo, "assistants/docs/policy.md", POLICY)
    put(repo, "assistants/docs/policy-copy.md", POLICY)
    put(repo, "shared/policy.md", POLICY)
    put(repo, "assistants/docs/handbook.md", HANDBOOK)
    put(repo, "assistants/hr.yaml", manifest_with("docs/policy.md", "docs/policy-copy.md"))
    put(repo, "assistants/it.yaml", manifest_with("../shared/policy.md", "docs/handbook.md"))
    put(repo, "assistants/ops.yaml", manifest_with("docs/handbook.md"))
    async with client_for(emulator) as client:
        the_plan, report, calls = await plan_apply(client, emulator, repo)
        assert report.ok
        # within one manifest, duplicates by content collapse to the first path
        assert [(f.action, f.paths, f.used_by) for f in the_plan.files] == [
            ("upload", ("assistants/docs/handbook.md",), ("it", "ops")),
            ("upload", ("assistants/docs/policy.md", "shared/policy.md"), ("hr", "it")),
        ]
        # 3 assistants sharing 2 documents: 2 uploads, 3 creates, nothing else written
        assert calls["POST /v1/files"] == 2
        assert calls["POST /v1/assistants"] == 3
        files = {(f.filename or "").split(".")[0]: f.id for f in await client.list_files("assistants")}
        assert set(files) == {"handbook", "policy"}
        held = await by_key(client)
    assert list(held["hr"].file_ids) == [files["policy"]]
    assert sorted(held["it"].file_ids) == sorted(files.values())
    assert list(held["ops"].file_ids) == [files["handbook"]]


async def test_renamed_path_with_same_content_changes_nothing(
    emulator: InProcessEmulator, repo: Path
) -> None:
    put_hr_with_policy(repo)
    async with client_for(emulator) as client:
        await plan_apply(client, emulator, repo)
        (repo / "assistants/docs/policy.md").rename(repo / "assistants/docs/leave.md")
        put(repo, "assistants/hr.yaml", manifest_with("docs/leave.md"))
        the_plan, _, calls = await plan_apply(client, emulator, repo)
    assert not the_plan.has_changes
    assert [(f.action, f.paths) for f in the_plan.files] == [("no-op", ("assistants/docs/leave.md",))]
    assert calls == {"GET /v1/assistants": 1, "GET /v1/files": 1}


async def test_files_and_file_ids_together_and_already_uploaded_content_is_attached(
    emulator: InProcessEmulator, repo: Path
) -> None:
    put(repo, "assistants/docs/policy.md", POLICY)
    async with client_for(emulator) as client:
        manual = await client.upload_file("scan.pdf", b"%PDF-1.4 scan", "assistants")
        shared = await client.upload_file(knowledge.remote_name("x.md", sha(POLICY)), POLICY, "assistants")
        put(repo, "assistants/hr.yaml", manifest_with("docs/policy.md") + f"file_ids: [{manual.id}]\n")
        the_plan, _, calls = await plan_apply(client, emulator, repo)
        assert [(f.status, f.id) for f in the_plan.changes[0].files] == [("attach", shared.id)]
        assert calls == {
            "GET /v1/assistants": 1,
            "GET /v1/files": 1,
            "GET /v1/models": 1,
            "POST /v1/assistants": 1,
        }
        assert sorted((await by_key(client))["hr"].file_ids) == sorted([manual.id, shared.id])


async def test_prune_deletes_only_unused_uploads_made_by_the_tool(
    emulator: InProcessEmulator, repo: Path
) -> None:
    put_hr_with_policy(repo)
    async with client_for(emulator) as client:
        await plan_apply(client, emulator, repo)
        [used] = await client.list_files("assistants")
        unused = await client.upload_file(knowledge.remote_name("old.md", sha(b"old")), b"old", "assistants")
        by_hand = await client.upload_file("old.md", b"by hand", "assistants")
        held = await client.upload_file(knowledge.remote_name("kept.md", sha(b"kept")), b"kept", "assistants")
        [unmanaged] = await seed(
            client, {"model": "gpt-4", "name": "Theirs", "tools": RETRIEVAL, "file_ids": [held.id]}
        )

        without, _, calls = await plan_apply(client, emulator, repo)
        assert not without.has_changes and [f.action for f in without.files] == ["no-op"]
        assert "DELETE /v1/files/{file_id}" not in calls

        pruned, report, calls = await plan_apply(client, emulator, repo, prune=True)
        assert [(f.action, f.id) for f in pruned.files] == [("no-op", used.id), ("delete", unused.id)]
        assert pruned.has_changes and pruned.summary["delete"] == 0
        assert [(f.status, f.id) for f in report.files] == [("deleted", unused.id)]
        assert calls == {
            "GET /v1/assistants": 2,  # the plan's, and the re-check before deleting
            "GET /v1/files": 1,
            "DELETE /v1/files/{file_id}": 1,
        }
        left = {f.id for f in await client.list_files("assistants")}
        assert left == {used.id, by_hand.id, held.id}
        assert unmanaged.file_ids == (held.id,)
    rendered = text(pruned)
    assert (
        f'  - file "old.sha256-{sha(b"old")[:16]}.md" ({unused.id}, 3 B) will be deleted: '
        "no manifest or assistant uses it\n"
    ) in rendered
    assert rendered.endswith("Plan: 0 to add, 0 to change, 0 to destroy.\nFiles: 0 to upload, 1 to delete.\n")


async def test_prune_keeps_a_file_attached_after_the_plan(emulator: InProcessEmulator, repo: Path) -> None:
    put(repo, "assistants/hr.yaml", "model: gpt-4\n")
    async with client_for(emulator) as client:
        stray = await client.upload_file(knowledge.remote_name("a.md", sha(b"a")), b"a", "assistants")
        the_plan = await plan_dir(client, repo / "assistants", prune=True)
        assert [f.action for f in the_plan.files] == ["delete"]
        await seed(
            client, {"model": "gpt-4", "tools": RETRIEVAL, "file_ids": [stray.id]}
        )  # attached meanwhile
        report = await Executor(client, settle_window=0).run(the_plan)
        assert not report.ok
        [result] = report.files
        assert result.status == "failed" and result.error is not None
        assert result.error.startswith("not deleted: still attached to asst_")
        assert [f.id for f in await client.list_files("assistants") if f.id == stray.id]


async def test_an_upload_failure_fails_only_the_changes_that_need_it(
    emulator: InProcessEmulator, repo: Path
) -> None:
    put(repo, "assistants/docs/a.md", POLICY)
    put(repo, "assistants/docs/b.md", HANDBOOK)
    put(repo, "assistants/one.yaml", manifest_with("docs/a.md"))
    put(repo, "assistants/two.yaml", manifest_with("docs/b.md"))
    put(repo, "assistants/plain.yaml", "model: gpt-4\n")
    async with client_for(emulator) as client:
        emulator.inject(400, route="POST /v1/files")  # the first upload (a.md, in path order) is refused
        _, report, _ = await plan_apply(client, emulator, repo, parallelism=1)
        statuses = {r.key: (r.status, r.error) for r in report.results}
        assert statuses["plain"] == ("created", None) and statuses["two"] == ("created", None)
        assert statuses["one"][0] == "failed"
        assert statuses["one"][1] is not None and statuses["one"][1].startswith(
            "upload of assistants/docs/a.md failed: POST /files: 400"
        )
        assert [(f.path, f.status) for f in report.files] == [
            ("assistants/docs/a.md", "failed"),
            ("assistants/docs/b.md", "uploaded"),
        ]
        out = io.StringIO()
        render_report(report, out)
        assert (
            out.getvalue()
            .splitlines()[0]
            .startswith("! file assistants/docs/a.md: upload failed: POST /files")
        )

        # a re-run uploads only what is missing and creates the failed assistant
        again, report, calls = await plan_apply(client, emulator, repo)
        assert [c.key for c in again.actionable] == ["one"]
        assert report.ok and calls["POST /v1/files"] == 1 and calls["POST /v1/assistants"] == 1
        assert len(await client.list_files("assistants")) == 2


@pytest.mark.parametrize("fault", ["drop", "500"])
async def test_an_upload_with_unknown_outcome_is_looked_up_not_duplicated(
    emulator: InProcessEmulator, repo: Path, fault: str
) -> None:
    put_hr_with_policy(repo)
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, repo / "assistants")
        emulator.reset_stats()
        if fault == "drop":
            emulator.set_faults(drop_rate=1, seed=1)  # every write commits, then the connection drops
        else:
            emulator.inject(500, route="POST /v1/files")  # answered 500 without running: nothing uploaded
        report = await Executor(client, settle_window=0).run(the_plan)
        emulator.set_faults()
        requests = emulator.requests()
        files = await client.list_files("assistants")
        assert report.ok, [r.data() for r in (*report.files, *report.results)]
        assert len(files) == 1
        assert list((await by_key(client))["hr"].file_ids) == [files[0].id]
    uploads = [(r["method"], r["status"], r["dropped"]) for r in requests if r["route"] == "/v1/files"]
    if fault == "drop":
        assert uploads == [
            ("GET", 200, False),  # the re-check before uploading
            ("POST", 200, True),  # uploaded, answer lost
            ("GET", 200, False),  # looked up by content: found, not sent again
        ]
    else:
        assert uploads == [
            ("GET", 200, False),
            ("POST", 500, False),  # answered 500 without running
            ("GET", 200, False),  # looked up: not there
            ("GET", 200, False),  # looked up again after settling (exactly_once): still not there
            ("POST", 200, False),  # so uploaded again, once
        ]


async def test_content_changed_since_the_plan_fails_that_change(
    emulator: InProcessEmulator, repo: Path
) -> None:
    policy = put_hr_with_policy(repo)
    put(repo, "assistants/other.yaml", "model: gpt-4\n")
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, repo / "assistants")
        policy.write_bytes(b"edited after the plan")
        report = await Executor(client, settle_window=0).run(the_plan)
        assert await client.list_files("assistants") == []
    results = {r.key: r for r in report.results}
    assert results["other"].status == "created"
    assert results["hr"].status == "failed"
    assert results["hr"].error == (
        f"assistants/docs/policy.md changed since plan (planned sha256:{sha(POLICY)[:8]}, now "
        f"sha256:{sha(b'edited after the plan')[:8]}); make a new plan and review it"
    )


async def test_saved_plan_round_trip(emulator: InProcessEmulator, repo: Path) -> None:
    put_hr_with_policy(repo)
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, repo / "assistants")
        saved_plan = planfile.SavedPlan(the_plan, planfile.Target(emulator.base_url), repo)
        planfile.save(saved_plan, repo / "plan.json")
        saved = json.loads((repo / "plan.json").read_text())
        assert saved["files"] == [
            {
                "action": "upload",
                "sha256": sha(POLICY),
                "size": len(POLICY),
                "paths": ["assistants/docs/policy.md"],
                "filename": f"policy.sha256-{sha(POLICY)[:16]}.md",
                "id": None,
                "used_by": ["hr"],
            }
        ]
        assert saved["file_summary"] == {"upload": 1, "delete": 0, "no-op": 0}
        assert saved["changes"][0]["files"] == [
            {
                "path": "assistants/docs/policy.md",
                "sha256": sha(POLICY),
                "size": len(POLICY),
                "id": None,
                "status": "upload",
            }
        ]
        loaded = planfile.load(repo / "plan.json").plan
        assert loaded == the_plan
        await check_stale(client, loaded)
        report = await Executor(client, settle_window=0).run(loaded)
        assert report.ok
        # applying the same saved plan again: applied already (its upload too), nothing uploaded twice
        left, done = await check_stale(client, loaded)
        assert (left.has_changes, done) == (False, ["hr"])
        after = await plan_dir(client, repo / "assistants")
        assert not after.has_changes
        assert len(await client.list_files("assistants")) == 1


async def test_a_saved_plan_reapplied_after_a_partial_failure_reuses_the_upload(
    emulator: InProcessEmulator, repo: Path
) -> None:
    put_hr_with_policy(repo)
    async with client_for(emulator, max_retries=0) as client:
        the_plan = await plan_dir(client, repo / "assistants")
        emulator.inject(400, route="POST /v1/assistants")
        first = await Executor(client, settle_window=0).run(the_plan)
        assert [(f.status, r.status) for f in first.files for r in first.results] == [("uploaded", "failed")]
        await check_stale(client, the_plan)  # nothing was created: still current
        emulator.reset_stats()
        second = await Executor(client, settle_window=0).run(the_plan)
    assert [(f.status, f.id) for f in second.files] == [("reused", first.files[0].id)]
    assert [r.status for r in second.results] == ["created"]
    assert "POST /v1/files" not in routes(emulator)


async def test_json_and_markdown_carry_the_files(emulator: InProcessEmulator, repo: Path) -> None:
    put_hr_with_policy(repo)
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, repo / "assistants")
    data = json.loads(text(the_plan, "json"))
    assert data == the_plan.data()
    assert data["changes"][0]["after"]["file_ids"] == [f"sha256:{sha(POLICY)}"]
    assert data["files"][0]["action"] == "upload" and data["file_summary"]["upload"] == 1
    markdown = text(the_plan, "markdown")
    assert "**Files: 1 to upload, 0 to delete.**" in markdown
    assert "<details><summary>knowledge files</summary>" in markdown
    assert (
        f"+   file assistants/docs/policy.md (new content, {len(POLICY)} B, sha256:{sha(POLICY)[:8]}) "
        "= (known after apply)"
    ) in markdown


# ------------------------------------------------------------------------------------------ validate


def test_validate_refuses_escapes_and_missing_files(repo: Path) -> None:
    put(repo, "outside-secret.md", "no")
    (repo / "assistants/docs/link.md").symlink_to("/etc/hostname")
    put(
        repo,
        "assistants/hr.yaml",
        "model: gpt-4\nfiles: [../../escape.md, docs/missing.md, docs/link.md, /etc/passwd]\n"
        "tools: [{type: retrieval}]\n",
    )
    result = load_directory(repo / "assistants")
    assert result.manifests == []
    messages = [str(e) for e in result.errors]
    assert len(messages) == 4
    assert messages[0].startswith(
        "assistants/hr.yaml:2:9: files[0]: '../../escape.md' is outside the repository"
    )
    assert messages[1] == "assistants/hr.yaml:2:26: files[1]: 'docs/missing.md' not found"
    assert messages[2].startswith(
        "assistants/hr.yaml:2:43: files[2]: 'docs/link.md' resolves outside the repository through a symlink"
    )
    assert (
        messages[3]
        == "assistants/hr.yaml:2:57: files[3]: '/etc/passwd' must be relative to the manifest, not absolute"
    )


def test_duplicates_by_content_within_a_manifest_collapse(repo: Path) -> None:
    put(repo, "assistants/docs/a.md", POLICY)
    put(repo, "assistants/docs/b.md", POLICY)
    put(repo, "assistants/hr.yaml", manifest_with("docs/a.md", "docs/b.md", "./docs/a.md"))
    result = load_directory(repo / "assistants")
    assert result.errors == []
    [manifest] = result.manifests
    ids, refs = knowledge.manifest_files(manifest, knowledge.RemoteIndex(), [])
    assert ids == [f"sha256:{sha(POLICY)}"]
    assert [(r.path, r.status) for r in refs] == [("assistants/docs/a.md", "upload")]


async def test_prune_without_a_files_endpoint_is_skipped(emulator: InProcessEmulator, repo: Path) -> None:
    put(repo, "assistants/hr.yaml", "model: gpt-4\n")
    async with client_for(emulator) as client:
        emulator.inject(404, route="GET /v1/files")
        the_plan = await plan_dir(client, repo / "assistants", prune=True)
    assert the_plan.files == () and [c.action for c in the_plan.changes] == ["create"]


async def test_large_uploads_report_progress(emulator: InProcessEmulator, repo: Path) -> None:
    big = bytes(range(256)) * (5 * 1024)  # 1.25 MB
    put(repo, "assistants/docs/big.pdf", big)
    put(repo, "assistants/docs/small.md", POLICY)
    put(repo, "assistants/hr.yaml", manifest_with("docs/big.pdf", "docs/small.md"))
    notes: list[str] = []
    async with client_for(emulator) as client:
        the_plan = await plan_dir(client, repo / "assistants")
        report = await Executor(client, settle_window=0, notes=notes.append).run(the_plan)
    assert report.ok
    [started, finished] = notes  # the small file makes no noise
    assert started == f"Uploading assistants/docs/big.pdf (1.2 MB, sha256:{sha(big)[:8]})..."
    assert finished.startswith(f"Uploaded assistants/docs/big.pdf as {report.files[0].id} (1.2 MB in ")


@pytest.mark.parametrize(("kept_hash", "warned"), [(True, False), (False, True)])
async def test_a_renamed_upload_is_warned_about_only_when_later_plans_cannot_recognise_it(
    emulator: InProcessEmulator, repo: Path, kept_hash: bool, warned: bool
) -> None:
    """A server that changed only other characters of the name keeps the content's hash in it: later plans
    reuse the upload, so the warning that they "will upload it again" was wrong."""
    put_hr_with_policy(repo)
    name = knowledge.remote_name("policy.md", sha(POLICY))
    renamed = name.replace("policy", "policy_v") if kept_hash else "policy.md"
    body = {"id": "file-renamed", "object": "file", "bytes": len(POLICY), "created_at": 1}
    emulator.inject(200, route="POST /v1/files", body={**body, "filename": renamed, "purpose": "assistants"})
    async with client_for(emulator) as client:
        _, report, _ = await plan_apply(client, emulator, repo)
    [upload] = report.files
    assert upload.status == "uploaded"
    expected = (
        f"assistants/docs/policy.md (file-renamed): the server renamed the upload to {renamed!r} (sent "
        f"{name!r}); later plans cannot recognise it and will upload it again"
    )
    assert list(upload.warnings) == ([expected] if warned else [])
