"""Serve the emulator over HTTP with uvicorn: `serve()` for `reconciler emulator`, `EmulatorServer` for tests
and benchmarks (a background thread on a free loopback port).

Both use `AbortableH11Protocol`, uvicorn's h11 protocol plus the `ABORT_EXTENSION` hook, so a dropped write
really closes the TCP connection with no response at all (plain uvicorn would answer 500 instead).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from reconciler.emulator.app import ABORT_EXTENSION, create_app
from reconciler.emulator.faults import FaultConfig
from reconciler.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"


class AbortableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, giving each request an async `ABORT_EXTENSION` callable that closes the
    connection at once (no response) and returns when uvicorn has noticed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            cycle = self.cycle
            transport = self.transport

            async def abort() -> None:
                transport.abort()
                for _ in range(1000):  # connection_lost runs on a later loop iteration
                    if cycle is None or cycle.disconnected:
                        return
                    await asyncio.sleep(0.001)

            scope["extensions"] = {**(scope.get("extensions") or {}), ABORT_EXTENSION: abort}
            await inner(scope, receive, send)

        self.app = app


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the proto says TCP,
    # and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as err:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.set_inheritable(True)
    return sock


def _config(app: Starlette, *, log_level: str, access_log: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=AbortableH11Protocol,
        lifespan="off",
        log_config=None,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=1,
    )


def serve(
    *,
    host: str = DEFAULT_HOST,
    port: int = 8080,
    db: str | Path | None = None,
    api_key: str | None = None,
    faults: FaultConfig | None = None,
) -> None:
    """Serve until interrupted. Binding a non-loopback host needs `api_key` (ConfigError otherwise)."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(
            f"refusing to listen on {host} without --api-key: anyone who can reach it could use the emulator "
            "(use the default --host 127.0.0.1, or set --api-key)"
        )
    app = create_app(db=db, api_key=api_key, faults=faults)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    state = f"state in {db}" if db else "state in memory (lost on exit; use --db FILE to keep it)"
    key = "only the --api-key key accepted" if api_key else "any non-empty API key accepted"
    try:  # the address may not be writable (stdout closed, a full disk): the socket and store close then too
        print(f"OPENAI_BASE_URL=http://{_url_host(host)}:{bound_port}/v1", flush=True)
        print(f"Assistants v1 emulator: {state}; {key}. Ctrl+C to stop.", file=sys.stderr, flush=True)
        server = uvicorn.Server(_config(app, log_level="info", access_log=False))
        server.run(sockets=[sock])
    finally:
        sock.close()
        app.state.emulator.store.close()


class EmulatorServer:
    """The emulator on a free loopback port in a background thread.

    >>> with EmulatorServer() as srv:  # doctest: +SKIP
    ...     srv.base_url  # "http://127.0.0.1:PORT/v1"

    `app` is the served Starlette app (its `Emulator` state is `app.state.emulator`); `url` is the root URL
    (where `/_emulator/...` lives). Starting takes a few milliseconds; `stop()` (or leaving the `with`)
    shuts uvicorn down and closes the store.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        faults: FaultConfig | None = None,
        db: str | Path | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
    ):
        if not is_loopback(host) and not api_key:
            raise ConfigError(f"refusing to listen on {host} without an api_key")
        self.host = host
        self.app = create_app(db=db, api_key=api_key, faults=faults)
        self.api_key = api_key
        self._requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("EmulatorServer already started")
        self._sock = _bind(self.host, self._requested_port)
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(self.app, log_level="critical", access_log=False))
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.002)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None
        self.app.state.emulator.store.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
