"""The API client against the real emulator: pagination, headers, errors, retries, the shared 429 gate,
ambiguous writes, request bodies valid per the official spec, and the API key never leaking.

The emulator serves in-process (`emulator`) and over real HTTP (`live_emulator`); its `inject` and fault
injection produce every status, header and dropped connection needed. `httpx.MockTransport` stands in only
for what no emulator answer can be: an HTML 502 from a proxy, a 200 that is not JSON, a page that is empty
yet says `has_more`, and transport exceptions of a chosen kind (including ones whose text echoes the key).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from reconciler import __version__, dialect
from reconciler.client import (
    AmbiguousWriteError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RemoteAssistant,
    RetryPolicy,
    UnprocessableEntityError,
)
from reconciler.emulator.testing import InProcessEmulator, LiveEmulator
from reconciler.errors import ReconcilerError

pytestmark = pytest.mark.anyio

CANARY = "sk-canary-7f3a9c1e5b2d4f6a8c0e"
SPEC = Path(__file__).resolve().parents[1] / "spec" / "assistants-v1.openapi.yaml"

Emulator = InProcessEmulator | LiveEmulator
ROUTE_ONE = "GET /v1/assistants/{assistant_id}"
#: Real time, short backoff (server retry hints are still honoured).
FAST = RetryPolicy(backoff_base=0.001)


def client_for(emu: Emulator, *, api_key: str | None = None, **kwargs: Any) -> Client:
    """Our Client on an emulator: in-process through its transport, live over loopback HTTP."""
    if isinstance(emu, InProcessEmulator):
        kwargs.setdefault("transport", emu.transport())
    kwargs.setdefault("retry", FAST)
    return Client(api_key=api_key or emu.api_key or "sk-any", base_url=emu.base_url, **kwargs)


@pytest.fixture(params=["in-process", "live"])
def target(request: pytest.FixtureRequest) -> Emulator:
    """The emulator in-process, then over real HTTP."""
    name = "emulator" if request.param == "in-process" else "live_emulator"
    emu: Emulator = request.getfixturevalue(name)
    return emu


@pytest.fixture
async def client(emulator: InProcessEmulator) -> AsyncIterator[Client]:
    async with client_for(emulator) as c:
        yield c


def error_body(
    message: str, type_: str = "invalid_request_error", param: Any = None, code: Any = None
) -> Any:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def by_route(emu: Emulator) -> dict[str, int]:
    routes: dict[str, int] = emu.stats()["by_route"]
    return routes


def seed_where(drops: list[bool], rate: float = 0.5) -> int:
    """A fault seed whose first writes are dropped (True) or not, per the emulator's documented draws
    (three numbers per request: fail, 500-or-503, drop)."""
    for seed in range(10_000):
        rng = random.Random(seed)
        fates = []
        for _ in drops:
            _fail, _kind, drop = rng.random(), rng.random(), rng.random()
            fates.append(drop < rate)
        if fates == drops:
            return seed
    raise AssertionError("no seed found")


# ------------------------------------------------------------------------------------ round trip


async def test_every_endpoint_round_trip(target: Emulator) -> None:
    async with client_for(target) as client:
        models = await client.list_models()
        assert {m["id"] for m in models} >= {"gpt-4", "gpt-4-turbo"}

        uploaded = await client.upload_file("notes.md", b"# hello\n")
        assert (uploaded.filename, uploaded.purpose) == ("notes.md", "assistants")
        other = await client.upload_file("more.txt", b"more")
        assert await client.retrieve_file(uploaded.id) == uploaded
        assert await client.file_content(uploaded.id) == b"# hello\n"
        assert {f.id for f in await client.list_files(purpose="assistants")} == {
            uploaded.id,
            other.id,
        }
        assert await client.list_files(purpose="fine-tune") == []

        created = await client.create_assistant(
            {
                "model": "gpt-4",
                "name": "Helper",
                "tools": [{"type": "retrieval"}],
                "file_ids": [uploaded.id],
            }
        )
        assistant_id = created.id
        assert created.file_ids == (uploaded.id,)
        assert await client.retrieve_assistant(assistant_id) == created

        attached = await client.create_assistant_file(assistant_id, other.id)
        assert attached == {
            **attached,
            "id": other.id,
            "object": "assistant.file",
            "assistant_id": assistant_id,
        }
        assert await client.retrieve_assistant_file(assistant_id, other.id) == attached
        files = await client.list_assistant_files(assistant_id)
        assert {f["id"] for f in files} == {uploaded.id, other.id}
        detached = await client.delete_assistant_file(assistant_id, other.id)
        assert detached == {"id": other.id, "object": "assistant.file.deleted", "deleted": True}

        modified = await client.modify_assistant(assistant_id, {"name": "Renamed", "file_ids": []})
        assert (modified.name, modified.file_ids) == ("Renamed", ())
        assert [a.id for a in await client.list_assistants()] == [assistant_id]

        deleted = await client.delete_assistant(assistant_id)
        assert deleted == {"id": assistant_id, "object": "assistant.deleted", "deleted": True}
        with pytest.raises(NotFoundError):
            await client.delete_assistant(assistant_id)
        assert await client.delete_assistant(assistant_id, missing_ok=True) == deleted
        assert await client.delete_file(other.id) == {"id": other.id, "object": "file", "deleted": True}
        assert (await client.delete_file(other.id, missing_ok=True))["deleted"] is True
        assert await client.list_assistants() == []

        assert client.calls["POST /assistants"] == 1
        assert client.calls["DELETE /assistants/{assistant_id}"] == 3
        assert client.calls["POST /files"] == 2
    assert target.stats()["total"] == sum(client.calls.values())


# ------------------------------------------------------------------------------------ pagination


async def test_pagination_over_250_assistants_uses_three_list_calls(target: Emulator) -> None:
    async with client_for(target) as client:
        # Created concurrently (loopback HTTP is slow here); the listing order is the server's.
        created = await asyncio.gather(
            *(client.create_assistant({"model": "gpt-4", "name": f"a{i:03d}"}) for i in range(250))
        )
        target.reset_stats()
        listed = [a.id for a in await client.list_assistants()]
    assert len(listed) == 250 and set(listed) == {a.id for a in created}
    assert target.stats()["by_route"] == {"GET /v1/assistants": 3}
    queries = [r["query"] for r in target.requests()]
    assert queries == [
        {"limit": "100", "order": "asc"},
        {"limit": "100", "order": "asc", "after": listed[99]},
        {"limit": "100", "order": "asc", "after": listed[199]},
    ]


async def test_listing_is_oldest_first(client: Client) -> None:
    created = [(await client.create_assistant({"model": "gpt-4", "name": f"a{i}"})).id for i in range(5)]
    assert [a.id for a in await client.list_assistants()] == created


async def test_pagination_exactly_one_full_page(client: Client, emulator: InProcessEmulator) -> None:
    for i in range(100):
        await client.create_assistant({"model": "gpt-4", "name": f"a{i}"})
    emulator.reset_stats()
    assert len(await client.list_assistants()) == 100
    assert by_route(emulator) == {"GET /v1/assistants": 1}


async def test_listing_holds_one_copy_of_the_instructions_it_shares(
    client: Client, emulator: InProcessEmulator
) -> None:
    """`share`, over two pages: an instructions text equal to one `share` holds is that very object (one
    copy in memory for the manifests and the listing); any other text is added to `share`."""
    texts = ["Answer briefly.\n" * 50 if i % 2 else f"own {i}" for i in range(150)]
    for text in texts:
        await client.create_assistant({"model": "gpt-4", "instructions": text})
    held = "".join(["Answer briefly.\n"] * 50)  # equal to the odd ones' text, another object
    share = {held: held}
    emulator.reset_stats()
    listed = await client.list_assistants(share=share)
    assert by_route(emulator) == {"GET /v1/assistants": 2}
    assert [a.instructions for a in listed] == texts
    assert all(a.instructions is held for a in listed[1::2])
    assert all(share[str(a.instructions)] is a.instructions for a in listed) and len(share) == 76


async def test_assistant_files_are_paginated(client: Client, emulator: InProcessEmulator) -> None:
    assistant = await client.create_assistant({"model": "gpt-4", "tools": [{"type": "retrieval"}]})
    ids = [(await client.upload_file(f"f{i}.txt", b"x")).id for i in range(3)]
    for file_id in ids:
        await client.create_assistant_file(assistant.id, file_id)
    emulator.reset_stats()
    assert [f["id"] for f in await client.list_assistant_files(assistant.id)] == ids
    assert by_route(emulator) == {"GET /v1/assistants/{assistant_id}/files": 1}
    assert emulator.requests()[0]["query"] == {"limit": "100", "order": "asc"}


async def test_pagination_stops_on_an_empty_page_even_if_has_more() -> None:
    """Mock: a server (or proxy) whose last page is empty but still says has_more."""
    pages = [
        {
            "object": "list",
            "data": [{"id": "asst_1"}],
            "first_id": "asst_1",
            "last_id": "asst_1",
            "has_more": True,
        },
        {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": True},
    ]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages[len(seen) - 1])

    async with Client(
        api_key=CANARY, base_url="http://x/v1", transport=httpx.MockTransport(handler)
    ) as client:
        assert await client.list_assistants() == [RemoteAssistant(id="asst_1")]
    assert [dict(r.url.params) for r in seen] == [
        {"limit": "100", "order": "asc"},
        {"limit": "100", "order": "asc", "after": "asst_1"},
    ]


# ------------------------------------------------------------------------------------ headers


async def test_headers(target: Emulator) -> None:
    async with client_for(target, organization="org-123", project="proj_456") as client:
        assistant = await client.create_assistant({"model": "gpt-4", "tools": [{"type": "retrieval"}]})
        await client.list_assistants()
        await client.retrieve_assistant(assistant.id)
        await client.modify_assistant(assistant.id, {"name": "x"})
        file = await client.upload_file("a.txt", b"a")
        await client.create_assistant_file(assistant.id, file.id)
        await client.list_assistant_files(assistant.id)
        await client.delete_assistant_file(assistant.id, file.id)
        await client.delete_assistant(assistant.id)
        await client.list_files()
        await client.retrieve_file(file.id)
        await client.file_content(file.id)
        await client.delete_file(file.id)
        await client.list_models()
    log = target.requests()
    assert len(log) == 14
    assert all(entry["status"] == 200 for entry in log)
    for entry in log:
        headers = entry["headers"]
        on_assistants = entry["path"].startswith("/v1/assistants")
        assert (headers.get("openai-beta") == "assistants=v1") is on_assistants, entry
        if not on_assistants:
            assert "openai-beta" not in headers
        assert headers["user-agent"] == f"reconciler/{__version__} (+python httpx/{httpx.__version__})"
        assert headers["openai-organization"] == "org-123"
        assert headers["openai-project"] == "proj_456"
    assert {e["route"] for e in log if "openai-beta" not in e["headers"]} == {
        "/v1/files",
        "/v1/files/{file_id}",
        "/v1/files/{file_id}/content",
        "/v1/models",
    }


async def test_no_org_or_project_headers_unless_set(client: Client, emulator: InProcessEmulator) -> None:
    await client.list_models()
    headers = emulator.requests()[0]["headers"]
    assert "openai-organization" not in headers and "openai-project" not in headers
    assert headers["accept"] == "application/json"


# ------------------------------------------------------------------------------------ errors


async def test_unknown_model_is_a_one_line_bad_request(client: Client) -> None:
    with pytest.raises(BadRequestError) as info:
        await client.create_assistant({"model": "gpt-9"})
    err = info.value
    assert err.request_id and err.request_id.startswith("req_")
    assert str(err) == (
        "POST /assistants: 400 invalid_request_error (param 'model', code 'model_not_found'): "
        f"The requested model 'gpt-9' does not exist. [{err.request_id}]"
    )
    assert (err.status, err.type, err.param, err.code, err.method, err.path) == (
        400,
        "invalid_request_error",
        "model",
        "model_not_found",
        "POST",
        "/assistants",
    )
    assert (err.retries, err.gave_up) == (0, False)


async def test_unknown_assistant_is_not_found(target: Emulator) -> None:
    async with client_for(target) as client:
        with pytest.raises(NotFoundError) as info:
            await client.retrieve_assistant("asst_nope")
    err = info.value
    assert str(err) == (
        f"GET /assistants/asst_nope: 404 invalid_request_error: No assistant found with id 'asst_nope'. "
        f"[{err.request_id}]"
    )
    assert target.stats()["total"] == 1


async def test_path_parameters_are_quoted(client: Client, emulator: InProcessEmulator) -> None:
    """An id with `?`, `#` or spaces stays one path segment (never a query or fragment)."""
    with pytest.raises(NotFoundError) as info:
        await client.retrieve_assistant("asst x?y=1#z")
    assert info.value.path == "/assistants/asst%20x%3Fy%3D1%23z"
    assert "No assistant found with id 'asst x?y=1#z'." in str(info.value)
    assert by_route(emulator) == {ROUTE_ONE: 1}


async def test_wrong_key_is_an_authentication_error(target: Emulator) -> None:
    async with client_for(target, api_key="sk-wrong") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_assistants()
    assert str(info.value) == (
        "GET /assistants: 401 invalid_request_error (code 'invalid_api_key'): "
        "Incorrect API key provided: ***. You can find your API key at "
        "https://platform.openai.com/account/api-keys. "
        f"[{info.value.request_id}]"
    )
    assert target.stats()["total"] == 1


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (418, APIError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
async def test_status_maps_to_exception_class(
    emulator: InProcessEmulator, status: int, cls: type[APIError]
) -> None:
    emulator.inject(status, body=error_body("Nope.", "some_error", param="name"), times=10)
    async with client_for(emulator, max_retries=0) as client:
        with pytest.raises(APIError) as info:
            await client.retrieve_assistant("asst_x")
    assert type(info.value) is cls
    assert isinstance(info.value, ReconcilerError)
    assert (
        str(info.value)
        == f"GET /assistants/asst_x: {status} some_error (param 'name'): Nope. [{info.value.request_id}]"
    )


async def test_message_without_type_or_with_newlines_stays_one_line(
    client: Client, emulator: InProcessEmulator
) -> None:
    emulator.inject(400, body={"error": {"message": "first line\n  second\tline "}})
    with pytest.raises(BadRequestError) as info:
        await client.list_models()
    assert (
        str(info.value) == f"GET /models: 400 Bad Request: first line second line [{info.value.request_id}]"
    )


async def test_html_502_from_a_proxy_is_one_clean_line() -> None:
    """Mock: the emulator always answers JSON; a proxy in front of a real server may not."""
    html = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(502, text=html, headers={"content-type": "text/html; charset=utf-8"})

    transport = httpx.MockTransport(handler)
    async with Client(
        api_key=CANARY, base_url="http://x/v1", transport=transport, retry=FAST, max_retries=2
    ) as client:
        with pytest.raises(InternalServerError) as info:
            await client.list_models()
    assert (
        str(info.value)
        == "GET /models: 502 Bad Gateway: non-JSON text/html response (gave up after 2 retries)"
    )
    assert (info.value.status, info.value.type, info.value.gave_up) == (502, None, True)
    assert len(seen) == 3


async def test_a_2xx_that_is_not_json_is_an_error() -> None:
    """Mock: e.g. a captive portal answering 200 with HTML."""
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, text="<html>portal</html>", headers={"content-type": "text/html"})
    )
    async with Client(api_key=CANARY, base_url="http://x/v1", transport=transport) as client:
        with pytest.raises(APIError) as info:
            await client.list_models()
    assert str(info.value) == (
        "GET /models: 200 OK: expected a JSON object, got a body that is not JSON (text/html)"
    )


# ------------------------------------------------------------------------------------ retries


@pytest.mark.parametrize("status", [500, 503, 408, 409, 429])
async def test_retryable_statuses_are_retried(target: Emulator, status: int) -> None:
    target.inject(status, route="GET /v1/assistants", headers={"retry-after-ms": "1"}, times=2)
    async with client_for(target) as client:
        assert await client.list_assistants() == []
        assert client.calls == {"GET /assistants": 3}
    assert [r["status"] for r in target.requests()] == [status, status, 200]


async def test_retry_after_ms_is_honoured(target: Emulator) -> None:
    target.inject(503, route="GET /v1/models", headers={"retry-after-ms": "150", "retry-after": "30"})
    async with client_for(target) as client:
        started = time.monotonic()
        await client.list_models()
        elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 5
    assert by_route(target) == {"GET /v1/models": 2}


@pytest.mark.parametrize(
    "headers", [{"retry-after": "61"}, {"retry-after": "0"}, {"retry-after": "soon"}, {}]
)
async def test_out_of_range_hints_fall_back_to_backoff_and_spend_the_budget(
    emulator: InProcessEmulator, headers: dict[str, str]
) -> None:
    """The delays themselves are a table in test_client_retry.py."""
    emulator.inject(500, headers=headers, times=100)
    async with client_for(emulator, max_retries=6) as client:
        with pytest.raises(InternalServerError):
            await client.list_models()
    assert by_route(emulator) == {"GET /v1/models": 7}


async def test_x_should_retry_false_is_not_retried(target: Emulator) -> None:
    target.inject(503, headers={"x-should-retry": "false"}, times=5)
    async with client_for(target) as client:
        with pytest.raises(InternalServerError) as info:
            await client.list_models()
    assert str(info.value) == (
        f"GET /models: 503 server_error: The server is overloaded or not ready yet. [{info.value.request_id}]"
    )
    assert target.stats()["total"] == 1


async def test_x_should_retry_true_retries_even_a_400(client: Client, emulator: InProcessEmulator) -> None:
    emulator.inject(400, headers={"x-should-retry": "true"})
    assert await client.list_models()
    assert by_route(emulator) == {"GET /v1/models": 2}


async def test_non_retryable_4xx_raises_at_once(client: Client, emulator: InProcessEmulator) -> None:
    emulator.inject(403, times=5)
    with pytest.raises(PermissionDeniedError):
        await client.list_models()
    assert emulator.stats()["total"] == 1


async def always_failing(
    emu: Emulator, max_retries: int, call: Callable[[Client], Awaitable[Any]]
) -> InternalServerError:
    """The error `call` ends with when every request to `emu` fails (500 or 503)."""
    emu.set_faults(fail_rate=1, seed=7)
    async with client_for(emu, max_retries=max_retries) as client:
        with pytest.raises(InternalServerError) as info:
            await call(client)
    return info.value


async def test_retry_budget_exhausted_gives_a_clear_error(target: Emulator) -> None:
    error = await always_failing(target, 3, Client.list_assistants)
    message = str(error)
    assert message.startswith("GET /assistants: 50")
    assert message.endswith(f"[{error.request_id}] (gave up after 3 retries)")
    assert (error.retries, error.gave_up) == (3, True)
    assert target.stats()["total"] == 4


async def test_max_retries_zero_never_retries(emulator: InProcessEmulator) -> None:
    error = await always_failing(emulator, 0, Client.list_models)
    assert "gave up" not in str(error)
    assert emulator.stats()["total"] == 1


async def test_rate_limited_sequence_completes(target: Emulator) -> None:
    """The emulator's token bucket (10 rps, burst 10): 30 concurrent reads all succeed, the 429s are
    retried after the server's retry-after-ms, so the run takes at least about (30 - 10) / 10 s. (A slow
    bucket, so that a loaded machine still sends faster than it refills.)"""
    target.set_faults(rate_limit_rps=10)
    async with client_for(target) as client:
        started = time.monotonic()
        await asyncio.gather(*(client.list_models() for _ in range(30)))
        elapsed = time.monotonic() - started
    statuses = [r["status"] for r in target.requests()]
    assert statuses.count(200) == 30
    assert statuses.count(429) >= 1
    assert elapsed >= 1.5


async def test_a_429_pauses_every_concurrent_request(target: Emulator) -> None:
    """One worker's 429 (retry-after-ms 150) holds back the requests other workers start meanwhile; then
    the gate lets them through one at a time, 150 ms apart (no thundering herd)."""
    async with client_for(target) as client:
        ids = [(await client.create_assistant({"model": "gpt-4"})).id for _ in range(3)]
        target.reset_stats()
        target.inject(429, route=ROUTE_ONE, headers={"retry-after-ms": "150"})
        started = time.monotonic()
        sent: list[float] = []

        async def fetch(assistant_id: str, delay: float) -> None:
            await asyncio.sleep(delay)
            await client.retrieve_assistant(assistant_id)
            sent.append(time.monotonic() - started)

        await asyncio.gather(fetch(ids[0], 0), fetch(ids[1], 0.05), fetch(ids[2], 0.05))
    assert by_route(target) == {ROUTE_ONE: 4}
    assert [r["status"] for r in target.requests()] == [429, 200, 200, 200]
    sent.sort()
    assert sent[0] >= 0.149 and sent[1] >= 0.299 and sent[2] >= 0.449, sent


async def test_read_timeouts_are_retried_then_reported(live_emulator: LiveEmulator) -> None:
    live_emulator.set_faults(latency_ms=400)
    async with client_for(live_emulator, max_retries=1, timeout=0.1) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.list_models()
    assert str(info.value) == "GET /models: timed out (read timeout 0.1s) (gave up after 1 retry)"
    assert isinstance(info.value, APIConnectionError) and info.value.sent


# ------------------------------------------------------------------------------------ non-idempotent writes


async def test_create_with_a_dropped_connection_is_ambiguous_and_happened_once(target: Emulator) -> None:
    target.set_faults(drop_rate=1, seed=1)
    async with client_for(target) as client:
        with pytest.raises(AmbiguousWriteError) as info:
            await client.create_assistant({"model": "gpt-4", "name": "Once"})
        err = info.value
        assert isinstance(err.cause, APIConnectionError) and err.cause.sent
        assert (err.method, err.path) == ("POST", "/assistants")
        assert str(err) == (
            "POST /assistants: outcome unknown, not retried (connection closed without a complete "
            "response (Server disconnected without sending a response.)); "
            "check whether the object exists before retrying"
        )
        assert err.__cause__ is None and err.__suppress_context__
        assert by_route(target) == {"POST /v1/assistants": 1}
        target.set_faults()
        assert [a.name for a in await client.list_assistants()] == ["Once"]


async def test_upload_with_a_dropped_connection_is_ambiguous_and_happened_once(
    emulator: InProcessEmulator,
) -> None:
    emulator.set_faults(drop_rate=1, seed=1)
    async with client_for(emulator) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.upload_file("a.txt", b"abc")
        emulator.set_faults()
        assert [f.filename for f in await client.list_files()] == ["a.txt"]
    assert by_route(emulator)["POST /v1/files"] == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_create_after_a_5xx_is_ambiguous(emulator: InProcessEmulator, status: int) -> None:
    emulator.inject(status, route="POST /v1/assistants", times=5)
    async with client_for(emulator) as client:
        with pytest.raises(AmbiguousWriteError) as info:
            await client.create_assistant({"model": "gpt-4"})
    assert isinstance(info.value.cause, InternalServerError) and info.value.cause.status == status
    assert info.value.request_id == info.value.cause.request_id
    assert emulator.stats()["total"] == 1


async def test_upload_after_a_5xx_with_x_should_retry_false_is_ambiguous(emulator: InProcessEmulator) -> None:
    emulator.inject(503, route="POST /v1/files", headers={"x-should-retry": "false"})
    async with client_for(emulator) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.upload_file("a.txt", b"abc")
    assert emulator.stats()["total"] == 1


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (429, {"retry-after-ms": "1"}),
        (408, {}),
        (409, {}),
        (500, {"x-should-retry": "true"}),
    ],
)
async def test_create_retries_when_the_server_says_it_did_nothing(
    target: Emulator, status: int, headers: dict[str, str]
) -> None:
    target.inject(status, route="POST /v1/assistants", headers=headers)
    async with client_for(target) as client:
        await client.create_assistant({"model": "gpt-4"})
        assert client.calls == {"POST /assistants": 2}
        assert len(await client.list_assistants()) == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.WriteTimeout("write timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
    ],
)
async def test_create_is_not_retried_after_a_maybe_sent_failure(failure: Exception) -> None:
    """Mock: transport failures of a chosen kind (the live drop and timeout cases are tested above)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise failure

    async with Client(
        api_key=CANARY, base_url="http://x/v1", transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(AmbiguousWriteError) as info:
            await client.create_assistant({"model": "gpt-4"})
    assert isinstance(info.value.cause, APIConnectionError) and info.value.cause.sent
    assert len(seen) == 1


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("connect timed out"), httpx.PoolTimeout("pool")],
)
async def test_create_is_retried_when_the_request_never_left(failure: Exception) -> None:
    """Mock: these errors happen before any byte is sent, so retrying cannot duplicate."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise failure
        return httpx.Response(200, json={"id": "asst_1", "object": "assistant"})

    transport = httpx.MockTransport(handler)
    async with Client(api_key=CANARY, base_url="http://x/v1", transport=transport, retry=FAST) as client:
        assert (await client.create_assistant({"model": "gpt-4"})).id == "asst_1"
    assert len(seen) == 2


async def test_delete_retried_after_a_drop_gets_404_and_missing_ok_makes_it_done(target: Emulator) -> None:
    async with client_for(target) as client:
        assistant = await client.create_assistant({"model": "gpt-4"})
        target.set_faults(drop_rate=0.5, seed=seed_where([True, False]))
        target.reset_stats()
        result = await client.delete_assistant(assistant.id, missing_ok=True)
        assert result == {"id": assistant.id, "object": "assistant.deleted", "deleted": True}
        assert [(r["status"], r["dropped"]) for r in target.requests()] == [(200, True), (404, False)]


async def test_delete_retried_after_a_drop_without_missing_ok_raises_not_found(
    emulator: InProcessEmulator,
) -> None:
    async with client_for(emulator) as client:
        assistant = await client.create_assistant({"model": "gpt-4"})
        emulator.set_faults(drop_rate=0.5, seed=seed_where([True, False]))
        with pytest.raises(NotFoundError) as info:
            await client.delete_assistant(assistant.id)
    assert info.value.retries == 1


async def test_modify_is_retried_after_a_drop(emulator: InProcessEmulator) -> None:
    async with client_for(emulator) as client:
        assistant = await client.create_assistant({"model": "gpt-4"})
        emulator.set_faults(drop_rate=0.5, seed=seed_where([True, False]))
        modified = await client.modify_assistant(assistant.id, {"name": "New"})
    assert modified.name == "New"
    assert by_route(emulator)["POST /v1/assistants/{assistant_id}"] == 2


async def test_upload_sends_the_same_bytes_on_retry_from_a_file_object(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(b"payload bytes")
    emulator.inject(429, route="POST /v1/files", headers={"retry-after-ms": "1"})
    async with client_for(emulator) as client:
        with path.open("rb") as fh:
            uploaded = await client.upload_file("doc.txt", fh)
        assert await client.file_content(uploaded.id) == b"payload bytes"
    log = emulator.requests()
    assert [r["body"] for r in log if r["route"] == "/v1/files"] == [
        {"file": "doc.txt", "purpose": "assistants"}
    ] * 2


# ------------------------------------------------------------------------------ request bodies vs the spec


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema 2020-12: `nullable` becomes a null alternative (also beside a `$ref`,
    which OAS 3.0 would ignore: api-v1.md §6 quirk 2); OpenAPI-only keys are dropped."""
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _to_json_schema(v)
        for k, v in node.items()
        if k not in ("nullable", "example", "discriminator") and not k.startswith("x-")
    }
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _components() -> Any:
    return _to_json_schema(yaml.safe_load(SPEC.read_text(encoding="utf-8"))["components"])


def spec_validator(schema: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"components": _components(), "$ref": f"#/components/schemas/{schema}"}
    )


FULL_FIELDS: dict[str, Any] = {
    "name": "HR helper",
    "description": "Answers HR questions.",
    "model": "gpt-4-turbo",
    "instructions": "Be brief.",
    "tools": [
        {"type": "code_interpreter"},
        {"type": "retrieval"},
        {
            "type": "function",
            "function": {
                "name": "lookup_policy",
                "description": "Find a policy.",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
            },
        },
    ],
    "metadata": {"team": "people"},
    "temperature": 0.2,
    "top_p": 0.9,
    "response_format": {"type": "json_object"},
}


def test_the_spec_validator_rejects_bad_bodies() -> None:
    """The converted schemas are strict enough to catch what matters (so the next test means something)."""
    create = spec_validator("CreateAssistantRequest")
    assert not create.is_valid({"name": "no model"})
    assert not create.is_valid({"model": "gpt-4", "unknown": 1})
    assert not create.is_valid({"model": "gpt-4", "temperature": 3})
    assert not create.is_valid({"model": "gpt-4", "response_format": "bogus"})
    assert create.is_valid({"model": "gpt-4", "response_format": None, "metadata": None, "name": None})
    assert spec_validator("ModifyAssistantRequest").is_valid({})


async def test_request_bodies_match_the_spec(client: Client, emulator: InProcessEmulator) -> None:
    files = [(await client.upload_file(f"f{i}.txt", b"x")).id for i in range(2)]
    desired_full = dialect.desired_state({**FULL_FIELDS, "file_ids": files}, "hr-helper")
    desired_min = dialect.desired_state({"model": "gpt-4"}, "minimal")
    full = await client.create_assistant(dialect.create_body(desired_full))
    minimal = await client.create_assistant(dialect.create_body(desired_min))
    # Updates: every field alone (nulls clear), then everything at once back to the minimal state.
    # file_ids first: v1 refuses files on an assistant without a file tool.
    for field in sorted(dialect.FIELDS, key=lambda f: f != "file_ids"):
        await client.modify_assistant(full.id, dialect.update_body(desired_min, [field]))
    await client.modify_assistant(minimal.id, dialect.update_body(desired_full, list(dialect.FIELDS)))
    await client.create_assistant_file(minimal.id, files[0])

    schemas = {
        "POST /v1/assistants": "CreateAssistantRequest",
        "POST /v1/assistants/{assistant_id}": "ModifyAssistantRequest",
        "POST /v1/assistants/{assistant_id}/files": "CreateAssistantFileRequest",
    }
    checked = 0
    for entry in emulator.requests():
        schema = schemas.get(f"{entry['method']} {entry['route']}")
        if schema is None:
            continue
        assert entry["status"] == 200, entry
        errors = [e.message for e in spec_validator(schema).iter_errors(entry["body"])]
        assert errors == [], (schema, entry["body"])
        checked += 1
    assert checked == 2 + len(dialect.FIELDS) + 1 + 1


# ------------------------------------------------------------------------------------ the key never leaks


async def test_canary_key_never_leaks_from_the_emulator(
    make_emulator: Callable[..., InProcessEmulator],
    make_live_emulator: Callable[..., LiveEmulator],
    live_emulator: LiveEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caught: list[ReconcilerError] = []
    # Emulators that accept any key, so the canary gets through to drops and failures.
    emus: list[Emulator] = [make_emulator(api_key=None), make_live_emulator(api_key=None)]
    for emu in emus:
        async with client_for(emu, api_key=CANARY, max_retries=1) as client:
            assert CANARY not in repr(client)
            for call in (client.list_assistants(), client.retrieve_assistant("asst_nope")):
                try:
                    await call
                except ReconcilerError as err:
                    caught.append(err)
            emu.set_faults(drop_rate=1, seed=3)
            try:
                await client.create_assistant({"model": "gpt-4"})
            except ReconcilerError as err:
                caught.append(err)
            emu.set_faults(fail_rate=1, seed=3)
            try:
                await client.list_models()
            except ReconcilerError as err:
                caught.append(err)
            emu.set_faults()
    live_with_wrong_key = client_for(live_emulator, api_key=CANARY)
    async with live_with_wrong_key as client:
        try:
            await client.list_assistants()
        except ReconcilerError as err:
            caught.append(err)
    types = [type(e) for e in caught]
    assert types == [NotFoundError, AmbiguousWriteError, InternalServerError] * 2 + [AuthenticationError]
    for error in caught:
        assert CANARY not in str(error) and CANARY not in repr(error)
        assert error.__cause__ is None and error.__suppress_context__
        assert CANARY not in repr(getattr(error, "cause", None))
    assert "reconciler.client" in {r.name for r in caplog.records}
    assert CANARY not in caplog.text


async def test_canary_key_never_leaks_when_servers_or_transports_echo_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Mock: a server echoing the key in its error and transports whose exception text contains it."""
    caplog.set_level(logging.DEBUG)
    echo = error_body(f"Incorrect API key provided: {CANARY}.", code="invalid_api_key", param=CANARY)
    failures: list[httpx.Response | Exception] = [
        httpx.Response(401, json=echo, headers={"x-request-id": f"req_{CANARY}", "content-type": CANARY}),
        httpx.ConnectError(f"proxy refused Authorization: Bearer {CANARY}"),
        httpx.ReadTimeout(f"timed out sending Bearer {CANARY}"),
        httpx.RemoteProtocolError(f"peer closed; headers were Bearer {CANARY}"),
    ]
    caught: list[ReconcilerError] = []
    for failure in failures:

        def handler(request: httpx.Request, failure: Any = failure) -> httpx.Response:
            if isinstance(failure, Exception):
                raise failure
            return failure

        transport = httpx.MockTransport(handler)
        async with Client(
            api_key=CANARY, base_url="http://x/v1", transport=transport, max_retries=1, retry=FAST
        ) as client:
            for call in (client.list_models(), client.create_assistant({"model": "gpt-4"})):
                try:
                    await call
                except ReconcilerError as err:
                    caught.append(err)
    assert len(caught) == 8
    for error in caught:
        assert CANARY not in str(error) and CANARY not in repr(error)
        assert CANARY not in repr(getattr(error, "cause", None))
        assert error.__cause__ is None and error.__suppress_context__
    assert str(caught[0]) == (
        "GET /models: 401 invalid_request_error (param '***', code 'invalid_api_key'): "
        "Incorrect API key provided: ***. [req_***]"
    )
    assert CANARY not in caplog.text


# ------------------------------------------------------------------------------------ /models


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_available_models_is_none_when_the_server_has_no_models_endpoint(
    emulator: InProcessEmulator, status: int
) -> None:
    emulator.inject(status, route="GET /v1/models", headers={"x-should-retry": "false"})
    async with client_for(emulator) as client:
        assert await client.available_models() is None
    assert by_route(emulator) == {"GET /v1/models": 1}


async def test_available_models_lists_them_and_other_errors_raise(emulator: InProcessEmulator) -> None:
    async with client_for(emulator, max_retries=0) as client:
        models = await client.available_models()
        assert models is not None and "gpt-4" in {m["id"] for m in models}
        emulator.inject(403, route="GET /v1/models")
        with pytest.raises(PermissionDeniedError):
            await client.available_models()
