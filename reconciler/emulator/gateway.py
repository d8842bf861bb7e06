"""The gateway every HTTP request passes through: a pipeline of small steps, then the route's handler.

`Gateway` gives each request an `x-request-id` and, for `/v1` requests, counts and logs it (see
`reconciler.emulator.state`). Then `STEPS` run in order; the first to return a response answers the request:

1. `outside`: a path neither under `/v1` nor `/_emulator` is an unknown URL (404);
2. `authenticate`: the bearer key, on `/v1` and `/_emulator` (401);
3. `latency`, `injected`, `rate_limit`, `failure` (`/v1` only): wait the injected latency, answer a response
   queued with `POST /_emulator/inject`, answer 429 from the token bucket, answer an injected 500/503;
4. `route`: an unknown route or method is `Invalid URL (METHOD /v1/...)` (404);
5. `beta`: per route family (`BETA_RULES`), `/v1/assistants*` needs `OpenAI-Beta: assistants=v1` and
   `/v1/agents*` needs `OpenAI-Beta: agents=v1` (400 `invalid_beta`).

Then `dispatch` runs the handler, adding `x-request-id`, `openai-version`, `openai-processing-ms` and
`x-ratelimit-{limit,remaining,reset}-requests` to the response. A dropped write runs and commits, then the
connection is aborted with no response (`drop_write`).

Dropping a connection needs help from the server, through the ASGI scope extension `ABORT_EXTENSION`: an async
callable that closes the connection without a response. `EmulatorServer`/`serve` (uvicorn) and
`InProcessTransport` provide it. Without it, the app sends the status line and headers and then stops, so the
response is incomplete (most servers then close the connection).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler import agents_facts, dialect
from reconciler.emulator.bodies import loggable_body, read_body, replaying
from reconciler.emulator.faults import Decision, go_duration, retry_after_headers
from reconciler.emulator.responses import json_response
from reconciler.emulator.state import Emulator
from reconciler.emulator.validation import ApiError

ABORT_EXTENSION = "reconciler.abort"
OPENAI_VERSION = "2020-10-01"
BETA_MISSING = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
    "Please try again by setting the header 'OpenAI-Beta: assistants=v1'."
)
#: Unverified: the Agents API documents no answer to a missing header (docs/agents-api.md §11.4); this follows
#: the Assistants one.
AGENTS_BETA_MISSING = (
    "You must provide the 'OpenAI-Beta' header to access the Agents API. "
    "Please try again by setting the header 'OpenAI-Beta: agents=v1'."
)
SERVER_ERROR = {
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The server is overloaded or not ready yet.",
}


def error_response(err: ApiError) -> Response:
    return json_response(err.body(), status_code=err.status, headers=err.headers)


def invalid_url(method: str, path: str) -> ApiError:
    return ApiError(404, f"Invalid URL ({method} {path})")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


@dataclass
class Exchange:
    """One request on its way through the gateway, and how to answer it."""

    scope: Scope
    receive: Receive
    send: Send
    body: bytes
    headers: Headers
    template: str | None
    method_ok: bool
    started: float = field(default_factory=time.perf_counter)
    #: when the emulator's own work starts: after the injected latency
    service_started: float = field(default_factory=time.perf_counter)
    request_id: str = field(default_factory=lambda: "req_" + secrets.token_hex(16))
    entry: dict[str, Any] | None = None
    decision: Decision | None = None

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    @property
    def path(self) -> str:
        path: str = self.scope["path"]
        return path

    @property
    def is_api(self) -> bool:
        return _under(self.path, "/v1")

    @property
    def is_admin(self) -> bool:
        return _under(self.path, "/_emulator")

    @property
    def route_label(self) -> str:
        """`METHOD template` for a known route, else `METHOD path` (what stats count by)."""
        route = self.template if self.template is not None and self.method_ok else self.path
        return f"{self.method} {route}"


Step = Callable[[Emulator, Exchange], Awaitable["Response | ApiError | None"]]


async def outside(emu: Emulator, ex: Exchange) -> ApiError | None:
    return None if ex.is_api or ex.is_admin else invalid_url(ex.method, ex.path)


async def authenticate(emu: Emulator, ex: Exchange) -> ApiError | None:
    return emu.check_key(ex.headers.get("authorization"))


async def latency(emu: Emulator, ex: Exchange) -> None:
    delay = emu.faults.config.latency_ms
    if ex.is_api and delay > 0:
        await anyio.sleep(delay / 1000)
        ex.service_started = time.perf_counter()


async def injected(emu: Emulator, ex: Exchange) -> Response | None:
    spec = emu.take_injection(ex.route_label) if ex.is_api else None
    return None if spec is None else _injected_response(spec)


async def rate_limit(emu: Emulator, ex: Exchange) -> ApiError | None:
    if not ex.is_api:
        return None
    ex.decision = decision = emu.faults.decide(ex.method)
    if not decision.rate_limited:
        return None
    wait = decision.retry_after_s
    return ApiError(
        429,
        f"Rate limit reached for requests: limit {emu.faults.config.rate_limit_rps:g} requests per "
        f"second. Please try again in {max(1, int(wait * 1000 + 0.999))}ms.",
        type="requests",
        code="rate_limit_exceeded",
        headers=retry_after_headers(wait),
    )


async def failure(emu: Emulator, ex: Exchange) -> ApiError | None:
    status = ex.decision.fail_status if ex.decision is not None else None
    return None if status is None else ApiError(status, SERVER_ERROR[status], type="server_error")


async def route(emu: Emulator, ex: Exchange) -> ApiError | None:
    return None if ex.template is not None and ex.method_ok else invalid_url(ex.method, ex.path)


@dataclass(frozen=True)
class BetaRule:
    """The `OpenAI-Beta` token (`name=version`) the routes under `prefix` need, and the 400 without it."""

    prefix: str
    token: str
    missing: str


BETA_RULES = (
    BetaRule("/v1/assistants", dialect.BETA_HEADER[1], BETA_MISSING),
    BetaRule("/v1/agents", agents_facts.BETA_HEADER[1], AGENTS_BETA_MISSING),
)


async def beta(emu: Emulator, ex: Exchange) -> ApiError | None:
    """400 `invalid_beta` without the route family's `name=...` token; another version of it: unknown URL
    (inferred). Another family's token does not count: `agents=v1` alone on an assistant route is missing."""
    rule = next((rule for rule in BETA_RULES if _under(ex.path, rule.prefix)), None)
    if rule is None:
        return None
    name, _, version = rule.token.partition("=")
    tokens = [t.strip() for t in (ex.headers.get("openai-beta") or "").split(",")]
    versions = [t.split("=", 1)[1].strip() for t in tokens if t.startswith(name + "=")]
    if not versions:
        return ApiError(400, rule.missing, code="invalid_beta")
    return None if version in versions else invalid_url(ex.method, ex.path)


STEPS: tuple[Step, ...] = (outside, authenticate, latency, injected, rate_limit, failure, route, beta)


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
    return json_response(body, status_code=spec["status"], headers=spec.get("headers") or {})


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
        for candidate in self.routes:
            match, _ = candidate.matches(scope)
            if match == Match.FULL:
                return getattr(candidate, "path", None), True
            if match == Match.PARTIAL and partial is None:
                partial = getattr(candidate, "path", None)
        return partial, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        template, method_ok = self._match(scope)
        ex = Exchange(
            scope, receive, send, await read_body(receive), Headers(scope=scope), template, method_ok
        )
        if ex.is_api:
            ex.entry = await self._log_entry(ex)
            self.emulator.record(ex.entry)
        for step in STEPS:
            answer = await step(self.emulator, ex)
            if answer is not None:
                await self._respond(ex, error_response(answer) if isinstance(answer, ApiError) else answer)
                break
        else:
            await self._dispatch(ex)
        if ex.is_api:
            self.emulator.record_service(time.perf_counter() - ex.service_started)

    async def _log_entry(self, ex: Exchange) -> dict[str, Any]:
        method, _, route_or_path = ex.route_label.partition(" ")
        return {
            "method": method,
            "route": route_or_path,
            "path": ex.path,
            "query": dict(
                parse_qsl(ex.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            ),
            "body": await loggable_body(ex.scope, ex.receive, ex.body, ex.headers.get("content-type", "")),
            "headers": {k: v for k, v in ex.headers.items() if k != "authorization"},
            "status": None,
            "dropped": False,
        }

    def _extra_headers(self, ex: Exchange) -> list[tuple[bytes, bytes]]:
        out = [
            ("x-request-id", ex.request_id),
            ("openai-version", OPENAI_VERSION),
            ("openai-processing-ms", str(int((time.perf_counter() - ex.started) * 1000))),
        ]
        if ex.is_api:
            state = self.emulator.faults.rate_limit_state()
            out += [
                ("x-ratelimit-limit-requests", str(state.limit)),
                ("x-ratelimit-remaining-requests", str(state.remaining)),
                ("x-ratelimit-reset-requests", go_duration(state.reset_s)),
            ]
        org = ex.headers.get("openai-organization")
        if org:
            out.append(("openai-organization", org))
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out]

    def _sender(self, ex: Exchange) -> Send:
        """`ex.send` adding the gateway's headers (injected headers win) and noting the status in the log."""

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = list(message.get("headers", []))
                present = {name.lower() for name, _ in own}
                extra = [(k, v) for k, v in self._extra_headers(ex) if k not in present]
                message = {**message, "headers": [*own, *extra]}
                if ex.entry is not None:
                    ex.entry["status"] = message["status"]
            await ex.send(message)

        return send

    async def _respond(self, ex: Exchange, response: Response) -> None:
        await response(ex.scope, ex.receive, self._sender(ex))

    async def _dispatch(self, ex: Exchange) -> None:
        if ex.decision is not None and ex.decision.drop:
            await self._drop_write(ex)
        else:
            await self.app(ex.scope, replaying(ex.body, ex.receive), self._sender(ex))

    async def _drop_write(self, ex: Exchange) -> None:
        """Run the write (it commits), discard its response, abort the connection; with a commit delay,
        abort first and run it that much later."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        async def commit() -> None:
            await self.app(ex.scope, replaying(ex.body, ex.receive), hold)
            if ex.entry is not None:
                starts = (m["status"] for m in held if m["type"] == "http.response.start")
                ex.entry["status"] = next(starts, None)
                ex.entry["dropped"] = True

        delay = self.emulator.faults.config.commit_delay_ms / 1000
        if delay > 0:
            if ex.entry is not None:
                ex.entry["dropped"] = True

            async def commit_later() -> None:
                await asyncio.sleep(delay)
                await commit()

            task = asyncio.ensure_future(commit_later())
            self._late.add(task)  # keep a reference until it is done
            task.add_done_callback(self._late.discard)
        else:
            await commit()
        abort: Callable[[], Awaitable[None]] | None = ex.scope.get("extensions", {}).get(ABORT_EXTENSION)
        if abort is not None:
            await abort()
            return
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        if start is not None:  # no abort hook: an incomplete response is the closest we can do
            await ex.send(start)
