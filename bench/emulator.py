"""The emulator's own cost per request: the list call a plan makes 10 times, and the other routes beside it.

Run: `python -m bench.emulator` (prints a table), or as part of `python -m bench`. Figures only, no asserts.

1,000 assistants shaped like `bench/plan.py`'s (~800 bytes of instructions, two tools, metadata) are seeded,
then the listing a plan makes (`GET /v1/assistants?limit=100&order=asc&after=...`, 10 pages) is walked
`WALKS` times, and `SAMPLE` single requests are made to each other route measured:

- over HTTP: `reconciler emulator` in its own process, as teams run it as a CI sandbox; service p50 per route
  from `/_emulator/stats` (the emulator's own work, the figure `bench/plan.py` reports) and the emulator
  process's CPU per list call. Target: list call service p50 <= TARGET_LIST_MS.
- in-process: the app behind `InProcessTransport` (`--local`, the tests), its service p50 the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench.common import ChildEmulator, Figure, print_figures
from bench.common import seed as seed_assistants
from bench.plan import bodies
from reconciler.emulator import InProcessTransport, create_app

NAME = "emulator"
API_KEY = "sk-bench-emulator"
PAGE = 100
WALKS = 30
SAMPLE = 200
TARGET_LIST_MS = 2.0
HEADERS = {"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": "assistants=v1"}

Call = Callable[..., Awaitable[httpx.Response]]


async def walk(api: httpx.AsyncClient) -> list[str]:
    """List every assistant the way a plan does; their ids."""
    ids: list[str] = []
    params: dict[str, Any] = {"limit": PAGE, "order": "asc"}
    while True:
        response = await api.get("/assistants", params=params)
        response.raise_for_status()
        page = response.json()
        ids += [a["id"] for a in page["data"]]
        if not page["has_more"]:
            return ids
        params["after"] = page["last_id"]


async def service_p50(admin: Call, run: Callable[[], Awaitable[Any]]) -> float:
    """The emulator's service p50 (ms) over the requests `run` makes, from `/_emulator/stats`."""
    (await admin("POST", "stats/reset")).raise_for_status()
    await run()
    stats = (await admin("GET", "stats")).json()
    return float(stats["service"]["p50_s"]) * 1000


async def routes(api: httpx.AsyncClient, admin: Call, cpu: Callable[[], float | None]) -> dict[str, Any]:
    """Service p50 per measured route over a seeded emulator, and its CPU per list call when known."""
    ids = await walk(api)  # warm-up, and the ids to GET and update
    lists = 0

    async def lists_only() -> None:
        nonlocal lists
        for _ in range(WALKS):
            lists += len(await walk(api)) // PAGE

    before = cpu()
    out: dict[str, Any] = {"list": await service_p50(admin, lists_only)}
    after = cpu()
    out["list_cpu"] = None if before is None or after is None else (after - before) / lists * 1000

    async def gets() -> None:
        for assistant_id in ids[:SAMPLE]:
            (await api.get(f"/assistants/{assistant_id}")).raise_for_status()

    async def updates() -> None:
        for i, assistant_id in enumerate(ids[:SAMPLE]):
            body = {"metadata": {"team": f"team-{i % 5}"}}
            (await api.post(f"/assistants/{assistant_id}", json=body)).raise_for_status()

    async def creates() -> None:
        for body in list(bodies())[:SAMPLE]:
            (await api.post("/assistants", json=body)).raise_for_status()

    out["get"] = await service_p50(admin, gets)
    out["update"] = await service_p50(admin, updates)
    out["create"] = await service_p50(admin, creates)
    return out


async def over_http() -> dict[str, Any]:
    with ChildEmulator(API_KEY) as emulator:
        await seed_assistants(emulator.base_url, API_KEY, bodies())
        async with (
            httpx.AsyncClient(base_url=emulator.base_url, headers=HEADERS, timeout=60) as api,
            httpx.AsyncClient(base_url=emulator.base_url[: -len("/v1")], headers=HEADERS) as admin,
        ):

            async def call(method: str, path: str) -> httpx.Response:
                return await admin.request(method, "/_emulator/" + path)

            return await routes(api, call, emulator.cpu_seconds)


async def in_process() -> dict[str, Any]:
    transport = InProcessTransport(create_app(api_key=API_KEY))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator/v1", headers=HEADERS) as api:
        for body in bodies():
            (await api.post("/assistants", json=body)).raise_for_status()

        async def call(method: str, path: str) -> httpx.Response:
            return await api.request(method, "http://emulator/_emulator/" + path)

        return await routes(api, call, lambda: time.process_time())


def run() -> list[Figure]:
    http = asyncio.run(over_http())
    local = asyncio.run(in_process())
    verdict = "holds" if http["list"] <= TARGET_LIST_MS else "MISSED"
    figures = [
        Figure(
            NAME,
            "list call service p50 (HTTP)",
            round(http["list"], 2),
            "ms",
            f"limit={PAGE}, 1,000 seeded; target <= {TARGET_LIST_MS:g}: {verdict}",
        ),
        Figure(
            NAME,
            "emulator CPU per list call (HTTP)",
            None if http["list_cpu"] is None else round(http["list_cpu"], 2),
            "ms",
            "emulator process, user + system, HTTP parsing included",
        ),
        Figure(NAME, "list call service p50 (in-process)", round(local["list"], 2), "ms"),
        Figure(
            NAME,
            "CPU per list call (in-process)",
            round(local["list_cpu"], 2),
            "ms",
            "client and app in one process",
        ),
    ]
    for route, label in (("get", "GET one"), ("update", "POST update"), ("create", "POST create")):
        for where, figures_of in (("HTTP", http), ("in-process", local)):
            figures.append(
                Figure(NAME, f"{label} service p50 ({where})", round(figures_of[route], 2), "ms", "no target")
            )
    return figures


def main() -> None:
    print_figures(run())


if __name__ == "__main__":
    main()
