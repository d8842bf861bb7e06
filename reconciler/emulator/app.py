"""The emulator as an ASGI app: the OpenAI Assistants API v1 (plus /files and /models), per docs/api-v1.md,
and the saved agents of the Agents API (`/v1/agents`), per docs/agents-api.md.

`create_app()` returns a Starlette app: the routes of `reconciler.emulator.api` (`/v1`),
`reconciler.emulator.agents` (`/v1/agents`) and `reconciler.emulator.admin` (`/_emulator`), behind the
`Gateway` pipeline (`reconciler.emulator.gateway`: key, faults, routing, beta header, dropped writes), on the
state of `reconciler.emulator.state.Emulator`.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from reconciler.emulator import admin, agents, api
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.gateway import ABORT_EXTENSION, Gateway, error_response
from reconciler.emulator.state import Emulator
from reconciler.emulator.store import Store
from reconciler.emulator.validation import ApiError

__all__ = ["ABORT_EXTENSION", "Emulator", "create_app", "routes"]


async def _api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


def routes() -> list[BaseRoute]:
    """Every route the emulator serves (templates are what stats count by)."""
    a = "/v1/assistants"
    return [
        Route(a, api.list_assistants, methods=["GET"]),
        Route(a, api.create_assistant, methods=["POST"]),
        Route(a + "/{assistant_id}", api.get_assistant, methods=["GET"]),
        Route(a + "/{assistant_id}", api.modify_assistant, methods=["POST"]),
        Route(a + "/{assistant_id}", api.delete_assistant, methods=["DELETE"]),
        Route(a + "/{assistant_id}/files", api.list_assistant_files, methods=["GET"]),
        Route(a + "/{assistant_id}/files", api.create_assistant_file, methods=["POST"]),
        Route(a + "/{assistant_id}/files/{file_id}", api.get_assistant_file, methods=["GET"]),
        Route(a + "/{assistant_id}/files/{file_id}", api.delete_assistant_file, methods=["DELETE"]),
        Route("/v1/files", api.list_files, methods=["GET"]),
        Route("/v1/files", api.create_file, methods=["POST"]),
        Route("/v1/files/{file_id}", api.get_file, methods=["GET"]),
        Route("/v1/files/{file_id}", api.delete_file, methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", api.file_content, methods=["GET"]),
        Route("/v1/agents", agents.list_agents, methods=["GET"]),
        Route("/v1/agents", agents.create_agent, methods=["POST"]),
        Route("/v1/agents/{agent_id}", agents.get_agent, methods=["GET"]),
        Route("/v1/agents/{agent_id}", agents.update_agent, methods=["POST"]),
        Route("/v1/agents/{agent_id}", agents.delete_agent, methods=["DELETE"]),
        Route("/v1/models", api.list_models, methods=["GET"]),
        Route("/v1/models/{model}", api.get_model, methods=["GET"]),
        Route("/_emulator/stats", admin.admin_stats, methods=["GET"]),
        Route("/_emulator/stats/reset", admin.admin_stats_reset, methods=["POST"]),
        Route("/_emulator/requests", admin.admin_requests, methods=["GET"]),
        Route("/_emulator/faults", admin.admin_get_faults, methods=["GET"]),
        Route("/_emulator/faults", admin.admin_set_faults, methods=["POST"]),
        Route("/_emulator/inject", admin.admin_inject, methods=["POST"]),
        Route("/_emulator/reset", admin.admin_reset, methods=["POST"]),
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
