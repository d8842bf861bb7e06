"""A saved plan can't be made to do what it didn't say: `reconciler apply PLAN_FILE` re-checks ownership and
names against the server, refuses another target, and checks every local file before the first call.

Over real HTTP (the live emulator), through the CLI; each refusal is one exact line with nothing written.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from apply_support import markers
from click.testing import CliRunner, Result
from test_apply_cli import held, manifests, run, seed, write_count

from reconciler import dialect
from reconciler.cli import cli
from reconciler.emulator.testing import LiveEmulator

REFUSED = "Error: the saved plan is refused: it would write to assistants that are not its own: "
TAIL = "; nothing was applied; make a new plan and review it\n"


def unmanaged(live: LiveEmulator, name: str) -> dict[str, Any]:
    with live.client() as http:
        response = http.post("/assistants", json={"model": "gpt-4", "name": name})
        response.raise_for_status()
        created: dict[str, Any] = response.json()
    return created


def make_plan(live: LiveEmulator, directory: Path, out: Path, *args: str) -> dict[str, Any]:
    result = run(live, "plan", "--dir", str(directory), "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def fingerprint_of(assistant: dict[str, Any]) -> str:
    """The fingerprint a saved plan carries for an assistant as the API returned it."""
    return dialect.canonical_hash(dialect.normalise(assistant))


def refused(live: LiveEmulator, plan_file: Path) -> str:
    """Apply `plan_file`, expecting a refusal: exit 1 and nothing on stdout; returns stderr."""
    result = run(live, "apply", str(plan_file))
    assert (result.exit_code, result.stdout) == (1, ""), result.output
    return result.stderr


def edit(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("also_key", [False, True], ids=["id and fingerprint", "key too"])
def test_a_hand_edited_delete_of_an_unmanaged_assistant_is_refused(
    live_emulator: LiveEmulator, tmp_path: Path, also_key: bool
) -> None:
    seed(live_emulator, "keep", "old")
    legacy = unmanaged(live_emulator, "Legacy bot")
    plan_file = tmp_path / "plan.json"
    data = make_plan(live_emulator, manifests(tmp_path / "m", "keep"), plan_file, "--prune")
    [delete] = [c for c in data["changes"] if c["action"] == "delete"]
    delete["id"] = legacy["id"]
    delete["fingerprint"] = fingerprint_of(legacy)
    if also_key:
        delete["key"] = "ghost"  # no managed assistant has it: on main this deleted the unmanaged one
    edit(plan_file, data)
    live_emulator.reset_stats()

    key = delete["key"]
    assert (
        refused(live_emulator, plan_file)
        == f"{REFUSED}{key}: delete of {legacy['id']}, which is unmanaged{TAIL}"
    )
    assert write_count(live_emulator) == 0
    assert legacy["id"] in {a["id"] for a in held(live_emulator)}


def test_a_hand_edited_update_of_another_keys_assistant_is_refused(
    live_emulator: LiveEmulator, tmp_path: Path
) -> None:
    existing = seed(live_emulator, "hr", "finance", instructions="v1")
    plan_file = tmp_path / "plan.json"
    data = make_plan(live_emulator, manifests(tmp_path / "m", "hr", "finance", instructions="v2"), plan_file)
    hr = next(c for c in data["changes"] if c["key"] == "hr")
    hr["id"] = existing["finance"]["id"]
    hr["fingerprint"] = fingerprint_of(existing["finance"])
    data["changes"] = [hr]
    edit(plan_file, data)
    live_emulator.reset_stats()

    result = run(live_emulator, "apply", str(plan_file))
    assert result.exit_code == 1
    assert result.stderr == (
        f"{REFUSED}hr: update of {existing['finance']['id']}, which carries reconciler_key: finance{TAIL}"
    )
    assert write_count(live_emulator) == 0


def test_a_plan_that_drops_the_marker_is_refused(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    data = make_plan(live_emulator, manifests(tmp_path / "m", "new"), plan_file)
    data["changes"][0]["desired"]["metadata"] = {}
    edit(plan_file, data)
    result = run(live_emulator, "apply", str(plan_file))
    assert result.stderr == f"{REFUSED}new would not carry reconciler_key: new{TAIL}"
    assert held(live_emulator) == []


def test_a_create_whose_name_was_taken_since_the_plan_is_stale(
    live_emulator: LiveEmulator, tmp_path: Path
) -> None:
    d = manifests(tmp_path / "m", "sales")
    (d / "sales.yaml").write_text("name: Sales Bot\nmodel: gpt-4\n")
    plan_file = tmp_path / "plan.json"
    make_plan(live_emulator, d, plan_file)
    other = unmanaged(live_emulator, "Sales Bot")
    live_emulator.reset_stats()

    assert refused(live_emulator, plan_file) == (
        "Error: plan is stale: 1 assistant changed since it was made: sales's name 'Sales Bot' was taken "
        f"({other['id']}, unmanaged); make a new plan and review it\n"
    )
    assert write_count(live_emulator) == 0

    # made with --allow-duplicate-names, the same plan creates the second "Sales Bot" as it said it would
    make_plan(live_emulator, d, plan_file, "--allow-duplicate-names")
    result = run(live_emulator, "apply", str(plan_file))
    assert result.exit_code == 0, result.output
    assert sorted(a["name"] for a in held(live_emulator)) == ["Sales Bot", "Sales Bot"]


def invoke(live: LiveEmulator, args: list[str], **env: str) -> Result:
    base = {"OPENAI_API_KEY": live.api_key or "", "NO_COLOR": "1", "OPENAI_BASE_URL": live.base_url}
    return CliRunner().invoke(cli, args, env={**base, **env}, catch_exceptions=False)


def test_a_plan_is_refused_on_another_target(
    live_emulator: LiveEmulator, make_live_emulator: Any, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    d = manifests(tmp_path / "m", "new")
    result = invoke(live_emulator, ["plan", "--dir", str(d), "--out", str(plan_file)], OPENAI_ORG_ID="org-a")
    assert result.exit_code == 0, result.output
    saved = json.loads(plan_file.read_text())
    assert saved["target"] == {"base_url": live_emulator.base_url, "organization": "org-a", "project": None}
    assert live_emulator.api_key and live_emulator.api_key not in plan_file.read_text()
    other = make_live_emulator()
    made_for = f"{live_emulator.base_url} (organization org-a)"
    cases = {
        "other server": ({"OPENAI_BASE_URL": other.base_url, "OPENAI_ORG_ID": "org-a"}, other),
        "other project": ({"OPENAI_ORG_ID": "org-a", "OPENAI_PROJECT_ID": "proj-b"}, live_emulator),
        "no organization": ({}, live_emulator),
    }
    targets = {
        "other server": f"{other.base_url} (organization org-a)",
        "other project": f"{live_emulator.base_url} (organization org-a, project proj-b)",
        "no organization": live_emulator.base_url,
    }
    live_emulator.reset_stats()
    for name, (env, server) in cases.items():
        result = invoke(server, ["apply", str(plan_file)], **env)
        assert (result.exit_code, result.stdout) == (1, ""), name
        assert result.stderr == (
            f"Error: the saved plan was made for {made_for}, not for {targets[name]} (this run's target): "
            "apply it there, or make a new plan and review it\n"
        ), name
    assert live_emulator.stats()["total"] == other.stats()["total"] == 0

    result = invoke(live_emulator, ["apply", str(plan_file), "--local"], OPENAI_ORG_ID="org-a")
    assert result.stderr.startswith(f"Error: the saved plan was made for {made_for}, not for local ")

    result = invoke(live_emulator, ["apply", str(plan_file)], OPENAI_ORG_ID="org-a")
    assert result.exit_code == 0, result.output


POLICY = b"Leave: 25 days a year.\n"


def sha(data: bytes) -> str:
    """The short hash plans show."""
    return hashlib.sha256(data).hexdigest()[:8]


def knowledge_repo(root: Path) -> Path:
    """A repository with `assistants/hr.yaml` naming `assistants/docs/policy.md`."""
    (root / ".git").mkdir(parents=True)
    (root / "assistants" / "docs").mkdir(parents=True)
    (root / "assistants" / "docs" / "policy.md").write_bytes(POLICY)
    (root / "assistants" / "hr.yaml").write_text(
        "model: gpt-4\ntools: [{type: retrieval}]\nfiles: [docs/policy.md]\n"
    )
    (root / "assistants" / "faq.yaml").write_text("model: gpt-4\n")
    return root


def planned_in_repo(
    live: LiveEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, dict[str, Any]]:
    """`knowledge_repo` as the working directory, planned and saved outside it: (repo, plan file, saved)."""
    repo = knowledge_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    plan_file = tmp_path / "plan.json"
    return repo, plan_file, make_plan(live, Path("assistants"), plan_file)


def test_local_files_are_checked_before_the_first_call_from_the_repository_root(
    live_emulator: LiveEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, plan_file, saved = planned_in_repo(live_emulator, tmp_path, monkeypatch)
    assert saved["root"] == str(repo.resolve())
    assert saved["files"][0]["paths"] == ["assistants/docs/policy.md"]

    (repo / "assistants" / "docs" / "policy.md").write_bytes(b"edited after the plan")
    monkeypatch.chdir(repo / "assistants" / "docs")  # paths resolve from the repository root, not here
    live_emulator.reset_stats()
    assert refused(live_emulator, plan_file) == (
        "Error: the saved plan needs local files that changed: policy.md changed since plan (planned "
        f"sha256:{sha(POLICY)}, now sha256:{sha(b'edited after the plan')}); nothing was applied; make a new "
        "plan and review it\n"
    )
    assert live_emulator.stats()["total"] == 0  # faq was not created either: whole or not at all

    (repo / "assistants" / "docs" / "policy.md").unlink()
    result = run(live_emulator, "apply", str(plan_file))
    assert result.stderr == (
        "Error: the saved plan needs local files that changed: cannot read policy.md (No such file or "
        "directory); nothing was applied; make a new plan and review it\n"
    )

    (repo / "assistants" / "docs" / "policy.md").write_bytes(POLICY)
    result = run(live_emulator, "apply", str(plan_file))
    assert result.exit_code == 0, result.output
    assert sorted(markers(held(live_emulator))) == ["faq", "hr"]


@pytest.mark.parametrize(("swap", "kind"), [("fifo", "a FIFO"), ("/dev/zero", "a character device")])
def test_a_knowledge_file_swapped_for_a_fifo_or_a_device_since_the_plan_is_refused_not_read(
    live_emulator: LiveEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: str, kind: str
) -> None:
    """Read before: apply opened the FIFO and waited for a writer forever, and read /dev/zero until memory
    ran out."""
    repo, plan_file, _ = planned_in_repo(live_emulator, tmp_path, monkeypatch)
    policy = repo / "assistants" / "docs" / "policy.md"
    policy.unlink()
    if swap == "fifo":
        os.mkfifo(policy)
    else:
        policy.symlink_to("/dev/zero")
    live_emulator.reset_stats()
    assert refused(live_emulator, plan_file) == (
        f"Error: the saved plan needs local files that changed: cannot read assistants/docs/policy.md (it is "
        f"{kind}, not a regular file); nothing was applied; make a new plan and review it\n"
    )
    assert live_emulator.stats()["total"] == 0


def test_after_a_partial_apply_of_a_saved_plan_the_advice_is_a_new_plan(
    live_emulator: LiveEmulator, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    make_plan(live_emulator, manifests(tmp_path / "m", "a", "b"), plan_file)
    live_emulator.inject(503, route="POST /v1/assistants")
    result = run(live_emulator, "apply", str(plan_file), "--max-retries", "0", "--parallelism", "1")
    assert result.exit_code == 1
    last = result.stdout.splitlines()[-1]
    assert last == (
        "Apply failed: 1 of 2 changes failed (1 added, 0 changed, 0 destroyed). Make a new plan and apply it "
        "to retry (this saved plan was reviewed against the state before); nothing applied is lost."
    )
    assert "apply again" not in result.stdout
    # Applying the same file again anyway is safe: the create that went through converges (exactly once
    # across runs, docs/design.md), so each key ends with exactly one assistant.
    result = run(live_emulator, "apply", str(plan_file))
    assert result.exit_code == 0, result.output
    assert sorted(markers(held(live_emulator))) == ["a", "b"]


def test_paths_outside_a_repository_resolve_from_the_saved_root(
    live_emulator: LiveEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No `.git` above the current directory: the root the plan names is used."""
    repo, plan_file, _ = planned_in_repo(live_emulator, tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run(live_emulator, "apply", str(plan_file))
    assert result.exit_code == 0, result.output
    assert os.path.isabs(str(repo))
    assert sorted(markers(held(live_emulator))) == ["faq", "hr"]
