"""Async client for the OpenAI Assistants API v1 (and any server that speaks it): pagination, retries, errors.

The client knows nothing about manifests. Every method makes the calls it names and returns the API's JSON as
plain dicts. Contracts:

- **Headers**: `Authorization: Bearer <key>` on every call, `OpenAI-Beta: assistants=v1` on `/assistants*`
  only, `OpenAI-Organization`/`OpenAI-Project` when set, and
  `User-Agent: reconciler/<version> (+python httpx/<v>)`.
- **Retries** follow the official SDK (docs/api-v1.md §9), with a configurable budget (`max_retries`): 408,
  409, 429, every status ≥ 500, timeouts and connection errors; `x-should-retry: true/false` overrides the
  status. The delay is `retry-after-ms`, else `retry-after` (seconds or an HTTP date) when it lies in
  (0, 60] s, else `min(backoff_base·2^n, backoff_max)·(1 − 0.25·random())`. A 429 closes a gate shared by the
  whole client: every request, on every worker, waits until the server's hint has passed; then, until no
  429 has come for a second, requests pass the gate one at a time, spaced by the hint (at most 1 s).
- **Non-idempotent writes** (`create_assistant`, `upload_file`) are never retried when their outcome is
  unknown (a timeout or dropped connection after the request may have been sent, or a ≥ 500 without
  `x-should-retry: true`): `AmbiguousWriteError` is raised so the caller can look the object up first.
  A 408/409/429, `x-should-retry: true`, or a connection that provably never carried the request
  (`httpx.ConnectError`, `ConnectTimeout`, `PoolTimeout`) is retried as usual.
- **Idempotent calls** (GET, modify, DELETE) retry normally. A DELETE retried after an ambiguous failure
  may get 404 because the first attempt did delete: pass `missing_ok=True` to treat that as done.
- **Errors** are `APIError` subclasses (by status), `APIConnectionError`/`APITimeoutError` or
  `AmbiguousWriteError`, all `ReconcilerError`s whose `str()` is one actionable line. The API key never
  appears in any message, repr or log line: httpx exceptions are never chained (they carry the request),
  foreign text is scrubbed, and the `reconciler.client` logger logs method, path, status, request id and
  retry decisions only, never headers.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import IO, Any
from urllib.parse import quote

import httpx

from reconciler import __version__
from reconciler.dialect import BETA_HEADER
from reconciler.errors import ReconcilerError

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AmbiguousWriteError",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: A retry hint (retry-after-ms / retry-after) is honoured only when it lies in (0, MAX_RETRY_AFTER] seconds.
MAX_RETRY_AFTER = 60.0
#: After a 429, requests pass the shared gate one at a time, at most this far apart (the server's hint,
#: capped), until no 429 has been seen for `PACING_WINDOW` seconds: waiters do not all rush the server at
#: the same instant (a thundering herd that would turn one 429 into many and spend every retry budget).
MAX_PACING = 1.0
PACING_WINDOW = 1.0
#: Statuses retried by default (plus every status >= 500).
RETRYABLE_STATUSES = frozenset({408, 409, 429})
#: Statuses after which a non-idempotent write provably did not happen (the server refused it up front).
SAFE_WRITE_RETRY_STATUSES = frozenset({408, 409, 429})
#: Transport errors raised before any byte of the request left the machine.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
#: Transport errors that no retry can fix (a header the HTTP library refuses, a URL scheme it cannot speak).
NEVER_RETRIED_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
)
PAGE_LIMIT = 100

logger = logging.getLogger("reconciler.client")

_WHITESPACE = re.compile(r"\s+")


def _one_line(text: str, limit: int = 500) -> str:
    """Collapse whitespace and cut long text, so a message stays one line."""
    text = _WHITESPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _retries_note(retries: int) -> str:
    return f" (gave up after {retries} {'retry' if retries == 1 else 'retries'})"


# --------------------------------------------------------------------------------------------- errors


class APIError(ReconcilerError):
    """The server answered with an error status.

    Attributes: `status`, `message`, `type`, `param`, `code` (from the `{"error": {...}}` body, None when
    absent), `request_id` (`x-request-id`), `method`, `path` (relative to the base URL, e.g.
    `/assistants/asst_abc`), `retries` (retries taken before this answer) and `gave_up` (True when the
    answer was retryable but the retry budget was spent).
    """

    def __init__(
        self,
        *,
        status: int,
        message: str,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
        method: str = "",
        path: str = "",
        retries: int = 0,
        gave_up: bool = False,
    ) -> None:
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.request_id = request_id
        self.method = method
        self.path = path
        self.retries = retries
        self.gave_up = gave_up
        super().__init__(self._line())

    def _line(self) -> str:
        head = f"{self.method} {self.path}: {self.status} {self.type or _status_phrase(self.status)}".rstrip()
        details = []
        if self.param:
            details.append(f"param '{self.param}'")
        if self.code:
            details.append(f"code '{self.code}'")
        if details:
            head += f" ({', '.join(details)})"
        line = f"{head}: {self.message}"
        if self.request_id:
            line += f" [{self.request_id}]"
        if self.gave_up:
            line += _retries_note(self.retries)
        return line

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._line()!r})"


class BadRequestError(APIError):
    """400: the request is invalid (validation, missing beta header...)."""


class AuthenticationError(APIError):
    """401: missing or invalid API key."""


class PermissionDeniedError(APIError):
    """403: the key may not do this."""


class NotFoundError(APIError):
    """404: unknown id or route."""


class ConflictError(APIError):
    """409: conflict (retried by default)."""


class UnprocessableEntityError(APIError):
    """422: well-formed but unprocessable."""


class RateLimitError(APIError):
    """429: rate limited (retried by default)."""


class InternalServerError(APIError):
    """Any status >= 500."""


_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class(status: int) -> type[APIError]:
    """The APIError subclass for an HTTP status."""
    if status >= 500:
        return InternalServerError
    return _STATUS_ERRORS.get(status, APIError)


class APIConnectionError(ReconcilerError):
    """No (complete) answer: the connection failed or was dropped.

    Attributes: `method`, `path`, `reason` (a short, key-free description), `retries`, `gave_up`,
    `sent` (False only when the request provably never left, e.g. connection refused).
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        reason: str,
        retries: int = 0,
        gave_up: bool = False,
        sent: bool = True,
    ) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.retries = retries
        self.gave_up = gave_up
        self.sent = sent
        line = f"{method} {path}: {reason}"
        if gave_up:
            line += _retries_note(retries)
        super().__init__(line)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class AmbiguousWriteError(ReconcilerError):
    """A non-idempotent write (create, upload) failed in a way that leaves its outcome unknown.

    The object may or may not exist now. It was NOT retried: look it up (e.g. an assistant by its key)
    before trying again. `cause` is the failure (an `APIConnectionError`, `APITimeoutError` or
    `InternalServerError`); `method` and `path` name the call.
    """

    def __init__(self, cause: APIError | APIConnectionError) -> None:
        self.cause = cause
        self.method = cause.method
        self.path = cause.path
        self.request_id = getattr(cause, "request_id", None)
        detail = str(cause)
        prefix = f"{cause.method} {cause.path}: "
        if detail.startswith(prefix):
            detail = detail[len(prefix) :]
        super().__init__(
            f"{cause.method} {cause.path}: outcome unknown, not retried ({detail}); "
            "check whether the object exists before retrying"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


# --------------------------------------------------------------------------------------------- client

Sleep = Callable[[float], Awaitable[None]]


class Client:
    """An async client for one API server. Use as `async with Client(...) as client:` or call `aclose()`.

    `calls` counts the requests actually sent (retries included) by `"METHOD /route-template"`, e.g.
    `"GET /assistants"`, `"POST /assistants/{assistant_id}"`.

    `sleep` (default `asyncio.sleep`), `backoff_base` and `backoff_max` exist so tests can run retries fast;
    `clock` is the monotonic clock used by the shared rate-limit gate.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        organization: str | None = None,
        project: str | None = None,
        max_retries: int = 5,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Sleep | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.calls: Counter[str] = Counter()
        self._api_key = api_key
        self._sleep: Sleep = sleep or asyncio.sleep
        self._clock = clock
        self._not_before = 0.0  # monotonic time before which no request may be sent (set by 429s)
        self._spacing = 0.0  # gap between requests passing the gate while pacing
        self._paced_until = 0.0  # pacing lasts until this monotonic time (extended by each 429)
        self._gate_lock: asyncio.Lock | None = None
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": f"reconciler/{__version__} (+python httpx/{httpx.__version__})",
        }
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, max_retries={self.max_retries})"

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # ----------------------------------------------------------------------------------- assistants

    async def list_assistants(self) -> list[dict[str, Any]]:
        """Every assistant, oldest first: `limit=100, order=asc`, following `after` until `has_more` is
        false or a page is empty (one call per 100 assistants)."""
        return await self._list_all("/assistants", {})

    async def retrieve_assistant(self, assistant_id: str) -> dict[str, Any]:
        """`GET /assistants/{id}`."""
        return await self._json("GET", "/assistants/{assistant_id}", {"assistant_id": assistant_id})

    async def create_assistant(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /assistants`. Not idempotent: raises `AmbiguousWriteError` when the outcome is unknown."""
        return await self._json("POST", "/assistants", {}, json_body=dict(body), idempotent=False)

    async def modify_assistant(self, assistant_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /assistants/{id}` (replaces the fields sent; idempotent, retried normally)."""
        return await self._json(
            "POST", "/assistants/{assistant_id}", {"assistant_id": assistant_id}, json_body=dict(body)
        )

    async def delete_assistant(self, assistant_id: str, *, missing_ok: bool = False) -> dict[str, Any]:
        """`DELETE /assistants/{id}`: the deletion object. With `missing_ok`, a 404 (already gone, e.g.
        deleted by an earlier attempt whose answer was lost) returns
        `{"id": id, "object": "assistant.deleted", "deleted": True}` instead of raising `NotFoundError`."""
        try:
            return await self._json("DELETE", "/assistants/{assistant_id}", {"assistant_id": assistant_id})
        except NotFoundError:
            if not missing_ok:
                raise
            return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}

    async def list_assistant_files(self, assistant_id: str) -> list[dict[str, Any]]:
        """Every `assistant.file` of an assistant, oldest first (all pages)."""
        return await self._list_all("/assistants/{assistant_id}/files", {"assistant_id": assistant_id})

    async def create_assistant_file(self, assistant_id: str, file_id: str) -> dict[str, Any]:
        """`POST /assistants/{id}/files`: attach a file. Idempotent in effect (attaching twice is a
        no-op or a 4xx), so it is retried normally."""
        return await self._json(
            "POST",
            "/assistants/{assistant_id}/files",
            {"assistant_id": assistant_id},
            json_body={"file_id": file_id},
        )

    async def retrieve_assistant_file(self, assistant_id: str, file_id: str) -> dict[str, Any]:
        """`GET /assistants/{id}/files/{file_id}`."""
        return await self._json(
            "GET",
            "/assistants/{assistant_id}/files/{file_id}",
            {"assistant_id": assistant_id, "file_id": file_id},
        )

    async def delete_assistant_file(
        self, assistant_id: str, file_id: str, *, missing_ok: bool = False
    ) -> dict[str, Any]:
        """`DELETE /assistants/{id}/files/{file_id}` (detaches; the File stays). `missing_ok` as in
        `delete_assistant`."""
        try:
            return await self._json(
                "DELETE",
                "/assistants/{assistant_id}/files/{file_id}",
                {"assistant_id": assistant_id, "file_id": file_id},
            )
        except NotFoundError:
            if not missing_ok:
                raise
            return {"id": file_id, "object": "assistant.file.deleted", "deleted": True}

    # ----------------------------------------------------------------------------------- files, models

    async def upload_file(
        self, filename: str, content: bytes | IO[bytes], purpose: str = "assistants"
    ) -> dict[str, Any]:
        """`POST /files` (multipart `file` + `purpose`). Not idempotent: raises `AmbiguousWriteError` when
        the outcome is unknown. A file object is read whole first, so retries resend the same bytes."""
        data = content if isinstance(content, bytes) else content.read()
        return await self._json(
            "POST",
            "/files",
            {},
            files={"file": (filename, data)},
            form={"purpose": purpose},
            idempotent=False,
        )

    async def list_files(self, purpose: str | None = None) -> list[dict[str, Any]]:
        """`GET /files` (not paginated in v1), optionally filtered by `purpose`."""
        params = {"purpose": purpose} if purpose else None
        page = await self._json("GET", "/files", {}, params=params)
        return list(page.get("data") or [])

    async def retrieve_file(self, file_id: str) -> dict[str, Any]:
        """`GET /files/{id}`."""
        return await self._json("GET", "/files/{file_id}", {"file_id": file_id})

    async def delete_file(self, file_id: str, *, missing_ok: bool = False) -> dict[str, Any]:
        """`DELETE /files/{id}`. `missing_ok` as in `delete_assistant`."""
        try:
            return await self._json("DELETE", "/files/{file_id}", {"file_id": file_id})
        except NotFoundError:
            if not missing_ok:
                raise
            return {"id": file_id, "object": "file", "deleted": True}

    async def file_content(self, file_id: str) -> bytes:
        """`GET /files/{id}/content`: the raw bytes."""
        response = await self._request(
            "GET",
            "/files/{file_id}/content",
            {"file_id": file_id},
            headers={"Accept": "application/binary"},
        )
        return response.content

    async def list_models(self) -> list[dict[str, Any]]:
        """`GET /models` (one page)."""
        page = await self._json("GET", "/models", {})
        return list(page.get("data") or [])

    # ----------------------------------------------------------------------------------- machinery

    async def _list_all(self, route: str, path_params: Mapping[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_LIMIT, "order": "asc"}
            if after:
                params["after"] = after
            page = await self._json("GET", route, path_params, params=params)
            data = list(page.get("data") or [])
            items.extend(data)
            if not data or not page.get("has_more"):
                return items
            after = page.get("last_id") or data[-1].get("id")
            if not after:
                return items

    async def _json(
        self,
        method: str,
        route: str,
        path_params: Mapping[str, str],
        **kwargs: Any,
    ) -> dict[str, Any]:
        response = await self._request(method, route, path_params, **kwargs)
        path = self._path(route, path_params)
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            content_type = self._header(response, "content-type") or "no content type"
            raise APIError(
                status=response.status_code,
                message=f"expected a JSON object, got {_one_line(content_type, 80)}",
                request_id=self._header(response, "x-request-id"),
                method=method,
                path=path,
            )
        return body

    @staticmethod
    def _path(route: str, path_params: Mapping[str, str]) -> str:
        return route.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})

    def _header(self, response: httpx.Response, name: str) -> str | None:
        """A response header as shown to users and logs: one line, short, the API key masked (a hostile or
        buggy server may echo it anywhere)."""
        value = response.headers.get(name)
        return self._scrub(_one_line(value, 200)) if value else None

    def _scrub(self, text: str) -> str:
        """Foreign text (server messages, exception text) with the API key masked."""
        if self._api_key and len(self._api_key) >= 4:
            text = text.replace(self._api_key, "***")
        return text

    async def _wait_for_gate(self) -> None:
        """Wait until the shared not-before time set by 429s has passed (re-checking if it moves later);
        while pacing after a 429, let requests through one at a time, `_spacing` apart."""
        now = self._clock()
        if now >= self._not_before and now >= self._paced_until:
            return
        if self._gate_lock is None:
            self._gate_lock = asyncio.Lock()
        async with self._gate_lock:
            while True:
                target = self._not_before
                wait = target - self._clock()
                if wait <= 0:
                    break
                await self._sleep(wait)
                if self._not_before <= target:
                    break
            now = self._clock()
            if now < self._paced_until:
                self._not_before = max(self._not_before, now + self._spacing)

    def _note_rate_limit(self, delay: float) -> None:
        """A 429 asked to wait `delay` seconds: close the gate for everyone that long, then pace."""
        now = self._clock()
        pacing = now < self._paced_until
        self._not_before = max(self._not_before, now + delay)
        # While pacing, the gap only grows: a short hint (the bucket was nearly refilled) is no rate.
        self._spacing = max(self._spacing if pacing else 0.0, min(delay, MAX_PACING))
        self._paced_until = max(self._paced_until, now + delay + PACING_WINDOW)

    def _retry_delay(self, response: httpx.Response | None, retries: int) -> float:
        """The SDK's delay: the server's hint when it lies in (0, 60] s, else jittered exponential backoff."""
        if response is not None:
            hint = _retry_after(response.headers)
            if hint is not None and 0 < hint <= MAX_RETRY_AFTER:
                return hint
        backoff = min(self.backoff_base * 2.0**retries, self.backoff_max)
        return backoff * (1 - 0.25 * random.random())

    async def _request(
        self,
        method: str,
        route: str,
        path_params: Mapping[str, str],
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        files: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send one logical request with retries; return the 2xx response or raise (see module docstring)."""
        path = self._path(route, path_params)
        label = f"{method} {route}"
        extra = dict(headers or {})
        if route.startswith("/assistants"):
            extra[BETA_HEADER[0]] = BETA_HEADER[1]
        retries = 0
        while True:
            await self._wait_for_gate()
            request = self._http.build_request(
                method,
                path.lstrip("/"),
                params=params,
                json=json_body,
                files=files,
                data=form,
                headers=extra,
            )
            self.calls[label] += 1
            retries_left = retries < self.max_retries
            try:
                response = await self._http.send(request)
                await response.aread()
            except httpx.TransportError as exc:
                sent = not isinstance(exc, NOT_SENT_ERRORS + NEVER_RETRIED_ERRORS)
                error = self._transport_error(exc, method, path, retries, sent)
                if isinstance(exc, NEVER_RETRIED_ERRORS):
                    raise error from None
                if idempotent or not sent:
                    if retries_left:
                        delay = self._retry_delay(None, retries)
                        # A warning, not debug: without it a dead server means a silent wait of many seconds.
                        logger.warning(
                            "%s %s: %s; retry %d/%d in %.1fs",
                            method,
                            path,
                            error.reason,
                            retries + 1,
                            self.max_retries,
                            delay,
                        )
                        retries += 1
                        await self._sleep(delay)
                        continue
                    error = self._transport_error(exc, method, path, retries, sent, gave_up=retries > 0)
                    logger.info("%s %s: %s; giving up", method, path, error.reason)
                    raise error from None
                logger.debug("%s %s: %s; outcome unknown, not retrying a write", method, path, error.reason)
                raise AmbiguousWriteError(error) from None

            request_id = self._header(response, "x-request-id")
            status = response.status_code
            logger.debug("%s %s -> %d [%s]", method, path, status, request_id or "-")
            if 200 <= status < 300:
                return response

            should_retry = _should_retry(response)
            if status == 429:
                # Slow the whole client down, not just this request.
                self._note_rate_limit(self._retry_delay(response, retries))
            forced = response.headers.get("x-should-retry", "").lower() == "true"
            ambiguous = not idempotent and status >= 500 and not forced
            safe = idempotent or forced or status in SAFE_WRITE_RETRY_STATUSES
            if ambiguous:
                cause = self._status_error(response, method, path, retries)
                logger.debug("%s %s: %d; outcome unknown, not retrying a write", method, path, status)
                raise AmbiguousWriteError(cause) from None
            if should_retry and safe and retries_left:
                delay = self._retry_delay(response, retries)
                logger.info(
                    "%s %s: %d; retry %d/%d in %.1fs",
                    method,
                    path,
                    status,
                    retries + 1,
                    self.max_retries,
                    delay,
                )
                retries += 1
                if status != 429:  # a 429 already moved the shared gate
                    await self._sleep(delay)
                continue
            gave_up = should_retry and safe and retries > 0
            if should_retry and safe:
                logger.info("%s %s: %d; retry budget spent, giving up", method, path, status)
            raise self._status_error(response, method, path, retries, gave_up=gave_up) from None

    def _status_error(
        self, response: httpx.Response, method: str, path: str, retries: int, *, gave_up: bool = False
    ) -> APIError:
        status = response.status_code
        fields: dict[str, Any] = {}
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict):
            err = body.get("error", body)
            if isinstance(err, dict):
                fields = err
            elif isinstance(err, str):
                fields = {"message": err}
        message = fields.get("message")
        if not isinstance(message, str) or not message.strip():
            content_type = (self._header(response, "content-type") or "").split(";")[0].strip()
            if body is None and response.content:
                message = f"non-JSON {content_type + ' ' if content_type else ''}response"
            else:
                message = "no error message in the response"

        def text(key: str) -> str | None:
            value = fields.get(key)
            return self._scrub(_one_line(str(value), 100)) if value not in (None, "") else None

        return error_class(status)(
            status=status,
            message=self._scrub(_one_line(message)),
            type=text("type"),
            param=text("param"),
            code=text("code"),
            request_id=self._header(response, "x-request-id"),
            method=method,
            path=path,
            retries=retries,
            gave_up=gave_up,
        )

    def _transport_error(
        self,
        exc: httpx.TransportError,
        method: str,
        path: str,
        retries: int,
        sent: bool,
        *,
        gave_up: bool = False,
    ) -> APIConnectionError:
        name = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            kind = {
                httpx.ConnectTimeout: "connect",
                httpx.ReadTimeout: "read",
                httpx.WriteTimeout: "write",
                httpx.PoolTimeout: "pool",
            }.get(type(exc), "")
            reason = f"timed out ({kind + ' ' if kind else ''}timeout {self.timeout:g}s)"
            return APITimeoutError(
                method=method, path=path, reason=reason, retries=retries, gave_up=gave_up, sent=sent
            )
        detail = self._scrub(_one_line(str(exc), 200))
        if isinstance(exc, httpx.ConnectError):
            reason = f"cannot connect to {self.base_url}" + (f" ({detail})" if detail else "")
        elif isinstance(exc, httpx.RemoteProtocolError):
            reason = "connection closed without a complete response" + (f" ({detail})" if detail else "")
        else:
            reason = f"connection error ({name}{': ' + detail if detail else ''})"
        return APIConnectionError(
            method=method, path=path, reason=reason, retries=retries, gave_up=gave_up, sent=sent
        )


def _should_retry(response: httpx.Response) -> bool:
    """The SDK's rule: `x-should-retry` first, then 408/409/429/>=500."""
    header = response.headers.get("x-should-retry", "").lower()
    if header == "true":
        return True
    if header == "false":
        return False
    return response.status_code in RETRYABLE_STATUSES or response.status_code >= 500


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from `retry-after-ms`, else `retry-after` (a number of seconds or an HTTP date); None if
    absent or unparseable."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when.timestamp() - time.time()
