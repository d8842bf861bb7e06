"""Credentials in an agent manifest: a saved agent stores none (docs/agents-api.md §8.3, §8.4).

An MCP server's secret lives in a vault credential that the tool names with `credential_id`. So a manifest
is refused when an http transport header is named like a credential, or when any string in it looks like a
token. The rules, chosen to catch real secrets without flagging prose (the example agents pass):

- header names: `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `X-Api-Key`, `Api-Key` and
  any name containing `token`, `secret`, `password`, `apikey`, `api-key`, `api_key` or `authorization`
  (any case);
- values: `Bearer ` or `Basic ` followed by 16 or more token characters; `sk-` followed by 20 or more (OpenAI
  style keys); GitHub (`ghp_`...`, `github_pat_`), Slack (`xoxb-`...) and AWS (`AKIA` + 16) tokens; and
  `key=`, `token=`, `secret=`, `password=`, `api_key=` (or `:`) followed by 16 or more non-blank characters
  mixing letters and digits with at least 3.5 bits of entropy per character.

Messages name the field and the kind of secret, never the secret itself.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from reconciler.manifest.errors import Path_

VAULT_ADVICE = (
    "a saved agent stores no credentials: keep it in a vault credential and name it with credential_id"
)

_HEADER_NAMES = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
_HEADER_WORDS = ("token", "secret", "password", "apikey", "api-key", "api_key", "authorization")

#: What each kind of token is called in messages, by the name of its group in `_TOKEN`.
_TOKEN_KINDS = {
    "http": "an HTTP credential (Bearer/Basic ...)",
    "openai": "an API key (sk-...)",
    "github": "a GitHub token",
    "slack": "a Slack token",
    "aws": "an AWS access key",
}
_TOKEN = re.compile(
    r"(?P<http>(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{16,})"
    r"|(?P<openai>\bsk-[A-Za-z0-9_-]{20,})"
    r"|(?P<github>\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}))"
    r"|(?P<slack>\bxox[abprs]-[A-Za-z0-9-]{10,})"
    r"|(?P<aws>\bAKIA[0-9A-Z]{16}\b)"
)
_ASSIGNED = re.compile(
    r"(?i)\b(?:api[_-]?key|access[_-]?key|key|token|secret|password|passwd)\s*[=:]\s*[\"']?([^\s\"',;&]{16,})"
)
#: No rule matches a shorter string (the shortest is a Slack token: `xoxb-` and 10 characters).
_SHORTEST = 15
MIN_ENTROPY = 3.5


def entropy(text: str) -> float:
    """Shannon entropy of `text` in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def header_problem(name: str) -> str | None:
    """Why header `name` may not be stored on a saved agent, or None."""
    lowered = name.lower()
    if lowered in _HEADER_NAMES or any(word in lowered for word in _HEADER_WORDS):
        return f"header '{name}' carries credentials; {VAULT_ADVICE}"
    return None


def token_problem(text: str) -> str | None:
    """What secret `text` appears to hold (never the secret itself), or None."""
    if len(text) < _SHORTEST:
        return None
    found = _TOKEN.search(text)
    if found is not None:
        return f"holds what looks like {_TOKEN_KINDS[str(found.lastgroup)]}; {VAULT_ADVICE}"
    for match in _ASSIGNED.finditer(text):
        value = match.group(1)
        mixed = any(c.isalpha() for c in value) and any(c.isdigit() for c in value)
        if mixed and entropy(value) >= MIN_ENTROPY:
            return f"holds what looks like a credential (a long random value after key=); {VAULT_ADVICE}"
    return None


def first_secret(data: Any) -> tuple[Path_, str, bool] | None:
    """The first secret in a manifest's data: (field path, message, whether to point at the key)."""
    return next(_secrets(data, ()), None)


def _secrets(value: Any, path: Path_) -> Iterator[tuple[Path_, str, bool]]:
    if isinstance(value, str):
        problem = token_problem(value)
        if problem is not None:
            yield path, problem, False
    elif isinstance(value, dict):
        headers = len(path) == 4 and path[0] == "tools" and path[2:] == ("transport", "headers")
        for key, item in value.items():
            problem = header_problem(str(key)) if headers else None
            if problem is not None:
                yield (*path, key), problem, True
            yield from _secrets(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secrets(item, (*path, index))
