"""Turn command-line connection options and the environment into a `Client`.

`--local` runs the embedded emulator in-process (no key, no network, state under `.reconciler/` in the
working directory). Otherwise the key comes only from `OPENAI_API_KEY`, the base URL from `--base-url` /
`OPENAI_BASE_URL` / the default, the organization from `OPENAI_ORG_ID`, the project from `OPENAI_PROJECT_ID`.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from reconciler.client import DEFAULT_BASE_URL, Client
from reconciler.errors import ConfigError

#: The base URL of the in-process emulator (never resolved: requests go straight to the ASGI app).
LOCAL_BASE_URL = "http://reconciler.local/v1"
#: The fixed bearer key sent to the in-process emulator; it is no secret.
LOCAL_API_KEY = "sk-reconciler-local"


def open_client(
    *, local: bool, base_url: str | None, max_retries: int, workdir: Path | None = None
) -> Client:
    """A `Client` for the command line's connection options; raises `ConfigError` (one line) when they are
    unusable: `--local` with `--base-url`, an invalid base URL, or no `OPENAI_API_KEY` for a remote server.

    `workdir` (default: the current directory) is where `--local` keeps its state.
    """
    if local:
        if base_url:
            raise ConfigError(
                "--local and --base-url exclude each other: --local uses the embedded emulator "
                "(drop one of them)"
            )
        from reconciler.emulator import InProcessTransport, local_app

        app = local_app(workdir or Path.cwd())
        return Client(
            api_key=LOCAL_API_KEY,
            base_url=LOCAL_BASE_URL,
            max_retries=max_retries,
            transport=InProcessTransport(app),
        )

    url = check_base_url(base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
    api_key = os.environ.get("OPENAI_API_KEY", "").strip()
    if not api_key:
        raise ConfigError(
            f"OPENAI_API_KEY is not set: export it to use {url}, or pass --local to use the embedded emulator"
        )
    return Client(
        api_key=api_key,
        base_url=url,
        organization=os.environ.get("OPENAI_ORG_ID") or None,
        project=os.environ.get("OPENAI_PROJECT_ID") or None,
        max_retries=max_retries,
    )


def check_base_url(base_url: str) -> str:
    """`base_url` without a trailing slash, or `ConfigError` unless it is an absolute http(s) URL with a host
    and no query or fragment."""
    text = base_url.strip()
    problem = None
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError, ValueError):
        url = None
        problem = "it is not a URL"
    if url is not None:
        if url.scheme not in ("http", "https"):
            problem = "it must start with http:// or https://"
        elif not url.host:
            problem = "it has no host"
        elif url.query or url.fragment:
            problem = "it may not have a query or fragment"
        elif url.userinfo:
            problem = "it may not contain credentials"
    if problem:
        raise ConfigError(
            f"invalid base URL {text!r} (from --base-url or OPENAI_BASE_URL): {problem}, "
            f"e.g. {DEFAULT_BASE_URL}"
        )
    return text.rstrip("/")
