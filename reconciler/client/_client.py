"""The `Client`: one async client for one API server, layered as httpx's own client is.

    public method (list_assistants, create_assistant, ...)   builds the call, reads the JSON (assistants
                                                             and files as `reconciler.remote` values)
      -> _request    send with retries under the request's deadline, then `retry.decide` on each failure
        -> _send_limited   the shared gate and one slot of the adaptive concurrency limit around...
          -> _send_once      one HTTP exchange; the body streamed up to a limit;
                             transport errors mapped to key-free `APIConnectionError`s

Contracts:

- **Headers**: `Authorization: Bearer <key>` on every call, each kind's `OpenAI-Beta` on its collection only
  (`assistants=v1` on `/assistants*`, `agents=v1` on `/agents*`), `OpenAI-Organization`/`OpenAI-Project`
  when set, and
  `User-Agent: reconciler/<version> (+python httpx/<v>)`.
- **Retries**: see `reconciler.client.retry` (budget and backoff in a `RetryPolicy`). A 429 also closes the
  shared `RateGate` and halves the `AdaptiveLimit` on requests in flight (`reconciler.client.pacing`).
- **Bounds**: `timeout` applies to each connect/read/write; `deadline` bounds each request as a whole, its
  retries and their waits included (a server trickling one byte at a time, or one that never answers, holds
  a request for `deadline` seconds at most, not once per retry); bodies are read up to
  `MAX_JSON_BYTES` decompressed (`MAX_FILE_BYTES` for file content); list pages that do not advance, or a
  list longer than `max_listed` items, stop the listing. The last two raise `BadResponseError`.
- **TLS**: `https://` servers are verified as httpx does by default; a plain `http://` server costs no CA
  bundle (`reconciler.client.tls`).
- **Errors** are key-free one-liners (`reconciler.client.errors`): httpx exceptions are never chained, foreign
  text is masked with `reconciler.redact.mask`, and the `reconciler.client` logger logs method, path,
  status, request id and retry decisions only, never headers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import replace
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx

from reconciler import __version__
from reconciler.client.answers import Answer, header, parse_json, received, status_error
from reconciler.client.errors import (
    AmbiguousWriteError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadResponseError,
    NotFoundError,
    one_line,
)
from reconciler.client.failures import SendFailed, transport_failure
from reconciler.client.pacing import AdaptiveLimit, RateGate
from reconciler.client.retry import Decision, Failure, Outcome, RetryPolicy, decide, retry_delay
from reconciler.client.shapes import (
    ASSISTANT_FILE,
    BY_KIND,
    DELETED,
    FILE,
    MODEL,
    Shape,
    ShapeError,
    check_deletion,
    check_page,
)
from reconciler.client.tls import verification
from reconciler.kinds import ASSISTANT, Kind, kind_of_route
from reconciler.kinds.base import R
from reconciler.redact import mask
from reconciler.remote import RemoteAssistant, RemoteFile

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Seconds allowed for each connect, read and write.
DEFAULT_TIMEOUT = 60.0
#: Seconds allowed for one request as a whole: every attempt (connect, send, every byte of the answer) and
#: every wait between retries.
DEFAULT_DEADLINE = 300.0
#: The largest JSON answer read, decompressed (a gzip bomb stops here, not in a MemoryError).
MAX_JSON_BYTES = 64 * 1024 * 1024
#: The largest file content read (the API's own limit on a file's size).
MAX_FILE_BYTES = 512 * 1024 * 1024
PAGE_LIMIT = 100
#: A listing stops with `BadResponseError` past this many items (of one kind): a server inventing new items
#: forever would otherwise keep a plan listing, and growing, until memory runs out. A plan of 100,000
#: assistants takes minutes and gigabytes; no organisation we know of comes near.
MAX_LISTED = 100_000
#: The route of one file attached to an assistant.
_ASSISTANT_FILE = "/assistants/{assistant_id}/files/{file_id}"
#: Statuses meaning "this server has no /models endpoint" (compatible servers often lack it).
NO_ENDPOINT_STATUSES = frozenset({404, 405, 501})

logger = logging.getLogger("reconciler.client")


_Item = TypeVar("_Item")


class Client:
    """An async client for one API server. Use as `async with Client(...) as client:` or call `aclose()`.

    `retry` is the `RetryPolicy`; `max_retries`, when given, overrides its budget. `timeout` bounds each
    connect/read/write and `deadline` each request as a whole (retries included), in seconds; `max_listed`
    the items of one listing (`MAX_LISTED`). `transport`
    replaces the network (the embedded emulator). `calls` counts the requests actually sent (retries
    included) by `"METHOD /route-template"`, e.g. `"GET /assistants"`, `"POST /assistants/{assistant_id}"`.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        organization: str | None = None,
        project: str | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        transport: httpx.AsyncBaseTransport | None = None,
        max_listed: int = MAX_LISTED,
    ) -> None:
        policy = retry or RetryPolicy()
        self.retry = policy if max_retries is None else replace(policy, max_retries=max_retries)
        if timeout <= 0 or deadline <= 0:
            raise ValueError("timeout and deadline must be > 0")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.deadline = deadline
        self.max_listed = max_listed
        self.calls: Counter[str] = Counter()
        self._api_key = api_key
        self._gate = RateGate()
        self._limit = AdaptiveLimit()
        self._answered = False  # has this server ever answered? (a refusal before that fails fast)
        self._progress = 0  # 2xx answers so far (a 429 after others' progress is a fair-share wait)
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
            verify=verification(self.base_url),
        )

    @property
    def max_retries(self) -> int:
        """The retry budget per request."""
        return self.retry.max_retries

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, max_retries={self.max_retries})"

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # ------------------------------------------------------------- managed objects (assistants, agents)

    async def list_objects(self, kind: Kind[R], *, share: dict[str, str] | None = None) -> list[R]:
        """Every object of `kind`, oldest first: `limit=100, order=asc`, following `after` until `has_more`
        is false or a page is empty (one call per 100 objects). `share`: see `_pages`."""
        pages = self._pages(kind.path, {}, BY_KIND[kind.name], share)
        return [kind.remote(item) async for page in pages for item in page]

    async def retrieve_object(self, kind: Kind[R], object_id: str) -> R:
        """`GET {kind.path}/{id}`."""
        return await self._object(kind, "GET", object_id)

    async def create_object(self, kind: Kind[R], body: Mapping[str, Any]) -> R:
        """`POST {kind.path}`. Not idempotent: raises `AmbiguousWriteError` when the outcome is unknown."""
        return await self._object(kind, "POST", None, json_body=dict(body), idempotent=False)

    async def modify_object(self, kind: Kind[R], object_id: str, body: Mapping[str, Any]) -> R:
        """`POST {kind.path}/{id}` (replaces the fields sent; idempotent, retried normally)."""
        return await self._object(kind, "POST", object_id, json_body=dict(body))

    async def _object(self, kind: Kind[R], method: str, object_id: str | None, **kwargs: Any) -> R:
        """One object of `kind` answered by `method` on its collection (`object_id` None) or on itself."""
        route, params = (
            (kind.path, {}) if object_id is None else (kind.item_route, {kind.id_param: object_id})
        )
        return kind.remote(await self._json(method, route, params, shape=BY_KIND[kind.name], **kwargs))

    async def delete_object(
        self, kind: Kind[Any], object_id: str, *, missing_ok: bool = False
    ) -> dict[str, Any]:
        """`DELETE {kind.path}/{id}`: the deletion object. With `missing_ok`, a 404 (already gone, e.g.
        deleted by an earlier attempt whose answer was lost) returns that deletion, not `NotFoundError`."""
        params = {kind.id_param: object_id}
        return await self._deletion(kind.item_route, params, kind.deleted_object, missing_ok)

    # ----------------------------------------------------------------------------------- assistants

    async def list_assistants(self, *, share: dict[str, str] | None = None) -> list[RemoteAssistant]:
        """Every assistant (`list_objects`)."""
        return await self.list_objects(ASSISTANT, share=share)

    async def retrieve_assistant(self, assistant_id: str) -> RemoteAssistant:
        """`GET /assistants/{id}`."""
        return await self.retrieve_object(ASSISTANT, assistant_id)

    async def create_assistant(self, body: Mapping[str, Any]) -> RemoteAssistant:
        """`POST /assistants` (`create_object`)."""
        return await self.create_object(ASSISTANT, body)

    async def modify_assistant(self, assistant_id: str, body: Mapping[str, Any]) -> RemoteAssistant:
        """`POST /assistants/{id}` (`modify_object`)."""
        return await self.modify_object(ASSISTANT, assistant_id, body)

    async def delete_assistant(self, assistant_id: str, *, missing_ok: bool = False) -> dict[str, Any]:
        """`DELETE /assistants/{id}` (`delete_object`)."""
        return await self.delete_object(ASSISTANT, assistant_id, missing_ok=missing_ok)

    async def list_assistant_files(self, assistant_id: str) -> list[dict[str, Any]]:
        """Every `assistant.file` of an assistant, oldest first (all pages)."""
        route, params = "/assistants/{assistant_id}/files", {"assistant_id": assistant_id}
        pages = self._pages(route, params, ASSISTANT_FILE)
        return [item async for page in pages for item in page]

    async def create_assistant_file(self, assistant_id: str, file_id: str) -> dict[str, Any]:
        """`POST /assistants/{id}/files`: attach a file. Idempotent in effect (attaching twice is a
        no-op or a 4xx), so it is retried normally."""
        route, params = "/assistants/{assistant_id}/files", {"assistant_id": assistant_id}
        return await self._json("POST", route, params, json_body={"file_id": file_id}, shape=ASSISTANT_FILE)

    async def retrieve_assistant_file(self, assistant_id: str, file_id: str) -> dict[str, Any]:
        """`GET /assistants/{id}/files/{file_id}`."""
        params = {"assistant_id": assistant_id, "file_id": file_id}
        return await self._json("GET", _ASSISTANT_FILE, params, shape=ASSISTANT_FILE)

    async def delete_assistant_file(
        self, assistant_id: str, file_id: str, *, missing_ok: bool = False
    ) -> dict[str, Any]:
        """`DELETE /assistants/{id}/files/{file_id}` (detaches; the File stays). `missing_ok` as in
        `delete_assistant`."""
        params = {"assistant_id": assistant_id, "file_id": file_id}
        return await self._deletion(_ASSISTANT_FILE, params, "assistant.file.deleted", missing_ok)

    # ----------------------------------------------------------------------------------- files, models

    async def upload_file(
        self, filename: str, content: bytes | IO[bytes], purpose: str = "assistants"
    ) -> RemoteFile:
        """`POST /files` (multipart `file` + `purpose`). Not idempotent: raises `AmbiguousWriteError` when
        the outcome is unknown. A file object is read whole first, so retries resend the same bytes."""
        data = content if isinstance(content, bytes) else content.read()
        answer = await self._json(
            "POST",
            "/files",
            {},
            files={"file": (filename, data)},
            form={"purpose": purpose},
            idempotent=False,
            shape=FILE,
        )
        return RemoteFile.from_checked(answer)

    async def list_files(self, purpose: str | None = None) -> list[RemoteFile]:
        """`GET /files` (not paginated in v1), optionally filtered by `purpose`."""
        params = {"purpose": purpose} if purpose else None
        _, files = await self._page("GET", "/files", {}, FILE, params=params)
        return [RemoteFile.from_checked(f) for f in files]

    async def retrieve_file(self, file_id: str) -> RemoteFile:
        """`GET /files/{id}`."""
        answer = await self._json("GET", "/files/{file_id}", {"file_id": file_id}, shape=FILE)
        return RemoteFile.from_checked(answer)

    async def delete_file(self, file_id: str, *, missing_ok: bool = False) -> dict[str, Any]:
        """`DELETE /files/{id}`. `missing_ok` as in `delete_assistant`."""
        return await self._deletion("/files/{file_id}", {"file_id": file_id}, "file", missing_ok)

    async def file_content(self, file_id: str) -> bytes:
        """`GET /files/{id}/content`: the raw bytes (at most `MAX_FILE_BYTES`)."""
        answer = await self._request(
            "GET",
            "/files/{file_id}/content",
            {"file_id": file_id},
            headers={"Accept": "application/binary"},
            body_limit=MAX_FILE_BYTES,
        )
        return answer.body

    async def list_models(self) -> list[dict[str, Any]]:
        """`GET /models` (one page)."""
        _, models = await self._page("GET", "/models", {}, MODEL)
        return models

    async def available_models(self) -> list[dict[str, Any]] | None:
        """`GET /models`, or None when the server has no such endpoint (it answers 404, 405 or 501, as
        many compatible servers do); any other error raises."""
        return await _unless_unserved(self.list_models())

    async def available_files(self, purpose: str | None = None) -> list[RemoteFile] | None:
        """`list_files(purpose)`, or None when the server has no `/files` endpoint (as `available_models`)."""
        return await _unless_unserved(self.list_files(purpose))

    # ----------------------------------------------------------------------------------- machinery

    async def _pages(
        self, route: str, path_params: Mapping[str, str], item: Shape, share: dict[str, str] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The items of a cursor-paginated list, page by page, each checked as `item` (a caller turns a page
        into its values before the next is read: a long listing holds its typed values, not its raw JSON
        too), the next asked for after the last item received. A page that repeats an item already listed
        (a server that ignores `after`) stops the listing with `BadResponseError` instead of looping forever,
        and so does a page past `max_listed` items (a server inventing new items forever). With `share`, an
        `instructions` text equal to one in `share` is that one (else it is added): a plan holds one copy of
        the instructions its manifests hold too."""
        listed = 0
        seen: set[str] = set()
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_LIMIT, "order": "asc"}
            if after:
                params["after"] = after
            page, data = await self._page("GET", route, path_params, item, params=params)
            for value in data:
                if value["id"] in seen:
                    where = f"the page after {after!r}" if after else "the first page"
                    reason = (
                        f"the server's list does not advance: {where} repeats {value['id']!r} "
                        f"(does it ignore 'after'?); stopped after {listed} items"
                    )
                    path = self._path(route, path_params)
                    raise BadResponseError(method="GET", path=path, reason=self._mask(one_line(reason)))
                seen.add(value["id"])
                if share is not None and type(text := value.get("instructions")) is str:
                    value["instructions"] = share.setdefault(text, text)
            listed += len(data)
            if listed > self.max_listed:
                reason = (
                    f"the server's list goes past {self.max_listed:,} items, the most listed of a kind "
                    f"(does it ever end?); stopped after {listed:,}"
                )
                path = self._path(route, path_params)
                raise BadResponseError(method="GET", path=path, reason=reason)
            yield data
            if not data or not page.get("has_more"):  # an empty page ends it, as the official SDK reads it
                return
            after = data[-1]["id"]  # the last item received, whatever `last_id` says (as the SDK)

    async def _page(
        self,
        method: str,
        route: str,
        path_params: Mapping[str, str],
        item: Shape,
        **kwargs: Any,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One list page and its items, each checked as `item`."""
        page = await self._json(method, route, path_params, **kwargs)
        try:
            data = check_page(page, item)
        except ShapeError as problem:
            raise self._shape_error(method, route, path_params, item.list_name, problem) from None
        return page, list(data)

    async def _deletion(
        self, route: str, path_params: Mapping[str, str], deleted_object: str, missing_ok: bool
    ) -> dict[str, Any]:
        """`DELETE route`: the deletion object, checked by `check_deletion` against the object asked for
        (the last path parameter). With `missing_ok`, a 404 (already gone) is that deletion, not
        `NotFoundError`."""
        asked = list(path_params.values())[-1]
        try:
            answer = await self._json("DELETE", route, path_params, shape=DELETED)
        except NotFoundError:
            if not missing_ok:
                raise
            return {"id": asked, "object": deleted_object, "deleted": True}
        try:
            check_deletion(answer, asked, deleted_object)
        except ShapeError as problem:
            raise self._shape_error("DELETE", route, path_params, "a deletion", problem) from None
        return answer

    def _shape_error(
        self, method: str, route: str, path_params: Mapping[str, str], what: str, problem: ShapeError
    ) -> BadResponseError:
        reason = self._mask(one_line(f"the server's answer is not {what}: {problem}", 300))
        return BadResponseError(method=method, path=self._path(route, path_params), reason=reason)

    async def _json(
        self,
        method: str,
        route: str,
        path_params: Mapping[str, str],
        *,
        shape: Shape | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The JSON object answered, checked as `shape` when given."""
        answer = await self._request(method, route, path_params, **kwargs)
        body = parse_json(answer.body)
        if not isinstance(body, dict):
            content_type = self._header(answer, "content-type") or "no content type"
            got = f"{received(answer.body)} ({one_line(content_type, 80)})"
            raise APIError(
                status=answer.status,
                message=f"expected a JSON object, got {got}",
                request_id=self._header(answer, "x-request-id"),
                method=method,
                path=self._path(route, path_params),
            )
        if shape is not None:
            try:
                shape.check(body)
            except ShapeError as problem:
                raise self._shape_error(method, route, path_params, shape.name, problem) from None
        return body

    @staticmethod
    def _path(route: str, path_params: Mapping[str, str]) -> str:
        return route.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})

    def _header(self, answer: Answer, name: str) -> str | None:
        """A response header as shown to users and logs (see `answers.header`)."""
        return header(answer, name, self._mask)

    def _mask(self, text: str) -> str:
        """Foreign text (server messages, exception text) with the API key masked, in any form."""
        return mask(text, self._api_key)

    async def _request(
        self,
        method: str,
        route: str,
        path_params: Mapping[str, str],
        *,
        idempotent: bool = True,
        body_limit: int = MAX_JSON_BYTES,
        headers: Mapping[str, str] | None = None,
        **parts: Any,
    ) -> Answer:
        """Send one logical request with retries; return the 2xx answer or raise (see `retry.decide`).
        `parts` are `params`, `json_body`, `files` and `form`, as in httpx's `params`, `json`, `files` and
        `data`."""
        path = self._path(route, path_params)
        loop = asyncio.get_running_loop()
        end = loop.time() + self.deadline
        extra = dict(headers or {})
        kind = kind_of_route(route)
        if kind is not None:
            extra[kind.beta_header[0]] = kind.beta_header[1]
        attempt = 0
        while True:
            request = self._http.build_request(
                method,
                path.lstrip("/"),
                params=parts.get("params"),
                json=parts.get("json_body"),
                files=parts.get("files"),
                data=parts.get("form"),
                headers=extra,
            )
            progress = self._progress
            result: Answer | SendFailed
            try:
                sending = self._send_limited(request, f"{method} {route}", path, body_limit)
                result = await asyncio.wait_for(sending, max(end - loop.time(), 0.0))
            except SendFailed as failed:
                result = failed
            except asyncio.TimeoutError:
                reason = f"timed out (no complete answer within the {self.deadline:g}s deadline)"
                result = SendFailed(Failure.MAYBE_SENT, APITimeoutError, reason)
            if isinstance(result, Answer) and 200 <= result.status < 300:
                self._progress += 1
                return result
            decision = self._retry_or_raise(
                result, method, path, (attempt, end - loop.time()), idempotent, self._progress > progress
            )
            attempt += decision.charged
            if not (isinstance(result, Answer) and result.status == 429):  # a 429 already moved the gate
                await asyncio.sleep(decision.delay)

    def _retry_or_raise(
        self,
        result: Answer | SendFailed,
        method: str,
        path: str,
        progress: tuple[int, float],
        idempotent: bool,
        progressed: bool,
    ) -> Decision:
        """The decision to retry a failed attempt, or raise its error (logging either way). `progress` is the
        retries taken so far and the seconds left before the request's deadline: a retry whose wait would
        reach the deadline is not made."""
        attempt, time_left = progress
        jitter = random.random()
        if isinstance(result, Answer):
            outcome = Outcome(status=result.status, headers=result.headers, progressed=progressed)
            what = str(result.status)
            if result.status == 429:  # slow the whole client down, not just this request
                self._gate.rate_limited(retry_delay(result.headers, attempt, self.retry, jitter))
        else:
            outcome, what = Outcome(failure=result.failure), result.reason
        decision = decide(outcome, attempt=attempt, idempotent=idempotent, policy=self.retry, jitter=jitter)
        if decision.retry and decision.delay >= time_left:
            decision = Decision(retry=False, gave_up=attempt > 0)
        if decision.retry:
            # A warning when nothing answered: without it a dead server means a silent wait of many seconds.
            level = logging.INFO if isinstance(result, Answer) else logging.WARNING
            retry = f"retry {attempt + 1}/{self.max_retries} in {decision.delay:.1f}s"
            logger.log(level, "%s %s: %s; %s", method, path, what, retry)
            return decision
        if isinstance(result, Answer):
            hint = "is the base URL missing /v1?" if not self.base_url.endswith("/v1") else None
            error: APIError | APIConnectionError = status_error(
                result, method, path, retries=attempt, gave_up=decision.gave_up, hint=hint, mask=self._mask
            )
        else:
            sent = result.failure is Failure.MAYBE_SENT
            error = result.kind(
                method=method,
                path=path,
                reason=result.reason,
                retries=attempt,
                gave_up=decision.gave_up,
                sent=sent,
            )
        if decision.ambiguous:
            logger.debug("%s %s: %s; outcome unknown, not retrying a write", method, path, what)
            raise AmbiguousWriteError(error) from None
        if decision.gave_up:
            logger.info("%s %s: %s; retry budget spent, giving up", method, path, what)
        raise error from None

    async def _send_limited(self, request: httpx.Request, label: str, path: str, body_limit: int) -> Answer:
        """`_send_once` in a slot of the adaptive concurrency limit, which learns from the answer, once the
        shared gate is open (waited for inside the slot: a waiter for a slot must not skip a gate closed
        meanwhile). `label` is `"METHOD /route-template"`, counted in `calls`."""
        async with self._limit.slot() as taken_in_round:
            await self._gate.wait()
            self.calls[label] += 1
            answer = await self._send_once(request, label.split(" ", 1)[0], path, body_limit)
            if answer.status == 429:
                self._limit.rate_limited(taken_in_round)
            else:
                self._limit.succeeded()
            return answer

    async def _send_once(self, request: httpx.Request, method: str, path: str, body_limit: int) -> Answer:
        """One HTTP exchange (the caller bounds it by the request's deadline). Raises `SendFailed` when no
        answer came, `BadResponseError` when the body passes `body_limit` bytes decompressed."""
        try:
            answer = await self._exchange(request, method, path, body_limit)
        except httpx.TransportError as exc:
            raise transport_failure(
                exc, self.timeout, self.base_url, answered=self._answered, mask=self._mask
            ) from None
        self._answered = True
        logger.debug(
            "%s %s -> %d [%s]", method, path, answer.status, self._header(answer, "x-request-id") or "-"
        )
        return answer

    async def _exchange(self, request: httpx.Request, method: str, path: str, body_limit: int) -> Answer:
        response = await self._http.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > body_limit:
                    self._answered = True
                    reason = f"the server's answer is larger than {body_limit // (1024 * 1024)} MiB; refused"
                    raise BadResponseError(method=method, path=path, reason=reason)
                chunks.append(chunk)
        finally:
            await response.aclose()
        return Answer(response.status_code, response.headers, b"".join(chunks))


async def _unless_unserved(call: Awaitable[list[_Item]]) -> list[_Item] | None:
    """The result of `call`, or None when the server answers that it has no such endpoint
    (`NO_ENDPOINT_STATUSES`)."""
    try:
        return await call
    except APIError as err:
        if err.status in NO_ENDPOINT_STATUSES:
            return None
        raise
