"""QA pass 6 as an attacker: a server answering the agent endpoints with objects of another kind.

A server that answers `/agents` with assistants (a v1 gateway routing every path it does not know to
`/assistants`, say) had them taken for saved agents: their ownership markers made them managed agents, which a
plan would update and, with `--prune`, delete through `/agents/asst_...`. An object of another kind is now
refused as one line, as `/assistants` already refused one.
"""

from __future__ import annotations

import pytest
from test_client_shapes import GOOD, client_on, page

from reconciler.client import BadResponseError
from reconciler.kinds import AGENT

pytestmark = pytest.mark.anyio

MANAGED = GOOD | {"metadata": {"reconciler_key": "hr"}}


async def test_assistants_listed_as_agents_are_refused() -> None:
    async with client_on(page([MANAGED])) as client:
        with pytest.raises(BadResponseError) as info:
            await client.list_objects(AGENT)
    assert str(info.value) == (
        "GET /agents: the server's answer is not an agent list: data[0].object is 'assistant', not 'agent'"
    )


async def test_an_assistant_answering_an_agent_create_is_refused() -> None:
    async with client_on(MANAGED) as client:
        with pytest.raises(BadResponseError) as info:
            await client.create_object(AGENT, {"name": "Docs", "model": "gpt-5-mini"})
    assert (
        str(info.value)
        == "POST /agents: the server's answer is not an agent: object is 'assistant', not 'agent'"
    )


async def test_an_agent_without_object_is_still_read() -> None:
    agent = {"id": "agent_1", "created_at": 1, "model": "gpt-5-mini", "metadata": {"reconciler_key": "docs"}}
    async with client_on(page([agent])) as client:
        assert [a.id for a in await client.list_objects(AGENT)] == ["agent_1"]
