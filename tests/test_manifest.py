# ruff: noqa: E501  (exact error messages read best on one line)
"""Manifest model and loading: limits at their edges, bad inputs, positions, keys, paths."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from reconciler import dialect
from reconciler.cli import cli
from reconciler.manifest import (
    LoadedManifest,
    LoadResult,
    ManifestError,
    json_schema,
    load_directory,
    reference_table,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake repository (with .git) holding an empty `assistants/`; the cwd is the repository."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(repo: Path, name: str, text: str | bytes) -> Path:
    path = repo / "assistants" / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load(repo: Path) -> LoadResult:
    return load_directory(Path("assistants"))


def errors(repo: Path) -> list[str]:
    return [str(e) for e in load(repo).errors]


def one(repo: Path, text: str) -> list[str]:
    """Errors of a single manifest `a.yaml` with `text`."""
    write(repo, "a.yaml", text)
    return errors(repo)


def only(repo: Path, text: str) -> LoadedManifest:
    """The one manifest loaded from `a.yaml` holding `text`."""
    write(repo, "a.yaml", text)
    [manifest] = load(repo).manifests
    return manifest


def q(value: str) -> str:
    return json.dumps(value)


# --- happy path


def test_examples_are_valid_and_start_with_the_modeline() -> None:
    result = load_directory(ROOT / "assistants")
    assert result.errors == []
    assert sorted(m.key for m in result.manifests) == ["hr-helper", "it-helpdesk"]
    for path in (ROOT / "assistants").glob("*.y*ml"):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schema/manifest.json", path


def test_hr_helper_matches_the_seed() -> None:
    hr = {m.key: m for m in load_directory(ROOT / "assistants").manifests}["hr-helper"]
    fields = hr.api_fields()
    assert fields["name"] == "HR Helper"
    assert fields["model"] == "gpt-4-turbo"
    assert fields["tools"] == [{"type": "retrieval"}]
    assert fields["instructions"].startswith("You are an HR bot, and you have access to files")


def test_api_fields_only_what_is_set(repo: Path) -> None:
    m = only(
        repo, "model: gpt-4\nname: A\ntemperature: 1\ntools:\n  - type: function\n    function: {name: f}\n"
    )
    assert m.api_fields() == {
        "name": "A",
        "model": "gpt-4",
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "temperature": 1,
    }
    assert m.key == "a"
    assert m.path == Path("assistants/a.yaml")
    assert m.line == 1


def test_positions(repo: Path) -> None:
    m = only(
        repo,
        "# c\nmodel: gpt-4\ntools:\n  - type: retrieval\n  - type: function\n    function:\n      name: f\n",
    )
    assert m.line == 2
    assert m.position("model") == (2, 1)
    assert m.position("tools[1].function.name") == (7, 7)
    assert m.position("tools[1]") == (5, 5)
    assert m.position("tools[1].function.description") == (6, 5)
    assert m.position("nothing") == (2, 1)


def test_yaml_12_scalars(repo: Path) -> None:
    m = only(repo, "model: gpt-4\nmetadata: {a: yes, b: '2024-01-01', c: 2024-01-01, d: on}\ntop_p: 0x1\n")
    assert m.manifest.metadata == {"a": "yes", "b": "2024-01-01", "c": "2024-01-01", "d": "on"}
    assert m.manifest.top_p == 1


# --- limits


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("name", dialect.MAX_NAME),
        ("description", dialect.MAX_DESCRIPTION),
        ("instructions", dialect.MAX_INSTRUCTIONS),
    ],
)
def test_string_limits(repo: Path, field: str, limit: int) -> None:
    assert one(repo, f"model: m\n{field}: {'x' * limit}\n") == []
    assert one(repo, f"model: m\n{field}: {'x' * (limit + 1)}\n") == [
        f"assistants/a.yaml:2:{len(field) + 3}: {field}: at most {limit:,} characters, got {limit + 1:,}"
    ]


def test_tools_limit(repo: Path) -> None:
    tools = "".join("  - type: retrieval\n" for _ in range(dialect.MAX_TOOLS))
    assert one(repo, f"model: m\ntools:\n{tools}") == []
    assert one(repo, f"model: m\ntools:\n{tools}  - type: retrieval\n") == [
        "assistants/a.yaml:2:1: tools: at most 128 items, got 129"
    ]


def test_file_ids_limit_and_uniqueness(repo: Path) -> None:
    ids = [f"file-{i}" for i in range(dialect.MAX_FILE_IDS)]
    assert one(repo, f"model: m\nfile_ids: {json.dumps(ids)}\ntools: [{{type: retrieval}}]\n") == []
    assert one(repo, f"model: m\nfile_ids: {json.dumps([*ids, 'file-x'])}\n") == [
        "assistants/a.yaml:2:11: file_ids: at most 20 items, got 21"
    ]
    assert one(repo, "model: m\nfile_ids: [file-a, file-b, file-a]\n") == [
        "assistants/a.yaml:2:28: file_ids[2]: duplicate file id 'file-a' (also [0])"
    ]
    assert one(repo, "model: m\nfile_ids: [nope]\n") == [
        "assistants/a.yaml:2:12: file_ids[0]: 'nope' does not look like a file id (e.g. file-abc123)"
    ]


def metadata(pairs: dict[str, str]) -> str:
    return "model: m\nmetadata:\n" + "".join(f"  {q(k)}: {q(v)}\n" for k, v in pairs.items())


def test_metadata_limits(repo: Path) -> None:
    assert one(repo, metadata({f"k{i}": "v" for i in range(14)})) == []
    assert one(repo, metadata({f"k{i}": "v" for i in range(15)})) == [
        "assistants/a.yaml:2:1: metadata: at most 14 pairs (the API allows 16; two are reserved, for the "
        "ownership marker 'reconciler_key' and the drift entry 'reconciler_applied'), got 15"
    ]
    assert one(repo, metadata({"k" * 64: "v" * 512})) == []
    assert one(repo, metadata({"k" * 65: "v"})) == [
        f"assistants/a.yaml:3:3: metadata.{'k' * 65}: at most 64 characters, got 65"
    ]
    assert one(repo, metadata({"k": "v" * 513})) == [
        "assistants/a.yaml:3:8: metadata.k: at most 512 characters, got 513"
    ]


def test_metadata_reserved_and_types(repo: Path) -> None:
    assert one(repo, "model: m\nmetadata:\n  Reconciler_key: x\n  n: 1\n") == [
        "assistants/a.yaml:3:3: metadata.Reconciler_key: metadata key 'Reconciler_key' is reserved: "
        "keys starting with 'reconciler' belong to the tool",
        "assistants/a.yaml:4:6: metadata.n: expected a string, got a number (1) (quote it)",
    ]


@pytest.mark.parametrize(
    ("field", "ok", "bad", "low", "high"),
    [("temperature", "2", "2.0001", 0, 2), ("top_p", "1", "1.0001", 0, 1)],
)
def test_number_ranges(repo: Path, field: str, ok: str, bad: str, low: int, high: int) -> None:
    assert one(repo, f"model: m\n{field}: {ok}\n") == []
    assert one(repo, f"model: m\n{field}: 0\n") == []
    col = len(field) + 3
    assert one(repo, f"model: m\n{field}: {bad}\n") == [
        f"assistants/a.yaml:2:{col}: {field}: must be between {low} and {high}, got {bad}"
    ]
    assert one(repo, f"model: m\n{field}: -0.1\n") == [
        f"assistants/a.yaml:2:{col}: {field}: must be between {low} and {high}, got -0.1"
    ]
    assert one(repo, f"model: m\n{field}: true\n") == [
        f"assistants/a.yaml:2:{col}: {field}: expected a number, got a boolean (true)"
    ]
    assert one(repo, f"model: m\n{field}: .nan\n") == [
        f"assistants/a.yaml:2:{col}: {field}: expected a finite number"
    ]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_function_parameters_hold_no_nan_or_infinity(repo: Path, value: str) -> None:
    """JSON has neither: a request carrying one would not be JSON, so the manifest is refused where it is."""
    text = (
        "model: m\ntools:\n  - type: function\n    function:\n      name: f\n      parameters:\n"
        f"        type: object\n        properties:\n          x: {{type: number, enum: [1, {value}]}}\n"
    )
    assert one(repo, text) == [
        "assistants/a.yaml:9:39: tools[0].function.parameters.properties.x.enum[1]: expected a finite number"
    ]


def test_key_regex_length(repo: Path) -> None:
    assert one(repo, f"model: m\nkey: a{'b' * 62}\n") == []
    [error] = one(repo, f"model: m\nkey: a{'b' * 63}\n")
    assert error.startswith("assistants/a.yaml:2:6: key: 'abbb")
    assert error.endswith(
        "must be lowercase letters, digits, '-', '_' or '.', starting with a letter or digit, "
        "at most 63 characters"
    )
    assert one(repo, "model: m\nkey: -x\n")
    assert one(repo, "model: m\nkey: a.b_c-9\n") == []


def test_function_tool(repo: Path) -> None:
    base = "model: m\ntools:\n  - type: function\n    function:\n"
    assert one(repo, base + f"      name: {'a' * 64}\n") == []
    assert one(repo, base + f"      name: {'a' * 65}\n") == [
        "assistants/a.yaml:5:13: tools[0].function.name: at most 64 characters, got 65"
    ]
    assert one(
        repo, base + "      name: f\n      parameters: {type: object, properties: {x: {type: strng}}}\n"
    ) == [
        "assistants/a.yaml:6:57: tools[0].function.parameters.properties.x.type: not a valid JSON Schema: "
        "'strng' is not valid under any of the given schemas"
    ]
    assert one(repo, base + "      description: d\n") == [
        "assistants/a.yaml:4:5: tools[0].function.name: required field 'name' is missing"
    ]
    assert one(
        repo,
        "model: m\ntools:\n  - {type: function, function: {name: f}}\n  - {type: function, function: {name: f}}\n",
    ) == ["assistants/a.yaml:4:39: tools[1].function.name: duplicate function name 'f' (also tools[0])"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "model: m\ntools:\n  - type: foo\n  - {}\n  - retrieval\n  - {type: retrieval, x: 1}\n",
            [
                "assistants/a.yaml:3:5: tools[0]: unknown tool type 'foo' (expected code_interpreter, retrieval or function)",
                "assistants/a.yaml:4:5: tools[1]: a tool needs a type (code_interpreter, retrieval or function)",
                "assistants/a.yaml:5:5: tools[2]: expected a tool like {type: retrieval}, got a string",
                "assistants/a.yaml:6:23: tools[3].x: unknown field 'x'",
            ],
            id="tool-union",
        ),
        *(
            pytest.param(f"model: m\nresponse_format: {ok}\n", [], id=f"response_format-{ok}")
            for ok in ("auto", "none", "{type: text}", "{type: json_object}")
        ),
        pytest.param(
            "model: m\nresponse_format: json\n",
            [
                "assistants/a.yaml:2:18: response_format: expected 'auto', 'none', {type: text} or {type: json_object}, "
                "got 'json'"
            ],
            id="response_format-json",
        ),
        pytest.param(
            "model: m\nresponse_format: {type: xml}\n",
            ["assistants/a.yaml:2:25: response_format.type: expected type text or json_object, got 'xml'"],
            id="response_format-xml",
        ),
        # --- strictness
        pytest.param(
            "model: m\ninstruction: hi\n",
            [
                "assistants/a.yaml:2:1: instruction: unknown field 'instruction' (did you mean 'instructions'?)"
            ],
            id="did-you-mean-field",
        ),
        pytest.param(
            "model: m\ntools:\n  - type: function\n    function: {name: f, parameter: {}}\n",
            [
                "assistants/a.yaml:4:25: tools[0].function.parameter: unknown field 'parameter' (did you mean 'parameters'?)"
            ],
            id="did-you-mean-nested",
        ),
        pytest.param(
            "model: m\nname: 123\n",
            ["assistants/a.yaml:2:7: name: expected a string, got a number (123) (quote it)"],
            id="no-coercion-name",
        ),
        pytest.param(
            "model: 4\n",
            ["assistants/a.yaml:1:8: model: expected a string, got a number (4) (quote it)"],
            id="no-coercion-model",
        ),
        pytest.param(
            "model: m\ntools: retrieval\n",
            ["assistants/a.yaml:2:8: tools: expected a list, got a string"],
            id="no-coercion-tools",
        ),
        pytest.param(
            "# comment\n\nname: x\n",
            ["assistants/a.yaml:3:1: model: required field 'model' is missing"],
            id="missing-model-points-at-document-start",
        ),
        pytest.param(
            "model: m\nname: a\nname: b\n",
            ["assistants/a.yaml:3:1: name: duplicate key (first defined on line 2)"],
            id="duplicate-mapping-keys",
        ),
    ],
)
def test_one_manifest(repo: Path, text: str, expected: list[str]) -> None:
    assert one(repo, text) == expected


def test_every_error_of_every_file(repo: Path) -> None:
    write(repo, "a.yaml", "model: m\nname: 1\ntemperature: 3\n")
    write(repo, "b.yml", "nam: x\n")
    assert errors(repo) == [
        "assistants/a.yaml:2:7: name: expected a string, got a number (1) (quote it)",
        "assistants/a.yaml:3:14: temperature: must be between 0 and 2, got 3",
        "assistants/b.yml:1:1: model: required field 'model' is missing",
        "assistants/b.yml:1:1: nam: unknown field 'nam' (did you mean 'name'?)",
    ]


def test_instructions_xor_file(repo: Path) -> None:
    (repo / "p.md").write_text("hi\n")
    assert one(repo, "model: m\ninstructions: a\ninstructions_file: ../p.md\n") == [
        "assistants/a.yaml:3:20: instructions_file: set either instructions or instructions_file, not both"
    ]


# --- YAML safety


def test_tags_refused(repo: Path) -> None:
    assert one(repo, "model: !!python/object:os.system x\nname: !env X\n") == [
        "assistants/a.yaml:1:8: model: YAML tag '!!python/object:os.system' is not allowed (manifests are plain data)",
        "assistants/a.yaml:2:7: name: YAML tag '!env' is not allowed (manifests are plain data)",
    ]
    assert one(repo, "model: !!str 4\n") == []


def test_alias_bomb(repo: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    [error] = one(repo, "model: m\n" + "\n".join(lines) + "\n")
    assert "document expands to more than 100,000 YAML nodes through its aliases (alias bomb?)" in error


def test_too_many_plain_nodes_are_not_called_an_alias_bomb(repo: Path) -> None:
    """Today 100,000 plain metadata keys read `(alias bomb?)`, though the file has no alias."""
    keys = "".join(f"  k{i}: v\n" for i in range(50_000))
    [error] = one(repo, "model: m\nmetadata:\n" + keys)
    assert error.endswith("too many YAML nodes: the document has more than 100,000")
    assert "alias" not in error


def test_small_aliases_are_fine(repo: Path) -> None:
    m = only(repo, "model: &m gpt-4\nname: *m\n")
    assert m.manifest.name == "gpt-4"


def test_deep_nesting(repo: Path) -> None:
    [error] = one(repo, "model: m\nmetadata: " + "[" * 100 + "]" * 100 + "\n")
    assert "nesting deeper than 64 levels" in error
    [error] = one(repo, "model: m\nmetadata: " + "[" * 5000 + "]" * 5000 + "\n")
    assert error.startswith("assistants/a.yaml") and "nesting" in error


def test_recursive_alias(repo: Path) -> None:
    [error] = one(repo, "model: m\nmetadata: &a [*a]\n")
    assert "nesting deeper than 64 levels" in error


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "assistants/a.yaml:1:1: empty file: expected a manifest (at least 'model:')"),
        (b"  \n\n", "assistants/a.yaml:1:1: empty file: expected a manifest (at least 'model:')"),
        (
            b"# only a comment\n",
            "assistants/a.yaml:1:1: empty file: no YAML document, expected a manifest (at least 'model:')",
        ),
        (b"model: [m\n", "assistants/a.yaml:2:1: invalid YAML: did not find expected ',' or ']'"),
        (
            b"model: m\n  name: x\n",
            "assistants/a.yaml:2:7: invalid YAML: mapping values are not allowed in this context",
        ),
        (
            b"\x7fELF\x00\x01\x02",
            "assistants/a.yaml:1:5: binary file (contains NUL bytes), not a YAML manifest",
        ),
        (
            b"model: m\nname: caf\xe9\n",
            "assistants/a.yaml:2:10: invalid UTF-8 (byte 0xe9); manifests must be UTF-8",
        ),
        (b"\xff\xfem\x00", "assistants/a.yaml:1:1: file is UTF-16; manifests must be UTF-8"),
        (
            b"model: m\ntools:\n\t- type: retrieval\n",
            "assistants/a.yaml:3:1: tab used for indentation (YAML needs spaces)",
        ),
        (b"model: m\nname: a\x07\n", "assistants/a.yaml:2:8: invalid YAML: unacceptable character #x0007"),
        (b"- model: m\n", "assistants/a.yaml:1:1: a manifest must be a mapping of fields, got a list"),
        (b"---\n", "assistants/a.yaml:2:1: empty document, expected a manifest (at least 'model:')"),
    ],
)
def test_bad_files(repo: Path, content: bytes, expected: str) -> None:
    write(repo, "a.yaml", content)
    assert errors(repo) == [expected]


def test_large_file_refused_without_reading(repo: Path) -> None:
    path = write(repo, "a.yaml", b"")
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    assert errors(repo) == [
        "assistants/a.yaml:1:1: file too large (52,428,800 bytes; a manifest may have at most 10 MB)"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(repo: Path) -> None:
    write(repo, "a.yaml", "model: m\n").chmod(0)
    assert errors(repo) == ["assistants/a.yaml:1:1: cannot read file: permission denied"]


def test_missing_and_empty_directory(repo: Path) -> None:
    assert [str(e) for e in load_directory(Path("nope")).errors] == ["nope: directory not found"]
    assert errors(repo) == ["assistants: no manifests found (expected *.yaml or *.yml files)"]
    (repo / "assistants" / "notes.txt").write_text("x")
    (repo / "assistants" / "sub").mkdir()
    (repo / "assistants" / "sub" / "b.yaml").write_text("model: m\n")
    assert errors(repo) == ["assistants: no manifests found (expected *.yaml or *.yml files)"]


# --- keys


def test_multi_document_files(repo: Path) -> None:
    write(repo, "team.yaml", "key: one\nmodel: m\n---\nkey: two\nmodel: m\n")
    result = load(repo)
    assert result.errors == []
    assert [(m.key, m.line) for m in result.manifests] == [("one", 1), ("two", 4)]
    write(repo, "team.yaml", "key: one\nmodel: m\n---\nmodel: m\n")
    assert errors(repo) == ["assistants/team.yaml:4:1: key: required when a file holds several documents"]


def test_duplicate_keys_across_files_name_both(repo: Path) -> None:
    write(repo, "a.yaml", "model: m\n")
    write(repo, "b.yml", "# x\nkey: a\nmodel: m\n")
    assert errors(repo) == [
        "assistants/b.yml:2:1: key: duplicate key 'a': also defined in assistants/a.yaml:1"
    ]
    assert [m.key for m in load(repo).manifests] == ["a"]


def test_duplicate_ids(repo: Path) -> None:
    write(repo, "a.yaml", "model: m\nid: asst_1\n")
    write(repo, "b.yaml", "model: m\nid: asst_1\n")
    assert errors(repo) == [
        "assistants/b.yaml:2:1: id: id 'asst_1' is also adopted by 'a' (assistants/a.yaml:1)"
    ]


def test_bad_stem(repo: Path) -> None:
    write(repo, "HR Helper.yaml", "model: m\n")
    assert errors(repo) == [
        "assistants/HR Helper.yaml:1:1: file name 'HR Helper' must be lowercase letters, digits, '-', '_' or '.', "
        "starting with a letter or digit, at most 63 characters; rename the file or set key:"
    ]
    write(repo, "HR Helper.yaml", "key: hr\nmodel: m\n")
    assert errors(repo) == []


# --- paths


def test_instructions_file(repo: Path) -> None:
    (repo / "prompts").mkdir()
    (repo / "prompts" / "hr.md").write_bytes(b"line 1\r\nline 2\n")
    m = only(repo, "model: m\ninstructions_file: ../prompts/hr.md\n")
    assert m.api_fields() == {"model": "m", "instructions": "line 1\nline 2"}


def test_shared_instructions_are_held_once(repo: Path) -> None:
    """`shared`: an instructions text (inline or from a file) equal to one already shared is that one object;
    a new one is added. The manifests are the same as without it."""
    (repo / "prompts").mkdir()
    (repo / "prompts" / "hr.md").write_text("Be kind.\n" * 40)
    held = "".join(["Be kind.\n"] * 39) + "Be kind."  # equal to both texts below, another object
    write(repo, "a.yaml", f"model: m\ninstructions: {q(held)}\n")
    write(repo, "b.yaml", "model: m\ninstructions_file: ../prompts/hr.md\n")
    write(repo, "c.yaml", "model: m\ninstructions: own\n")
    shared = {held: held}
    result = load_directory(Path("assistants"), shared=shared)
    assert [m.api_fields() for m in result.manifests] == [m.api_fields() for m in load(repo).manifests]
    a, b, c = (m.api_fields()["instructions"] for m in result.manifests)
    assert a is held and b is held and c == "own"
    assert shared == {held: held, "own": "own"}


def test_instructions_file_limit(repo: Path) -> None:
    (repo / "assistants" / "p.md").write_text("x" * dialect.MAX_INSTRUCTIONS + "\n")
    assert one(repo, "model: m\ninstructions_file: p.md\n") == []
    (repo / "assistants" / "p.md").write_text("x" * (dialect.MAX_INSTRUCTIONS + 1))
    assert one(repo, "model: m\ninstructions_file: p.md\n") == [
        "assistants/a.yaml:2:20: instructions_file: 'p.md' has 256,001 characters; instructions may have at most 256,000"
    ]


def test_instructions_file_escapes(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.md"
    outside.write_text("secret")
    (repo / "assistants" / "link.md").symlink_to(outside)
    assert one(repo, "model: m\ninstructions_file: ../../etc/passwd\n") == [
        f"assistants/a.yaml:2:20: instructions_file: '../../etc/passwd' is outside the repository ({repo.resolve()})"
    ]
    assert one(repo, "model: m\ninstructions_file: link.md\n") == [
        "assistants/a.yaml:2:20: instructions_file: 'link.md' resolves outside the repository through a symlink "
        f"(to {outside.resolve()})"
    ]
    assert one(repo, "model: m\ninstructions_file: /etc/passwd\n") == [
        "assistants/a.yaml:2:20: instructions_file: '/etc/passwd' must be relative to the manifest, not absolute"
    ]
    assert one(repo, "model: m\ninstructions_file: nope.md\n") == [
        "assistants/a.yaml:2:20: instructions_file: 'nope.md' not found"
    ]
    assert one(repo, "model: m\ninstructions_file: ..\n") == [
        "assistants/a.yaml:2:20: instructions_file: '..' is a directory, not a regular file"
    ]


def test_knowledge_files(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    (repo / "docs").mkdir()
    (repo / "docs" / "policy.md").write_text("policy")
    (repo / "docs" / "empty.md").write_text("")
    outside = tmp_path_factory.mktemp("outside") / "x.md"
    outside.write_text("x")
    (repo / "docs" / "link.md").symlink_to(outside)
    m = only(repo, "model: m\nfiles: [../docs/policy.md]\ntools: [{type: retrieval}]\n")
    [f] = m.files
    assert (f.display, f.size, f.path) == ("../docs/policy.md", 6, (repo / "docs" / "policy.md").resolve())
    assert f.sha256() == hashlib.sha256(b"policy").hexdigest()
    assert "files" not in m.api_fields()
    assert one(
        repo,
        "model: m\nfiles: [../docs/empty.md, ../docs/link.md, ../docs/policy.md, ../docs/policy.md]\n"
        "tools: [{type: retrieval}]\n",
    ) == [
        "assistants/a.yaml:2:9: files[0]: '../docs/empty.md' is empty",
        "assistants/a.yaml:2:27: files[1]: '../docs/link.md' resolves outside the repository through a symlink "
        f"(to {outside.resolve()})",
        "assistants/a.yaml:2:63: files[3]: duplicate file '../docs/policy.md' (also [2])",
    ]


def test_files_and_file_ids_total(repo: Path) -> None:
    (repo / "assistants" / "k.md").write_text("k")
    ids = json.dumps([f"file-{i}" for i in range(19)])
    assert one(repo, f"model: m\nfiles: [k.md]\nfile_ids: {ids}\ntools: [{{type: retrieval}}]\n") == []
    ids = json.dumps([f"file-{i}" for i in range(20)])
    assert one(repo, f"model: m\nfiles: [k.md]\nfile_ids: {ids}\n") == [
        "assistants/a.yaml:2:8: files: files and file_ids name 21 files together; at most 20"
    ]


# --- error type


def test_manifest_error_str() -> None:
    assert str(ManifestError("assistants/hr.yaml", 12, 3, "tools[1].function.name", "bad")) == (
        "assistants/hr.yaml:12:3: tools[1].function.name: bad"
    )
    assert (
        str(ManifestError("assistants", None, None, None, "directory not found"))
        == "assistants: directory not found"
    )
    assert str(ManifestError("a.yaml", 2, None, None, "x")) == "a.yaml:2: x"


# --- CLI, schema, docs


def test_validate_cli(repo: Path) -> None:
    runner = CliRunner()
    write(repo, "a.yaml", "model: m\n")
    write(repo, "b.yaml", "model: m\n")
    result = runner.invoke(cli, ["validate"])
    assert (result.exit_code, result.output) == (0, "2 manifests valid in assistants.\n")
    write(repo, "b.yaml", "model: m\nname: 1\ntop_p: 2\n")
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 1
    assert result.output == (
        "assistants/b.yaml:2:7: name: expected a string, got a number (1) (quote it)\n"
        "assistants/b.yaml:3:8: top_p: must be between 0 and 1, got 2\n"
        "Error: 2 errors in assistants\n"
    )
    result = runner.invoke(cli, ["validate", "--dir", "missing"])
    assert (result.exit_code, result.output) == (1, "Error: missing: directory not found\n")
    (repo / "empty").mkdir()
    result = runner.invoke(cli, ["validate", "--dir", "empty"])
    assert (result.exit_code, result.output) == (
        1,
        "Error: empty: no manifests found (expected *.yaml or *.yml files)\n",
    )
    (repo / "one").mkdir()
    (repo / "one" / "a.yaml").write_text("model: m\n")
    result = runner.invoke(cli, ["validate", "--dir", "one"])
    assert (result.exit_code, result.output) == (0, "1 manifest valid in one.\n")


def test_schema_file_is_up_to_date() -> None:
    saved = json.loads((ROOT / "schema" / "manifest.json").read_text())
    assert saved == json_schema(), (
        "schema/manifest.json is stale: run `reconciler schema > schema/manifest.json`"
    )


def test_schema_cli_prints_the_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["properties"]["name"]["anyOf"][0]["maxLength"] == dialect.MAX_NAME
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["model"]


def test_docs_table_is_up_to_date() -> None:
    text = (ROOT / "docs" / "manifest.md").read_text()
    assert reference_table() in text, (
        "docs/manifest.md's field table is stale: replace it with the output of "
        '`python -c "from reconciler.manifest import reference_table; print(reference_table())"`'
    )
    for field in json_schema()["properties"]:
        assert f"| `{field}` |" in text
    for number in ("256", "512", "256,000", "128", "20", "15", "64"):
        assert number in text


def test_knowledge_file_types_the_tools_refuse(repo: Path) -> None:
    """A knowledge file whose extension the enabled file tools refuse fails validate at its list item, in the
    v1 service's words (retrieval's list applies when both tools are on, as v1 judged it)."""
    for name in ("chart.png", "data.csv", "tool.exe", "guide.md"):
        (repo / "assistants" / name).write_text("x")
    see = "See https://platform.openai.com/docs/assistants/tools/supported-files."
    assert one(repo, "model: m\nfiles: [guide.md, chart.png]\ntools: [{type: retrieval}]\n") == [
        "assistants/a.yaml:2:19: files[1]: 'chart.png': the API refuses this file type for the tools enabled: "
        f'"Files with extensions [.png] are not supported for retrieval. {see}"'
    ]
    assert one(repo, "model: m\nfiles: [chart.png, data.csv]\ntools: [{type: code_interpreter}]\n") == []
    assert one(
        repo, "model: m\nfiles:\n  - data.csv\ntools: [{type: code_interpreter}, {type: retrieval}]\n"
    ) == [
        "assistants/a.yaml:3:5: files[0]: 'data.csv': the API refuses this file type for the tools enabled: "
        f'"Files with extensions [.csv] are not supported for retrieval. {see}"'
    ]
    assert one(repo, "model: m\nfiles: [tool.exe]\ntools: [{type: code_interpreter}]\n") == [
        "assistants/a.yaml:2:9: files[0]: 'tool.exe': the API refuses this file type for the tools enabled: "
        f'"Files with extensions [.exe] are not supported for code interpreter. {see}"'
    ]


def test_loading_imports_jsonschema_only_for_function_parameters(repo: Path) -> None:
    """jsonschema's import is a large share of start-up: manifests without function parameters, or whose
    parameters are plainly valid (the keywords function parameters mostly use), skip it."""
    code = (
        "import sys; from pathlib import Path; from reconciler.manifest import load_directory; "
        "r = load_directory(Path('assistants')); print(len(r.manifests), 'jsonschema' in sys.modules)"
    )

    def loaded_and_imported(tool: str) -> list[str]:
        write(repo, "a.yaml", f"model: gpt-4\ntools: [{{type: function, function: {tool}}}]\n")
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return run.stdout.split()

    assert loaded_and_imported("{name: f}") == ["1", "False"]
    assert loaded_and_imported("{name: f, parameters: {type: object}}") == ["1", "False"]
    assert loaded_and_imported("{name: f, parameters: {type: object, pattern: '^a'}}") == ["1", "True"]


PLAIN_SCHEMAS = [
    True,
    {},
    {"type": "object", "properties": {"q": {"type": "string", "description": "d", "maxLength": 200}}},
    {"type": ["string", "null"], "enum": ["a", None, 1], "default": {"any": ["thing"]}},
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "maximum": 2.5},
        "minItems": 1,
        "maxItems": 9,
    },
    {"type": "object", "properties": {}, "required": ["a", "b"], "additionalProperties": False, "title": "t"},
]
NOT_PLAIN_SCHEMAS = [
    {"type": "strng"},
    {"type": []},
    {"type": ["string", "string"]},
    {"type": 1},
    {"required": ["a", "a"]},
    {"required": "a"},
    {"maxLength": -1},
    {"maxLength": True},
    {"maxLength": 5.0},
    {"minimum": "0"},
    {"minimum": False},
    {"enum": "a"},
    {"description": 1},
    {"items": [{"type": "string"}]},
    {"properties": {"x": {"type": "strng"}}},
    {"properties": {1: {}}},
    {"properties": []},
    {"additionalProperties": {"type": "nope"}},
    {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"},
    {"type": "object", "pattern": "^a"},
    {1: "x"},
    "object",
    None,
]


def test_plainly_valid_schemas_are_valid_for_jsonschema_too() -> None:
    """The shortcut that spares jsonschema's import says "valid" only where jsonschema (draft 7's
    metaschema) finds no problem; anything else it leaves to jsonschema, whatever its verdict."""
    from reconciler.manifest.model import _plainly_valid

    for schema in PLAIN_SCHEMAS:
        assert _plainly_valid(schema), schema
        assert not list(
            jsonschema.Draft7Validator(jsonschema.Draft7Validator.META_SCHEMA).iter_errors(schema)
        )
    assert not any(_plainly_valid(schema) for schema in NOT_PLAIN_SCHEMAS)
