"""The emulator's JSON answers, encoded one way whatever path produced them: as starlette's `JSONResponse`
encodes (UTF-8, non-ASCII characters as they are, NaN refused, `,` and `:` separators, no spaces), with the
`content-type: application/json` and `content-length` headers it sets.

- `dumps(obj)`: an object's JSON text; the store keeps each assistant's text, made once at write time.
- `list_body(ids, texts, has_more)`: a list object spliced from its objects' texts, so a page is never decoded
  and encoded again; byte for byte what `dumps` of the whole list object gives.
- `json_response(obj)` / `encoded(text)`: the response for an object, or for JSON text already encoded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

MEDIA_TYPE = "application/json"
#: One encoder for every answer (`json.dumps` with these options would build a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def dumps(obj: Any) -> str:
    """`obj` as the emulator answers it. Raises ValueError for NaN or infinities."""
    return _ENCODER.encode(obj)


def list_body(ids: Sequence[str], texts: Sequence[str], has_more: bool) -> str:
    """The API list object (`object`, `data`, `first_id`, `last_id`, `has_more`) of the objects whose ids and
    JSON texts are given, in that order; `first_id`/`last_id` are null on an empty page."""
    first = dumps(ids[0]) if ids else "null"
    last = dumps(ids[-1]) if ids else "null"
    more = "true" if has_more else "false"
    data = ",".join(texts)
    return f'{{"object":"list","data":[{data}],"first_id":{first},"last_id":{last},"has_more":{more}}}'


def encoded(text: str, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A response whose body is `text`, JSON already encoded by `dumps` (or spliced from its output)."""
    return Response(text.encode(), status_code=status_code, headers=headers, media_type=MEDIA_TYPE)


def json_response(obj: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A response answering `obj`."""
    return encoded(dumps(obj), status_code, headers)
