"""`reconciler apply` end to end over real HTTP (the live emulator): approval, saved and stale plans, safety
limits, --target, --format json, progress and exit codes."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from apply_support import ENTRY, FILES_NOT_FOUND, markers, writes
from click.testing import CliRunner, Result
from plan_support import write_manifests

from reconciler import dialect
from reconciler.cli import cli
from reconciler.emulator.testing import LiveEmulator
from reconciler.usecases.applying import APPROVAL_PROMPT

ROOT = Path(__file__).resolve().parents[1]


def run(live: LiveEmulator, *args: str, input: str | None = None) -> Result:
    env = {"OPENAI_API_KEY": live.api_key or "", "NO_COLOR": "1", "OPENAI_BASE_URL": live.base_url}
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def seed(live: LiveEmulator, *keys: str, **fields: Any) -> dict[str, dict[str, Any]]:
    """Create managed assistants (model gpt-4) directly; returns them by key."""
    out = {}
    with live.client() as http:
        for key in keys:
            body = {"model": "gpt-4", "name": key, **fields, "metadata": {dialect.MARKER_KEY: key}}
            response = http.post("/assistants", json=body)
            response.raise_for_status()
            out[key] = response.json()
    live.reset_stats()
    return out


def held(live: LiveEmulator) -> list[dict[str, Any]]:
    with live.client() as http:
        data: list[dict[str, Any]] = http.get("/assistants", params={"limit": 100}).json()["data"]
    return data


def write_count(live: LiveEmulator) -> int:
    return sum(n for route, n in live.stats()["by_route"].items() if route.split()[0] in ("POST", "DELETE"))


def manifests(directory: Path, *keys: str, **fields: str) -> Path:
    extra = "".join(f"{k}: {v}\n" for k, v in fields.items())
    return write_manifests(directory, {k: f"name: {k}\nmodel: gpt-4\n{extra}" for k in keys})


def test_without_a_tty_apply_refuses_unless_auto_approve(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    d = manifests(tmp_path / "a", "new")
    result = run(live_emulator, "apply", "--dir", str(d), input="yes\n")
    assert result.exit_code == 1
    assert "+ assistant" in result.stdout  # the plan was shown
    assert result.stderr == (
        "Error: stdin is not a terminal, so apply cannot ask for approval: pass --auto-approve to apply "
        "without asking, or apply a saved plan file\n"
    )
    assert write_count(live_emulator) == 0

    result = run(live_emulator, "apply", "--dir", str(d), "--auto-approve")
    assert result.exit_code == 0, result.output
    [created] = held(live_emulator)
    assert result.stdout.endswith(
        f"+ new: created ({created['id']})\n\nApply complete! Assistants: 1 added, 0 changed, 0 destroyed.\n"
    )


def test_no_changes_means_no_writes_and_exit_0(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    seed(live_emulator, "same")
    d = manifests(tmp_path, "same")
    result = run(live_emulator, "apply", "--dir", str(d))  # no TTY, no --auto-approve: nothing to ask
    assert result.exit_code == 0, result.output
    assert result.stdout == "No changes. Your assistants match the manifests.\n"
    assert live_emulator.stats()["by_route"] == {"GET /v1/assistants": 1}


def test_saved_plan_is_applied_exactly_without_a_prompt(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    seed(live_emulator, "old", instructions="v1")
    d = manifests(tmp_path / "m", "old", "new", instructions="v2")
    plan_file = tmp_path / "plan.json"
    assert run(live_emulator, "plan", "--dir", str(d), "--out", str(plan_file)).exit_code == 0
    manifests(tmp_path / "m", "later")  # not in the saved plan: never applied
    live_emulator.reset_stats()

    result = run(live_emulator, "apply", str(plan_file))
    assert result.exit_code == 0, result.output
    assert "Do you want" not in result.output
    assert result.stdout.splitlines()[-1] == "Apply complete! Assistants: 1 added, 1 changed, 0 destroyed."
    assert live_emulator.stats()["by_route"] == {
        "GET /v1/assistants": 1,  # the stale check
        "POST /v1/assistants": 1,
        "POST /v1/assistants/{assistant_id}": 1,
    }
    assert sorted(markers(held(live_emulator))) == ["new", "old"]


@pytest.mark.parametrize("how", ["changed", "deleted", "appeared"])
def test_stale_saved_plan_is_refused_and_nothing_is_written(
    live_emulator: LiveEmulator, tmp_path: Path, how: str
) -> None:
    existing = seed(live_emulator, "kept", "edited", instructions="v1")
    d = manifests(tmp_path / "m", "kept", "edited", "new", instructions="v2")
    plan_file = tmp_path / "plan.json"
    assert run(live_emulator, "plan", "--dir", str(d), "--out", str(plan_file)).exit_code == 0
    with live_emulator.client() as http:
        if how == "changed":
            http.post(f"/assistants/{existing['edited']['id']}", json={"instructions": "by hand"})
            reason = f"edited changed ({existing['edited']['id']})"
        elif how == "deleted":
            http.delete(f"/assistants/{existing['edited']['id']}")
            reason = f"edited deleted ({existing['edited']['id']})"
        else:
            body = {"model": "gpt-4", "metadata": {dialect.MARKER_KEY: "new"}}
            appeared = http.post("/assistants", json=body).json()
            reason = f"new appeared ({appeared['id']})"
    live_emulator.reset_stats()

    result = run(live_emulator, "apply", str(plan_file), "--auto-approve")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: plan is stale: 1 assistant changed since it was made: {reason}; "
        "make a new plan and review it\n"
    )
    assert live_emulator.stats()["by_route"] == {"GET /v1/assistants": 1}


def test_bad_plan_files_are_one_line_errors(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = run(live_emulator, "apply", str(missing))
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot read the plan file {missing}: No such file or directory\n"

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run(live_emulator, "apply", str(broken))
    assert result.stderr == (
        f"Error: {broken}:1:2: not a saved plan: invalid JSON "
        "(Expecting property name enclosed in double quotes)\n"
    )

    other = tmp_path / "other.json"
    other.write_text('{"format_version": "1", "changes": [{"key": "a"}]}')
    result = run(live_emulator, "apply", str(other))
    assert result.stderr == f"Error: {other}: not a saved reconciler plan (missing or bad field: 'id')\n"
    assert live_emulator.stats()["total"] == 0


def test_files_that_are_not_saved_plans_say_what_they_are(
    live_emulator: LiveEmulator, tmp_path: Path
) -> None:
    """`plan --format json` output, someone else's JSON, a binary file, a cut-off plan: one line each, exit 1,
    no API call."""
    d = manifests(tmp_path / "assistants", "a")
    printed = run(
        live_emulator, "plan", "--dir", str(d), "--format", "json", "--out", str(tmp_path / "saved.json")
    )
    assert printed.exit_code == 0, printed.output
    make_one = "; save a plan with `reconciler plan --out FILE`\n"
    saved = (tmp_path / "saved.json").read_text()
    cases: dict[str, tuple[str | bytes, str]] = {
        "printed.json": (
            printed.stdout,
            "this is the output of `plan --format json`, which cannot be applied (it has no fingerprints)"
            + make_one,
        ),
        "package.json": (
            '{"name": "x", "version": "1.0.0"}',
            "not a saved plan: it has no format_version" + make_one,
        ),
        "list.json": ("[1, 2]", "not a saved plan: expected a JSON object" + make_one),
        "binary.json": (b"\x89PNG\r\n", "not a saved plan: not UTF-8 text (byte 1)" + make_one),
    }
    live_emulator.reset_stats()
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        result = run(live_emulator, "apply", str(path))
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {path}: {message}"), name
    cut = tmp_path / "cut.json"
    for size in (len(saved) // 2, len(saved) - 3):
        cut.write_text(saved[:size])
        result = run(live_emulator, "apply", str(cut))
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: {cut}:")
        assert result.stderr.endswith("; the file ends early: truncated?)\n"), result.stderr
    assert live_emulator.stats()["total"] == 0


def test_saved_plan_refuses_planning_options(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text("{}")
    result = run(live_emulator, "apply", str(plan_file), "--prune")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: a saved plan is applied exactly as it was made: --target, --prune and "
        "--allow-duplicate-names belong to `reconciler plan`\n"
    )


def test_saved_plan_refuses_dir(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    """--dir would be silently ignored: the saved plan's manifests were read when it was made."""
    plan_file = tmp_path / "plan.json"
    plan_file.write_text("{}")
    result = run(live_emulator, "apply", str(plan_file), "--dir", str(tmp_path))
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: a saved plan is applied exactly as it was made: --dir belongs to `reconciler plan` (the "
        "manifests were read then)\n",
    )
    assert live_emulator.stats()["total"] == 0


def test_target_applies_only_the_targeted_key(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    existing = seed(live_emulator, "a", "b", instructions="v1")
    d = manifests(tmp_path, "a", "b", instructions="v2")
    result = run(live_emulator, "apply", "--dir", str(d), "--target", "a", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert [w for w in writes(live_emulator.requests()) if w[0] == "POST"] == [
        (
            "POST",
            f"/v1/assistants/{existing['a']['id']}",
            {"instructions": "v2", "metadata": {dialect.MARKER_KEY: "a", dialect.APPLIED_KEY: ENTRY}},
        )
    ]


@pytest.mark.parametrize(
    ("managed", "kept", "force", "refusal"),
    [
        (10, 7, False, None),  # 3/10 = 30% is not over 30%
        (10, 6, False, "plan deletes 40% of managed assistants, over 30% (4/10), --force required"),
        (10, 6, True, None),
        (2, 0, False, "plan deletes all 2 managed assistants (2/2), --force required"),
        (2, 0, True, None),
    ],
)
def test_prune_safety_limits(
    live_emulator: LiveEmulator,
    tmp_path: Path,
    managed: int,
    kept: int,
    force: bool,
    refusal: str | None,
) -> None:
    keys = [f"bot-{i:02d}" for i in range(managed)]
    seed(live_emulator, *keys)
    d = manifests(tmp_path, *keys[:kept], "unrelated")
    args = ["apply", "--dir", str(d), "--prune", "--auto-approve", *(["--force"] if force else [])]
    result = run(live_emulator, *args)
    if refusal is None:
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[-1] == (
            f"Apply complete! Assistants: 1 added, 0 changed, {managed - kept} destroyed."
        )
        assert sorted(markers(held(live_emulator))) == sorted([*keys[:kept], "unrelated"])
    else:
        assert result.exit_code == 1
        assert result.stderr.splitlines()[-1] == f"Error: {refusal}"
        assert write_count(live_emulator) == 0


def test_saved_prune_plan_needs_force_at_apply(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    keys = [f"bot-{i:02d}" for i in range(10)]
    seed(live_emulator, *keys)
    d = manifests(tmp_path / "m", *keys[:6])
    plan_file = tmp_path / "plan.json"
    assert run(live_emulator, "plan", "--dir", str(d), "--prune", "--out", str(plan_file)).exit_code == 0
    live_emulator.reset_stats()
    result = run(live_emulator, "apply", str(plan_file))
    assert result.exit_code == 1
    assert (
        result.stderr == "Error: plan deletes 40% of managed assistants, over 30% (4/10), --force required\n"
    )
    assert write_count(live_emulator) == 0
    result = run(live_emulator, "apply", str(plan_file), "--force")
    assert result.exit_code == 0, result.output
    assert sorted(markers(held(live_emulator))) == keys[:6]


def test_format_json_prints_only_the_report_on_stdout(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    existing = seed(live_emulator, "old", instructions="v1")
    d = manifests(tmp_path, "old", "bad", instructions="v2")
    write_manifests(d, {"bad": "model: gpt-4\n"})
    # unknown file ids are refused at plan time now: the server refuses the create as it would them
    live_emulator.inject(400, route="POST /v1/assistants", body=FILES_NOT_FOUND)
    result = run(live_emulator, "apply", "--dir", str(d), "--auto-approve", "--format", "json")
    assert result.exit_code == 1
    assert "+ assistant" in result.stderr  # the plan goes to stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["summary"] == {"created": 0, "updated": 1, "deleted": 0, "failed": 1}
    [bad, old] = report["results"]
    assert old == {
        "key": "old",
        "id": existing["old"]["id"],
        "action": "update",
        "status": "updated",
        "error": None,
        "warnings": [],
    }
    assert (bad["key"], bad["status"], bad["id"]) == ("bad", "failed", None)
    assert bad["error"].startswith(
        "POST /assistants: 400 invalid_request_error (param 'file_ids'): Files [file-missing] were not found"
    )
    assert report["calls"]["total"] == 2


def test_failure_and_read_back_warning_exit_1(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    existing = seed(live_emulator, "hr", instructions="old")
    d = manifests(tmp_path, "hr", instructions="new")
    live_emulator.inject(200, route="POST /v1/assistants/{assistant_id}", body=existing["hr"])
    result = run(live_emulator, "apply", "--dir", str(d), "--auto-approve")
    assert result.exit_code == 1
    assert result.stdout.endswith(
        f"~ hr: updated ({existing['hr']['id']})\n\n"
        f"Warning: hr ({existing['hr']['id']}): the server did not keep instructions: "
        'sent "new", got "old"\n\n'
        "Apply complete! Assistants: 0 added, 1 changed, 0 destroyed.\n"
        "Apply finished with 1 warning: the server did not keep every field (see above).\n"
    )
    # the server really did not keep it: the next apply shows and makes the change again
    result = run(live_emulator, "apply", "--dir", str(d), "--auto-approve")
    assert result.exit_code == 0, result.output


def test_progress_without_a_tty_is_one_line_per_change(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    keys = [f"bot-{i}" for i in range(6)]
    d = manifests(tmp_path, *keys)
    result = run(live_emulator, "apply", "--dir", str(d), "--auto-approve", "--parallelism", "1")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert [line.split("] ")[0] + "]" for line in lines] == [f"[{i}/6" + "]" for i in range(1, 7)]
    assert all(" + bot-" in line and ": created (asst_" in line for line in lines)

    small = manifests(tmp_path / "small", "x")
    result = run(live_emulator, "apply", "--dir", str(small), "--auto-approve")
    assert result.stderr == ""  # no progress for a few changes


def _apply_on_a_tty(live: LiveEmulator, directory: Path, answer: str) -> tuple[int, str]:
    """Run `reconciler apply` with a pseudo-terminal as stdin, stdout and stderr; answer the question."""
    master, slave = pty.openpty()
    env = {
        **os.environ,
        "OPENAI_API_KEY": live.api_key or "",
        "NO_COLOR": "1",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--dir", str(directory), "--base-url", live.base_url],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    output = b""
    answered = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if not answered and APPROVAL_PROMPT.encode() in output:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, output.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.parametrize(("answer", "applied"), [("yes", True), ("no", False), ("YES", False)])
def test_on_a_tty_only_yes_applies(
    live_emulator: LiveEmulator, tmp_path: Path, answer: str, applied: bool
) -> None:
    d = manifests(tmp_path, "new")
    code, output = _apply_on_a_tty(live_emulator, d, answer)
    assert f"{APPROVAL_PROMPT} {answer}\n" in output
    if applied:
        assert code == 0, output
        assert output.endswith("Apply complete! Assistants: 1 added, 0 changed, 0 destroyed.\n")
        assert markers(held(live_emulator)) == {"new": 1}
    else:
        assert code == 1, output
        assert output.endswith("Apply cancelled.\n")
        assert held(live_emulator) == []
        assert write_count(live_emulator) == 0
