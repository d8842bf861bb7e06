"""Hostile or broken servers (issue 13): each gets one clear error line, never a hang or an internal error.

The servers are real: small raw asyncio HTTP servers on 127.0.0.1 written here (a trickle, a gzip bomb, a
server that stops answering), a starlette app that ignores `after`, and the project's emulator for the
rate limit and the base URL without `/v1`.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from apply_support import client_for, managed_body, plan_and_apply, seed
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reconciler.client import (
    MAX_JSON_BYTES,
    MAX_LISTED,
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadResponseError,
    Client,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
)
from reconciler.emulator.testing import InProcessEmulator

pytestmark = pytest.mark.anyio

KEY = "sk-hostile-0123456789"
CLI = (sys.executable, "-m", "reconciler")
FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.01)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A raw HTTP server on 127.0.0.1 running `handler` per connection; yields its base URL (`.../v1`)."""
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await server.wait_closed()


def head(status: str = "200 OK", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def trickler(spaces: int) -> Handler:
    """A handler sending headers, then one byte every 0.2 s, `spaces` of them (bounded: `spaces` / 5 seconds,
    though the clients tested leave after 1 s), never the 100,000 it announces."""

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(content_type="application/json", content_length="100000"))
        for _ in range(spaces):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.2)

    return trickle


async def list_refusal(listing: Callable[[Request], Awaitable[JSONResponse]], **client: Any) -> str:
    """The one line a Client's `list_assistants` stops with against a starlette app answering `listing` at
    `GET /v1/assistants` (bounded: 10 s)."""
    transport = httpx.ASGITransport(app=Starlette(routes=[Route("/v1/assistants", listing)]))
    async with Client(
        api_key=KEY, base_url="http://hostile/v1", transport=transport, retry=FAST, **client
    ) as c:
        with pytest.raises(BadResponseError) as info:
            await asyncio.wait_for(c.list_assistants(), 10)
    return str(info.value)


async def test_pages_that_never_advance_stop_with_one_clear_error() -> None:
    """Today: 1,000+ list calls and no end."""
    calls = 0

    async def same_page(request: Request) -> JSONResponse:
        nonlocal calls
        calls += 1
        data = [{"id": "asst_1", "object": "assistant"}, {"id": "asst_2", "object": "assistant"}]
        return JSONResponse(
            {"object": "list", "data": data, "first_id": "asst_1", "last_id": "asst_2", "has_more": True}
        )

    assert await list_refusal(same_page) == (
        "GET /assistants: the server's list does not advance: the page after 'asst_2' repeats 'asst_1' "
        "(does it ignore 'after'?); stopped after 2 items"
    )
    assert calls == 2


async def test_a_list_that_never_ends_stops_past_max_listed_with_one_clear_error() -> None:
    """A server inventing new items forever kept a plan listing, and growing, until memory ran out."""
    calls = 0

    async def endless(request: Request) -> JSONResponse:
        nonlocal calls
        calls += 1
        start = int(str(request.query_params.get("after", "asst_0")).removeprefix("asst_"))
        data = [{"id": f"asst_{n}", "object": "assistant"} for n in range(start + 1, start + 101)]
        return JSONResponse({"object": "list", "data": data, "has_more": True})

    assert await list_refusal(endless, max_listed=250) == (
        "GET /assistants: the server's list goes past 250 items, the most listed of a kind "
        "(does it ever end?); stopped after 300"
    )
    assert calls == 3
    assert MAX_LISTED == 100_000


async def test_the_next_page_is_asked_after_the_last_item_received_not_the_claimed_last_id() -> None:
    """A `last_id` past what a page holds would skip assistants, and apply would create them again."""
    asked: list[str | None] = []

    async def pages(request: Request) -> JSONResponse:
        after = request.query_params.get("after")
        asked.append(after)
        data = [{"id": "asst_1" if after is None else "asst_2", "object": "assistant"}]
        body = {"object": "list", "data": data, "first_id": data[0]["id"], "last_id": "asst_9"}
        return JSONResponse({**body, "has_more": after is None})

    app = Starlette(routes=[Route("/v1/assistants", pages)])
    transport = httpx.ASGITransport(app=app)
    async with Client(api_key=KEY, base_url="http://hostile/v1", transport=transport, retry=FAST) as client:
        listed = await asyncio.wait_for(client.list_assistants(), 10)
    assert [a.id for a in listed] == ["asst_1", "asst_2"]
    assert asked == [None, "asst_1"]


@cache
def gzip_bomb(megabytes: int) -> bytes:
    """`megabytes` MiB of zeros, gzip-compressed (about 1000:1)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(compressor.compress(zeros) for _ in range(megabytes)) + compressor.flush()


async def test_a_gzip_bomb_is_refused_at_the_size_limit() -> None:
    """200 MiB of zeros in 200 KiB of gzip: today read whole into memory (MemoryError for a larger one)."""
    body = gzip_bomb(200)

    async def bomb(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            head(content_type="application/json", content_encoding="gzip", content_length=str(len(body)))
        )
        writer.write(body)
        await writer.drain()

    async with raw_server(bomb) as base_url, Client(api_key=KEY, base_url=base_url, retry=FAST) as client:
        with pytest.raises(BadResponseError) as info:
            await client.list_models()
    assert str(info.value) == "GET /models: the server's answer is larger than 64 MiB; refused"
    assert MAX_JSON_BYTES == 64 * 1024 * 1024


async def test_a_trickling_server_hits_the_overall_deadline() -> None:
    """Headers, then one byte every 0.2 s: no read ever times out, yet the request must end, and no retry
    outlives the deadline (it is the request's, not each attempt's)."""
    async with (
        raw_server(trickler(300)) as base_url,
        Client(api_key=KEY, base_url=base_url, timeout=5, deadline=1, max_retries=1, retry=FAST) as c,
    ):
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await c.list_models()
        elapsed = time.monotonic() - started
    assert str(info.value) == "GET /models: timed out (no complete answer within the 1s deadline)"
    assert 1 <= elapsed < 2, elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_before_any_answer_fails_fast() -> None:
    """Default policy (5 retries, 0.5 s backoff base): today 13-15 s of backoff before the error."""
    base = f"http://127.0.0.1:{free_port()}/v1"
    async with Client(api_key=KEY, base_url=base) as client:
        started = time.monotonic()
        with pytest.raises(APIConnectionError) as info:
            await client.list_assistants()
        elapsed = time.monotonic() - started
        assert client.calls == {"GET /assistants": 2}
    message = str(info.value)
    assert message.startswith(f"GET /assistants: cannot connect to {base} (")
    assert message.endswith(") (gave up after 1 retry)")
    assert not info.value.sent
    assert elapsed < 2, elapsed


async def test_a_server_that_answered_then_went_away_is_retried_with_the_full_budget() -> None:
    async def models(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = json.dumps({"object": "list", "data": []}).encode()
        writer.write(head(content_type="application/json", content_length=str(len(body)), connection="close"))
        writer.write(body)
        await writer.drain()

    async with raw_server(models) as base_url:
        client = Client(api_key=KEY, base_url=base_url, retry=FAST)
        assert await client.list_models() == []
    # The server is gone now (a restart, say): a refusal is worth the whole budget.
    async with client:
        with pytest.raises(APIConnectionError) as info:
            await client.list_models()
    assert client.calls == {"GET /models": 7}
    assert str(info.value).endswith("(gave up after 5 retries)")


async def test_a_404_from_a_base_url_without_v1_hints_at_it(emulator: InProcessEmulator) -> None:
    async with Client(
        api_key=emulator.api_key or "sk-any",
        base_url="http://reconciler.local",
        transport=emulator.transport(),
    ) as client:
        with pytest.raises(NotFoundError) as info:
            await client.list_assistants()
    assert str(info.value).startswith("GET /assistants: 404 ")
    assert str(info.value).endswith(" (is the base URL missing /v1?)")


async def test_a_404_with_v1_has_no_hint(emulator: InProcessEmulator) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(NotFoundError) as info:
            await client.retrieve_assistant("asst_missing")
    assert "base URL" not in str(info.value)


async def test_an_apply_under_a_sustained_rate_limit_completes(
    emulator: InProcessEmulator, tmp_path: Path
) -> None:
    """3 requests/s against parallelism 16, with a budget of one retry per request: today 2-4 of the 24
    changes fail after their retry. The client halves its requests in flight on 429s and a 429 that comes
    while others make progress spends no budget, so every create and modify completes, only slower."""
    count = 12
    async with client_for(emulator, retry=RetryPolicy(max_retries=1)) as client:
        await seed(client, *(managed_body(f"old-{i}", name=f"Old {i}") for i in range(count)))
        for i in range(count):
            (tmp_path / f"old-{i}.yaml").write_text(f"name: Old {i}\nmodel: gpt-4\ndescription: changed\n")
            (tmp_path / f"new-{i}.yaml").write_text(f"name: New {i}\nmodel: gpt-4\n")
        emulator.set_faults(rate_limit_rps=3)
        _plan, report = await plan_and_apply(client, tmp_path, parallelism=16)
    assert [r.error for r in report.failed] == []
    assert report.counts == {"created": count, "updated": count, "deleted": 0, "failed": 0}
    statuses = [r["status"] for r in emulator.requests()]
    assert 429 in statuses


async def test_a_server_that_only_rate_limits_still_fails_after_the_budget(
    emulator: InProcessEmulator,
) -> None:
    emulator.inject(429, headers={"retry-after-ms": "1"}, times=100)
    async with client_for(emulator, retry=RetryPolicy(max_retries=2)) as client:
        with pytest.raises(RateLimitError) as info:
            await client.create_assistant({"model": "gpt-4"})
        assert client.calls == {"POST /assistants": 3}
    assert str(info.value).endswith("(gave up after 2 retries)")


async def test_the_timeout_option_bounds_each_attempt_of_a_command(tmp_path: Path) -> None:
    """`--timeout SECONDS` reaches the client: a real `reconciler plan` process against a trickling server
    ends with one line naming the deadline it was given."""
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "bot.yaml").write_text("name: Bot\nmodel: gpt-4\n")
    async with raw_server(trickler(100)) as base_url:
        process = await asyncio.create_subprocess_exec(
            *CLI,
            "plan",
            "--base-url",
            base_url,
            "--timeout",
            "1",
            "--max-retries",
            "0",
            cwd=tmp_path,
            env={**os.environ, "OPENAI_API_KEY": KEY},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert stdout == b""
    assert stderr.decode() == (
        "Error: GET /assistants: timed out (no complete answer within the 1s deadline)\n"
    )


def test_the_timeout_help_states_the_client_defaults() -> None:
    from click.testing import CliRunner

    from reconciler.cli import cli
    from reconciler.client import DEFAULT_DEADLINE, DEFAULT_TIMEOUT

    text = " ".join(CliRunner().invoke(cli, ["plan", "--help"]).output.split())
    assert (
        f"[default: {DEFAULT_DEADLINE:g}; a read that stalls for {DEFAULT_TIMEOUT:g} s fails sooner]" in text
    )


def test_local_without_the_emulator_extra_names_the_install_command(tmp_path: Path) -> None:
    """The emulator's server stack is an extra: without it, `--local` and `reconciler emulator` say how to
    install it in one line (simulated by making `starlette` unimportable in a real process)."""
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "bot.yaml").write_text("name: Bot\nmodel: gpt-4\n")
    block = "import sys; sys.modules['starlette'] = None; from reconciler.cli import main; main()"
    for args, what in (
        (["plan", "--local"], "--local"),
        (["emulator", "--port", "0"], "reconciler emulator"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", block, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        assert done.stderr == (
            f"Error: {what} needs the emulator, whose dependencies are not installed (starlette is missing): "
            'pip install "assistants-reconciler[emulator]"\n'
        )


def answering(status: str, body: bytes, **headers: str) -> Handler:
    """A handler answering every request with `status`, `headers` and `body`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(status, content_length=str(len(body)), **headers))
        writer.write(body)
        await writer.drain()

    return answer


@pytest.mark.parametrize(
    ("body", "got"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply to read"),
        (
            b'{"object": "list", "data": [], "n": ' + b"9" * 100_000 + b"}",
            "JSON with a number too long to read",
        ),
        (b"<html>", "a body that is not JSON"),
        (b"[1, 2]", "a JSON list"),
        (b'"text"', "a JSON string"),
        (b"", "an empty body"),
    ],
)
async def test_a_2xx_that_is_no_json_object_says_what_came(body: bytes, got: str) -> None:
    """Today a deeply nested body or a 100,000-digit number is an internal error (RecursionError, ValueError);
    every other non-object said only its content type."""
    handler = answering("200 OK", body, content_type="application/json")
    async with raw_server(handler) as base_url, Client(api_key=KEY, base_url=base_url, retry=FAST) as client:
        with pytest.raises(APIError) as info:
            await client.list_models()
    assert str(info.value) == f"GET /models: 200 OK: expected a JSON object, got {got} (application/json)"


async def test_an_error_body_python_cannot_read_is_reported_as_non_json() -> None:
    handler = answering("400 Bad Request", b"[" * 100_000, content_type="application/json")
    async with raw_server(handler) as base_url, Client(api_key=KEY, base_url=base_url, retry=FAST) as client:
        with pytest.raises(APIError) as info:
            await client.list_models()
    assert str(info.value) == "GET /models: 400 Bad Request: non-JSON application/json response"


async def test_a_redirect_says_it_was_not_followed() -> None:
    handler = answering("302 Found", b"", location="https://elsewhere.example/v1/models")
    async with raw_server(handler) as base_url, Client(api_key=KEY, base_url=base_url, retry=FAST) as client:
        with pytest.raises(APIError) as info:
            await client.list_models()
    assert str(info.value) == (
        "GET /models: 302 Found: redirect to https://elsewhere.example/v1/models not followed "
        "(is the base URL right?)"
    )


async def test_an_assistant_list_served_as_models_is_refused() -> None:
    body = json.dumps({"object": "list", "data": [{"id": "asst_1", "object": "assistant"}]}).encode()
    handler = answering("200 OK", body, content_type="application/json")
    async with raw_server(handler) as base_url, Client(api_key=KEY, base_url=base_url, retry=FAST) as client:
        with pytest.raises(BadResponseError) as info:
            await client.list_models()
    assert str(info.value) == (
        "GET /models: the server's answer is not a model list: data[0].object is 'assistant', not 'model'"
    )


async def test_the_deadline_bounds_a_request_with_its_retries() -> None:
    """Today the deadline bounded each attempt: a server that never answers held a plan for 6 deadlines (and
    5 backoffs). Now the deadline is the request's, retries included."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with (
        raw_server(silent) as base_url,
        Client(api_key=KEY, base_url=base_url, timeout=0.3, deadline=1.5, retry=FAST) as client,
    ):
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await client.list_models()
        elapsed = time.monotonic() - started
        attempts = client.calls["GET /models"]
    assert 1.4 <= elapsed < 2.5, elapsed
    assert 2 <= attempts <= 6, attempts
    assert str(info.value).startswith("GET /models: timed out (")
    assert str(info.value).endswith(
        f"(gave up after {attempts - 1} {'retry' if attempts == 2 else 'retries'})"
    )
