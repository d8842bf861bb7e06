# ruff: noqa: E501  (exact error messages read best on one line)
"""A deletion's answer must be the deletion asked for: its `id` the object's, a `deleted` field, and, when it
says what it is, the kind's deleted object. A server answering a DELETE with another object's deletion (or
with no `deleted` at all) had the delete counted as done."""

from __future__ import annotations

from typing import Any

import pytest
from test_client_shapes import client_on

from reconciler.client import BadResponseError, Client
from reconciler.kinds import AGENT, ASSISTANT

pytestmark = pytest.mark.anyio


async def delete_assistant(client: Client) -> Any:
    return await client.delete_object(ASSISTANT, "asst_1")


async def delete_agent(client: Client) -> Any:
    return await client.delete_object(AGENT, "agent_1")


async def delete_file(client: Client) -> Any:
    return await client.delete_file("file-1")


async def detach_file(client: Client) -> Any:
    return await client.delete_assistant_file("asst_1", "file-1")


@pytest.mark.parametrize(
    ("call", "answer", "line"),
    [
        (
            delete_assistant,
            {"id": "asst_2", "object": "assistant.deleted", "deleted": True},
            'DELETE /assistants/asst_1: the server\'s answer is not a deletion: its "id" is "asst_2", not asst_1',
        ),
        (
            delete_assistant,
            {"id": "asst_1", "object": "assistant.deleted"},
            'DELETE /assistants/asst_1: the server\'s answer is not a deletion: it has no "deleted"',
        ),
        (
            delete_agent,
            {"id": "agent_1", "object": "assistant.deleted", "deleted": True},
            'DELETE /agents/agent_1: the server\'s answer is not a deletion: its "object" is '
            "\"assistant.deleted\", not 'agent.deleted'",
        ),
        (
            delete_file,
            {"deleted": True},
            'DELETE /files/file-1: the server\'s answer is not a deletion: it has no "id"',
        ),
        (
            detach_file,
            {"id": "file-2", "object": "assistant.file.deleted", "deleted": True},
            "DELETE /assistants/asst_1/files/file-1: the server's answer is not a deletion: "
            'its "id" is "file-2", not file-1',
        ),
    ],
)
async def test_a_deletion_of_something_else_is_refused(call: Any, answer: dict[str, Any], line: str) -> None:
    async with client_on(answer) as client:
        with pytest.raises(BadResponseError) as info:
            await call(client)
    assert str(info.value) == line


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        (delete_assistant, {"id": "asst_1", "object": "assistant.deleted", "deleted": True}),
        (delete_agent, {"id": "agent_1", "object": "agent.deleted", "deleted": True}),
        (delete_file, {"id": "file-1", "object": "file", "deleted": True}),
        (detach_file, {"id": "file-1", "object": "assistant.file.deleted", "deleted": True}),
        (delete_assistant, {"id": "asst_1", "deleted": False}),  # the caller says it was not deleted
    ],
)
async def test_the_deletion_asked_for_is_answered(call: Any, answer: dict[str, Any]) -> None:
    async with client_on(answer) as client:
        assert await call(client) == answer
