"""What a manifest problem is: `ManifestError` (`FILE:LINE:COL: FIELD: message`), field paths and how
values are described in messages."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

#: A path into a manifest's data: `("tools", 1, "function", "name")`.
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class ManifestError:
    """One problem in one manifest (or with the directory), shown as `FILE:LINE:COL: FIELD: message`."""

    path: str
    line: int | None
    col: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        parts = [where]
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


def describe(value: Any) -> str:
    """A value's kind for messages: `null`, `a boolean (true)`, `a number (3)`, `a string`, `a list`..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean (true)" if value else "a boolean (false)"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def format_field_path(path: Path_) -> str:
    """`("tools", 1, "function", "name")` → `tools[1].function.name`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def parse_field_path(text: str) -> Path_:
    """The inverse of `format_field_path`."""
    parts: list[str | int] = []
    for token in re.finditer(r"\[(\d+)\]|\[\"((?:[^\"\\]|\\.)*)\"\]|([^.\[\]]+)", text):
        index, quoted, plain = token.groups()
        if index is not None:
            parts.append(int(index))
        elif quoted is not None:
            parts.append(json.loads(f'"{quoted}"'))
        else:
            parts.append(plain)
    return tuple(parts)
