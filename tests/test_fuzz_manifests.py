"""Hostile manifests: `reconciler validate` and `reconciler plan --local` never crash.

For every input they either accept it (exit 0) or reject it with exit 1 and at least one `FILE:LINE[:COL]: `
line; never a traceback. Inputs: hand-made mutations of a valid manifest (wrong types, huge values, deep
nesting, invalid unicode and UTF-8, alias bombs, tabs, NUL bytes, duplicate keys, truncations) and
hypothesis-generated documents and byte-level mutations. Bounded: fixed example counts, derandomized.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import cli
from reconciler.manifest import Manifest

LOCATED = re.compile(r"^[^:\n]+:\d+(:\d+)?: ", re.MULTILINE)

VALID = """\
# The HR helper: answers questions about policies.
name: HR helper
description: Answers HR questions
model: gpt-4-turbo
instructions: |
  You are a helpful HR assistant.
  Be concise and cite the policy.
tools:
  - type: code_interpreter
  - type: function
    function:
      name: lookup_policy
      description: Look up a policy by topic
      parameters:
        type: object
        properties:
          topic:
            type: string
        required: [topic]
metadata:
  team: people
temperature: 0.7
top_p: 1
response_format: auto
"""

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --------------------------------------------------------------------------------------------- running


def _cli(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI in-process in `cwd`; return its exit code and everything it printed (stdout + stderr)."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, args, catch_exceptions=True, env={"NO_COLOR": "1"})
    finally:
        os.chdir(old)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nTraceback (escaped exception): {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, output


def _write(tmp: Path, content: str | bytes, name: str = "hr-helper.yaml") -> Path:
    """A fresh project directory holding assistants/<name> with `content`."""
    directory = tmp / "assistants"
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    path = directory / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _check(code: int, output: str, *, must_fail: bool, what: str) -> None:
    """The contract: no traceback; exit 0, or exit 1 with a FILE:LINE line; invalid input must exit 1."""
    assert "Traceback" not in output, f"{what}: traceback\n{output}"
    assert code in (0, 1), f"{what}: exit {code}\n{output}"
    if must_fail:
        assert code == 1, f"{what}: accepted invalid input\n{output}"
    if code == 1:
        assert LOCATED.search(output), f"{what}: exit 1 without a FILE:LINE line\n{output}"


def _both(tmp: Path, content: str | bytes, *, must_fail: bool, plan: bool = True) -> None:
    """`validate` (and `plan --local`) on `content` obey the contract."""
    _write(tmp, content)
    code, output = _cli(["validate"], tmp)
    _check(code, output, must_fail=must_fail, what="validate")
    if plan:
        plan_code, plan_output = _cli(["plan", "--local", "--no-color"], tmp)
        _check(plan_code, plan_output, must_fail=must_fail, what="plan --local")
        if code == 1:
            assert plan_code == 1, f"validate rejected it but plan accepted it\n{plan_output}"


def test_the_base_manifest_is_valid(tmp_path: Path) -> None:
    """The mutations start from a manifest both commands accept."""
    _write(tmp_path, VALID)
    code, output = _cli(["validate"], tmp_path)
    assert code == 0, output
    code, output = _cli(["plan", "--local", "--no-color"], tmp_path)
    assert code == 0, output


# ------------------------------------------------------------------------------------ hand-made cases


def _replace(field: str, text: str) -> str:
    """VALID with the top-level `field:` line (and its indented block) replaced by `text`."""
    lines = VALID.splitlines(keepends=True)
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith(f"{field}:"):
            out.append(text if text.endswith("\n") else text + "\n")
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skipping = False
        out.append(line)
    return "".join(out)


def _nested(depth: int, flow: bool) -> str:
    if flow:
        return "metadata: " + "[" * depth + "]" * depth + "\n"
    return "metadata:\n" + "".join("  " * (i + 1) + "a:\n" for i in range(depth)) + "  " * (depth + 1) + "b\n"


ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
    )
    + "name: *i\nmodel: gpt-4\n"
)

INVALID: dict[str, str | bytes] = {
    # wrong types
    "name is a list": _replace("name", "name: [1, 2]"),
    "name is a mapping": _replace("name", "name: {a: b}"),
    "model is a number": _replace("model", "model: 4"),
    "model is null": _replace("model", "model: null"),
    "model missing": _replace("model", ""),
    "tools is a string": _replace("tools", "tools: code_interpreter"),
    "tool without type": _replace("tools", "tools:\n  - {}"),
    "tool of unknown type": _replace("tools", "tools:\n  - type: browser"),
    "function without name": _replace("tools", "tools:\n  - type: function\n    function: {}"),
    "function name with spaces": _replace("tools", "tools:\n  - type: function\n    function: {name: a b}"),
    "file_ids is a mapping": _replace("metadata", "file_ids: {a: b}"),
    "metadata is a list": _replace("metadata", "metadata: [1, 2]"),
    "metadata value is a mapping": _replace("metadata", "metadata:\n  team: {x: 1}"),
    "reserved metadata key": _replace("metadata", "metadata:\n  reconciler_key: other"),
    "temperature is a string": _replace("temperature", "temperature: hot"),
    "temperature is a bool": _replace("temperature", "temperature: true"),
    "temperature is .nan": _replace("temperature", "temperature: .nan"),
    "temperature is .inf": _replace("temperature", "temperature: .inf"),
    "top_p above 1": _replace("top_p", "top_p: 7"),
    "response_format is a number": _replace("response_format", "response_format: 42"),
    "response_format unknown type": _replace("response_format", "response_format: {type: xml}"),
    "unknown field": VALID + "colour: blue\n",
    "key is a list": "key: [a]\n" + VALID,
    "id is not an assistant id": "id: 12\n" + VALID,
    # huge values
    "huge name": _replace("name", "name: " + "n" * 10_000),
    "huge instructions": _replace("instructions", "instructions: " + "i" * 300_000),
    "too many tools": _replace("tools", "tools:\n" + "  - type: code_interpreter\n" * 200),
    "too many metadata pairs": _replace(
        "metadata", "metadata:\n" + "".join(f"  k{i}: v\n" for i in range(17))
    ),
    "huge metadata key": _replace("metadata", "metadata:\n  " + "k" * 100 + ": v"),
    "huge metadata value": _replace("metadata", "metadata:\n  k: " + "v" * 600),
    "too many file_ids": VALID + "file_ids:\n" + "".join(f"  - file-{i}\n" for i in range(21)),
    "huge integer": _replace("temperature", "temperature: 1" + "0" * 400),
    "huge float": _replace("temperature", "temperature: 1e308"),
    "huge exponent float": _replace("temperature", "temperature: 1e99999"),
    # deep nesting
    "deep flow nesting": _replace("metadata", _nested(5_000, flow=True)),
    "deep block nesting": _replace("metadata", _nested(300, flow=False)),
    "deep parameters": _replace(
        "tools",
        "tools:\n  - type: function\n    function:\n      name: f\n      parameters: "
        + "{a: " * 2_000
        + "1"
        + "}" * 2_000,
    ),
    # invalid unicode / encodings
    "invalid UTF-8 bytes": VALID.encode() + b"description: caf\xe9 \xff\xfe\n",
    "invalid UTF-8 in a value": VALID.encode().replace(b"HR helper", b"HR \xc3\x28 helper"),
    "lone surrogate escape": _replace("description", 'description: "bad \\ud800 surrogate"'),
    "UTF-16 file": VALID.encode("utf-16"),
    "control characters": _replace("description", "description: a\x07b\x1bc"),
    "NUL byte": VALID.replace("HR helper", "HR\x00helper"),
    "NUL bytes everywhere": b"\x00" * 64,
    # YAML structure
    "alias bomb": ALIAS_BOMB,
    "tab indentation": VALID.replace("  You are", "\tYou are").replace("  - type: code", "\t- type: code"),
    "duplicate keys": VALID + "name: Another name\n",
    "duplicate nested keys": _replace("metadata", "metadata:\n  team: a\n  team: b"),
    "document is a list": "- name: x\n- model: gpt-4\n",
    "document is a scalar": "just a string\n",
    "document is a number": "42\n",
    "unclosed flow mapping": "name: {a: b\nmodel: gpt-4\n",
    "unclosed quote": 'name: "HR helper\nmodel: gpt-4\n',
    "python tag": "name: !!python/object/apply:os.system ['echo pwned']\nmodel: gpt-4\n",
    "custom tag": "name: !secret x\nmodel: gpt-4\n",
    "undefined alias": "name: *nothing\nmodel: gpt-4\n",
    "merge key of a scalar": "<<: 5\nname: x\nmodel: gpt-4\n",
    "binary tag": "name: !!binary aGVsbG8=\nmodel: gpt-4\n",
    "two documents with the same key": "key: a\nname: x\nmodel: gpt-4\n---\nkey: a\nname: y\nmodel: gpt-4\n",
    "key is empty": "key: ''\n" + VALID,
    "directive garbage": "%YAML 9.9\n---\n" + VALID,
    "only a colon": ":\n",
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_manifest_is_reported_with_a_location(tmp_path: Path, case: str) -> None:
    """Every hand-made invalid manifest: exit 1, a FILE:LINE line, no traceback (validate and plan)."""
    _both(tmp_path, INVALID[case], must_fail=True)


@pytest.mark.parametrize("case", ["alias bomb", "deep flow nesting", "deep parameters", "huge instructions"])
def test_pathological_inputs_finish_quickly_in_a_real_process(tmp_path: Path, case: str) -> None:
    """The nastiest inputs in a real interpreter (real recursion limit and stack), with a time limit."""
    _write(tmp_path, INVALID[case])
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("RECONCILER_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    _check(proc.returncode, proc.stdout + proc.stderr, must_fail=True, what=f"validate ({case})")


def _truncations() -> Iterator[int]:
    data = VALID.encode()
    yield from range(1, len(data), 7)


def test_every_truncation_is_accepted_or_located(tmp_path: Path) -> None:
    """The valid file cut at many points: never a traceback; exit 0, or exit 1 with FILE:LINE."""
    data = VALID.encode()
    for cut in _truncations():
        _write(tmp_path, data[:cut])
        code, output = _cli(["validate"], tmp_path)
        _check(code, output, must_fail=False, what=f"validate (cut at {cut})")


def test_several_bad_files_are_all_reported(tmp_path: Path) -> None:
    """All errors at once: every bad file is named on its own located line."""
    directory = tmp_path / "assistants"
    directory.mkdir()
    (directory / "one.yaml").write_text(_replace("temperature", "temperature: hot"))
    (directory / "two.yaml").write_bytes(b"name: \xff\nmodel: gpt-4\n")
    (directory / "three.yaml").write_text("name: {a\n")
    (directory / "ok.yaml").write_text(VALID)
    code, output = _cli(["validate"], tmp_path)
    _check(code, output, must_fail=True, what="validate")
    for name in ("one.yaml", "two.yaml", "three.yaml"):
        assert re.search(rf"^[^:\n]*{re.escape(name)}:\d+(:\d+)?: ", output, re.MULTILINE), output


# ----------------------------------------------------------------------------------------- hypothesis

SNIPPETS = [
    b"\t",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",  # an encoded surrogate: invalid UTF-8
    b"\xef\xbb\xbf",
    b": ",
    b"- ",
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"!!python/name:os.system ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"'",
    b'"',
    b"\n",
    b"\n  ",
    b"#",
    b"---\n",
    b"...\n",
    b"%TAG ! tag:x,2000:\n",
    b"? ",
    b"|",
    b">-\n",
    b"1e400",
    b"-.inf",
    b"~",
    b"\\u0000",
    "\u202e".encode(),
    "\U0001f600".encode(),
]

byte_edit = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "truncate"]),
    st.integers(min_value=0, max_value=len(VALID.encode())),
    st.integers(min_value=1, max_value=40),
    st.one_of(st.sampled_from(SNIPPETS), st.binary(min_size=1, max_size=8)),
)


def _apply_edits(data: bytes, edits: list[tuple[str, int, int, bytes]]) -> bytes:
    for op, at, length, snippet in edits:
        at = min(at, len(data))
        if op == "insert":
            data = data[:at] + snippet + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + length :]
        elif op == "replace":
            data = data[:at] + snippet + data[at + len(snippet) :]
        else:
            data = data[:at]
    return data


#: The valid file after one to four random byte-level edits.
mutations = st.lists(byte_edit, min_size=1, max_size=4).map(lambda edits: _apply_edits(VALID.encode(), edits))


@FUZZ
@given(content=mutations)
def test_byte_mutations_never_crash_validate(tmp_path: Path, content: bytes) -> None:
    """Random byte-level edits of the valid file (with YAML-significant and invalid-UTF-8 snippets)."""
    _write(tmp_path, content)
    code, output = _cli(["validate"], tmp_path)
    _check(code, output, must_fail=False, what="validate")


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["gpt-4", "gpt-4-turbo", "auto", "none", "code_interpreter", "function", "retrieval"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
#: Every manifest field, from the model itself, so a new field is fuzzed without touching this file.
FIELD_NAMES = list(Manifest.model_fields)
documents = st.dictionaries(
    st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10)), values, min_size=0, max_size=8
)


def _dump(document: object) -> bytes:
    """`document` as block-style YAML (ruamel), or as JSON flow YAML when ruamel cannot represent it."""
    import io
    import json

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    buffer = io.StringIO()
    try:
        yaml.dump(document, buffer)
        return buffer.getvalue().encode("utf-8", errors="surrogateescape")
    except Exception:
        return json.dumps(document, default=str).encode("utf-8", errors="surrogateescape")


@FUZZ
@given(document=documents)
def test_generated_documents_never_crash_validate(tmp_path: Path, document: dict[object, object]) -> None:
    """Documents with the manifest's field names (and others) holding values of any shape."""
    _write(tmp_path, _dump(document))
    code, output = _cli(["validate"], tmp_path)
    _check(code, output, must_fail=False, what="validate")


@settings(FUZZ, max_examples=25)
@given(document=documents, edits=st.lists(byte_edit, max_size=2))
def test_generated_inputs_never_crash_plan(
    tmp_path: Path, document: dict[object, object], edits: list[tuple[str, int, int, bytes]]
) -> None:
    """`plan --local` on generated documents and mutated files: same contract, and agrees with validate."""
    content = _apply_edits(VALID.encode(), edits) if edits else _dump(document)
    _both(tmp_path, content, must_fail=False)


# ------------------------------------------------------------------ the fast reader and the careful one

#: Valid documents with every kind of scalar the fast reader resolves itself, and shapes it hands over.
VARIANTS = {
    "scalars": "model: m\nmetadata: {a: yes, b: '2024-01-01', c: 2024-01-01, d: on, e: ~, f: 0x1F}\n"
    "name: -.inf\n"
    "temperature: 0o1\ntop_p: 1_0e-1\n",
    "numbers as names": "model: 4\nname: 1.5\ndescription: null\ntemperature: .5\ntop_p: +1\n",
    "several documents": "key: a\nmodel: m\n---\nkey: b\nmodel: m\n...\n---\nkey: c\nmodel: m\n",
    "anchors and aliases": "model: &m gpt-4\nname: *m\n",
    "quoted keys": "'model': m\n\"name\": x\n'<<': y\n",
    "block scalars": "model: m\ninstructions: >-\n  folded\n  text\ndescription: |+\n  kept\n\n",
    "explicit core tags": "model: !!str 4\ntemperature: !!float 1\n",
    "bad int for python": "model: m\ntemperature: 1" + "0" * 5000 + "\n",
}


def _outcome(directory: Path, *, fast: bool) -> tuple[list[str], list[tuple[object, ...]]]:
    from reconciler.manifest import load_directory

    result = load_directory(directory, fast=fast)
    manifests: list[tuple[object, ...]] = [
        (m.key, m.path, m.line, m.manifest, m.files, m.instructions_text, dict(m.positions))
        for m in result.manifests
    ]
    return [str(e) for e in result.errors], manifests


def _same_both_ways(tmp: Path, content: str | bytes) -> None:
    """The fast reader and the position-tracking reader give the same manifests, positions and errors."""
    _write(tmp, content)
    old = Path.cwd()
    os.chdir(tmp)
    try:
        assert _outcome(Path("assistants"), fast=True) == _outcome(Path("assistants"), fast=False)
    finally:
        os.chdir(old)


@pytest.mark.parametrize("case", sorted([*INVALID, *VARIANTS, "valid"]))
def test_fast_and_careful_readers_agree_on_the_corpus(tmp_path: Path, case: str) -> None:
    content = {**INVALID, **VARIANTS, "valid": VALID}[case]
    _same_both_ways(tmp_path, content)


def test_fast_and_careful_readers_agree_on_truncations_and_examples(tmp_path: Path) -> None:
    data = VALID.encode()
    for cut in _truncations():
        _same_both_ways(tmp_path, data[:cut])
    root = Path(__file__).resolve().parent.parent / "assistants"
    for example in sorted(root.glob("*.yaml")):
        from reconciler.manifest import load_directory

        fast, careful = load_directory(root, fast=True), load_directory(root, fast=False)
        assert fast.errors == careful.errors == []
        # The examples were read by the fast reader: positions are computed only when asked for.
        assert [m.known_positions is None for m in fast.manifests] == [True] * len(fast.manifests)
        pairs = zip(fast.manifests, careful.manifests, strict=True)
        assert all((a.manifest, dict(a.positions)) == (b.manifest, dict(b.positions)) for a, b in pairs), (
            example
        )


@FUZZ
@given(content=mutations)
def test_fast_and_careful_readers_agree_on_byte_mutations(tmp_path: Path, content: bytes) -> None:
    _same_both_ways(tmp_path, content)


@FUZZ
@given(document=documents)
def test_fast_and_careful_readers_agree_on_generated_documents(
    tmp_path: Path, document: dict[object, object]
) -> None:
    _same_both_ways(tmp_path, _dump(document))
