"""Handles on a running emulator for tests and benchmarks (used by tests/conftest.py).

- `InProcessEmulator`: an app driven through `InProcessTransport` (no port); helpers read its state directly.
- `LiveEmulator`: an `EmulatorServer` (uvicorn, loopback port); helpers go over HTTP to `/_emulator/...`.

Both offer: `api_key`, `base_url`, `app`, `headers(beta=True, kind="assistants")`, `stats()`, `requests()`,
`reset_stats()`, `set_faults(config=None, **fields)`, `inject(status, ...)` and `reset()`. `kind="agents"`
(on `headers()` and `client()`) sends the saved agents' `OpenAI-Beta: agents=v1` instead.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from typing import Any, Literal

import httpx
from starlette.applications import Starlette

from reconciler import agents_facts, dialect
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.inprocess import InProcessTransport
from reconciler.emulator.server import EmulatorServer

#: The bearer key the test fixtures' emulators accept (and the only one).
EMULATOR_API_KEY = "sk-emulator-test-0123456789"
#: Socket options for test clients: no Nagle delay on loopback.
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

#: Which API a client talks to, and so which `OpenAI-Beta` header it sends.
Kind = Literal["assistants", "agents"]
BETA_HEADERS: dict[Kind, tuple[str, str]] = {
    "assistants": dialect.BETA_HEADER,
    "agents": agents_facts.BETA_HEADER,
}


class _Handle(ABC):
    """What both handles share; each says how to reach its emulator (`_configure_faults`, `_inject`)."""

    api_key: str | None
    base_url: str

    def headers(self, *, beta: bool = True, kind: Kind = "assistants") -> dict[str, str]:
        """`Authorization: Bearer <key>`, plus the `OpenAI-Beta` header of `kind` (`assistants=v1` or
        `agents=v1`) unless `beta=False`."""
        out = {"Authorization": f"Bearer {self.api_key or 'sk-any'}"}
        if beta:
            name, value = BETA_HEADERS[kind]
            out[name] = value
        return out

    def set_faults(self, config: FaultConfig | None = None, **fields: Any) -> FaultConfig:
        """Replace the fault config (fields not given take their defaults, i.e. off)."""
        if config is not None and fields:
            raise TypeError("pass a FaultConfig or keyword fields, not both")
        new = config if config is not None else FaultConfig(**fields)
        self._configure_faults(new)
        return new

    def inject(
        self,
        status: int,
        *,
        route: str | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` `/v1` requests matching `route` (e.g. `"POST /v1/assistants"`; None: any)
        with `status`, `headers` and `body` (default: an OpenAI-style error), without running them."""
        self._inject(
            {"status": status, "route": route, "headers": headers or {}, "body": body, "times": times}
        )

    @abstractmethod
    def _configure_faults(self, config: FaultConfig) -> None: ...

    @abstractmethod
    def _inject(self, spec: dict[str, Any]) -> None: ...


class InProcessEmulator(_Handle):
    """A fresh emulator app served in-process."""

    base_url = "http://emulator.local/v1"

    def __init__(self, app: Starlette, api_key: str | None):
        self.app = app
        self.api_key = api_key

    @property
    def state(self) -> Emulator:
        emulator: Emulator = self.app.state.emulator
        return emulator

    def transport(self) -> InProcessTransport:
        """A new transport for `httpx.AsyncClient(transport=...)` (any base URL host works)."""
        return InProcessTransport(self.app)

    def client(self, *, beta: bool = True, kind: Kind = "assistants", **kwargs: Any) -> httpx.AsyncClient:
        """An `httpx.AsyncClient` on this emulator with base URL and auth (+ beta) headers set."""
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("headers", self.headers(beta=beta, kind=kind))
        return httpx.AsyncClient(transport=self.transport(), **kwargs)

    def stats(self) -> dict[str, Any]:
        return {**self.state.stats(), "objects": self.state.object_counts()}

    def requests(self) -> list[dict[str, Any]]:
        return self.state.requests()

    def reset_stats(self) -> None:
        self.state.reset_stats()

    def _configure_faults(self, config: FaultConfig) -> None:
        self.state.faults.configure(config)

    def _inject(self, spec: dict[str, Any]) -> None:
        self.state.inject(spec)

    def reset(self) -> None:
        """Delete all objects; clear stats, log and injections; faults off."""
        self.state.reset()


class LiveEmulator(_Handle):
    """An emulator over real HTTP; helpers use its `/_emulator` endpoints."""

    def __init__(self, server: EmulatorServer):
        self.server = server
        self.app = server.app
        self.api_key = server.api_key
        self.base_url = server.base_url
        self.url = server.url
        self._admin_client: httpx.Client | None = None

    def client(self, *, beta: bool = True, kind: Kind = "assistants", **kwargs: Any) -> httpx.Client:
        """A sync `httpx.Client` with base URL and auth (+ beta) headers set. Unless given: `verify=False`
        (plain HTTP; loading CA certificates costs ~90 ms per client) and TCP_NODELAY (saves a few ms per
        request on loopback)."""
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("headers", self.headers(beta=beta, kind=kind))
        kwargs.setdefault("transport", httpx.HTTPTransport(verify=False, socket_options=NODELAY))
        return httpx.Client(**kwargs)

    def async_client(
        self, *, beta: bool = True, kind: Kind = "assistants", **kwargs: Any
    ) -> httpx.AsyncClient:
        """The async twin of `client()`."""
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("headers", self.headers(beta=beta, kind=kind))
        kwargs.setdefault("transport", httpx.AsyncHTTPTransport(verify=False, socket_options=NODELAY))
        return httpx.AsyncClient(**kwargs)

    def close(self) -> None:
        """Close the connection the helpers use (the server keeps running)."""
        if self._admin_client is not None:
            self._admin_client.close()
            self._admin_client = None

    def _admin(self, method: str, path: str, json: Any = None) -> Any:
        if self._admin_client is None:
            self._admin_client = self.client(base_url=self.url + "/_emulator", beta=False, timeout=10)
        response = self._admin_client.request(method, "/" + path, json=json)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._admin("GET", "stats")
        return result

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._admin("GET", "requests")
        return result

    def reset_stats(self) -> None:
        self._admin("POST", "stats/reset")

    def _configure_faults(self, config: FaultConfig) -> None:
        self._admin("POST", "faults", config.to_dict())

    def _inject(self, spec: dict[str, Any]) -> None:
        self._admin("POST", "inject", spec)

    def reset(self) -> None:
        self._admin("POST", "reset")
