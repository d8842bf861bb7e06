"""Checks `reconciler plan` makes with what it lists anyway: `file_ids` the files listing does not have are
refused at plan time (one line per manifest, naming file, line and field), not at apply."""

from __future__ import annotations

from pathlib import Path

from test_apply_cli import manifests, run

from reconciler.emulator.testing import LiveEmulator


def upload(live: LiveEmulator, purpose: str) -> str:
    with live.client() as http:
        response = http.post("/files", files={"file": ("a.md", b"text")}, data={"purpose": purpose})
        response.raise_for_status()
        file_id: str = response.json()["id"]
    return file_id


def test_unknown_file_ids_are_caught_at_plan(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    known = upload(live_emulator, "assistants")
    tuning = upload(live_emulator, "fine-tune")
    d = manifests(tmp_path, "ok")
    (d / "ok.yaml").write_text(f"model: gpt-4\ntools: [{{type: retrieval}}]\nfile_ids: [{known}]\n")
    (d / "bad.yaml").write_text(
        f"model: gpt-4\ntools: [{{type: retrieval}}]\nfile_ids: [{known}, file-missing, {tuning}]\n"
    )
    live_emulator.reset_stats()
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run(live_emulator, *command, "--dir", str(d))
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == (
            f"Error: {d}/bad.yaml:3:1: file_ids: no file 'file-missing', '{tuning}' with purpose assistants "
            f"on {live_emulator.base_url} (GET /files?purpose=assistants)\n"
        )
    assert live_emulator.stats()["by_route"] == {"GET /v1/assistants": 2, "GET /v1/files": 2}

    (d / "bad.yaml").unlink()
    result = run(live_emulator, "plan", "--dir", str(d))
    assert result.exit_code == 0, result.output
