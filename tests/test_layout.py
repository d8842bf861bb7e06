"""The canonical layout: exact round trips of instructions and JSON values, styles chosen, field order."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler import layout

MODELINE = "# yaml-language-server: $schema=../schema/manifest.json\n"


def load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def instructions_text(instructions: str, *, last: bool = True) -> str:
    fields: dict[str, Any] = {"key": "k", "model": "gpt-4", "instructions": instructions}
    if not last:
        fields["metadata"] = {"after": "instructions"}
    return layout.render_manifest(fields)


# Text a person might paste into instructions: printable text, tabs, spaces, line breaks, unicode, and the
# characters a block literal cannot carry.
_pieces = st.one_of(
    st.sampled_from(list(" \t\n\n\n-#:|>'\"%@&*!?{}[],.~`")),
    st.characters(codec="utf-8", exclude_categories=["Cs"]),
    st.sampled_from(["\r\n", "\r", "\x85", "\u2028", "\ufeff", "\x00", "\x1b", "---", "...", "😀", "  \n"]),
)
_lines = st.lists(_pieces, max_size=40).map("".join)


@settings(max_examples=250, deadline=None)
@given(_lines, st.booleans())
def test_instructions_round_trip_exactly(text: str, last: bool) -> None:
    out = instructions_text(text, last=last)
    assert load(out)["instructions"] == text
    # fmt-clean: loading round-trip and dumping again gives the same text.
    assert layout.dump(layout.restyle(layout.new_yaml().load(out))) == out


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _lines,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_lines, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_json)
def test_function_parameters_round_trip(value: Any) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "x": value}}}]
    out = layout.render_manifest({"model": "gpt-4", "tools": tools})
    assert load(out)["tools"] == tools
    assert layout.dump(layout.restyle(layout.new_yaml().load(out))) == out


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ("one line", "instructions: one line\n"),
        ("line\n", "instructions: |\n  line\n"),
        ("no final newline\nend", "instructions: |-\n  no final newline\n  end\n"),
        # A document that ends with a `|+` scalar gets an explicit end, so its trailing blank lines are kept.
        ("kept blank lines\n\n\n", "instructions: |+\n  kept blank lines\n\n\n...\n"),
        ("  leading spaces\nx\n", "instructions: |2\n    leading spaces\n  x\n"),
        ("\nleading break", "instructions: |2-\n\n  leading break\n"),
        ("trailing  \nmid\ttab\n", "instructions: |\n  trailing  \n  mid\ttab\n"),
        # The manifest loader takes a tab at the start of a line for indentation.
        ("line\n\ttab first\n", 'instructions: "line\\n\\ttab first\\n"\n'),
        ("crlf\r\nline\r\n", 'instructions: "crlf\\r\\nline\\r\\n"\n'),
        ("x" * 81, "instructions: |-\n  " + "x" * 81 + "\n"),
        ("x" * 80, "instructions: " + "x" * 80 + "\n"),
        ("yes", "instructions: 'yes'\n"),
        ("a: b", "instructions: 'a: b'\n"),
        ("", "instructions: ''\n"),
    ],
)
def test_instructions_style(text: str, header: str) -> None:
    assert instructions_text(text) == MODELINE + "key: k\nmodel: gpt-4\n" + header
    assert load(instructions_text(text))["instructions"] == text


def test_full_layout() -> None:
    fields = {
        "response_format": {"type": "json_object"},
        "top_p": 0.5,
        "temperature": 1.0,
        "metadata": {"team": "hr"},
        "file_ids": ["file-abc"],
        "tools": [
            {"type": "retrieval"},
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Find a person.\nBy name.",
                    "parameters": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {}}},
                        "required": ["name"],
                    },
                },
            },
        ],
        "instructions": "Be kind.\n",
        "model": "gpt-4",
        "description": None,
        "name": "HR Helper",
        "id": "asst_abc",
        "key": "hr-helper",
    }
    assert layout.render_manifest(fields) == (
        MODELINE
        + """\
key: hr-helper
id: asst_abc
name: HR Helper
model: gpt-4
instructions: |
  Be kind.
tools:
  - type: retrieval
  - type: function
    function:
      name: lookup
      description: |-
        Find a person.
        By name.
      parameters:
        type: object
        properties:
          name:
            type: string
          tags:
            type: array
            items: {}
        required:
          - name
file_ids:
  - file-abc
metadata:
  team: hr
top_p: 0.5
response_format:
  type: json_object
"""
    )


def test_defaults_are_omitted_but_model_kept() -> None:
    fields: dict[str, object] = {
        "model": "gpt-4",
        "name": None,
        "tools": [],
        "file_ids": [],
        "metadata": {},
        "temperature": 1,
        "top_p": 1.0,
        "response_format": "auto",
    }
    assert layout.render_manifest(fields) == MODELINE + "model: gpt-4\n"
    assert layout.render_manifest({"model": "gpt-4", "name": "", "temperature": 0}) == (
        MODELINE + "name: ''\nmodel: gpt-4\ntemperature: 0\n"
    )


def test_order_keys() -> None:
    assert layout.order_keys(["zeta", "model", "key", "alpha", "instructions_file"]) == [
        "key",
        "model",
        "instructions_file",
        "zeta",
        "alpha",
    ]


def test_block_literal_ok() -> None:
    assert layout.block_literal_ok("a\nb\t  \n\t\n😀")
    for bad in (
        "",
        "\tx",
        "a\n \tb",
        "\t  \n",
        " \t\nx",
        "\n\t\nx",
        "a\rb",
        "\x00",
        "a\x85b",
        "a\u2028b",
        "\ufeffa",
        "\x1b[0m",
    ):
        assert not layout.block_literal_ok(bad)


def test_global_representer_untouched() -> None:
    out = io.StringIO()
    YAML().dump({"a": None, "b": "yes"}, out)
    assert out.getvalue() == "a:\nb: yes\n"


@settings(max_examples=120, deadline=None)
@given(_lines)
@example("\t  \n")  # a blank line whose leading whitespace holds a tab (found by hypothesis)
def test_manifest_loader_reads_instructions_back(text: str) -> None:
    """The real consumer: `reconciler.manifest` loads what the layout writes, to the same instructions."""
    from reconciler.manifest import load_directory

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "k.yaml").write_text(instructions_text(text, last=False), encoding="utf-8")
        result = load_directory(directory)
        assert not result.errors, [str(e) for e in result.errors]
        assert result.manifests[0].api_fields()["instructions"] == text
