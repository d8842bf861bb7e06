"""The least a plan on our stack can do, in one fresh process: import the libraries `reconciler plan` imports
(pydantic, click, ruamel.yaml, httpx), then list every assistant with httpx (`bench.httpx_list`) while a
thread reads the manifests' YAML events with libyaml (`bench.libyaml_scan`), as the plan overlaps the two;
nothing of ours. `python -m bench.stack_alone DIR` (`OPENAI_BASE_URL`, `OPENAI_API_KEY`) prints how many
assistants it listed and events it read.

The plan benchmarks run it beside `reconciler plan` from the same runtime environment: its wall time against
the 1,000-assistant plan's floor, its CPU against the 10,000-assistant plan's CPU target, say what the
libraries take before anything of ours runs (no target on it)."""

from __future__ import annotations

import asyncio
import os
import sys

import click  # noqa: F401  (imported for its cost: the plan imports it)
import pydantic  # noqa: F401
import ruamel.yaml  # noqa: F401

from bench import httpx_list, libyaml_scan


async def list_and_read(base_url: str, api_key: str, directory: str) -> tuple[int, int]:
    """(assistants listed, YAML events read): the listing on the event loop, the reading on a thread."""
    listing = asyncio.ensure_future(httpx_list.list_all(base_url, api_key))
    events = await asyncio.to_thread(libyaml_scan.scan, directory)
    return await listing, events


if __name__ == "__main__":
    environ = os.environ
    print(*asyncio.run(list_and_read(environ["OPENAI_BASE_URL"], environ["OPENAI_API_KEY"], sys.argv[1])))
