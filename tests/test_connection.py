"""open_client and ConnectionOptions: --local wiring, environment, and one-line ConfigErrors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconciler.client import DEFAULT_BASE_URL, Client
from reconciler.connection import LOCAL_API_KEY, LOCAL_BASE_URL, check_base_url, open_client
from reconciler.emulator.testing import EMULATOR_API_KEY, LiveEmulator
from reconciler.errors import ConfigError
from reconciler.options import ConnectionOptions

ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def remote(base_url: str | None, max_retries: int) -> ConnectionOptions:
    """The options `reconciler plan` builds without --local, from the environment the test set."""
    return ConnectionOptions.from_environment(
        local=False, base_url=base_url, max_retries=max_retries, cwd=Path.cwd()
    )


def _headers(client: Client) -> dict[str, str]:
    return dict(client._http.headers)


def test_remote_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-remote")
    client = open_client(remote(None, 3))
    assert client.base_url == DEFAULT_BASE_URL
    assert client.max_retries == 3
    headers = _headers(client)
    assert headers["authorization"] == "Bearer sk-test-remote"
    assert "openai-organization" not in headers
    assert "openai-project" not in headers
    asyncio.run(client.aclose())


@pytest.mark.anyio
async def test_remote_environment(monkeypatch: pytest.MonkeyPatch, live_emulator: LiveEmulator) -> None:
    """Key, base URL, organization and project from the environment reach a real server."""
    monkeypatch.setenv("OPENAI_API_KEY", EMULATOR_API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", live_emulator.base_url + "/")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_456")
    async with open_client(remote(None, 0)) as client:
        assert client.base_url == live_emulator.base_url
        await client.list_assistants()
    (entry,) = live_emulator.requests()
    assert entry["status"] == 200
    assert entry["headers"]["openai-organization"] == "org-123"
    assert entry["headers"]["openai-project"] == "proj_456"


def test_base_url_argument_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-remote")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.example/v1")
    client = open_client(remote("https://proxy.example/openai/v1", 5))
    assert client.base_url == "https://proxy.example/openai/v1"
    asyncio.run(client.aclose())


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_key_suggests_local(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    if key is not None:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    with pytest.raises(ConfigError) as info:
        open_client(remote(None, 5))
    state = "is not set" if key is None else "is blank"
    assert str(info.value) == (
        f"OPENAI_API_KEY {state}: export it to use https://api.openai.com/v1, "
        "or pass --local to use the embedded emulator"
    )


@pytest.mark.parametrize(
    ("url", "shown", "problem"),
    [
        ("api.openai.com/v1", "api.openai.com/v1", "it must start with http:// or https://"),
        ("ftp://example.com/v1", "ftp://example.com/v1", "it must start with http:// or https://"),
        ("http:///v1", "http:///v1", "it has no host"),
        ("https://example.com/v1?x=1", "https://example.com/v1?***", "it may not have a query or fragment"),
        ("https://e.com/v1?api_key=sk-live-9", "https://e.com/v1?***", "it may not have a query or fragment"),
        ("https://user:pw@example.com/v1", "https://***@example.com/v1", "it may not contain credentials"),
        ("http://u:hunter2pass@x/v1", "http://***@x/v1", "it may not contain credentials"),
    ],
)
def test_invalid_base_url(monkeypatch: pytest.MonkeyPatch, url: str, shown: str, problem: str) -> None:
    """The URL is shown with its credentials and query replaced by `***`, whoever's they are."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-remote")
    with pytest.raises(ConfigError) as info:
        open_client(remote(url, 5))
    message = str(info.value)
    assert message == (
        f"invalid base URL {shown!r} (from --base-url or OPENAI_BASE_URL): {problem}, e.g. {DEFAULT_BASE_URL}"
    )
    assert "\n" not in message


def test_invalid_base_url_checked_before_key() -> None:
    with pytest.raises(ConfigError, match="invalid base URL 'nope'"):
        open_client(remote("nope", 5))


def test_check_base_url_strips_slash() -> None:
    assert check_base_url(" http://localhost:9/v1/ ") == "http://localhost:9/v1"


def test_local_with_base_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        open_client(
            ConnectionOptions(
                local=True, base_url="http://127.0.0.1:8080/v1", max_retries=5, state_root=tmp_path
            )
        )
    assert str(info.value).startswith("--local and --base-url exclude each other")


@pytest.mark.anyio
async def test_local_uses_the_in_process_emulator_with_state_in_workdir(tmp_path: Path) -> None:
    """No key, no network: state lands in <workdir>/.reconciler/ and survives a new client."""
    async with open_client(ConnectionOptions(local=True, max_retries=0, state_root=tmp_path)) as client:
        assert client.base_url == LOCAL_BASE_URL
        created = await client.create_assistant({"model": "gpt-4", "name": "Local"})
    assert (tmp_path / ".reconciler" / "local.sqlite3").exists()
    async with open_client(ConnectionOptions(local=True, max_retries=0, state_root=tmp_path)) as client:
        assert [a.id for a in await client.list_assistants()] == [created.id]
        assert client.calls == {"GET /assistants": 1}


@pytest.mark.anyio
async def test_local_ignores_the_remote_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key-must-not-be-used")
    async with open_client(ConnectionOptions(local=True, max_retries=0, state_root=tmp_path)) as client:
        assert _headers(client)["authorization"] == f"Bearer {LOCAL_API_KEY}"
        assert await client.list_models()


@pytest.mark.anyio
async def test_local_defaults_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_client(
        ConnectionOptions.from_environment(local=True, base_url=None, max_retries=0, cwd=Path.cwd())
    ) as client:
        await client.list_assistants()
    assert (tmp_path / ".reconciler" / "local.sqlite3").exists()


def test_local_state_lives_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "team" / "sub").mkdir(parents=True)
    options = ConnectionOptions.from_environment(
        local=True, base_url=None, max_retries=0, cwd=tmp_path / "team" / "sub"
    )
    assert options.state_root == tmp_path.resolve()


def test_key_from_another_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_OPENAI_KEY", "sk-team")
    client = open_client(ConnectionOptions(key_variable="TEAM_OPENAI_KEY"))
    assert _headers(client)["authorization"] == "Bearer sk-team"
    asyncio.run(client.aclose())
    with pytest.raises(ConfigError, match=r"^OTHER_KEY is not set: export it"):
        open_client(ConnectionOptions(key_variable="OTHER_KEY"))
