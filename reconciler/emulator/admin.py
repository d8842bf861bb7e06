"""The `/_emulator` handlers: stats, the request log, faults, injected responses and reset (docs/emulator.md).

They sit behind the same bearer key as `/v1`, and are never faulted, counted or logged.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from reconciler.emulator.api import emulator_of
from reconciler.emulator.bodies import json_body
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.responses import json_response
from reconciler.emulator.validation import bad


async def admin_stats(request: Request) -> Response:
    emu = emulator_of(request)
    return json_response({**emu.stats(), "objects": emu.object_counts()})


async def admin_stats_reset(request: Request) -> Response:
    emu = emulator_of(request)
    emu.reset_stats()
    return json_response(emu.stats())


async def admin_requests(request: Request) -> Response:
    return json_response(emulator_of(request).requests())


async def admin_get_faults(request: Request) -> Response:
    return json_response(emulator_of(request).faults.config.to_dict())


async def admin_set_faults(request: Request) -> Response:
    """Replace the fault settings with the body's (FaultConfig fields; those left out are off). The body is
    read with Python's own JSON reader, which takes NaN, Infinity and 1e999, so that FaultConfig refuses
    them naming the field (`json_body` would answer only the API's "could not parse" message)."""
    raw = await request.body()
    try:
        data = json.loads(raw.strip() or b"{}")
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise bad("Expected a JSON object with FaultConfig fields.")
    try:
        config = FaultConfig.from_dict(data)
    except (TypeError, ValueError) as err:
        raise bad(str(err)) from None
    emu = emulator_of(request)
    emu.faults.configure(config)
    return json_response(config.to_dict())


async def admin_inject(request: Request) -> Response:
    """Queue a canned response for the next matching `/v1` request(s): `{"status": 409, "route":
    "POST /v1/assistants" | null (any), "headers": {...}, "body": {...} | null, "times": 1}`."""
    data = await json_body(request)
    if not isinstance(data, dict) or not isinstance(data.get("status"), int):
        raise bad("Expected a JSON object with an integer 'status'.")
    unknown = set(data) - {"status", "route", "headers", "body", "times"}
    if unknown:
        raise bad(f"Unknown injection field(s): {', '.join(sorted(unknown))}.")
    spec = {
        "status": data["status"],
        "route": data.get("route"),
        "headers": {str(k): str(v) for k, v in (data.get("headers") or {}).items()},
        "body": data.get("body"),
        "times": int(data.get("times", 1)),
    }
    emulator_of(request).inject(spec)
    return json_response(spec)


async def admin_reset(request: Request) -> Response:
    """`Emulator.reset()`."""
    emulator_of(request).reset()
    return json_response({"reset": True})
