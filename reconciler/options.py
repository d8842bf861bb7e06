"""The command line's choices as frozen values, built once per command and passed whole to the use cases.

- `ConnectionOptions`: which server and how to talk to it (`connection.open_client` turns it into a Client).
- `PlanOptions`: what to plan (`plan`, and `apply` without a saved plan).
- `ApplyOptions`: how to apply (approval, safety override, concurrency, output).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.manifest import Selected

#: The environment variable the API key is read from unless told otherwise.
DEFAULT_KEY_VARIABLE = "OPENAI_API_KEY"
#: The manifests' directory unless `--dir` names another.
DEFAULT_DIRECTORY = Path("assistants")
#: Assumption V's window W (`--settle-seconds`): a create is listed within this many seconds of being sent.
DEFAULT_SETTLE_SECONDS = 3.0


def header_problem(value: str) -> str | None:
    """What keeps `value` from being sent in an HTTP header: its first line break, non-ASCII or control
    character and where (`a line break at position 4 of 5`), or None. It never quotes the value, which may be
    a key."""
    for position, char in enumerate(value, start=1):
        if char == "\n" or char == "\r":
            what = "a line break"
        elif not char.isascii():
            what = "a non-ASCII character"
        elif not char.isprintable():
            what = f"a control character (code {ord(char)})"
        else:
            continue
        return f"{what} at position {position} of {len(value)}"
    return None


@dataclass(frozen=True)
class ConnectionOptions:
    """How to reach the API.

    `local` uses the embedded emulator with its state under `state_root/.reconciler/` (with `environment`,
    under `state_root/.reconciler/envs/ENVIRONMENT/`); otherwise `base_url`
    (None: the default server), `organization` and `project` go to the Client and the key is read from the
    environment variable `key_variable` when the client is opened (never stored here).
    """

    local: bool = False
    base_url: str | None = None
    organization: str | None = None
    project: str | None = None
    max_retries: int = 5
    #: Per-read timeout and overall deadline of one request (retries included), in seconds (None: the client's
    #: defaults, `client.DEFAULT_TIMEOUT` and `client.DEFAULT_DEADLINE`).
    timeout: float | None = None
    deadline: float | None = None
    key_variable: str = DEFAULT_KEY_VARIABLE
    state_root: Path = Path(".")
    #: The environment (reconciler.yaml) these options are for; with `local`, its own state folder.
    environment: str | None = None

    def api_key(self) -> str | None:
        """The API key in the environment variable `key_variable` (None when unset), to mask in output; it
        is read even with `local`, whose emulator may hold a key a user pasted there."""
        return os.environ.get(self.key_variable) or None

    @classmethod
    def from_environment(
        cls,
        *,
        local: bool,
        base_url: str | None,
        max_retries: int,
        cwd: Path,
        environ: Mapping[str, str] = os.environ,
    ) -> ConnectionOptions:
        """The options for these flags: `base_url` falls back to OPENAI_BASE_URL (not with `local`), the
        organization and project come from OPENAI_ORG_ID and OPENAI_PROJECT_ID (stripped; what no header can
        carry is refused when the client is opened, `connection.open_client`), and `--local` state lives at
        the repository root of `cwd` (its nearest parent with `.git`, else `cwd`)."""
        from reconciler.manifest import repository_root

        if not local:
            base_url = base_url or environ.get("OPENAI_BASE_URL") or None
        return cls(
            local=local,
            base_url=base_url,
            organization=environ.get("OPENAI_ORG_ID", "").strip() or None,
            project=environ.get("OPENAI_PROJECT_ID", "").strip() or None,
            max_retries=max_retries,
            state_root=repository_root(cwd),
        )


#: How a plan judges the models it would send (`--model-rules`): `openai` makes a model Assistants v1 refused
#: a plan error, `server` a warning (that server decides), `auto` picks one by target (docs/manifest.md).
MODEL_RULES: tuple[str, ...] = ("auto", "openai", "server")


@dataclass(frozen=True)
class PlanOptions:
    """What to plan: only `targets` (keys; empty: everything), deletes of managed orphans with `prune`, and
    creates despite an unmanaged assistant of the same name with `allow_duplicate_names`; models judged by
    `model_rules` (one of `MODEL_RULES`); the manifests as merged for `environment` (None: no environments
    configured). Saved agents are planned too from `agents_dir` (`--agents-dir`), or, when None, from the
    sibling `agents/` of the manifest directory when it exists (`usecases.planning.agents_directory`).
    With `fingerprints`, each change records the fingerprint of the object it was planned against (what a
    saved plan needs to be found stale); without, it records `plan.UNTAKEN` and no existing object is
    hashed: a plan only shown (no `--out`) has no use for them, and at 10,000 assistants they cost 0.2 s.
    With `require_targets` each target must name an object this plan covers; `plan --all-envs` turns it off
    and requires each to name one in some environment (`usecases.environments.plan_all`)."""

    targets: tuple[str, ...] = ()
    prune: bool = False
    allow_duplicate_names: bool = False
    environment: Selected | None = None
    model_rules: str = "auto"
    agents_dir: Path | None = None
    fingerprints: bool = True
    require_targets: bool = True


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply: without asking (`auto_approve`), over the delete limits (`force`), with at most
    `parallelism` changes in flight; the report as `fmt` (`text` or `json`), coloured with `color`.
    `settle_seconds` is the settle window W of exactly-once across runs (`reconciler.exactly_once`; 0: a
    single writer, no cross-run check); `lock_timeout` how long to wait for another apply on the same target
    in this checkout (`reconciler.lock`; 0: refuse at once); `protect_drift` refuses a plan that overwrites
    edits made outside reconciler (docs/drift.md)."""

    auto_approve: bool = False
    force: bool = False
    parallelism: int = 8
    fmt: str = "text"
    color: bool = False
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    lock_timeout: float = 0.0
    protect_drift: bool = False


@dataclass(frozen=True)
class ImportOptions:
    """What to import: the unmanaged objects of `kind` (`assistant`, `agent`) `ids` or, with `import_all`,
    every one, into `directory`; existing files are overwritten only with `force`; long instructions go to
    `.md` files with `instructions_files`."""

    directory: Path
    ids: tuple[str, ...] = ()
    import_all: bool = False
    force: bool = False
    instructions_files: bool = False
    kind: str = "assistant"
