"""The least a Python client on our stack can do: list every assistant of a server with httpx alone, in a
fresh process (start-up, import, one `GET /assistants?limit=100` after another, each page read as JSON), and
nothing else. `python -m bench.httpx_list` (`OPENAI_BASE_URL`, `OPENAI_API_KEY`) prints how many it listed.

The plan benchmarks run it beside `reconciler plan`, from the same runtime environment: the plan's floor
counts the list calls' latency and the start-up of `reconciler --help` only, and this says how much of the
rest the HTTP library itself takes (its import, its first connection, reading the pages)."""

from __future__ import annotations

import asyncio
import json
import os

import httpx


async def list_all(base_url: str, api_key: str) -> int:
    """How many assistants `base_url` lists, page by page (`limit=100`, `after` the last one)."""
    headers = {"Authorization": f"Bearer {api_key}", "OpenAI-Beta": "assistants=v1"}
    listed = 0
    async with httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", headers=headers) as client:
        params: dict[str, str | int] = {"limit": 100, "order": "asc"}
        while True:
            page = json.loads((await client.get("assistants", params=params)).content)
            listed += len(page["data"])
            if not page["data"] or not page["has_more"]:
                return listed
            params["after"] = page["data"][-1]["id"]


if __name__ == "__main__":
    print(asyncio.run(list_all(os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"])))
