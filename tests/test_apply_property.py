"""Property: for random manifests and random existing states, plan → apply → plan again is empty."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from apply_support import client_for, managed_body, plan_dir, seed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_support import write_manifests

from reconciler.apply import Executor
from reconciler.emulator.testing import InProcessEmulator

KEYS = ("alpha", "beta", "gamma", "delta", "omega")
MODELS = ("gpt-4", "gpt-4-turbo", "gpt-3.5-turbo")


def _tool_identity(tool: Any) -> str:
    """Manifests refuse two tools of one type (or two functions of one name)."""
    return f"{tool['type']}:{tool.get('function', {}).get('name', '')}"


texts = st.one_of(st.none(), st.text(alphabet="abc xyz\n", max_size=12))
tools = st.lists(
    st.one_of(
        st.just({"type": "code_interpreter"}),
        st.just({"type": "retrieval"}),
        st.builds(
            lambda name, required: {
                "type": "function",
                "function": {
                    "name": name,
                    "parameters": {
                        "type": "object",
                        "properties": {"x": {"type": "number"}},
                        "required": required,
                    },
                },
            },
            st.sampled_from(["lookup", "search"]),
            st.sampled_from([[], ["x"]]),
        ),
    ),
    max_size=3,
    unique_by=lambda tool: _tool_identity(tool),
)
fields = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS)},
    optional={
        "name": texts,
        "description": texts,
        "instructions": texts,
        "tools": tools,
        "metadata": st.dictionaries(
            st.sampled_from(["team", "tier"]), st.sampled_from(["a", "b"]), max_size=2
        ),
        "temperature": st.sampled_from([0.0, 0.5, 1.0, 1.5]),
        "top_p": st.sampled_from([0.1, 1.0]),
        "response_format": st.sampled_from(["auto", "none", {"type": "json_object"}, {"type": "text"}]),
    },
)
# which keys have a manifest, and which exist on the server (managed), with what fields
worlds = st.tuples(
    st.dictionaries(st.sampled_from(KEYS), fields, min_size=1),
    st.dictionaries(st.sampled_from(KEYS), fields),
    st.integers(0, 2),  # unmanaged assistants
)


def _manifest_yaml(spec: dict[str, Any]) -> str:
    # JSON is YAML; null values mean "omitted" (the default) here
    return json.dumps({k: v for k, v in spec.items() if v is not None})


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds)
def test_plan_apply_plan_is_empty(emulator: InProcessEmulator, world: tuple[Any, Any, int]) -> None:
    desired, existing, unmanaged = world
    emulator.reset()

    async def scenario(directory: Path) -> None:

        write_manifests(directory, {k: _manifest_yaml(v) for k, v in desired.items()})
        async with client_for(emulator) as client:
            bodies = [
                managed_body(k, **{f: v for f, v in spec.items() if v is not None})
                for k, spec in existing.items()
            ]
            await seed(client, *bodies, *({"model": "gpt-4"} for _ in range(unmanaged)))
            first = await plan_dir(client, directory, prune=True, allow_duplicate_names=True)
            report = await Executor(client, settle_window=0, parallelism=4).run(first)
            assert report.ok, [r.data() for r in report.results]
            again = await plan_dir(client, directory, prune=True, allow_duplicate_names=True)
            assert not again.has_changes, [c.data() for c in again.actionable]

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp)))
