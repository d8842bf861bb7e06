"""The `/v1/agents` handlers: saved agents of the OpenAI Agents API (docs/agents-api.md §3-§7).

Each handler validates its request (`reconciler.emulator.agent_validation`), calls the agent store
(`reconciler.emulator.agent_store`) and answers the `Agent`, list page or `AgentDeleted` object; every problem
is raised as `ApiError`. The gateway has already checked `OpenAI-Beta: agents=v1`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from reconciler import agents_facts as facts
from reconciler.emulator.agent_store import AgentStore
from reconciler.emulator.agent_validation import validate_agent_body, validate_agent_list_params
from reconciler.emulator.api import cursor_problem, deleted, emulator_of, found
from reconciler.emulator.bodies import json_body
from reconciler.emulator.pages import CursorNotFound
from reconciler.emulator.responses import encoded
from reconciler.emulator.validation import ApiError


def no_agent(agent_id: str) -> ApiError:
    """The 404 for an unknown or deleted agent (unverified text: the reference documents none, §10)."""
    return ApiError(404, f"No agent found with id '{agent_id}'.")


def _agents(request: Request) -> tuple[AgentStore, str]:
    """The agent store and the path's `agent_id`."""
    return emulator_of(request).agents, request.path_params["agent_id"]


async def list_agents(request: Request) -> Response:
    query = validate_agent_list_params(request.query_params)
    try:
        page = emulator_of(request).agents.list(query)
    except CursorNotFound as err:
        raise cursor_problem(err, "agent") from None
    return encoded(page.body())


async def create_agent(request: Request) -> Response:
    fields = validate_agent_body(await json_body(request), create=True)
    return encoded(emulator_of(request).agents.create(fields))


async def get_agent(request: Request) -> Response:
    agents, agent_id = _agents(request)
    return found(agents.get(agent_id), no_agent(agent_id))


async def update_agent(request: Request) -> Response:
    agents, agent_id = _agents(request)
    if agents.get(agent_id) is None:
        raise no_agent(agent_id)
    fields = validate_agent_body(await json_body(request), create=False)
    return found(agents.update(agent_id, fields), no_agent(agent_id))


async def delete_agent(request: Request) -> Response:
    agents, agent_id = _agents(request)
    return deleted(agent_id, facts.DELETED_OBJECT, agents.delete(agent_id), no_agent(agent_id))
