"""Answers are read by pydantic's fast JSON reader, and by `json` wherever that one refuses: the values read
and the problems named are `json.loads`'s exactly, whichever reader ends up reading a body."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconciler.client import Client, RemoteAssistant, RetryPolicy
from reconciler.client.answers import decode_json

TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates too
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON, st.booleans())
def test_any_json_reads_as_json_loads_reads_it(value: Any, ascii_only: bool) -> None:
    """Lone surrogates, escaped or as raw bytes (which `json` reads), are refused by the fast reader: both
    readers are exercised."""
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert decode_json(body) == (json.loads(body), None)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2}',  # the last of duplicate keys wins
        b'"\\ud800 lone surrogate"',  # the fast reader refuses it
        b'"\xed\xa0\xbd\xed\xb8\x80"',  # and surrogates as raw bytes, which json reads as two
        b'\xef\xbb\xbf{"bom": true}',  # so does it a UTF-8 BOM
        '{"utf16": "é"}'.encode("utf-16"),  # and UTF-16
        b"[" * 300 + b"]" * 300,  # and nesting past 200
        b"1e400",
        b"1" * 4300,  # the longest integer Python reads
        b"1" * 4301 + b".5",  # a float json reads as infinity, the fast reader refuses
        b"-0",
        b'{"n": 1.5e3, "f": 0.1, "big": 123456789012345678901234567890}',
    ],
)
def test_bodies_either_reader_takes_read_the_same(body: bytes) -> None:
    assert decode_json(body) == (json.loads(body), None)


def test_nan_and_infinity_read_as_json_reads_them() -> None:
    value, problem = decode_json(b"[NaN, Infinity, -Infinity]")
    assert problem is None
    assert math.isnan(value[0])
    assert value[1:] == [math.inf, -math.inf]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'"a\x01b"', "a body that is not JSON"),  # a raw control character in a string
        (b"[1,]", "a body that is not JSON"),
        (b"123 456", "a body that is not JSON"),
        (b'"\xff"', "a body that is not JSON"),
        (b"", "a body that is not JSON"),
        (b"1" * 5000, "JSON with a number too long to read"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply to read"),
    ],
)
def test_what_neither_reader_takes_is_named_as_before(body: bytes, problem: str) -> None:
    assert decode_json(body) == (None, problem)


@pytest.mark.anyio
async def test_a_page_only_json_can_read_is_listed() -> None:
    """A lone surrogate in a page (the fast reader refuses the whole body) is listed as `json` reads it."""
    body = b'{"object": "list", "data": [{"id": "asst_1", "instructions": "a \\ud800 b"}], "has_more": false}'

    async def endpoint(request: Request) -> Response:
        return Response(body, media_type="application/json")

    transport = httpx.ASGITransport(app=Starlette(routes=[Route("/v1/assistants", endpoint)]))
    client = Client(api_key="sk-json", base_url="http://json/v1", transport=transport, retry=RetryPolicy(0))
    async with client:
        assert await client.list_assistants() == [RemoteAssistant(id="asst_1", instructions="a \ud800 b")]
