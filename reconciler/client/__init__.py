"""Async client for the OpenAI Assistants API v1 (and any server that speaks it).

The client knows nothing about manifests: every method makes the calls it names and returns the API's answer,
checked at the boundary (assistants and files as the typed values of `reconciler.remote`, the rest as JSON).
Modules: `_client` (the `Client` and its request layers), `answers` (an HTTP answer and how an error answer
reads), `errors` (the exception tree), `shapes` (the JSON shapes checked), `failures` (a transport error as a
retry `Failure`), `retry` (the pure retry decision and `RetryPolicy`), `pacing` (the shared 429 `RateGate` and
the `AdaptiveLimit` on requests in flight), `tls` (how the server's certificate is verified). Everything
public is importable from here.
"""

from reconciler.client._client import (
    DEFAULT_BASE_URL,
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    MAX_FILE_BYTES,
    MAX_JSON_BYTES,
    MAX_LISTED,
    NO_ENDPOINT_STATUSES,
    PAGE_LIMIT,
    Client,
)
from reconciler.client.answers import Answer
from reconciler.client.errors import (
    AmbiguousWriteError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BadResponseError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    error_class,
)
from reconciler.client.pacing import AdaptiveLimit, RateGate
from reconciler.client.retry import RetryPolicy
from reconciler.remote import RemoteAssistant, RemoteFile

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_DEADLINE",
    "DEFAULT_TIMEOUT",
    "MAX_FILE_BYTES",
    "MAX_JSON_BYTES",
    "MAX_LISTED",
    "NO_ENDPOINT_STATUSES",
    "PAGE_LIMIT",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AdaptiveLimit",
    "AmbiguousWriteError",
    "Answer",
    "AuthenticationError",
    "BadRequestError",
    "BadResponseError",
    "Client",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateGate",
    "RateLimitError",
    "RemoteAssistant",
    "RemoteFile",
    "RetryPolicy",
    "UnprocessableEntityError",
    "error_class",
]
