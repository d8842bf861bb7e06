"""What came back from one HTTP exchange, and how an error answer reads as an `APIError`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.client.errors import APIError, error_class, one_line

Mask = Callable[[str], str]


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole: `status`, `headers`, `body` (decompressed bytes)."""

    status: int
    headers: httpx.Headers
    body: bytes


def header(answer: Answer, name: str, mask: Mask) -> str | None:
    """A response header as shown to users and logs: one line, short, passed through `mask` (a hostile or
    buggy server may echo the key anywhere)."""
    value = answer.headers.get(name)
    return mask(one_line(value, 200)) if value else None


def status_error(
    answer: Answer,
    method: str,
    path: str,
    *,
    retries: int,
    gave_up: bool,
    hint: str | None,
    mask: Mask,
) -> APIError:
    """The `APIError` for an error answer, from its `{"error": {...}}` body when it has one; foreign text is
    passed through `mask`. `hint` (a likely cause) is appended to the line of a 404 only."""
    fields: dict[str, Any] = {}
    body = parse_json(answer.body)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            fields = err
        elif isinstance(err, str):
            fields = {"message": err}
    message = fields.get("message")
    if not isinstance(message, str) or not message.strip():
        content_type = (header(answer, "content-type", mask) or "").split(";")[0].strip()
        if body is None and answer.body:
            message = f"non-JSON {content_type + ' ' if content_type else ''}response"
        else:
            message = "no error message in the response"

    def text(key: str) -> str | None:
        value = fields.get(key)
        return mask(one_line(str(value), 100)) if value not in (None, "") else None

    return error_class(answer.status)(
        status=answer.status,
        message=mask(one_line(message)),
        type=text("type"),
        param=text("param"),
        code=text("code"),
        request_id=header(answer, "x-request-id", mask),
        method=method,
        path=path,
        retries=retries,
        gave_up=gave_up,
        hint=hint if answer.status == 404 else None,
    )


def parse_json(body: bytes) -> Any:
    """The JSON value of a body, or None when it is not JSON."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
