"""The emulator as an ASGI app: the OpenAI Assistants API v1 (plus /files and /models), per docs/api-v1.md.

`create_app()` returns a Starlette app. Every HTTP request passes through `Gateway`, which, in order:

1. gives it an `x-request-id` and, for `/v1` requests, counts and logs it (see below);
2. checks the bearer key (401 `invalid_api_key`) on `/v1` and `/_emulator`;
3. for `/v1` only: latency, an injected response queued with `POST /_emulator/inject`, rate limit (429),
   failure (500/503), then unknown route or method (404 `Invalid URL (METHOD /v1/...)`), then the
   `OpenAI-Beta: assistants=v1` header on `/v1/assistants*` (400 `invalid_beta`);
4. runs the handler, adding `x-request-id`, `openai-version`, `openai-processing-ms` and
   `x-ratelimit-{limit,remaining,reset}-requests` to the response;
5. for a dropped write: the handler ran and committed, then the connection is aborted with no response.

What counts in `/_emulator/stats` and `/_emulator/requests`: every request to a `/v1` path that reached the
app, whatever its outcome (401, 404, 429, 5xx, dropped ones included), labelled by route template
(`POST /v1/assistants/{assistant_id}`) or, for unknown routes, by the raw path. `/_emulator` calls are neither
counted nor logged. The log keeps the last `REQUEST_LOG_SIZE` requests.

Dropping a connection needs help from the server, through the ASGI scope extension `ABORT_EXTENSION`: an async
callable that closes the connection without a response. `EmulatorServer`/`serve` (uvicorn) and
`InProcessTransport` provide it. Without it, the app sends the status line and headers and then stops, so the
response is incomplete (most servers then close the connection).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from python_multipart.multipart import parse_options_header
from starlette.applications import Starlette
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler import dialect
from reconciler.emulator.faults import FaultConfig, FaultInjector, go_duration, retry_after_headers
from reconciler.emulator.store import CursorNotFound, FileProblem, Store, TooManyFiles
from reconciler.emulator.validation import (
    INVALID_JSON,
    ApiError,
    bad,
    invalid_value,
    missing_parameter,
    unknown_parameter,
    validate_assistant_body,
    validate_assistant_file_body,
    validate_list_params,
)

ABORT_EXTENSION = "reconciler.abort"
OPENAI_VERSION = "2020-10-01"
REQUEST_LOG_SIZE = 10_000
FILE_PURPOSES = ("fine-tune", "assistants")
#: `created` of every model in `/v1/models` (the v1 spec's example timestamp).
MODEL_CREATED = 1686935002

BETA_MISSING = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
    "Please try again by setting the header 'OpenAI-Beta: assistants=v1'."
)
KEY_MISSING = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
    "auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
KEY_WRONG = (
    "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
)
SERVER_ERROR = {
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The server is overloaded or not ready yet.",
}


class Emulator:
    """The state behind one app: store, faults, key, stats and request log (thread-safe)."""

    def __init__(self, store: Store, api_key: str | None, faults: FaultConfig | None):
        self.store = store
        self.api_key = api_key
        self.faults = FaultInjector(faults)
        self._lock = threading.Lock()
        self._by_route: Counter[str] = Counter()
        self._total = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._injections: list[dict[str, Any]] = []

    # stats and log

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._total += 1
            self._by_route[f"{entry['method']} {entry['route']}"] += 1
            self._log.append(entry)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self._total, "by_route": dict(sorted(self._by_route.items()))}

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._log]

    def reset_stats(self) -> None:
        with self._lock:
            self._total = 0
            self._by_route.clear()
            self._log.clear()

    # injected responses

    def inject(self, spec: dict[str, Any]) -> None:
        with self._lock:
            self._injections.append(spec)

    def take_injection(self, label: str) -> dict[str, Any] | None:
        with self._lock:
            for i, spec in enumerate(self._injections):
                if spec["route"] is None or spec["route"] == label:
                    spec["times"] -= 1
                    if spec["times"] <= 0:
                        del self._injections[i]
                    return spec
            return None

    def clear_injections(self) -> None:
        with self._lock:
            self._injections.clear()

    def reset(self) -> None:
        """Delete every object, clear stats, the request log and injections, and turn faults off."""
        self.store.reset()
        self.reset_stats()
        self.clear_injections()
        self.faults.configure(FaultConfig())

    def check_key(self, authorization: str | None) -> ApiError | None:
        """None when the bearer key is acceptable, else the 401 to answer."""
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return ApiError(401, KEY_MISSING, code="invalid_api_key")
        if self.api_key is not None and not secrets.compare_digest(key.encode(), self.api_key.encode()):
            return ApiError(401, KEY_WRONG, code="invalid_api_key")
        return None


def emulator_of(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


def invalid_url(method: str, path: str) -> ApiError:
    return ApiError(404, f"Invalid URL ({method} {path})")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
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


async def _loggable_body(scope: Scope, receive: Receive, body: bytes, content_type: str) -> Any:
    """Parsed JSON, or for multipart the plain fields and the file's name (never its content), or None."""
    if not body:
        return None
    if is_multipart_form(content_type):
        try:
            form = await read_form(Request(scope, _replaying(body, receive)))
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


class Gateway:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, *, emulator: Emulator, routes: list[BaseRoute]):
        self.app = app
        self.emulator = emulator
        self.routes = routes
        self._late: set[asyncio.Future[None]] = set()

    def _match(self, scope: Scope) -> tuple[str | None, bool]:
        """(route template, whether the method matches) for the first route whose path matches."""
        partial: str | None = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", None), True
            if match == Match.PARTIAL and partial is None:
                partial = getattr(route, "path", None)
        return partial, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        emu = self.emulator
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        is_api = path == "/v1" or path.startswith("/v1/")
        is_admin = path == "/_emulator" or path.startswith("/_emulator/")
        headers = Headers(scope=scope)
        body = await _read_body(receive)
        template, method_ok = self._match(scope)
        request_id = "req_" + secrets.token_hex(16)
        entry: dict[str, Any] | None = None
        if is_api:
            query = {k: v for k, v in _query_items(scope)}
            entry = {
                "method": method,
                "route": template if template is not None and method_ok else path,
                "path": path,
                "query": query,
                "body": await _loggable_body(scope, receive, body, headers.get("content-type", "")),
                "headers": {k: v for k, v in headers.items() if k != "authorization"},
                "status": None,
                "dropped": False,
            }
            emu.record(entry)

        def extra_headers() -> list[tuple[bytes, bytes]]:
            out = [
                ("x-request-id", request_id),
                ("openai-version", OPENAI_VERSION),
                ("openai-processing-ms", str(int((time.perf_counter() - started) * 1000))),
            ]
            if is_api:
                state = emu.faults.rate_limit_state()
                out += [
                    ("x-ratelimit-limit-requests", str(state.limit)),
                    ("x-ratelimit-remaining-requests", str(state.remaining)),
                    ("x-ratelimit-reset-requests", go_duration(state.reset_s)),
                ]
            org = headers.get("openai-organization")
            if org:
                out.append(("openai-organization", org))
            return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = list(message.get("headers", []))
                present = {name.lower() for name, _ in own}  # injected headers win over the defaults
                extra = [(k, v) for k, v in extra_headers() if k not in present]
                message = {**message, "headers": [*own, *extra]}
                if entry is not None:
                    entry["status"] = message["status"]
            await send(message)

        async def respond(response: Response) -> None:
            await response(scope, receive, send_with_headers)

        if not (is_api or is_admin):
            await respond(error_response(invalid_url(method, path)))
            return
        err = emu.check_key(headers.get("authorization"))
        if err is not None:
            await respond(error_response(err))
            return
        if is_api:
            config = emu.faults.config
            if config.latency_ms > 0:
                await anyio.sleep(config.latency_ms / 1000)
            injected = emu.take_injection(f"{method} {entry['route'] if entry else path}")
            if injected is not None:
                await respond(_injected_response(injected))
                return
            decision = emu.faults.decide(method)
            if decision.rate_limited:
                wait = decision.retry_after_s
                await respond(
                    error_response(
                        ApiError(
                            429,
                            f"Rate limit reached for requests: limit {config.rate_limit_rps:g} requests per "
                            f"second. Please try again in {max(1, int(wait * 1000 + 0.999))}ms.",
                            type="requests",
                            code="rate_limit_exceeded",
                            headers=retry_after_headers(wait),
                        )
                    )
                )
                return
            if decision.fail_status is not None:
                status = decision.fail_status
                await respond(error_response(ApiError(status, SERVER_ERROR[status], type="server_error")))
                return
        else:
            decision = None
        if template is None or not method_ok:
            await respond(error_response(invalid_url(method, path)))
            return
        if is_api and (path == "/v1/assistants" or path.startswith("/v1/assistants/")):
            beta_err = _check_beta(headers.get("openai-beta"), method, path)
            if beta_err is not None:
                await respond(error_response(beta_err))
                return

        replay = _replaying(body, receive)
        if decision is None or not decision.drop:
            await self.app(scope, replay, send_with_headers)
            return
        # A dropped write: run it (it commits), discard its response, abort the connection; with a commit
        # delay, abort first and run it later.
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        async def commit() -> None:
            await self.app(scope, replay, hold)
            if entry is not None:
                starts = (m["status"] for m in held if m["type"] == "http.response.start")
                entry["status"] = next(starts, None)
                entry["dropped"] = True

        delay = emu.faults.config.commit_delay_ms / 1000
        if delay > 0:
            if entry is not None:
                entry["dropped"] = True

            async def commit_later() -> None:
                await asyncio.sleep(delay)
                await commit()

            task = asyncio.ensure_future(commit_later())
            self._late.add(task)  # keep a reference until it is done
            task.add_done_callback(self._late.discard)
        else:
            await commit()
        abort: Callable[[], Awaitable[None]] | None = scope.get("extensions", {}).get(ABORT_EXTENSION)
        if abort is not None:
            await abort()
            return
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        if start is not None:  # no abort hook: an incomplete response is the closest we can do
            await send(start)


def _query_items(scope: Scope) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    raw: bytes = scope.get("query_string", b"")
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True)


def _check_beta(value: str | None, method: str, path: str) -> ApiError | None:
    """400 `invalid_beta` without `assistants=...`; another assistants version: unknown URL (inferred)."""
    tokens = [t.strip() for t in (value or "").split(",")]
    versions = [t.split("=", 1)[1].strip() for t in tokens if t.startswith("assistants=")]
    if not versions:
        return ApiError(400, BETA_MISSING, code="invalid_beta")
    if "v1" not in versions:
        return invalid_url(method, path)
    return None


def _injected_response(spec: dict[str, Any]) -> Response:
    body = spec.get("body")
    if body is None:
        status = spec["status"]
        body = {
            "error": {
                "message": SERVER_ERROR.get(status, f"Injected error {status}."),
                "type": "server_error" if status >= 500 else "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
    return JSONResponse(body, status_code=spec["status"], headers=spec.get("headers") or {})


# -- request helpers -----------------------------------------------------------------------------------


async def json_body(request: Request) -> Any:
    """The decoded JSON body ({} when empty); 400 with OpenAI's message when it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise bad(INVALID_JSON) from None


def no_assistant(assistant_id: str) -> ApiError:
    return ApiError(404, f"No assistant found with id '{assistant_id}'.")


def existing_assistant(request: Request) -> tuple[Store, str]:
    """The store and the path's `assistant_id`; 404 when there is no such (live) assistant."""
    assistant_id = request.path_params["assistant_id"]
    store = emulator_of(request).store
    if not store.assistant_exists(assistant_id):
        raise no_assistant(assistant_id)
    return store, assistant_id


def deleted(object_id: str, object_type: str) -> JSONResponse:
    """The deletion status a DELETE answers with."""
    return JSONResponse({"id": object_id, "object": object_type, "deleted": True})


def no_file(file_id: str) -> ApiError:
    return ApiError(404, f"No such File object: {file_id}", param="id")


def file_problem(err: FileProblem, param: str) -> ApiError:
    if err.index is not None:
        param = f"{param}[{err.index}]"
    if err.purpose is None:
        return bad(f"No file found with id '{err.file_id}'.", param=param, code="invalid_value")
    return bad(
        f"File '{err.file_id}' has purpose '{err.purpose}'; only files with purpose 'assistants' can be "
        "attached to an assistant.",
        param=param,
        code="invalid_value",
    )


def cursor_problem(err: CursorNotFound, kind: str) -> ApiError:
    return bad(f"Invalid '{err.param}': no {kind} found with id '{err.cursor}'.", param=err.param)


# -- /v1/assistants ------------------------------------------------------------------------------------


async def list_assistants(request: Request) -> Response:
    params = validate_list_params(request.query_params)
    try:
        page = emulator_of(request).store.list_assistants(**params)
    except CursorNotFound as err:
        raise cursor_problem(err, "assistant") from None
    return JSONResponse(page.envelope())


async def create_assistant(request: Request) -> Response:
    fields, file_ids = validate_assistant_body(await json_body(request), create=True)
    try:
        assistant = emulator_of(request).store.create_assistant(fields, file_ids or [])
    except FileProblem as err:
        raise file_problem(err, "file_ids") from None
    return JSONResponse(assistant)


async def get_assistant(request: Request) -> Response:
    assistant_id = request.path_params["assistant_id"]
    assistant = emulator_of(request).store.get_assistant(assistant_id)
    if assistant is None:
        raise no_assistant(assistant_id)
    return JSONResponse(assistant)


async def modify_assistant(request: Request) -> Response:
    store, assistant_id = existing_assistant(request)
    fields, file_ids = validate_assistant_body(await json_body(request), create=False)
    try:
        assistant = store.update_assistant(assistant_id, fields, file_ids)
    except FileProblem as err:
        raise file_problem(err, "file_ids") from None
    if assistant is None:
        raise no_assistant(assistant_id)
    return JSONResponse(assistant)


async def delete_assistant(request: Request) -> Response:
    assistant_id = request.path_params["assistant_id"]
    if not emulator_of(request).store.delete_assistant(assistant_id):
        raise no_assistant(assistant_id)
    return deleted(assistant_id, "assistant.deleted")


async def list_assistant_files(request: Request) -> Response:
    params = validate_list_params(request.query_params)
    store, assistant_id = existing_assistant(request)
    try:
        page = store.list_assistant_files(assistant_id, **params)
    except CursorNotFound as err:
        raise cursor_problem(err, "assistant file") from None
    return JSONResponse(page.envelope())


async def create_assistant_file(request: Request) -> Response:
    store, assistant_id = existing_assistant(request)
    file_id = validate_assistant_file_body(await json_body(request))
    try:
        association = store.attach_file(assistant_id, file_id, dialect.MAX_FILE_IDS)
    except FileProblem as err:
        raise file_problem(err, "file_id") from None
    except TooManyFiles:
        raise bad(
            f"Invalid 'file_ids': array too long. Expected an array with maximum length "
            f"{dialect.MAX_FILE_IDS}, but got an array with length {dialect.MAX_FILE_IDS + 1} instead.",
            param="file_id",
            code="array_above_max_length",
        ) from None
    if association is None:
        raise no_assistant(assistant_id)
    return JSONResponse(association)


def _no_assistant_file(file_id: str, assistant_id: str) -> ApiError:
    return ApiError(404, f"No file found with id '{file_id}' attached to assistant '{assistant_id}'.")


async def get_assistant_file(request: Request) -> Response:
    store, assistant_id = existing_assistant(request)
    file_id = request.path_params["file_id"]
    association = store.get_assistant_file(assistant_id, file_id)
    if association is None:
        raise _no_assistant_file(file_id, assistant_id)
    return JSONResponse(association)


async def delete_assistant_file(request: Request) -> Response:
    store, assistant_id = existing_assistant(request)
    file_id = request.path_params["file_id"]
    if not store.detach_file(assistant_id, file_id):
        raise _no_assistant_file(file_id, assistant_id)
    return deleted(file_id, "assistant.file.deleted")


# -- /v1/files -----------------------------------------------------------------------------------------


async def list_files(request: Request) -> Response:
    purpose = request.query_params.get("purpose")
    files = emulator_of(request).store.list_files(purpose)
    return JSONResponse({"object": "list", "data": files})


async def create_file(request: Request) -> Response:
    content_type = request.headers.get("content-type", "")
    if not is_multipart_form(content_type):
        raise bad(
            f"Invalid Content-Type header ({content_type or 'none'}), expected multipart/form-data.",
            code="invalid_content_type",
        )
    form = await read_form(request)
    try:
        fields: dict[str, str | UploadFile] = {}
        for name, value in form.multi_items():
            if name not in ("file", "purpose"):
                raise unknown_parameter(name)
            fields.setdefault(name, value)
        if "file" not in fields:
            raise missing_parameter("file")
        if "purpose" not in fields:
            raise missing_parameter("purpose")
        purpose = fields["purpose"]
        if isinstance(purpose, UploadFile):  # sent as a file part: its content is the value
            purpose = (await purpose.read()).decode("utf-8", errors="replace")
        if purpose not in FILE_PURPOSES:
            raise invalid_value("purpose", purpose, FILE_PURPOSES)
        upload = fields["file"]
        if not isinstance(upload, UploadFile):
            raise bad("Invalid 'file': expected a file upload, but got a plain form field.", param="file")
        size = upload.size or 0
        if size > dialect.MAX_FILE_BYTES:
            raise bad(
                f"File is too large ({size} bytes); the maximum is {dialect.MAX_FILE_BYTES} bytes.",
                param="file",
            )
        content = await upload.read()
    finally:
        await form.close()
    file = emulator_of(request).store.create_file(
        filename=upload.filename or "upload", purpose=purpose, content=content
    )
    return JSONResponse(file)


async def get_file(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    file = emulator_of(request).store.get_file(file_id)
    if file is None:
        raise no_file(file_id)
    return JSONResponse(file)


async def delete_file(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    if not emulator_of(request).store.delete_file(file_id):
        raise no_file(file_id)
    return deleted(file_id, "file")


async def file_content(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    content = emulator_of(request).store.file_content(file_id)
    if content is None:
        raise no_file(file_id)
    return Response(content, media_type="application/octet-stream")


# -- /v1/models ----------------------------------------------------------------------------------------


def model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": MODEL_CREATED, "owned_by": "openai"}


async def list_models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [model_object(m) for m in dialect.MODELS]})


async def get_model(request: Request) -> Response:
    model = request.path_params["model"]
    if model not in dialect.MODELS:
        raise ApiError(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
    return JSONResponse(model_object(model))


# -- /_emulator ----------------------------------------------------------------------------------------


async def admin_stats(request: Request) -> Response:
    emu = emulator_of(request)
    return JSONResponse({**emu.stats(), "objects": emu.store.counts()})


async def admin_stats_reset(request: Request) -> Response:
    emu = emulator_of(request)
    emu.reset_stats()
    return JSONResponse(emu.stats())


async def admin_requests(request: Request) -> Response:
    return JSONResponse(emulator_of(request).requests())


async def admin_get_faults(request: Request) -> Response:
    return JSONResponse(emulator_of(request).faults.config.to_dict())


async def admin_set_faults(request: Request) -> Response:
    data = await json_body(request)
    if not isinstance(data, dict):
        raise bad("Expected a JSON object with FaultConfig fields.")
    try:
        config = FaultConfig.from_dict(data)
    except (TypeError, ValueError) as err:
        raise bad(str(err)) from None
    emu = emulator_of(request)
    emu.faults.configure(config)
    return JSONResponse(config.to_dict())


async def admin_inject(request: Request) -> Response:
    """Queue a canned response for the next matching `/v1` request(s): `{"status": 409, "route":
    "POST /v1/assistants" | null (any), "headers": {...}, "body": {...} | null, "times": 1}`."""
    data = await json_body(request)
    if not isinstance(data, dict) or not isinstance(data.get("status"), int):
        raise bad("Expected a JSON object with an integer 'status'.")
    unknown = set(data) - {"status", "route", "headers", "body", "times"}
    if unknown:
        raise bad(f"Unknown injection field(s): {', '.join(sorted(unknown))}.")
    spec = {
        "status": data["status"],
        "route": data.get("route"),
        "headers": {str(k): str(v) for k, v in (data.get("headers") or {}).items()},
        "body": data.get("body"),
        "times": int(data.get("times", 1)),
    }
    emulator_of(request).inject(spec)
    return JSONResponse(spec)


async def admin_reset(request: Request) -> Response:
    """`Emulator.reset()`."""
    emulator_of(request).reset()
    return JSONResponse({"reset": True})


async def _api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


def routes() -> list[BaseRoute]:
    """Every route the emulator serves (templates are what stats count by)."""
    a = "/v1/assistants"
    return [
        Route(a, list_assistants, methods=["GET"]),
        Route(a, create_assistant, methods=["POST"]),
        Route(a + "/{assistant_id}", get_assistant, methods=["GET"]),
        Route(a + "/{assistant_id}", modify_assistant, methods=["POST"]),
        Route(a + "/{assistant_id}", delete_assistant, methods=["DELETE"]),
        Route(a + "/{assistant_id}/files", list_assistant_files, methods=["GET"]),
        Route(a + "/{assistant_id}/files", create_assistant_file, methods=["POST"]),
        Route(a + "/{assistant_id}/files/{file_id}", get_assistant_file, methods=["GET"]),
        Route(a + "/{assistant_id}/files/{file_id}", delete_assistant_file, methods=["DELETE"]),
        Route("/v1/files", list_files, methods=["GET"]),
        Route("/v1/files", create_file, methods=["POST"]),
        Route("/v1/files/{file_id}", get_file, methods=["GET"]),
        Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model}", get_model, methods=["GET"]),
        Route("/_emulator/stats", admin_stats, methods=["GET"]),
        Route("/_emulator/stats/reset", admin_stats_reset, methods=["POST"]),
        Route("/_emulator/requests", admin_requests, methods=["GET"]),
        Route("/_emulator/faults", admin_get_faults, methods=["GET"]),
        Route("/_emulator/faults", admin_set_faults, methods=["POST"]),
        Route("/_emulator/inject", admin_inject, methods=["POST"]),
        Route("/_emulator/reset", admin_reset, methods=["POST"]),
    ]


def create_app(
    *,
    db: str | Path | None = None,
    api_key: str | None = None,
    faults: FaultConfig | None = None,
) -> Starlette:
    """The emulator app. `db`: SQLite file (None: in memory, private to this app). `api_key`: the only bearer
    key accepted (None: any non-empty key). `faults`: initial fault injection (changeable at runtime through
    `POST /_emulator/faults`). The `Emulator` state is `app.state.emulator`."""
    emulator = Emulator(Store(db), api_key, faults)
    all_routes = routes()
    app = Starlette(
        routes=all_routes,
        middleware=[Middleware(Gateway, emulator=emulator, routes=all_routes)],
        exception_handlers={ApiError: _api_error_handler},
    )
    app.state.emulator = emulator
    return app
