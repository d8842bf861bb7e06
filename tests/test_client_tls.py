"""Certificate verification: no CA bundle is loaded for a plain `http://` server (start-up cost), while an
`https://` client keeps httpx's full verification (its CA bundle, `SSL_CERT_FILE`, host names)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from reconciler.client import Client
from reconciler.client.tls import verification
from reconciler.emulator.testing import EMULATOR_API_KEY, LiveEmulator


def test_an_http_server_gets_a_verifying_context_that_trusts_nothing() -> None:
    context = verification("http://127.0.0.1:8080/v1")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "HTTPS://proxy.example/v1"])
def test_an_https_server_keeps_httpx_full_verification(url: str) -> None:
    assert verification(url) is True


def test_only_an_https_client_reads_the_ca_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """httpx reads `SSL_CERT_FILE` when it builds a verifying context: a missing file shows who reads it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    client = Client(api_key="sk-tls", base_url="http://127.0.0.1:9/v1")
    asyncio.run(client.aclose())
    with pytest.raises(FileNotFoundError):
        Client(api_key="sk-tls", base_url="https://127.0.0.1:9/v1")


@pytest.mark.anyio
async def test_an_http_client_without_a_ca_bundle_still_talks_to_its_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, live_emulator: LiveEmulator
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    async with Client(api_key=EMULATOR_API_KEY, base_url=live_emulator.base_url) as client:
        assert await client.list_assistants() == []
