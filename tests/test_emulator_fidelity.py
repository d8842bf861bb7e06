"""The emulator answers as the real v1 service was observed to answer (docs/emulator.md, fidelity table):
files need a file tool that can read them, the account's model list and v1's model refusals, the file error
texts, and the function-name length error. Auth texts are in test_emulator_http.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from plan_support import write_manifests

from reconciler import dialect
from reconciler.cli import cli
from reconciler.emulator.testing import InProcessEmulator, LiveEmulator

GPT = "gpt-4-turbo"
RETRIEVAL = {"type": "retrieval"}
CODE = {"type": "code_interpreter"}
NEED_A_TOOL = "file_ids are only supported if retrieval or code_interpreter tools are enabled."
SEE = "See https://platform.openai.com/docs/assistants/tools/supported-files."


def error(response: httpx.Response, status: int = 400) -> tuple[str, str, str | None, str | None]:
    """(message, type, param, code) of an error response with `status`."""
    assert response.status_code == status, response.text
    err: dict[str, Any] = response.json()["error"]
    return err["message"], err["type"], err["param"], err["code"]


async def upload(client: httpx.AsyncClient, name: str) -> str:
    response = await client.post("/files", files={"file": (name, b"x")}, data={"purpose": "assistants"})
    file_id: str = response.json()["id"]
    return file_id


@pytest.mark.anyio
async def test_file_ids_need_a_file_tool_on_create_and_modify(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        doc = await upload(client, "a.md")
        refused = ("file_ids are only supported if retrieval or code_interpreter tools are enabled.",)
        expected = (*refused, "invalid_request_error", "file_ids", None)
        function = {"type": "function", "function": {"name": "f"}}
        body = {"model": GPT, "tools": [function], "file_ids": [doc]}
        assert error(await client.post("/assistants", json=body)) == expected
        assert (await client.get("/assistants")).json()["data"] == []  # nothing was created
        for tool in (RETRIEVAL, CODE):
            made = await client.post("/assistants", json={**body, "tools": [tool]})
            assert made.status_code == 200 and made.json()["file_ids"] == [doc]
        assistant = made.json()
        path = f"/assistants/{assistant['id']}"
        # Judged on the resulting object: dropping the tool while files stay is refused...
        assert error(await client.post(path, json={"tools": []})) == expected
        assert (await client.get(path)).json() == assistant
        # ...dropping both at once, or adding files to a tool-less assistant, are judged the same way.
        cleared = (await client.post(path, json={"tools": [], "file_ids": []})).json()
        assert (cleared["tools"], cleared["file_ids"]) == ([], [])
        assert error(await client.post(path, json={"file_ids": [doc]})) == expected
        attach = await client.post(path + "/files", json={"file_id": doc})
        assert error(attach) == expected
        assert (await client.get(path + "/files")).json()["data"] == []


@pytest.mark.anyio
async def test_retrieval_refuses_extensions_it_cannot_read(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        png, zip_, pdf = [await upload(client, name) for name in ("chart.PNG", "data.zip", "paper.pdf")]
        body = {"model": GPT, "tools": [RETRIEVAL], "file_ids": [pdf, png, zip_]}
        message = f"Files with extensions [.png, .zip] are not supported for retrieval. {SEE}"
        expected = (message, "invalid_request_error", "file_ids", "unsupported_file")
        assert error(await client.post("/assistants", json=body)) == expected
        # Code interpreter reads them; adding retrieval later is refused; so is attaching one to retrieval.
        made = (await client.post("/assistants", json={**body, "tools": [CODE]})).json()
        path = f"/assistants/{made['id']}"
        assert error(await client.post(path, json={"tools": [CODE, RETRIEVAL]})) == expected
        plain = (await client.post("/assistants", json={"model": GPT, "tools": [RETRIEVAL]})).json()
        attach = await client.post(f"/assistants/{plain['id']}/files", json={"file_id": png})
        assert error(attach) == (
            f"Files with extensions [.png] are not supported for retrieval. {SEE}",
            "invalid_request_error",
            "file_ids",
            "unsupported_file",
        )
        exe = await upload(client, "tool.exe")
        refused = await client.post("/assistants", json={"model": GPT, "tools": [CODE], "file_ids": [exe]})
        assert (
            error(refused)[0] == f"Files with extensions [.exe] are not supported for code interpreter. {SEE}"
        )


def test_extension_lists_are_data() -> None:
    assert set(dialect.V1_RETRIEVAL_EXTENSIONS) < set(dialect.V1_CODE_INTERPRETER_EXTENSIONS)
    assert dialect.file_extension("Report.V2.PDF") == ".pdf"
    assert dialect.file_extension("LICENSE") == "" and dialect.file_extension(".env") == ""
    assert dialect.v1_file_refusal(["retrieval"], ["a.md", "b.txt"]) is None
    assert dialect.v1_file_refusal([], []) is None
    assert dialect.v1_file_refusal(["function"], ["a.md"]) == NEED_A_TOOL


@pytest.mark.anyio
async def test_models_are_the_accounts_with_their_own_created_and_owner(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        listed = (await client.get("/models")).json()["data"]
        turbo = (await client.get("/models/gpt-4-turbo")).json()
    ids = {m["id"] for m in listed}
    assert {"gpt-4o", "tts-1", "dall-e-2", "text-embedding-ada-002", "whisper-1", "gpt-4-turbo"} <= ids
    assert turbo == {"id": "gpt-4-turbo", "object": "model", "created": 1712361441, "owned_by": "system"}
    assert len({m["created"] for m in listed}) > 20 and {m["owned_by"] for m in listed} > {"system", "openai"}
    assert set(dialect.V1_ASSISTANT_MODELS) <= ids


V2_ONLY = (
    "The requested model 'gpt-4o' cannot be used with the Assistants API in v1. Follow the migration guide "
    "to upgrade to v2: https://platform.openai.com/docs/assistants/migration."
)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("model", "message", "code"),
    [
        ("gpt-4o", V2_ONLY, "unsupported_model"),
        (
            "gpt-3.5-turbo-0301",
            "The requested model 'gpt-3.5-turbo-0301' cannot be used with the Assistants API.",
            "unsupported_model",
        ),
        ("tts-1", "The requested model 'tts-1' cannot be used with the Assistants API.", "unsupported_model"),
        ("gpt-9000", "The requested model 'gpt-9000' does not exist.", "model_not_found"),
    ],
)
async def test_v1_refuses_models_at_create_and_modify(
    emulator: InProcessEmulator, model: str, message: str, code: str
) -> None:
    expected = (message, "invalid_request_error", "model", code)
    assert dialect.v1_model_refusal(model) == (code, message)
    async with emulator.client() as client:
        assert error(await client.post("/assistants", json={"model": model})) == expected
        made = (await client.post("/assistants", json={"model": GPT})).json()
        assert error(await client.post(f"/assistants/{made['id']}", json={"model": model})) == expected
    assert dialect.v1_model_refusal(GPT) is None


@pytest.mark.anyio
async def test_file_error_texts(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        made = (await client.post("/assistants", json={"model": GPT, "tools": [RETRIEVAL]})).json()
        path = f"/assistants/{made['id']}"
        missing = await client.post(path, json={"file_ids": ["file-a", "file-b"]})
        assert error(missing) == (
            "Files [file-a, file-b] were not found",
            "invalid_request_error",
            "file_ids",
            None,
        )
        attach = await client.post(path + "/files", json={"file_id": "file-a"})
        assert error(attach) == ("Files [file-a] were not found", "invalid_request_error", "file_id", None)
        for method in ("GET", "DELETE"):
            response = await client.request(method, path + "/files/file-a")
            assert error(response, 404) == (
                "No assistant file found with id 'file-a'.",
                "invalid_request_error",
                None,
                None,
            )


@pytest.mark.anyio
async def test_function_name_over_64_characters_is_a_length_error(emulator: InProcessEmulator) -> None:
    name = "f" * 65
    tools = [{"type": "function", "function": {"name": name}}]
    async with emulator.client() as client:
        response = await client.post("/assistants", json={"model": GPT, "tools": tools})
        ok = await client.post(
            "/assistants",
            json={"model": GPT, "tools": [{"type": "function", "function": {"name": "f" * 64}}]},
        )
    assert error(response) == (
        "Invalid 'tools[0].function.name': string too long. Expected a string with maximum length 64, but "
        "got a string with length 65 instead.",
        "invalid_request_error",
        "tools[0].function.name",
        "string_above_max_length",
    )
    assert ok.status_code == 200


def test_the_cli_never_prints_the_key_the_service_echoes_masked(
    live_emulator: LiveEmulator, tmp_path: Path
) -> None:
    """A wrong key is echoed as the service did (first 8 and last 4 characters); a short one whole. The
    reconciler prints the service's message but never the key itself, nor the service's partial echo."""
    write_manifests(tmp_path, {"a": "model: gpt-4\n"})
    canary = "sk-canary-7f3a9c1e5b2d4f6a8c0e11aa"
    for key, shown in ((canary, "***"), ("sk-short", "***")):
        env = {"NO_COLOR": "1", "OPENAI_API_KEY": key, "OPENAI_BASE_URL": live_emulator.base_url}
        result = CliRunner().invoke(cli, ["plan", "--dir", str(tmp_path)], prog_name="reconciler", env=env)
        assert result.exit_code == 1
        assert key not in result.output and key[:8] not in result.output
        assert f"Incorrect API key provided: {shown}. You can find your API key at" in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
