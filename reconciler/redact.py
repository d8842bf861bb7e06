"""Masking the API key in any text shown to a person: error lines, log records, tracebacks.

One module for the CLI and the client. A key can reach text in more shapes than as set: stripped (as sent),
escaped as in a `repr` of a str or of bytes (httpx quotes an illegal header value that way), or cut into
pieces by characters that no header can carry. `secret_forms` lists them all; `mask` replaces each with `***`;
`scrub` does so for the key in `OPENAI_API_KEY` (and in an environment's own key variable).
"""

from __future__ import annotations

import os
import re

#: A piece of the key between characters that cannot be in an HTTP header is masked from this length on.
MIN_SECRET_PIECE = 8
#: Shorter whole forms are not masked (masking "a" everywhere would destroy the text and reveal nothing).
MIN_SECRET_FORM = 4
MASK = "***"


def secret_forms(key: str) -> list[str]:
    """The ways `key` can appear in text, longest first: as set, stripped, escaped as in a `repr` of a str
    or of bytes, and each piece of it between characters that cannot be sent in a header."""
    forms = {key, key.strip(), repr(key)[1:-1], repr(key.strip())[1:-1]}
    forms.add(repr(key.strip().encode("utf-8", "backslashreplace"))[2:-1])
    whole = {form for form in forms if len(form) >= MIN_SECRET_FORM}
    pieces = {piece for piece in re.split(r"[^\x21-\x7e]+", key) if len(piece) >= MIN_SECRET_PIECE}
    return sorted(whole | pieces, key=len, reverse=True)


def mask(text: str, key: str | None) -> str:
    """`text` with every form of `key` replaced by `***` (unchanged when `key` is empty or None)."""
    if key:
        for form in secret_forms(key):
            text = text.replace(form, MASK)
    return text


#: The environment variables whose keys `scrub` masks: OPENAI_API_KEY, and the one an environment of
#: reconciler.yaml names (`mask_variable`).
KEY_VARIABLES = ["OPENAI_API_KEY"]


def mask_variable(name: str) -> None:
    """Have `scrub` also mask the key in the environment variable `name`."""
    if name not in KEY_VARIABLES:
        KEY_VARIABLES.append(name)


def scrub(text: str) -> str:
    """`text` with the key of each of KEY_VARIABLES masked (see `mask`)."""
    for name in KEY_VARIABLES:
        text = mask(text, os.environ.get(name))
    return text
