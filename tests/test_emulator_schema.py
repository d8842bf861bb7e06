"""Every kind of emulator response validates against the official v1 spec's component schemas.

The spec is OpenAPI 3.0; `to_json_schema` converts it for jsonschema (Draft 7, whose `$ref` also ignores
siblings, as OAS 3.0 does): `nullable: true` admits null. Documented quirks (docs/api-v1.md §6) are adapted
explicitly and only these:
- `ListAssistantFilesResponse.required` lists the bogus `items` (§6.1): dropped.
- `first_id`/`last_id` are null on an empty page (the spec types them as strings; §14 leaves it open); a
  non-empty page must have string ids equal to the first and last `data` ids.
- `AssistantObject` lacks `temperature`/`top_p`/`response_format` (§6.3): they are checked against the
  CreateAssistantRequest property schemas.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from ruamel.yaml import YAML

from reconciler.emulator.testing import InProcessEmulator

SPEC_CANDIDATES = (Path(__file__).resolve().parents[1] / "spec" / "assistants-v1.openapi.yaml",)


@functools.cache
def spec() -> dict[str, Any]:
    for path in SPEC_CANDIDATES:
        if path.is_file():
            data: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
            return data
    pytest.fail("the official v1 spec is missing: " + ", ".join(map(str, SPEC_CANDIDATES)))


def to_json_schema(node: Any) -> Any:
    """OAS 3.0 schema -> JSON Schema: `nullable` becomes a null alternative; `x-*`/`example` dropped."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if not k.startswith("x-") and k != "example"}
    if out.pop("nullable", False):
        if "$ref" in out:
            return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "type" not in out and "enum" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def components() -> dict[str, Any]:
    schemas = to_json_schema(copy.deepcopy(spec()["components"]["schemas"]))
    files = schemas["ListAssistantFilesResponse"]
    files["required"] = [r for r in files["required"] if r != "items"]  # quirk §6.1
    for name in ("ListAssistantsResponse", "ListAssistantFilesResponse"):
        for key in ("first_id", "last_id"):
            schemas[name]["properties"][key]["type"] = ["string", "null"]
    return {"components": {"schemas": schemas}}


def check(name: str, instance: Any) -> None:
    schema = {**components(), "$ref": f"#/components/schemas/{name}"}
    jsonschema.Draft7Validator(schema).validate(instance)
    if name.startswith("List") and "first_id" in instance:
        ids = [item["id"] for item in instance["data"]]
        assert (instance["first_id"], instance["last_id"]) == ((ids[0], ids[-1]) if ids else (None, None))
    if name == "AssistantObject":
        create = components()["components"]["schemas"]["CreateAssistantRequest"]["properties"]
        for field in ("temperature", "top_p", "response_format"):
            jsonschema.Draft7Validator({**components(), **create[field]}).validate(instance[field])


def test_converter_handles_nullable_ref() -> None:
    node = {"$ref": "#/components/schemas/X", "nullable": True, "description": "d"}
    assert to_json_schema(node) == {"anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]}
    assert to_json_schema({"type": "string", "nullable": True, "x-oaiTypeLabel": "s"}) == {
        "type": ["string", "null"]
    }


def test_validator_rejects_a_wrong_object() -> None:
    with pytest.raises(jsonschema.ValidationError):
        check("AssistantObject", {"id": "asst_x", "object": "assistant"})


@pytest.mark.anyio
async def test_every_response_kind_matches_the_spec(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:

        async def ok(response: httpx.Response, name: str) -> dict[str, Any]:
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            check(name, body)
            return body

        await ok(await client.get("/assistants"), "ListAssistantsResponse")  # empty page
        file = await ok(
            await client.post("/files", files={"file": ("a.txt", b"abc")}, data={"purpose": "assistants"}),
            "OpenAIFile",
        )
        await ok(await client.get(f"/files/{file['id']}"), "OpenAIFile")
        await ok(await client.get("/files"), "ListFilesResponse")
        await ok(await client.get("/files", params={"purpose": "fine-tune"}), "ListFilesResponse")
        full = {
            "model": "gpt-4-turbo",
            "name": "n",
            "description": "d",
            "instructions": "i",
            "tools": [
                {"type": "code_interpreter"},
                {"type": "retrieval"},
                {"type": "function", "function": {"name": "f", "description": "x", "parameters": {}}},
            ],
            "file_ids": [file["id"]],
            "metadata": {"k": "v"},
            "temperature": 0.5,
            "top_p": 0.9,
            "response_format": {"type": "json_object"},
        }
        assistant = await ok(await client.post("/assistants", json=full), "AssistantObject")
        minimal = await ok(await client.post("/assistants", json={"model": "gpt-4"}), "AssistantObject")
        path = f"/assistants/{assistant['id']}"
        await ok(await client.get(path), "AssistantObject")
        await ok(
            await client.post(path, json={"response_format": "none", "metadata": None}), "AssistantObject"
        )
        await ok(await client.get("/assistants", params={"limit": 1}), "ListAssistantsResponse")
        await ok(await client.get(path + "/files"), "ListAssistantFilesResponse")
        await ok(
            await client.get(path + "/files", params={"after": file["id"]}), "ListAssistantFilesResponse"
        )
        await ok(await client.get(f"{path}/files/{file['id']}"), "AssistantFileObject")
        await ok(await client.delete(f"{path}/files/{file['id']}"), "DeleteAssistantFileResponse")
        await ok(await client.post(path + "/files", json={"file_id": file["id"]}), "AssistantFileObject")
        await ok(await client.get("/models"), "ListModelsResponse")
        await ok(await client.get("/models/gpt-4"), "Model")
        await ok(await client.delete(f"/assistants/{minimal['id']}"), "DeleteAssistantResponse")
        await ok(await client.delete(f"/files/{file['id']}"), "DeleteFileResponse")

        content = await client.get(f"/files/{file['id']}/content")
        assert content.status_code == 404
        for response in (content, await client.get("/assistants/asst_nope"), await client.get("/nope")):
            check("ErrorResponse", response.json())
