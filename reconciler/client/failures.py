"""How one HTTP exchange that got no answer failed: the transport error mapped to a retry `Failure` and the
key-free error to raise if it is not retried (as httpx maps its own exceptions in one place).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from reconciler.client.errors import APIConnectionError, APITimeoutError, one_line
from reconciler.client.retry import Failure

__all__ = ["SendFailed", "transport_failure"]


class SendFailed(Exception):
    """No answer from one exchange: how it failed, and the error to raise if it is not retried."""

    def __init__(self, failure: Failure, kind: type[APIConnectionError], reason: str) -> None:
        self.failure = failure
        self.kind = kind
        self.reason = reason


_TIMEOUT_KINDS: dict[type[Exception], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}
#: Transport errors raised before any byte of the request left the machine.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Transport errors that no retry can fix (a header the HTTP library refuses, a URL scheme it cannot speak).
_FATAL_ERRORS = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)


def transport_failure(
    exc: httpx.TransportError, timeout: float, base_url: str, *, answered: bool, mask: Callable[[str], str]
) -> SendFailed:
    """How a transport error failed, with a key-free reason (`mask` removes the key from foreign text;
    `answered`: whether this server has answered before; if not, a connect error is `REFUSED`, a wrong URL
    or a dead server)."""
    if isinstance(exc, httpx.TimeoutException):
        kind = _TIMEOUT_KINDS.get(type(exc), "")
        failure = Failure.NOT_SENT if isinstance(exc, _NOT_SENT_ERRORS) else Failure.MAYBE_SENT
        reason = f"timed out ({kind + ' ' if kind else ''}timeout {timeout:g}s)"
        return SendFailed(failure, APITimeoutError, reason)
    detail = mask(one_line(str(exc), 200))
    if isinstance(exc, httpx.ConnectError):
        reason = f"cannot connect to {base_url}" + (f" ({detail})" if detail else "")
        return SendFailed(Failure.NOT_SENT if answered else Failure.REFUSED, APIConnectionError, reason)
    if isinstance(exc, httpx.RemoteProtocolError):
        reason = "connection closed without a complete response" + (f" ({detail})" if detail else "")
    else:
        reason = f"connection error ({type(exc).__name__}{': ' + detail if detail else ''})"
    failure = Failure.FATAL if isinstance(exc, _FATAL_ERRORS) else Failure.MAYBE_SENT
    return SendFailed(failure, APIConnectionError, reason)
