"""Certificate verification: no CA bundle is loaded for a plain `http://` server (start-up cost), while an
`https://` client keeps httpx's full verification (its CA bundle, `SSL_CERT_FILE`, host names)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reconciler.client import APIConnectionError, Client, RetryPolicy
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


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (PEM files: certificate, key)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reconciler test")])
    now = datetime.now(timezone.utc)
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(loopback, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@contextlib.asynccontextmanager
async def tls_server(cert_file: Path, key_file: Path) -> AsyncIterator[str]:
    """An HTTPS server on 127.0.0.1 answering every request with an empty model list; yields its base URL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    body = b'{"object": "list", "data": []}'

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
            writer.write(b"content-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client refused the certificate
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    try:
        yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.anyio
async def test_an_https_server_is_verified_against_the_trusted_authorities(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A certificate no trusted authority signed is refused; trusted through `SSL_CERT_FILE`, it is taken."""
    cert_file, key_file = self_signed(tmp_path)
    async with tls_server(cert_file, key_file) as base_url:
        async with Client(api_key="sk-tls", base_url=base_url, retry=RetryPolicy(max_retries=0)) as client:
            with pytest.raises(APIConnectionError) as info:
                await client.list_models()
        assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        async with Client(api_key="sk-tls", base_url=base_url, retry=RetryPolicy(max_retries=0)) as client:
            assert await client.list_models() == []
