"""Turn `ConnectionOptions` and the API key in the environment into a `Client`.

`--local` runs the embedded emulator in-process (no key, no network, state under `.reconciler/` at the
repository root). Otherwise the key comes only from the environment variable the options name (default
`OPENAI_API_KEY`); base URL, organization and project from the options (`options.ConnectionOptions`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import httpx

from reconciler import DISTRIBUTION, fsio
from reconciler.client import DEFAULT_BASE_URL, Client
from reconciler.errors import ConfigError
from reconciler.options import ConnectionOptions, header_problem
from reconciler.redact import url_shown

#: The base URL of the in-process emulator (never resolved: requests go straight to the ASGI app).
LOCAL_BASE_URL = "http://reconciler.local/v1"
#: The folder of `.reconciler/` holding one `--local` state per environment (`envs/NAME/`): in a namespace of
#: its own, so that no environment name meets the tool's own folders (`cache/`, `locks/`).
ENVIRONMENTS_DIR = "envs"
#: The fixed bearer key sent to the in-process emulator; it is no secret.
LOCAL_API_KEY = "sk-reconciler-local"


def open_client(options: ConnectionOptions) -> Client:
    """A `Client` for `options` (use as `async with`); raises `ConfigError` (one line) when they are
    unusable: `--local` with `--base-url`, an invalid base URL, or no key in `options.key_variable` for a
    remote server."""
    if options.local:
        if options.base_url:
            raise ConfigError(
                "--local and --base-url exclude each other: --local uses the embedded emulator "
                "(drop one of them)"
            )
        try:
            from reconciler.emulator import InProcessTransport, create_app
        except ImportError as err:
            raise emulator_missing(err, "--local") from None

        return Client(
            api_key=LOCAL_API_KEY,
            base_url=LOCAL_BASE_URL,
            transport=InProcessTransport(create_app(db=local_state(options))),
            **_limits(options),
        )

    url = check_base_url(options.base_url or DEFAULT_BASE_URL)
    api_key = os.environ.get(options.key_variable, "").strip()
    if not api_key:
        state = "is blank" if options.key_variable in os.environ else "is not set"
        raise ConfigError(
            f"{options.key_variable} {state}: export it to use {url}, or pass --local to use the embedded "
            "emulator"
        )
    check_identity(options)
    return Client(
        api_key=api_key,
        base_url=url,
        organization=options.organization,
        project=options.project,
        **_limits(options),
    )


def local_state(options: ConnectionOptions) -> Path:
    """The `--local` state file: `.reconciler/local.sqlite3` at `options.state_root`, or
    `.reconciler/envs/ENVIRONMENT/local.sqlite3` (folders created). ConfigError (one line) when a folder on
    the way is not a directory, or the file is there but is not a regular file (`check_state_file`)."""
    from reconciler.emulator import LOCAL_DB, local_db_path
    from reconciler.emulator.inprocess import LOCAL_DIR

    folder = options.state_root / LOCAL_DIR
    folders = [folder]
    if options.environment:  # one state per environment
        folders += [folder / ENVIRONMENTS_DIR, folder / ENVIRONMENTS_DIR / options.environment]
    state = folders[-1] / LOCAL_DB
    try:
        for each in folders:
            _check_folder(each)
        local_db_path(options.state_root)  # .reconciler/, with its .gitignore
        state.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"{err.filename or folder}: {err.strerror or err} (the --local state is kept in {state.parent})"
        ) from None
    check_state_file(state)
    return state


def check_state_file(state: Path) -> None:
    """ConfigError (one line) when the emulator state file `state` is there but is not a regular file
    (SQLite, handed a FIFO or a directory, fails with `disk I/O error` or `unable to open database file`)
    or cannot be looked at (a symlink loop)."""
    try:
        mode = os.stat(state).st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        problem = err.strerror or str(err)
    else:
        if stat.S_ISREG(mode):
            return
        problem = f"it is {fsio.kind(mode)}, not a regular file"
    raise ConfigError(
        f"{state} is not a usable emulator state file ({problem}): delete it to start over with an empty "
        "state"
    )


def _check_folder(folder: Path) -> None:
    """ConfigError when `folder` is there but is not a directory (symlinks followed)."""
    problem = fsio.not_a_directory(folder)
    if problem is not None:
        raise ConfigError(f"{folder}: {problem} (it holds the --local state)")


#: Where the organization and the project come from without an environment of reconciler.yaml.
IDENTITY_VARIABLES = {"organization": "OPENAI_ORG_ID", "project": "OPENAI_PROJECT_ID"}


def check_identity(options: ConnectionOptions) -> None:
    """Raise ConfigError when the organization or the project holds what no HTTP header can carry, naming
    its variable (reconciler.yaml's values are checked as the file is read, `environments`)."""
    for field, variable in IDENTITY_VARIABLES.items():
        problem = header_problem(getattr(options, field) or "")
        if problem:
            source = (
                variable if options.environment is None else f"the {field} of --env {options.environment}"
            )
            raise ConfigError(
                f"{source} has {problem}, which no HTTP header can carry: set it to the {field} ID alone"
            )


def _limits(options: ConnectionOptions) -> dict[str, Any]:
    """The Client's retry budget, timeout and deadline: the options' values where set."""
    limits: dict[str, Any] = {"max_retries": options.max_retries}
    if options.timeout is not None:
        limits["timeout"] = options.timeout
    if options.deadline is not None:
        limits["deadline"] = options.deadline
    return limits


def check_base_url(base_url: str) -> str:
    """`base_url` without a trailing slash, or `ConfigError` unless it is an absolute http(s) URL with a host,
    a port (when given) in 1-65535, and no query, fragment or credentials. The message shows the URL with
    those replaced by `***`."""
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
        elif url.port is not None and not 0 < url.port < 65536:
            problem = f"its port {url.port} is not in 1-65535"
        elif url.query or url.fragment:
            problem = "it may not have a query or fragment"
        elif url.userinfo:
            problem = "it may not contain credentials"
    if problem:
        raise ConfigError(
            f"invalid base URL {url_shown(text)!r} (from --base-url or OPENAI_BASE_URL): {problem}, "
            f"e.g. {DEFAULT_BASE_URL}"
        )
    return text.rstrip("/")


def emulator_missing(err: ImportError, what: str) -> ConfigError:
    """The one-line error for `what` (`--local`, `reconciler emulator`) when the emulator's extra is not
    installed: which package is missing and the command that installs it."""
    package = (err.name or "a package").split(".")[0]
    return ConfigError(
        f"{what} needs the emulator, whose dependencies are not installed ({package} is missing): "
        f'pip install "{DISTRIBUTION}[emulator]"'
    )
