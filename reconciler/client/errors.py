"""The client's exceptions: every one a `ReconcilerError` whose `str()` is one actionable line, key-free.

The hierarchy::

    ReconcilerError
    ├── APIError                    the server answered with an error status (or a 2xx that is no JSON object)
    │   ├── BadRequestError             400
    │   ├── AuthenticationError         401
    │   ├── PermissionDeniedError       403
    │   ├── NotFoundError               404
    │   ├── ConflictError               409
    │   ├── UnprocessableEntityError    422
    │   ├── RateLimitError              429
    │   └── InternalServerError         >= 500
    ├── APIConnectionError          no (complete) answer: refused, dropped, reset
    │   └── APITimeoutError             a timeout, or the request's overall deadline
    ├── BadResponseError            an answer the client will not use: too large, pages that never advance
    └── AmbiguousWriteError         a create/upload whose outcome is unknown (wraps one of the above)

Messages start with `METHOD /path: ` (the path relative to the base URL). httpx exceptions are never chained:
they carry the request, and with it the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus

from reconciler.errors import ReconcilerError
from reconciler.redact import printable

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AmbiguousWriteError",
    "AuthenticationError",
    "BadRequestError",
    "BadResponseError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "error_class",
    "one_line",
]

_WHITESPACE = re.compile(r"\s+")


def one_line(text: str, limit: int = 500) -> str:
    """Collapse whitespace, escape control characters (`redact.printable`: a server's text may hold terminal
    escapes) and cut long text, so a message stays one safe line."""
    text = printable(_WHITESPACE.sub(" ", text).strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _retries_note(retries: int) -> str:
    return f" (gave up after {retries} {'retry' if retries == 1 else 'retries'})"


class _OneLineRepr:
    """`repr()` is the class name and the message line (the attributes would only repeat it)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


@dataclass(eq=False, repr=False, kw_only=True)
class APIError(_OneLineRepr, ReconcilerError):
    """The server answered with an error status.

    Attributes: `status`, `message`, `type`, `param`, `code` (from the `{"error": {...}}` body, None when
    absent), `request_id` (`x-request-id`), `method`, `path` (relative to the base URL, e.g.
    `/assistants/asst_abc`), `retries` (retries taken before this answer), `gave_up` (True when the
    answer was retryable but the retry budget was spent) and `hint` (a likely cause, appended to the line).
    """

    status: int
    message: str
    type: str | None = None
    param: str | None = None
    code: str | None = None
    request_id: str | None = None
    method: str = ""
    path: str = ""
    retries: int = 0
    gave_up: bool = False
    hint: str | None = None

    def __post_init__(self) -> None:
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
        if self.hint:
            line += f" ({self.hint})"
        return line


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


@dataclass(eq=False, repr=False, kw_only=True)
class APIConnectionError(_OneLineRepr, ReconcilerError):
    """No (complete) answer: the connection failed or was dropped.

    Attributes: `method`, `path`, `reason` (a short, key-free description), `retries`, `gave_up`,
    `sent` (False only when the request provably never left, e.g. connection refused).
    """

    method: str
    path: str
    reason: str
    retries: int = 0
    gave_up: bool = False
    sent: bool = True

    def __post_init__(self) -> None:
        line = f"{self.method} {self.path}: {self.reason}"
        if self.gave_up:
            line += _retries_note(self.retries)
        super().__init__(line)


class APITimeoutError(APIConnectionError):
    """The request timed out (a connect/read/write/pool timeout, or its overall deadline)."""


@dataclass(eq=False, repr=False, kw_only=True)
class BadResponseError(_OneLineRepr, ReconcilerError):
    """The server answered, but with something the client refuses to use (never retried): a body past the
    size limit, list pages that do not advance. `method`, `path` and `reason` as in `APIConnectionError`."""

    method: str
    path: str
    reason: str

    def __post_init__(self) -> None:
        super().__init__(f"{self.method} {self.path}: {self.reason}")


class AmbiguousWriteError(_OneLineRepr, ReconcilerError):
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
