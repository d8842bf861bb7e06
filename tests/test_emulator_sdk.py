"""The unmodified official SDK of the v1 era (`openai==1.20.0`) works against a live emulator.

openai 1.20.0 builds its default httpx client with `proxies=`, which httpx 0.28 removed, so each SDK client
gets an explicit `http_client` (a documented constructor argument); the SDK itself is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from reconciler.emulator.testing import LiveEmulator


@pytest.fixture
def http_client(live_emulator: LiveEmulator) -> Iterator[httpx.Client]:
    with live_emulator.client(headers={}) as client:
        yield client


def make_sdk(live: LiveEmulator, http_client: httpx.Client, **kwargs: object) -> openai.OpenAI:
    kwargs.setdefault("api_key", live.api_key)
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=live.base_url, http_client=http_client, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def sdk(live_emulator: LiveEmulator, http_client: httpx.Client) -> openai.OpenAI:
    assert openai.__version__ == "1.20.0"
    return make_sdk(live_emulator, http_client)


def test_assistant_lifecycle_with_auto_paging(sdk: openai.OpenAI, live_emulator: LiveEmulator) -> None:
    created = [
        sdk.beta.assistants.create(model="gpt-4-turbo", name=f"a{i}", metadata={"i": str(i)})
        for i in range(45)
    ]
    assert all(a.id.startswith("asst_") and len(a.id) == 29 for a in created)

    seen = [a.id for a in sdk.beta.assistants.list()]  # auto-paging, 20 per page, newest first
    assert seen == [a.id for a in reversed(created)]
    assert [a.id for a in sdk.beta.assistants.list(order="asc", limit=7)] == [a.id for a in created]
    # v1.20.0 ignores has_more and stops on an empty page: 45 items -> 3+1 pages of 20, 7+1 pages of 7.
    assert live_emulator.stats()["by_route"]["GET /v1/assistants"] == 4 + 8

    updated = sdk.beta.assistants.update(
        created[0].id, instructions="Be brief.", tools=[{"type": "code_interpreter"}], metadata={"k": "v"}
    )
    assert updated.instructions == "Be brief."
    assert updated.metadata == {"k": "v"}
    assert sdk.beta.assistants.retrieve(created[0].id).tools[0].type == "code_interpreter"

    deleted = sdk.beta.assistants.delete(created[0].id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created[0].id, True, "assistant.deleted")
    with pytest.raises(openai.NotFoundError) as err:
        sdk.beta.assistants.retrieve(created[0].id)
    assert err.value.body == {
        "message": f"No assistant found with id '{created[0].id}'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_files_and_attachments(sdk: openai.OpenAI) -> None:
    first = sdk.files.create(file=("notes.txt", b"hello"), purpose="assistants")
    second = sdk.files.create(file=("more.md", b"# more"), purpose="assistants")
    tuning = sdk.files.create(file=("train.jsonl", b'{"prompt": "x"}\n'), purpose="fine-tune")
    assert (first.filename, first.bytes, first.purpose, first.object) == (
        "notes.txt",
        5,
        "assistants",
        "file",
    )
    assert sdk.files.retrieve(first.id).id == first.id
    assert {f.id for f in sdk.files.list()} == {first.id, second.id, tuning.id}
    assert {f.id for f in sdk.files.list(purpose="assistants")} == {first.id, second.id}
    assert sdk.files.content(first.id).content == b"hello"

    assistant = sdk.beta.assistants.create(
        model="gpt-4", file_ids=[second.id, first.id], tools=[{"type": "retrieval"}]
    )
    assert assistant.file_ids == [first.id, second.id]  # ordered by file creation
    with pytest.raises(openai.BadRequestError) as err:
        sdk.beta.assistants.create(model="gpt-4", file_ids=[tuning.id])
    assert err.value.param == "file_ids[0]"

    detached = sdk.beta.assistants.files.delete(first.id, assistant_id=assistant.id)
    assert (detached.id, detached.deleted) == (first.id, True)
    attached = sdk.beta.assistants.files.create(assistant.id, file_id=first.id)
    assert (attached.id, attached.assistant_id, attached.object) == (first.id, assistant.id, "assistant.file")
    assert sdk.beta.assistants.files.retrieve(first.id, assistant_id=assistant.id).id == first.id
    assert {f.id for f in sdk.beta.assistants.files.list(assistant.id)} == {first.id, second.id}

    assert sdk.beta.assistants.update(assistant.id, file_ids=[second.id]).file_ids == [second.id]
    removed = sdk.files.delete(second.id)
    assert (removed.id, removed.deleted) == (second.id, True)
    assert sdk.beta.assistants.retrieve(assistant.id).file_ids == []


def test_models_and_errors(
    sdk: openai.OpenAI, live_emulator: LiveEmulator, http_client: httpx.Client
) -> None:
    assert "gpt-4-turbo" in {m.id for m in sdk.models.list()}
    assert sdk.models.retrieve("gpt-4").owned_by == "openai"
    with pytest.raises(openai.BadRequestError) as err:
        sdk.beta.assistants.create(model="gpt-4o")
    assert err.value.code == "unsupported_model"
    wrong = make_sdk(live_emulator, http_client, api_key="sk-wrong")
    with pytest.raises(openai.AuthenticationError):
        wrong.beta.assistants.list()


def test_sdk_retries_injected_faults(live_emulator: LiveEmulator, http_client: httpx.Client) -> None:
    sdk = make_sdk(live_emulator, http_client, max_retries=2)
    live_emulator.inject(503, route="GET /v1/assistants", headers={"retry-after-ms": "1"})
    live_emulator.inject(429, route="GET /v1/assistants", headers={"retry-after-ms": "1"})
    assert list(sdk.beta.assistants.list()) == []
    assert live_emulator.stats()["by_route"]["GET /v1/assistants"] == 3
