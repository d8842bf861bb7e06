"""Second look at issue 16's changes (qa3): what a hostile server or body still broke.

A server answering a lone surrogate (`"\\ud800"`, valid JSON escape text that no UTF-8 output can hold)
made every plan an internal error (`UnicodeEncodeError`) when it was shown, fingerprinted or saved. The
servers are real (`raw_server`), the CLI a real process.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from test_hostile_server import CLI, KEY, answering, raw_server

from reconciler.emulator.testing import InProcessEmulator
from reconciler.emulator.validation import INVALID_JSON

pytestmark = pytest.mark.anyio

#: One managed assistant whose name is a lone surrogate, as a list page (every request gets it).
LONE = (
    b'{"object":"list","data":[{"id":"asst_1","object":"assistant","created_at":1,"name":"\\ud800",'
    b'"description":null,"model":"gpt-4","instructions":null,"tools":[],"file_ids":[],'
    b'"metadata":{"reconciler_key":"bot"},"top_p":1.0,"temperature":1.0,"response_format":"auto"}],'
    b'"first_id":"asst_1","last_id":"asst_1","has_more":false}'
)


async def plan(cwd: Path, base_url: str, *args: str) -> tuple[int | None, str, str]:
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "plan",
        "--base-url",
        base_url,
        "--max-retries",
        "0",
        "--model-rules",
        "server",
        *args,
        cwd=cwd,
        env={**os.environ, "OPENAI_API_KEY": KEY, "NO_COLOR": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, stdout.decode(), stderr.decode()


async def test_a_lone_surrogate_from_the_server_is_shown_escaped_and_saved(tmp_path: Path) -> None:
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "bot.yaml").write_text("name: Bot\nmodel: gpt-4\n")
    handler = answering("200 OK", LONE, content_type="application/json")
    async with raw_server(handler) as base_url:
        shown = await plan(tmp_path, base_url)
        as_json = await plan(tmp_path, base_url, "--format", "json")
        saved = await plan(tmp_path, base_url, "--out", "plan.json")
    assert shown[0] == 0, shown
    assert '      ~ name = "\\ud800" -> "Bot"\n' in shown[1]
    assert as_json[0] == 0, as_json
    assert json.loads(as_json[1])["changes"][0]["before"] == {"name": "\ud800"}
    assert saved[0] == 0, saved
    assert saved[2].startswith("Saved the plan to plan.json; ")
    data = json.loads((tmp_path / "plan.json").read_bytes().decode("utf-8"))  # valid UTF-8
    [change] = data["changes"]
    assert (change["before"], change["fingerprint"][:7]) == ({"name": "\ud800"}, "sha256:")


@pytest.mark.parametrize(("name", "status"), [("\\ud800", 400), ("x\\uDFFF", 400), ("\\ud83d\\ude00", 200)])
async def test_the_emulator_refuses_a_lone_surrogate_and_takes_a_pair(
    emulator: InProcessEmulator, name: str, status: int
) -> None:
    """Before: stored, then 500 on the create (and, before issue 16's change, on every later list)."""
    body = '{"model": "gpt-4", "name": "' + name + '"}'
    async with emulator.client() as client:
        created = await client.post("/assistants", content=body, headers={"content-type": "application/json"})
        listed = await client.get("/assistants")
    assert created.status_code == status, created.text
    names = [a["name"] for a in listed.json()["data"]]
    if status == 400:
        assert (created.json()["error"]["message"], names) == (INVALID_JSON, [])
    else:
        assert names == ["\U0001f600"]
