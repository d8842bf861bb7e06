"""Reading request bodies: raw ASGI bodies, JSON, multipart forms, and the loggable form of a body."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message, Receive, Scope

from reconciler import dialect
from reconciler.emulator.validation import INVALID_JSON, ApiError, bad


async def read_body(receive: Receive) -> bytes:
    """The whole body of an ASGI request."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that first hands over the already-read `body` whole, then defers to `receive`."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def is_multipart_form(content_type: str) -> bool:
    """Whether a Content-Type header is `multipart/form-data` with a non-empty boundary."""
    media_type, params = parse_options_header(content_type)
    return media_type == b"multipart/form-data" and bool(params.get(b"boundary"))


async def read_form(request: Request) -> FormData:
    """The request's multipart form, parsed by starlette (python-multipart); the caller closes it. Plain
    fields may be as large as a file (starlette's default caps them at 1 MB). A malformed body, or one cut
    short before its closing delimiter, raises the 400 `Could not parse the multipart form: ...`."""
    body = await request.body()  # read first: the form is then parsed from this cached copy
    _, params = parse_options_header(request.headers.get("content-type"))
    close = b"--" + params.get(b"boundary", b"") + b"--"
    try:
        form = await request.form(max_part_size=dialect.MAX_FILE_BYTES)
    except (HTTPException, MultiPartException) as err:
        # Within an app starlette re-raises its MultiPartException as HTTPException(400, detail=message).
        detail = err.detail if isinstance(err, HTTPException) else err.message
        raise bad(f"Could not parse the multipart form: {str(detail).rstrip('.')}.") from None
    # python-multipart does not check that the body ends (its finalize() is a no-op): a truncated body
    # silently drops its unfinished part. Part data cannot contain CRLF + delimiter, so this finds the close.
    if not (body.startswith(close) or b"\r\n" + close in body):
        await form.close()
        raise bad("Could not parse the multipart form: multipart body without a closing boundary.")
    return form


async def loggable_body(scope: Scope, receive: Receive, body: bytes, content_type: str) -> Any:
    """Parsed JSON, or for multipart the plain fields and the file's name (never its content), or None."""
    if not body:
        return None
    if is_multipart_form(content_type):
        try:
            form = await read_form(Request(scope, replaying(body, receive)))
        except ApiError:
            return None
        try:
            return {
                name: (value.filename if isinstance(value, UploadFile) else value)
                for name, value in form.multi_items()
            }
        finally:
            await form.close()
    try:
        return json.loads(body)
    except ValueError:
        return None


#: The JSON escape of a surrogate (`\\ud800`-`\\udfff`), which only a body that may hold a lone one has.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


async def json_body(request: Request) -> Any:
    """The decoded JSON body ({} when empty); 400 with OpenAI's message when it is not JSON, NaN and
    Infinity included (Python's reader takes them; JSON has neither, and no stored object may hold one), and
    so is a number too large for a double (`1e999`, which Python's reader makes an infinity) and a lone
    surrogate (`"\\ud800"`, which Python's reader takes and no UTF-8 answer can hold)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
        if _SURROGATE_ESCAPE.search(raw):  # a pair reads as one character: only a lone one fails
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except ValueError:  # UnicodeEncodeError included
        raise bad(INVALID_JSON) from None
    return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value
