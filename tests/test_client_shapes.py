"""Every answer the tool reads is checked at the client boundary: a malformed one is one line naming the
endpoint and the problem (today: `internal error: TypeError/KeyError` from deep inside the planner).

Servers: a starlette app in-process for the client, and the same app over real HTTP (a thread on
127.0.0.1) for `reconciler plan` end to end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from http_support import JSONHandler, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reconciler.cli import cli
from reconciler.client import BadResponseError, Client, RemoteAssistant, RemoteFile, RetryPolicy
from reconciler.client.shapes import ASSISTANT, ShapeError

pytestmark = pytest.mark.anyio

KEY = "sk-shapes-0123456789"
GOOD = {"id": "asst_1", "object": "assistant", "created_at": 1, "model": "gpt-4", "tools": [], "metadata": {}}


def page(data: Any, **extra: Any) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, **extra}


def client_on(answer: Any) -> Client:
    """A Client whose server answers `answer` (JSON) to every request."""

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(answer)

    app = Starlette(routes=[Route("/v1/{path:path}", endpoint, methods=["GET", "POST", "DELETE"])])
    transport = httpx.ASGITransport(app=app)
    return Client(
        api_key=KEY, base_url="http://shapes/v1", transport=transport, retry=RetryPolicy(max_retries=0)
    )


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (page("asst_1"), '"data" is a string, not a list'),
        (page([GOOD, 7]), "data[1] is a number, not an object"),
        (
            page([GOOD, GOOD | {"id": "asst_2"}, GOOD | {"id": "asst_3"}, {"object": "assistant"}]),
            'data[3] has no "id"',
        ),
        (page([GOOD | {"id": 12}]), 'data[0] has a number as its "id"'),
        (page([GOOD | {"metadata": "x"}]), "data[0].metadata is a string, not an object of strings"),
        (
            page([GOOD | {"tools": [{"kind": "retrieval"}]}]),
            'data[0].tools is a list, not a list of objects with a "type"',
        ),
        (page([GOOD | {"created_at": "yesterday"}]), "data[0].created_at is a string, not an integer"),
        (page([GOOD | {"temperature": "hot"}]), "data[0].temperature is a string, not a number or null"),
        (page([GOOD | {"top_p": True}]), "data[0].top_p is a boolean, not a number or null"),
        (
            page([GOOD | {"response_format": ["auto"]}]),
            "data[0].response_format is a list, not a string, an object or null",
        ),
        (page([GOOD], has_more="yes"), '"has_more" is a string, not a boolean'),
    ],
)
async def test_a_malformed_assistant_list_is_one_line(answer: Any, problem: str) -> None:
    async with client_on(answer) as client:
        with pytest.raises(BadResponseError) as info:
            await client.list_assistants()
    assert str(info.value) == f"GET /assistants: the server's answer is not an assistant list: {problem}"


async def test_a_malformed_single_object_names_its_endpoint() -> None:
    async with client_on({"id": "asst_1", "file_ids": "file-1"}) as client:
        with pytest.raises(BadResponseError) as info:
            await client.retrieve_assistant("asst_1")
    assert str(info.value) == (
        'GET /assistants/asst_1: the server\'s answer is not an assistant: "file_ids" is a string, '
        "not a list of strings"
    )


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (
            "list_files",
            "GET /files: the server's answer is not a file list: "
            "data[0].bytes is a string, not an integer or null",
        ),
        ("list_models", None),
    ],
)
async def test_files_and_models_are_checked(call: str, problem: str | None) -> None:
    answer = page([{"id": "file-1", "bytes": "12"}])
    async with client_on(answer) as client:
        if problem is None:
            assert await getattr(client, call)() == answer["data"]  # models stay JSON
            return
        with pytest.raises(BadResponseError) as info:
            await getattr(client, call)()
    assert str(info.value) == problem


async def test_well_formed_answers_become_typed_values() -> None:
    async with client_on(page([GOOD], last_id="asst_1")) as client:
        assert await client.list_assistants() == [RemoteAssistant(id="asst_1", created_at=1, model="gpt-4")]
    answer = page(
        [{"id": "file-1", "object": "file", "bytes": 12, "filename": "a.md", "status": "processed"}]
    )
    async with client_on(answer) as client:
        assert await client.list_files() == [
            RemoteFile(id="file-1", filename="a.md", bytes=12, status="processed")
        ]


def typed(value: dict[str, Any]) -> RemoteAssistant:
    """What the client makes of an assistant answer: checked, then typed."""
    ASSISTANT.check(value)
    return RemoteAssistant.from_checked(value)


def test_a_typed_value_keeps_every_v1_field_and_drops_unknown_ones() -> None:
    value = typed(
        GOOD
        | {
            "name": "N",
            "file_ids": ["file-1"],
            "metadata": {"k": "v"},
            "temperature": 0.5,
            "top_p": 1,
            "response_format": {"type": "json_object"},
            "future": [1],
        }
    )
    assert value == RemoteAssistant(
        id="asst_1",
        created_at=1,
        name="N",
        model="gpt-4",
        file_ids=("file-1",),
        metadata={"k": "v"},
        temperature=0.5,
        top_p=1,
        response_format={"type": "json_object"},
    )
    with pytest.raises(ShapeError) as info:
        typed(GOOD | {"tools": None, "metadata": 3})
    assert str(info.value) == '"metadata" is a number, not an object of strings'


def test_the_checks_allow_unknown_fields_and_nulls_where_v1_has_them() -> None:
    ASSISTANT.check(GOOD | {"name": None, "description": None, "instructions": None, "future": [1]})
    with pytest.raises(ShapeError) as info:
        ASSISTANT.check(GOOD | {"model": None})
    assert str(info.value) == '"model" is null, not a string'


class _Malformed(JSONHandler):
    def do_GET(self) -> None:
        self.send_json(page([GOOD, 7]))


@pytest.fixture
def malformed_server() -> Iterator[str]:
    with serve(_Malformed) as url:
        yield url


def test_plan_against_a_malformed_list_is_one_line_and_exit_1(
    malformed_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "hr.yaml").write_text("name: HR\nmodel: gpt-4\n")
    monkeypatch.chdir(tmp_path)
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": malformed_server, "NO_COLOR": "1"}
    result = CliRunner().invoke(cli, ["plan"], env=env)
    assert result.exit_code == 1
    assert result.output == (
        "Error: GET /assistants: the server's answer is not an assistant list: data[1] is a number, "
        "not an object\n"
    )


async def test_a_malformed_item_on_a_later_page_is_the_same_one_line() -> None:
    """Pages become typed values one at a time: a bad second page still fails the whole listing, as before."""

    async def endpoint(request: Request) -> JSONResponse:
        if "after" not in request.query_params:
            return JSONResponse(page([GOOD], has_more=True, last_id="asst_1"))
        return JSONResponse(page([GOOD | {"id": "asst_2", "created_at": "later"}]))

    app = Starlette(routes=[Route("/v1/assistants", endpoint)])
    policy = RetryPolicy(max_retries=0)
    client = Client(
        api_key=KEY, base_url="http://shapes/v1", transport=httpx.ASGITransport(app=app), retry=policy
    )
    async with client:
        with pytest.raises(BadResponseError) as info:
            await client.list_assistants()
    assert str(info.value) == (
        "GET /assistants: the server's answer is not an assistant list: data[0].created_at is a string, "
        "not an integer"
    )
    assert client.calls["GET /assistants"] == 2
