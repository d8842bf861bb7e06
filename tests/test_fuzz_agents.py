"""Hostile agent manifests: `reconciler validate` over `agents/` never crashes: it accepts the input (exit 0)
or rejects it with exit 1 and a `FILE:LINE[:COL]: ` line, never a traceback. Inputs: byte-level mutations of
the example agent, and generated documents with the agent model's field names (the tool variants' too)
holding values of any shape. Bounded and derandomized, as the assistants' fuzz tests."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_manifests import FUZZ, _apply_edits, _check, _cli, _dump, byte_edit, values

from reconciler.manifest.agent_model import TOOL_MODELS, TRANSPORT_MODELS, AgentManifest

VALID = (Path(__file__).resolve().parent.parent / "agents" / "research-assistant.yaml").read_bytes()
NAMES = sorted(
    {
        *AgentManifest.model_fields,
        *(f for m in (*TOOL_MODELS.values(), *TRANSPORT_MODELS.values()) for f in m.model_fields),
    }
)
tools = st.lists(
    st.dictionaries(st.sampled_from(NAMES), values, max_size=5).map(
        lambda d: {**d, "type": d.get("type", "mcp")}
    ),
    max_size=3,
)
documents = st.fixed_dictionaries(
    {"model": st.just("m")},
    optional={name: values for name in AgentManifest.model_fields if name != "model"} | {"tools": tools},
)


def _write(tmp: Path, content: bytes) -> None:
    (tmp / ".git").mkdir(exist_ok=True)
    (tmp / "assistants").mkdir(exist_ok=True)
    (tmp / "assistants" / "a.yaml").write_text("model: gpt-4\n")
    (tmp / "agents").mkdir(exist_ok=True)
    (tmp / "agents" / "a.yaml").write_bytes(content)


@FUZZ
@given(edits=st.lists(byte_edit, min_size=1, max_size=4))
def test_byte_mutations_never_crash_validate(
    tmp_path: Path, edits: list[tuple[str, int, int, bytes]]
) -> None:
    _write(tmp_path, _apply_edits(VALID, edits))
    code, output = _cli(["validate"], tmp_path)
    _check(code, output, must_fail=False, what="validate")


@FUZZ
@given(document=documents)
def test_generated_documents_never_crash_validate(tmp_path: Path, document: dict[str, object]) -> None:
    _write(tmp_path, _dump(document))
    code, output = _cli(["validate"], tmp_path)
    _check(code, output, must_fail=False, what="validate")
