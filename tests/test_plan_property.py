"""Property: for random manifests and random existing states, apply the plan, plan again: nothing to do."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply import Executor
from reconciler.client import Client
from reconciler.dialect import MARKER_KEY
from reconciler.emulator import InProcessTransport, create_app
from reconciler.manifest import load_directory
from reconciler.options import PlanOptions
from reconciler.usecases.planning import plan_with

KEYS = ("a", "b", "c", "d")
API_KEY = "sk-property"

text = st.text(alphabet="abc XYZ\n", min_size=1, max_size=30)
number = st.one_of(st.integers(0, 2), st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]))
function = st.builds(
    lambda name, maximum, described: {
        "type": "function",
        "function": {
            "name": name,
            **({"description": "Looks up."} if described else {}),
            "parameters": {"type": "object", "properties": {"n": {"type": "integer", "maximum": maximum}}},
        },
    },
    st.sampled_from(["f1", "f2"]),
    number,
    st.booleans(),
)
tool: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.just({"type": "code_interpreter"}), st.just({"type": "retrieval"}), function
)
tools = st.lists(tool, max_size=3).filter(
    lambda ts: (
        len({t["function"]["name"] for t in ts if t["type"] == "function"})
        == sum(t["type"] == "function" for t in ts)
    )
)
fields = st.fixed_dictionaries(
    {"model": st.sampled_from(["gpt-4", "gpt-4-turbo", "gpt-3.5-turbo"])},
    optional={
        "name": st.one_of(st.none(), text),
        "description": st.one_of(st.none(), text),
        "instructions": st.one_of(st.none(), text),
        "tools": tools,
        "metadata": st.dictionaries(st.sampled_from(["team", "tier"]), text, max_size=2),
        "temperature": st.sampled_from([0, 0.5, 1, 1.0, 2]),
        "top_p": st.sampled_from([0, 0.3, 1]),
        "response_format": st.sampled_from(["auto", {"type": "text"}, {"type": "json_object"}]),
    },
)
#: Per key: absent on the server, or managed with some state; plus some unmanaged assistants.
existing_states = st.dictionaries(st.sampled_from(KEYS), fields, max_size=4)
unmanaged_states = st.lists(fields, max_size=2)
manifests = st.dictionaries(st.sampled_from(KEYS), fields, min_size=1, max_size=4)


async def scenario(
    workdir: Path, existing: dict[str, Any], unmanaged: list[dict[str, Any]], wanted: dict[str, Any]
) -> None:
    app = create_app(db=None, api_key=API_KEY, faults=None)
    async with Client(api_key=API_KEY, base_url="http://p.local/v1", transport=InProcessTransport(app)) as c:
        for key, body in existing.items():
            metadata = {**body.get("metadata", {}), MARKER_KEY: key}
            await c.create_assistant(
                {**{k: v for k, v in body.items() if v is not None}, "metadata": metadata}
            )
        for body in unmanaged:
            await c.create_assistant({k: v for k, v in body.items() if v is not None})
        for key, body in wanted.items():
            (workdir / f"{key}.yaml").write_text(json.dumps(body))
        result = load_directory(workdir)
        assert not result.errors, [str(e) for e in result.errors]
        plan = await plan_with(c, result.manifests, PlanOptions(prune=True, allow_duplicate_names=True))
        report = await Executor(c).run(plan)
        assert report.ok, report.data()
        again = await plan_with(c, result.manifests, PlanOptions(prune=True, allow_duplicate_names=True))
        assert not again.has_changes, [c.data() for c in again.actionable]
        assert again.unmanaged == len(unmanaged)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(existing=existing_states, unmanaged=unmanaged_states, wanted=manifests)
def test_plan_after_apply_is_empty(
    existing: dict[str, Any], unmanaged: list[dict[str, Any]], wanted: dict[str, Any]
) -> None:
    workdir = Path(tempfile.mkdtemp())
    try:
        asyncio.run(scenario(workdir, existing, unmanaged, wanted))
    finally:
        shutil.rmtree(workdir)
