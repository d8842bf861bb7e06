"""What came back from one HTTP exchange, and how an error answer reads as an `APIError`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler import fastjson
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
    location = header(answer, "location", mask)
    if 300 <= answer.status < 400:
        message = f"redirect to {location or 'an unnamed location'} not followed (is the base URL right?)"
    elif not isinstance(message, str) or not message.strip():
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
    """The JSON value of a body, or None when it is not JSON (see `decode_json`)."""
    return decode_json(body)[0]


def decode_json(body: bytes) -> tuple[Any, str | None]:
    """The JSON value of a body and None, or None and what is wrong with it: `not JSON`, or JSON Python
    refuses to read (nested too deeply, a number of more than 4,300 digits).

    Read by `fastjson.loads`: the values read and the problems named are `json.loads`'s exactly."""
    try:
        return fastjson.loads(body), None
    except RecursionError:
        return None, "JSON nested too deeply to read"
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, "a body that is not JSON"
    except ValueError:  # int() refusing a number of too many digits
        return None, "JSON with a number too long to read"


def received(body: bytes) -> str:
    """What a 2xx answer that is no JSON object holds, for `expected a JSON object, got ...`."""
    if not body.strip():
        return "an empty body"
    value, problem = decode_json(body)
    if problem:
        return problem
    kinds = {list: "a JSON list", str: "a JSON string", bool: "a JSON boolean", type(None): "JSON null"}
    return kinds.get(type(value), "a JSON number")
