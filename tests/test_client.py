"""The API client: pagination, headers, errors, retries, the shared 429 gate, ambiguous writes, key secrecy.

Everything the emulator can produce is tested against the emulator. `httpx.MockTransport` stands in only for
server behaviours it cannot produce: an HTML 502 from a proxy, `x-should-retry`, an HTTP-date `retry-after`,
exact timing of a 429 for the shared gate, and transport exceptions of a chosen kind.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from reconciler import __version__
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
    UnprocessableEntityError,
)
from reconciler.errors import ReconcilerError

CANARY = "sk-canary-7f3a9c1e5b2d4f6a8c0e"
BASE = "http://api.test/v1"

Handler = Callable[[httpx.Request], httpx.Response]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


class Sleeps:
    """An injectable sleep that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def mock_client(handler: Handler, *, max_retries: int = 5, sleep: Sleeps | None = None, **kw: Any) -> Client:
    return Client(
        api_key=CANARY,
        base_url=BASE,
        max_retries=max_retries,
        transport=httpx.MockTransport(handler),
        sleep=sleep or Sleeps(),
        **kw,
    )


def error_body(
    message: str, type_: str = "invalid_request_error", param: Any = None, code: Any = None
) -> Any:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def sequence(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with `responses` in turn (the last one repeats), and the requests it saw."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses[min(len(seen), len(responses)) - 1]
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


OK_MODELS = httpx.Response(200, json={"object": "list", "data": [{"id": "gpt-4", "object": "model"}]})
OK_ASSISTANT = httpx.Response(200, json={"id": "asst_1", "object": "assistant"})


# ------------------------------------------------------------------------------------ errors (mock)


def test_html_502_from_a_proxy_is_one_clean_line() -> None:
    html = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"
    handler, seen = sequence(httpx.Response(502, text=html, headers={"content-type": "text/html"}))

    async def go() -> None:
        async with mock_client(handler, max_retries=2) as client:
            with pytest.raises(InternalServerError) as info:
                await client.list_models()
        assert str(info.value) == (
            "GET /models: 502 Bad Gateway: non-JSON text/html response (gave up after 2 retries)"
        )
        assert info.value.status == 502
        assert info.value.type is None
        assert info.value.gave_up
        assert len(seen) == 3

    run(go())


def test_error_attributes_and_line() -> None:
    body = error_body("The requested model 'gpt-9' does not exist.", param="model", code="model_not_found")
    handler, _ = sequence(httpx.Response(400, json=body, headers={"x-request-id": "req_abc123"}))

    async def go() -> None:
        async with mock_client(handler) as client:
            with pytest.raises(BadRequestError) as info:
                await client.create_assistant({"model": "gpt-9"})
        err = info.value
        assert str(err) == (
            "POST /assistants: 400 invalid_request_error (param 'model', code 'model_not_found'): "
            "The requested model 'gpt-9' does not exist. [req_abc123]"
        )
        assert (err.status, err.type, err.param, err.code, err.request_id) == (
            400,
            "invalid_request_error",
            "model",
            "model_not_found",
            "req_abc123",
        )
        assert (err.method, err.path, err.retries, err.gave_up) == ("POST", "/assistants", 0, False)
        assert isinstance(err, APIError) and isinstance(err, ReconcilerError)

    run(go())


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
def test_status_maps_to_exception_class(status: int, cls: type[APIError]) -> None:
    handler, _ = sequence(httpx.Response(status, json=error_body("no", "some_error")))

    async def go() -> None:
        async with mock_client(handler, max_retries=0) as client:
            with pytest.raises(APIError) as info:
                await client.retrieve_assistant("asst_x")
        assert type(info.value) is cls
        assert str(info.value) == f"GET /assistants/asst_x: {status} some_error: no"

    run(go())


def test_multiline_server_message_becomes_one_line() -> None:
    handler, _ = sequence(httpx.Response(400, json=error_body("first line\n  second\tline ")))

    async def go() -> None:
        async with mock_client(handler) as client:
            with pytest.raises(BadRequestError) as info:
                await client.list_models()
        assert str(info.value) == "GET /models: 400 invalid_request_error: first line second line"

    run(go())


def test_path_parameters_are_quoted() -> None:
    handler, seen = sequence(OK_ASSISTANT)

    async def go() -> None:
        async with mock_client(handler) as client:
            await client.retrieve_assistant("../files?x=1")
        assert seen[0].url.raw_path == b"/v1/assistants/..%2Ffiles%3Fx%3D1"

    run(go())


# ------------------------------------------------------------------------------------ retries (mock)


def test_x_should_retry_false_is_not_retried() -> None:
    handler, seen = sequence(
        httpx.Response(503, json=error_body("busy", "server_error"), headers={"x-should-retry": "false"})
    )

    async def go() -> None:
        async with mock_client(handler) as client:
            with pytest.raises(InternalServerError) as info:
                await client.list_models()
        assert len(seen) == 1
        assert not info.value.gave_up
        assert str(info.value) == "GET /models: 503 server_error: busy"

    run(go())


def test_x_should_retry_true_retries_even_a_400() -> None:
    handler, seen = sequence(
        httpx.Response(400, json=error_body("try again"), headers={"x-should-retry": "true"}), OK_MODELS
    )

    async def go() -> None:
        async with mock_client(handler) as client:
            assert await client.list_models() == [{"id": "gpt-4", "object": "model"}]
        assert len(seen) == 2

    run(go())


def test_http_date_retry_after_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    handler, seen = sequence(httpx.Response(503, headers={"retry-after": when}), OK_MODELS)
    sleeps = Sleeps()

    async def go() -> None:
        async with mock_client(handler, sleep=sleeps) as client:
            await client.list_models()

    run(go())
    assert len(seen) == 2
    assert len(sleeps.delays) == 1
    assert 28 <= sleeps.delays[0] <= 30


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "60"}, 60.0),
    ],
)
def test_retry_hints(headers: dict[str, str], expected: float) -> None:
    handler, _ = sequence(httpx.Response(500, headers=headers), OK_MODELS)
    sleeps = Sleeps()

    async def go() -> None:
        async with mock_client(handler, sleep=sleeps) as client:
            await client.list_models()

    run(go())
    assert sleeps.delays == [pytest.approx(expected)]


@pytest.mark.parametrize(
    "headers", [{"retry-after": "61"}, {"retry-after": "0"}, {"retry-after": "soon"}, {}]
)
def test_out_of_range_hints_fall_back_to_jittered_backoff(headers: dict[str, str]) -> None:
    handler, seen = sequence(httpx.Response(500, headers=headers))
    sleeps = Sleeps()

    async def go() -> None:
        async with mock_client(handler, sleep=sleeps, max_retries=6) as client:
            with pytest.raises(InternalServerError):
                await client.list_models()

    run(go())
    assert len(seen) == 7
    for n, delay in enumerate(sleeps.delays):
        ceiling = min(0.5 * 2**n, 8.0)
        assert 0.75 * ceiling <= delay <= ceiling, (n, delay)


def test_retry_budget_is_configurable() -> None:
    handler, seen = sequence(httpx.Response(500, json=error_body("boom", "server_error")))

    async def go() -> None:
        async with mock_client(handler, max_retries=0) as client:
            with pytest.raises(InternalServerError) as info:
                await client.list_models()
        assert str(info.value) == "GET /models: 500 server_error: boom"
        async with mock_client(handler, max_retries=1) as client:
            with pytest.raises(InternalServerError) as info:
                await client.list_models()
        assert str(info.value) == "GET /models: 500 server_error: boom (gave up after 1 retry)"

    run(go())
    assert len(seen) == 3


def test_timeouts_are_retried_for_reads_then_reported() -> None:
    handler, seen = sequence(httpx.ReadTimeout("read timed out"))

    async def go() -> None:
        async with mock_client(handler, max_retries=2, timeout=7.5) as client:
            with pytest.raises(APITimeoutError) as info:
                await client.retrieve_assistant("asst_1")
        assert (
            str(info.value)
            == "GET /assistants/asst_1: timed out (read timeout 7.5s) (gave up after 2 retries)"
        )
        assert isinstance(info.value, APIConnectionError)

    run(go())
    assert len(seen) == 3


def test_connect_error_message() -> None:
    handler, _ = sequence(httpx.ConnectError("[Errno 111] Connection refused"))

    async def go() -> None:
        async with mock_client(handler, max_retries=0) as client:
            with pytest.raises(APIConnectionError) as info:
                await client.list_assistants()
        assert str(info.value) == (
            f"GET /assistants: cannot connect to {BASE} ([Errno 111] Connection refused)"
        )
        assert not info.value.sent

    run(go())


# ------------------------------------------------------------------------- non-idempotent writes (mock)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.WriteTimeout("write timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
    ],
)
def test_create_with_unknown_outcome_is_not_retried(failure: Exception) -> None:
    handler, seen = sequence(failure, OK_ASSISTANT)

    async def go() -> None:
        async with mock_client(handler) as client:
            with pytest.raises(AmbiguousWriteError) as info:
                await client.create_assistant({"model": "gpt-4"})
        err = info.value
        assert isinstance(err.cause, APIConnectionError)
        assert err.cause.sent
        assert (err.method, err.path) == ("POST", "/assistants")
        assert str(err).startswith("POST /assistants: outcome unknown, not retried (")
        assert str(err).endswith("check whether the object exists before retrying")
        assert err.__cause__ is None and err.__suppress_context__

    run(go())
    assert len(seen) == 1


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, json=error_body("boom", "server_error")),
        httpx.Response(503, json=error_body("busy", "server_error"), headers={"x-should-retry": "false"}),
        httpx.Response(502, text="<html>bad gateway</html>", headers={"content-type": "text/html"}),
    ],
)
def test_upload_after_5xx_is_ambiguous(response: httpx.Response) -> None:
    handler, seen = sequence(response, httpx.Response(200, json={"id": "file-1", "object": "file"}))

    async def go() -> None:
        async with mock_client(handler) as client:
            with pytest.raises(AmbiguousWriteError) as info:
                await client.upload_file("notes.txt", b"hello")
        assert isinstance(info.value.cause, InternalServerError)
        assert info.value.cause.status == response.status_code

    run(go())
    assert len(seen) == 1


@pytest.mark.parametrize(
    "first",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("pool timed out"),
        httpx.Response(429, json=error_body("slow down", "requests"), headers={"retry-after-ms": "1"}),
        httpx.Response(408, json=error_body("request timeout", "timeout")),
        httpx.Response(409, json=error_body("lock timeout", "conflict")),
        httpx.Response(500, json=error_body("try again", "server_error"), headers={"x-should-retry": "true"}),
    ],
)
def test_create_retries_when_the_request_provably_did_nothing(first: httpx.Response | Exception) -> None:
    handler, seen = sequence(first, OK_ASSISTANT)

    async def go() -> None:
        async with mock_client(handler) as client:
            assert (await client.create_assistant({"model": "gpt-4"}))["id"] == "asst_1"
            assert client.calls["POST /assistants"] == 2

    run(go())
    assert len(seen) == 2


def test_upload_sends_the_same_bytes_on_retry_from_a_file_object(tmp_path: Any) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(b"payload bytes")
    handler, seen = sequence(
        httpx.Response(429, headers={"retry-after-ms": "1"}),
        httpx.Response(200, json={"id": "file-1", "object": "file"}),
    )

    async def go() -> None:
        async with mock_client(handler) as client:
            with path.open("rb") as fh:
                await client.upload_file("doc.txt", fh)

    run(go())
    assert len(seen) == 2
    for request in seen:
        assert b"payload bytes" in request.content
        assert b'name="purpose"\r\n\r\nassistants' in request.content
        assert "openai-beta" not in request.headers


def test_delete_missing_ok_treats_404_as_done() -> None:
    gone = httpx.Response(404, json=error_body("No assistant found with id 'asst_1'."))
    handler, _ = sequence(gone)

    async def go() -> None:
        async with mock_client(handler) as client:
            with pytest.raises(NotFoundError):
                await client.delete_assistant("asst_1")
            assert await client.delete_assistant("asst_1", missing_ok=True) == {
                "id": "asst_1",
                "object": "assistant.deleted",
                "deleted": True,
            }

    run(go())


# ------------------------------------------------------------------------------ shared 429 gate (mock)


def test_a_429_pauses_every_concurrent_request() -> None:
    """One worker's 429 (retry-after-ms 200) holds back requests other workers start meanwhile."""
    arrivals: list[tuple[str, float]] = []
    limited = asyncio.Event()
    hint = 0.2

    async def handler(request: httpx.Request) -> httpx.Response:
        now = time.monotonic()
        arrivals.append((request.url.path, now))
        if request.url.path.endswith("/asst_a") and sum(p.endswith("/asst_a") for p, _ in arrivals) == 1:
            limited.set()
            return httpx.Response(
                429,
                json=error_body("Rate limit reached", "requests"),
                headers={"retry-after-ms": str(hint * 1000)},
            )
        return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[1], "object": "assistant"})

    async def go() -> None:
        async with Client(api_key=CANARY, base_url=BASE, transport=httpx.MockTransport(handler)) as client:

            async def later(assistant_id: str) -> dict[str, Any]:
                await limited.wait()
                return await client.retrieve_assistant(assistant_id)

            started = time.monotonic()
            results = await asyncio.gather(
                client.retrieve_assistant("asst_a"), later("asst_b"), later("asst_c"), later("asst_d")
            )
            assert [r["id"] for r in results] == ["asst_a", "asst_b", "asst_c", "asst_d"]
            assert client.calls["GET /assistants/{assistant_id}"] == 5
            elapsed = time.monotonic() - started
            assert elapsed < 2.0

    run(go())
    first_429 = arrivals[0][1]
    assert arrivals[0][0].endswith("/asst_a")
    for path, at in arrivals[1:]:
        assert at - first_429 >= hint - 0.01, (path, at - first_429)


def test_gate_with_injected_sleep_terminates() -> None:
    """A fake sleep that does not advance the clock must not spin forever on the gate."""
    handler, seen = sequence(httpx.Response(429, headers={"retry-after-ms": "5000"}), OK_MODELS)
    sleeps = Sleeps()

    async def go() -> None:
        async with mock_client(handler, sleep=sleeps) as client:
            await client.list_models()

    run(go())
    assert len(seen) == 2
    assert len(sleeps.delays) == 1 and 4.9 < sleeps.delays[0] <= 5.0


# ------------------------------------------------------------------------------------ secrecy (mock)


def test_canary_key_never_leaks_from_mocked_failures(caplog: pytest.LogCaptureFixture) -> None:
    """Servers and transports that echo the key: messages, reprs and logs still never show it."""
    echo = error_body(f"Incorrect API key provided: {CANARY}.", code="invalid_api_key", param=CANARY)
    failures: list[httpx.Response | Exception] = [
        httpx.Response(401, json=echo, headers={"x-request-id": "req_1"}),
        httpx.ConnectError(f"proxy refused Authorization: Bearer {CANARY}"),
        httpx.ReadTimeout(f"timed out sending Bearer {CANARY}"),
        httpx.Response(502, text=f"<html>{CANARY}</html>", headers={"content-type": "text/html"}),
    ]
    caught: list[BaseException] = []
    caplog.set_level(logging.DEBUG)

    async def go() -> None:
        for failure in failures:
            handler, _ = sequence(failure)
            async with mock_client(handler, max_retries=1) as client:
                for call in (client.list_models(), client.create_assistant({"model": "gpt-4"})):
                    try:
                        await call
                    except ReconcilerError as err:
                        caught.append(err)
                assert CANARY not in repr(client)

    run(go())
    assert len(caught) == 8
    for err in caught:
        for text in (str(err), repr(err), repr(getattr(err, "cause", None))):
            assert CANARY not in text
        assert err.__cause__ is None
        assert err.__suppress_context__
    assert "Incorrect API key provided: ***." in str(caught[0])
    assert CANARY not in caplog.text
    assert "reconciler.client" in {r.name for r in caplog.records}


# ------------------------------------------------------------------------------------ misc (mock)


def test_user_agent_and_default_headers() -> None:
    handler, seen = sequence(OK_MODELS)

    async def go() -> None:
        async with mock_client(handler, organization="org-1", project="proj_2") as client:
            await client.list_models()

    run(go())
    headers = seen[0].headers
    assert headers["user-agent"] == f"reconciler/{__version__} (+python httpx/{httpx.__version__})"
    assert headers["authorization"] == f"Bearer {CANARY}"
    assert headers["openai-organization"] == "org-1"
    assert headers["openai-project"] == "proj_2"
    assert "openai-beta" not in headers


def test_pagination_stops_on_empty_page_even_if_has_more() -> None:
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
    handler, seen = sequence(*(httpx.Response(200, json=p) for p in pages))

    async def go() -> None:
        async with mock_client(handler) as client:
            assert await client.list_assistants() == [{"id": "asst_1"}]

    run(go())
    assert [dict(r.url.params) for r in seen] == [
        {"limit": "100", "order": "asc"},
        {"limit": "100", "order": "asc", "after": "asst_1"},
    ]


def test_success_with_non_json_body_is_an_error() -> None:
    handler, _ = sequence(
        httpx.Response(200, text="<html>captive portal</html>", headers={"content-type": "text/html"})
    )

    async def go() -> None:
        async with mock_client(handler) as client:
            with pytest.raises(APIError) as info:
                await client.list_models()
        assert str(info.value) == "GET /models: 200 OK: expected a JSON object, got text/html"

    run(go())


def test_body_is_sent_as_json() -> None:
    handler, seen = sequence(OK_ASSISTANT)

    async def go() -> None:
        async with mock_client(handler) as client:
            await client.modify_assistant("asst_1", {"name": None, "tools": []})

    run(go())
    assert json.loads(seen[0].content) == {"name": None, "tools": []}
    assert seen[0].headers["content-type"] == "application/json"
    assert seen[0].headers["openai-beta"] == "assistants=v1"
