"""JSON read fast, with `json.loads`'s values and errors.

pydantic's JSON reader (a dependency already) reads a text about three to four times as fast as `json`; what
it refuses (a BOM, UTF-16, lone surrogates, nesting past 200, a float past 4,300 digits, any error) goes to
`json.loads`, which decides. So the value read, and the exception raised for a text that is not JSON, are
`json.loads`'s exactly.
"""

from __future__ import annotations

import json
from typing import Any


def loads(data: bytes) -> Any:
    """The JSON value of `data`, as `json.loads(data)` reads it (and raising as it does)."""
    from pydantic_core import from_json  # here: its import costs a process that never reads JSON ~60 ms

    try:
        return from_json(data)
    except ValueError:
        return json.loads(data)
