"""The key never leaves, even when the server holds it: an assistant with the API key pasted into its own
fields is planned in every format, saved and applied without the key appearing anywhere; a manifest holding
the key is refused naming the file and field, not the key. Over real HTTP, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_apply_cli import held, manifests, run, seed, write_count

from reconciler import dialect
from reconciler.emulator.testing import LiveEmulator


def key_of(live: LiveEmulator) -> str:
    assert live.api_key
    return live.api_key


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_a_key_the_server_holds_is_masked_in_plans_and_saved_plans(
    live_emulator: LiveEmulator, tmp_path: Path, fmt: str
) -> None:
    key = key_of(live_emulator)
    existing = seed(
        live_emulator,
        "hr",
        instructions=f"Call the API with {key} please.",
        description="d" * 20 + key + "e" * 40,  # shortened in the rendering: the cut may not show a part
    )
    seed(live_emulator, "old", description=f"key: {key}")
    d = manifests(tmp_path / "m", "hr", instructions="Help.")
    plan_file = tmp_path / "plan.json"
    result = run(live_emulator, "plan", "--dir", str(d), "--prune", "--format", fmt, "--out", str(plan_file))
    assert result.exit_code == 0, result.output
    saved = plan_file.read_text()
    for text in (result.stdout, result.stderr, saved):
        assert key not in text and key[:12] not in text and key[-10:] not in text
        assert "***" in text or text == result.stderr
    assert "Call the API with *** please." in result.stdout
    # fingerprints were taken before masking: the saved plan is current and applies
    hr = next(c for c in json.loads(saved)["changes"] if c["key"] == "hr")
    assert hr["before"] == {
        "description": "d" * 20 + "***" + "e" * 40,
        "instructions": "Call the API with *** please.",
    }
    assert hr["fingerprint"] == dialect.canonical_hash(dialect.normalise(existing["hr"]))
    result = run(live_emulator, "apply", str(plan_file))
    assert result.exit_code == 0, result.output
    assert key not in result.output
    assert [a["instructions"] for a in held(live_emulator)] == ["Help."]


def test_a_manifest_holding_the_key_is_refused_naming_file_and_field(
    live_emulator: LiveEmulator, tmp_path: Path
) -> None:
    key = key_of(live_emulator)
    d = manifests(tmp_path / "m", "ok")
    (d / "hr.yaml").write_text(f"model: gpt-4\nmetadata:\n  token: {key}\n")
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run(live_emulator, *command, "--dir", str(d))
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == (
            f"Error: {d}/hr.yaml:3:3: metadata.token: holds the API key (the value of OPENAI_API_KEY); "
            "remove it from the manifest\n"
        )
        assert key not in result.stderr
    assert write_count(live_emulator) == 0  # (plan lists while it loads: a first list call may be sent)
