"""Masking the API key in any text shown to a person: error lines, log records, tracebacks.

One module for the CLI and the client. A key can reach text in more shapes than as set: stripped (as sent),
escaped as in a `repr` of a str or of bytes (httpx quotes an illegal header value that way), or cut into
pieces by characters that no header can carry. `secret_forms` lists them all; `mask` replaces each with `***`;
`scrub` does so for the key in `OPENAI_API_KEY` (and in an environment's own key variable). A server's
partial echo of the key (`sk-wrong****2345`, as the real service quotes a wrong key) is masked too.

Masking a key that is an ordinary word would garble every line, so `plain_key_problem` names the keys the
CLI refuses: shorter than `MIN_KEY` characters, or letters only. `url_shown` hides the credentials and
query of a URL (a base URL may carry `user:password@` or `?api_key=`), whoever's key they are.

`printable` makes foreign text (a server's error message, names) safe for a terminal: control characters,
bidirectional overrides and lone surrogates become `\\u001b`-style escapes, as manifest values are shown.
`MaskedStream`, the CLI's one output layer, does both to every byte written, keeping only line breaks, tabs
and colours.
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Sequence
from typing import Any, TextIO

#: A piece of the key between characters that cannot be in an HTTP header is masked from this length on.
MIN_SECRET_PIECE = 8
#: Shorter whole forms are not masked (masking "a" everywhere would destroy the text and reveal nothing).
MIN_SECRET_FORM = 4
MASK = "***"
#: The shortest key the CLI accepts (see `plain_key_problem`).
MIN_KEY = 6
#: A run of stars between non-space characters: how a server quotes a key it masked itself.
_ECHO = re.compile(r"(\S*?)\*{3,}(\S*)")
#: `//user:password@` in a URL, and its query (or fragment) up to the next space or quote.
_USERINFO = re.compile(r"(//)[^/?#@\s'\"]*@")
_QUERY = re.compile(r"([?#])[^\s'\"]*")
#: Characters a terminal acts on (or that reorder text on screen): C0 controls but tab and line feed, DEL,
#: C1 controls, bidirectional overrides and isolates; and lone surrogates (JSON's `"\\ud800"` reads as one),
#: which no UTF-8 output can encode.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[{_CONTROL}]")
#: The same, except the colour sequences the CLI's own renderings emit (click.style: reset, bold, red, green,
#: yellow); any other SGR (`8`, concealed text, or black `30` on a dark terminal, that could hide a plan's
#: line) is escaped.
_UNSAFE_BUT_COLOUR = re.compile(f"\x1b\\[(?:0|1|3[123])m|[{_CONTROL}]")


@functools.lru_cache(maxsize=16)
def secret_forms(key: str) -> list[str]:
    """The ways `key` can appear in text, longest first: as set, stripped, escaped as in a `repr` of a str
    or of bytes, and each piece of it between characters that cannot be sent in a header."""
    forms = {key, key.strip(), repr(key)[1:-1], repr(key.strip())[1:-1]}
    forms.add(repr(key.strip().encode("utf-8", "backslashreplace"))[2:-1])
    whole = {form for form in forms if len(form) >= MIN_SECRET_FORM}
    pieces = {piece for piece in re.split(r"[^\x21-\x7e]+", key) if len(piece) >= MIN_SECRET_PIECE}
    return sorted(whole | pieces, key=len, reverse=True)


def held_at(value: Any, forms: Sequence[str]) -> tuple[str | int, ...] | None:
    """Where in `value` the first string (a mapping key too) or other leaf (a number) holding one of `forms`
    (`secret_forms`) is, in document order: the keys and indexes leading to it; a mapping key holding it: the
    path to the mapping, never the key, which would put the secret in a message. None when nowhere. Strings
    are searched as they are, not as JSON would escape them: a manifest value holds the key when the text sent
    to the server does."""
    if isinstance(value, dict):
        for key, item in value.items():
            if _leaf_holds(key, forms):
                return ()
            inner = held_at(item, forms)
            if inner is not None:
                return (key, *inner)
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            inner = held_at(item, forms)
            if inner is not None:
                return (index, *inner)
        return None
    return () if _leaf_holds(value, forms) else None


def _leaf_holds(value: Any, forms: Sequence[str]) -> bool:
    if type(value) is str:
        return any(form in value for form in forms)
    return value is not None and any(form in str(value) for form in forms)


def mask(text: str, key: str | None) -> str:
    """`text` with every form of `key` replaced by `***` (unchanged when `key` is empty or None)."""
    if key:
        for form in secret_forms(key):
            text = text.replace(form, MASK)
        if "***" in text:
            text = _ECHO.sub(lambda match: _echo(match, key.strip()), text)
    return text


def _echo(match: re.Match[str], key: str) -> str:
    """A server's partial echo of `key` (a prefix of it, stars, a suffix of it) as `***`; other starred
    text as it was. Trailing punctuation after the suffix is kept."""
    head, tail = match.group(1), match.group(2)
    if not key.startswith(head):
        return match.group(0)
    for end in range(len(tail), -1, -1):
        if key.endswith(tail[:end]) and (head or end):
            return MASK + tail[end:]
    return match.group(0)


def plain_key_problem(key: str) -> str | None:
    """Why `key` is too plain to mask safely in output (None when it is not): masking a short key or a
    word would replace ordinary text everywhere (`OPENAI_API_KEY=assistants`)."""
    if len(key) < MIN_KEY:
        return f"is only {len(key)} characters long"
    if key.isalpha():
        return "is a plain word (letters only)"
    return None


def url_shown(text: str) -> str:
    """`text` (a URL, or a line quoting one) with the credentials of `//user:password@` and any query or
    fragment replaced by `***`."""
    return _QUERY.sub(lambda m: m.group(1) + MASK, _USERINFO.sub(r"\1" + MASK + "@", text))


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


def _escape(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if len(text) > 1 else f"\\u{ord(text):04x}"


def printable(text: str) -> str:
    """`text` with every character a terminal would act on shown as an escape (`\\u001b`); line breaks and
    tabs kept."""
    return _UNSAFE.sub(_escape, text)


class MaskedStream(io.TextIOBase):
    """A text stream that passes every byte written to `target` through `scrub` and escapes control
    characters but colours (see `printable`): the one masking layer of everything the CLI shows. Whole
    lines are masked at once (a key written in two pieces of one line is still found); the rest of a line
    goes out on `flush` (a prompt). It has no `buffer`, so nothing (click included) can write around it."""

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target
        self._pending = ""

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        lines, _, self._pending = (self._pending + text).rpartition("\n")
        if _:
            self.target.write(_safe(lines + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.target.write(_safe(self._pending))
            self._pending = ""
        self.target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.target, "errors", None)


def _safe(text: str) -> str:
    return _UNSAFE_BUT_COLOUR.sub(_escape, scrub(text))
