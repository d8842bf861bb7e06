"""How a `Client` verifies the server's certificate: httpx's full default for `https://`, and no CA bundle
loaded for a plain `http://` server (the emulator, `--local`, a sandbox), which never shows a certificate.

httpx builds its SSL context when the client is made, whatever the URL: loading the CA bundle costs tens of
milliseconds of CPU at every start-up. For an `http://` base URL the client gets instead a context that still
verifies (certificate and host name required) but trusts no authority at all. httpx uses it only for TLS with
an `https://` origin, which that client never contacts (its paths are relative to the base URL, redirects are
not followed; an `https://` proxy's own handshake uses httpcore's default, fully verified context); if it ever
did, the handshake would fail rather than pass unverified. `verify=False` is never used.
"""

from __future__ import annotations

import ssl
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["verification"]


def verification(base_url: str) -> ssl.SSLContext | Literal[True]:
    """httpx's `verify` for a client of `base_url`: True (httpx's default CA bundle, or `SSL_CERT_FILE` /
    `SSL_CERT_DIR`, with host names checked) unless the URL is plain `http://`; then a verifying context
    that trusts no certificate (see the module docstring)."""
    if urlsplit(base_url).scheme.lower() != "http":
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default, no CAs
