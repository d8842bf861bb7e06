"""Request validation: status 400 (or 404), the error envelope, exact messages, `param` and `code`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator.testing import InProcessEmulator

GPT = "gpt-4-turbo"


def error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


CREATE_CASES: list[tuple[Any, str, str | None, str | None]] = [
    (
        {"model": GPT, "name": "x" * 300},
        "Invalid 'name': string too long. Expected a string with maximum length 256, but got a string with "
        "length 300 instead.",
        "name",
        "string_above_max_length",
    ),
    (
        {"model": GPT, "description": "x" * 513},
        "Invalid 'description': string too long. Expected a string with maximum length 512, but got a string "
        "with length 513 instead.",
        "description",
        "string_above_max_length",
    ),
    (
        {"model": GPT, "instructions": "x" * 256_001},
        "Invalid 'instructions': string too long. Expected a string with maximum length 256000, but got a "
        "string with length 256001 instead.",
        "instructions",
        "string_above_max_length",
    ),
    ({}, "Missing required parameter: 'model'.", "model", "missing_required_parameter"),
    ({"model": GPT, "colour": "red"}, "Unknown parameter: 'colour'.", "colour", "unknown_parameter"),
    (
        {"model": GPT, "name": 5},
        "Invalid type for 'name': expected a string, but got an integer instead.",
        "name",
        "invalid_type",
    ),
    (
        {"model": GPT, "tools": None},
        "Invalid type for 'tools': expected an array, but got null instead.",
        "tools",
        "invalid_type",
    ),
    (
        {"model": GPT, "tools": [{"type": "code_interpreter"}] * 129},
        "Invalid 'tools': array too long. Expected an array with maximum length 128, but got an array with "
        "length 129 instead.",
        "tools",
        "array_above_max_length",
    ),
    (
        {"model": GPT, "tools": [{"type": "browser"}]},
        "Invalid value: 'browser'. Supported values are: 'code_interpreter', 'retrieval', and 'function'.",
        "tools[0].type",
        "invalid_value",
    ),
    (
        {"model": GPT, "tools": [{"type": "function", "function": {"name": "bad name"}}]},
        "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the "
        "pattern '^[a-zA-Z0-9_-]{1,64}$'.",
        "tools[0].function.name",
        "invalid_value",
    ),
    (
        {"model": GPT, "tools": [{"type": "function"}]},
        "Missing required parameter: 'tools[0].function'.",
        "tools[0].function",
        "missing_required_parameter",
    ),
    (
        {"model": GPT, "tools": [{"type": "retrieval", "extra": 1}]},
        "Unknown parameter: 'tools[0].extra'.",
        "tools[0].extra",
        "unknown_parameter",
    ),
    (
        {"model": GPT, "file_ids": [f"file-{i}" for i in range(21)]},
        "Invalid 'file_ids': array too long. Expected an array with maximum length 20, but got an array with "
        "length 21 instead.",
        "file_ids",
        "array_above_max_length",
    ),
    (
        {"model": GPT, "metadata": {str(i): "v" for i in range(17)}},
        "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an "
        "object with 17 properties instead.",
        "metadata",
        "object_above_max_properties",
    ),
    (
        {"model": GPT, "metadata": {"k" * 65: "v"}},
        "Invalid 'metadata': key too long. Expected a key with maximum length 64, but got a key with "
        "length 65 instead.",
        "metadata",
        "string_above_max_length",
    ),
    (
        {"model": GPT, "metadata": {"k": "v" * 513}},
        "Invalid 'metadata.k': string too long. Expected a string with maximum length 512, but got a string "
        "with length 513 instead.",
        "metadata.k",
        "string_above_max_length",
    ),
    (
        {"model": GPT, "metadata": {"k": 1}},
        "Invalid type for 'metadata.k': expected a string, but got an integer instead.",
        "metadata.k",
        "invalid_type",
    ),
    (
        {"model": GPT, "temperature": 2.5},
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead.",
        "temperature",
        "decimal_above_max_value",
    ),
    (
        {"model": GPT, "top_p": -1},
        "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, but got -1 instead.",
        "top_p",
        "decimal_below_min_value",
    ),
    (
        {"model": GPT, "temperature": True},
        "Invalid type for 'temperature': expected a number, but got a boolean instead.",
        "temperature",
        "invalid_type",
    ),
    (
        {"model": GPT, "response_format": "json"},
        "Invalid value: 'json'. Supported values are: 'none' and 'auto'.",
        "response_format",
        "invalid_value",
    ),
    (
        {"model": GPT, "response_format": {"type": "json_schema"}},
        "Invalid value: 'json_schema'. Supported values are: 'text' and 'json_object'.",
        "response_format.type",
        "invalid_value",
    ),
    (
        {"model": "gpt-4o"},
        "The requested model 'gpt-4o' cannot be used with the Assistants API in v1. Follow the migration "
        "guide to upgrade to v2: https://platform.openai.com/docs/assistants/migration.",
        "model",
        "unsupported_model",
    ),
    (
        {"model": "gpt-9000"},
        "The requested model 'gpt-9000' does not exist.",
        "model",
        "model_not_found",
    ),
    (
        {"model": GPT, "file_ids": ["file-missing", "file-gone"]},
        "Files [file-missing, file-gone] were not found",
        "file_ids",
        None,
    ),
    (
        [1, 2],
        "Invalid type for request body: expected an object, but got an array instead.",
        None,
        "invalid_type",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "message", "param", "code"), CREATE_CASES)
async def test_create_validation(
    emulator: InProcessEmulator, body: Any, message: str, param: str | None, code: str | None
) -> None:
    async with emulator.client() as client:
        err = error(await client.post("/assistants", json=body))
        assert err == {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        assert (await client.get("/assistants")).json()["data"] == []  # nothing was created


@pytest.mark.anyio
async def test_limits_are_inclusive(emulator: InProcessEmulator) -> None:
    body = {
        "model": GPT,
        "name": "n" * 256,
        "description": "d" * 512,
        "metadata": {f"{i:064d}": "v" * 512 for i in range(16)},
        "tools": [{"type": "retrieval"}] * 128,
        "temperature": 2,
        "top_p": 0,
    }
    async with emulator.client() as client:
        response = await client.post("/assistants", json=body)
    assert response.status_code == 200, response.text
    assert (response.json()["temperature"], response.json()["top_p"]) == (2, 0)


@pytest.mark.anyio
async def test_malformed_json(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        err = error(
            await client.post(
                "/assistants", content=b"{not json", headers={"content-type": "application/json"}
            )
        )
    assert err["message"].startswith("We could not parse the JSON body of your request.")
    assert (err["param"], err["code"]) == (None, None)


@pytest.mark.anyio
async def test_file_purpose_checks(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        tuning = (
            await client.post("/files", files={"file": ("t.jsonl", b"{}\n")}, data={"purpose": "fine-tune"})
        ).json()
        assistant = (await client.post("/assistants", json={"model": GPT})).json()
        err = error(await client.post(f"/assistants/{assistant['id']}", json={"file_ids": [tuning["id"]]}))
        assert err["param"] == "file_ids[0]"
        assert err["message"] == (
            f"File '{tuning['id']}' has purpose 'fine-tune'; only files with purpose 'assistants' can be "
            "attached to an assistant."
        )
        err = error(await client.post(f"/assistants/{assistant['id']}/files", json={"file_id": tuning["id"]}))
        assert err["param"] == "file_id"
        err = error(await client.post(f"/assistants/{assistant['id']}/files", json={"file": "x"}))
        assert (err["message"], err["param"]) == ("Unknown parameter: 'file'.", "file")


@pytest.mark.anyio
async def test_upload_validation(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        err = error(await client.post("/files", files={"file": ("a.txt", b"x")}, data={"purpose": "batch"}))
        assert err == {
            "message": "Invalid value: 'batch'. Supported values are: 'fine-tune' and 'assistants'.",
            "type": "invalid_request_error",
            "param": "purpose",
            "code": "invalid_value",
        }
        err = error(await client.post("/files", files={"file": ("a.txt", b"x")}))
        assert (err["message"], err["param"]) == ("Missing required parameter: 'purpose'.", "purpose")
        err = error(await client.post("/files", data={"purpose": "assistants"}, files={"other": ("a", b"x")}))
        assert err["param"] == "other"
        err = error(await client.post("/files", json={"purpose": "assistants"}))
        assert err["code"] == "invalid_content_type"


MULTIPART = "multipart/form-data; boundary=XyZ"
FILE_PART = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n'
PURPOSE_PART = b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (FILE_PART + PURPOSE_PART + b"--XyZ--\r\n", None),
        (FILE_PART + PURPOSE_PART, "multipart body without a closing boundary"),
        (b"", "multipart body without a closing boundary"),
        (b"no delimiter at all", "Invalid multipart data"),
        (
            b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--\r\n",
            'The Content-Disposition header field "name" must be provided',
        ),
    ],
)
@pytest.mark.anyio
async def test_malformed_multipart(emulator: InProcessEmulator, body: bytes, reason: str | None) -> None:
    async with emulator.client() as client:
        response = await client.post("/files", content=body, headers={"content-type": MULTIPART})
    if reason is None:
        assert response.status_code == 200, response.text
        assert response.json()["bytes"] == 5
        return
    err = error(response)
    assert err == {
        "message": f"Could not parse the multipart form: {reason}.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


@pytest.mark.anyio
async def test_not_found_messages(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        for method in ("GET", "POST", "DELETE"):
            response = await client.request(
                method, "/assistants/asst_nope", json={} if method == "POST" else None
            )
            assert error(response, 404)["message"] == "No assistant found with id 'asst_nope'."
        assert error(await client.get("/files/file-nope"), 404)["message"] == "No such File object: file-nope"
        assert error(await client.get("/files/file-nope/content"), 404)["param"] == "id"
        assert error(await client.delete("/files/file-nope"), 404)["param"] == "id"
        err = error(await client.get("/models/gpt-9"), 404)
        assert (err["message"], err["code"]) == ("The model 'gpt-9' does not exist", "model_not_found")
        assistant = (await client.post("/assistants", json={"model": GPT})).json()
        err = error(await client.get(f"/assistants/{assistant['id']}/files/file-x"), 404)
        assert err["message"] == "No assistant file found with id 'file-x'."
        err = error(await client.delete(f"/assistants/{assistant['id']}/files/file-x"), 404)
        assert err["message"] == "No assistant file found with id 'file-x'."


@pytest.mark.anyio
async def test_modify_semantics(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        files = [
            (
                await client.post(
                    "/files", files={"file": (f"{i}.txt", b"x")}, data={"purpose": "assistants"}
                )
            ).json()
            for i in range(3)
        ]
        ids = [f["id"] for f in files]
        created = (
            await client.post(
                "/assistants",
                json={
                    "model": GPT,
                    "name": "n",
                    "tools": [{"type": "retrieval"}],
                    "file_ids": [ids[2], ids[0]],
                    "metadata": {"a": "1", "b": "2"},
                },
            )
        ).json()
        assert created["file_ids"] == [ids[0], ids[2]]
        path = f"/assistants/{created['id']}"
        modified = (await client.post(path, json={"file_ids": [ids[1]], "metadata": {"c": "3"}})).json()
        assert (modified["file_ids"], modified["metadata"], modified["name"]) == ([ids[1]], {"c": "3"}, "n")
        listed = (await client.get(path + "/files")).json()["data"]
        assert [f["id"] for f in listed] == [ids[1]]
        cleared = (await client.post(path, json={"metadata": None, "name": None, "temperature": None})).json()
        assert (cleared["metadata"], cleared["name"], cleared["temperature"]) == ({}, None, 1.0)
        assert (await client.post(path, json={})).json() == cleared
        err = error(await client.post(path, json={"model": "davinci"}))
        assert err["code"] == "model_not_found"
        assert (await client.get(path)).json() == cleared  # a rejected modify changes nothing
