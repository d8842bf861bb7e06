"""Run the emulator in-process, with no port: for `--local` and for tests.

`InProcessTransport` is an httpx transport that calls the ASGI app directly (via `httpx.ASGITransport`). It
gives the app the connection-abort hook (`ABORT_EXTENSION`), so a dropped write surfaces to the client as
`httpx.RemoteProtocolError("Server disconnected without sending a response.")`, exactly as over real HTTP.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.emulator.app import ABORT_EXTENSION, create_app

LOCAL_DIR = ".reconciler"
LOCAL_DB = "local.sqlite3"


class _Dropped(Exception):
    """The app aborted the connection."""


class InProcessTransport(httpx.AsyncBaseTransport):
    """An httpx async transport serving requests from an ASGI app (normally `create_app()`'s)."""

    def __init__(self, app: ASGIApp, *, client: tuple[str, int] = ("127.0.0.1", 50000)):
        self.app = app
        self._asgi = httpx.ASGITransport(app=self._with_abort, client=client)

    async def _with_abort(self, scope: Scope, receive: Receive, send: Send) -> None:
        aborted = False

        async def abort() -> None:
            nonlocal aborted
            aborted = True

        scope = {**scope, "extensions": {**(scope.get("extensions") or {}), ABORT_EXTENSION: abort}}
        await self.app(scope, receive, send)
        if aborted:
            raise _Dropped

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._asgi.handle_async_request(request)
        except _Dropped:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None

    async def aclose(self) -> None:
        await self._asgi.aclose()


def local_db_path(workdir: Path) -> Path:
    """`<workdir>/.reconciler/local.sqlite3`, creating the folder (with a `.gitignore` of `*`) if needed."""
    folder = Path(workdir) / LOCAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return folder / LOCAL_DB


def local_app(workdir: Path) -> Starlette:
    """The `--local` emulator: state in `<workdir>/.reconciler/local.sqlite3`, any non-empty key accepted."""
    return create_app(db=local_db_path(workdir))
