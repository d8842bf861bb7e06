"""QA 5: aliases can't blow a small manifest up, and a huge integer is one line.

- The alias bound counted nodes, not size: a 609 KB manifest repeating a 100 KB anchor 10,000 times passed
  `validate`, then `plan --local` took 24 s and 2 GB. Aliases may now repeat at most `MAX_EXPANDED_BYTES`
  characters per document (an alias of a collection counts what it holds, aliases inside it expanded), and
  the alias that passes it is one line, the same from both readers.
- A decimal integer past 4,300 digits read as two errors for one field, the first echoing every digit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import test_manifest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.environments import ConfigFileError
from reconciler.environments import load as load_config
from reconciler.manifest import load_directory, yaml12

BIG = "B" * 100_000


repo = test_manifest.repo  # the fixture: a fake repository (with .git) holding assistants/, the cwd


def errors(repo: Path, name: str, text: str) -> list[str]:
    """The errors of `assistants/NAME` holding `text`, the same from both readers."""
    (repo / "assistants" / name).write_text(text, encoding="utf-8")
    fast, careful = (load_directory(Path("assistants"), fast=fast) for fast in (True, False))
    assert fast.errors == careful.errors
    assert fast.manifests == careful.manifests
    return [str(e) for e in fast.errors]


def run(command: str) -> tuple[int, str]:
    """The exit code and output of `reconciler COMMAND` in the repository."""
    result = CliRunner().invoke(cli, [command], env={"NO_COLOR": "1"})
    return result.exit_code, result.output


def _qa_repro() -> str:
    """The manifest of the QA report: a 100 KB description anchored once, aliased by 10,000 properties."""
    lines = [
        "model: gpt-4-turbo",
        "tools:",
        "  - type: function",
        "    function:",
        "      name: f",
        "      parameters:",
        "        type: object",
        f'        description: &big "{BIG}"',
        "        properties:",
    ]
    lines += [f"          p{i}: {{type: string, description: *big}}" for i in range(10_000)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- aliases


def test_the_limit_is_the_manifest_size_limit() -> None:
    assert yaml12.MAX_EXPANDED_BYTES == 10 * 1024 * 1024


def test_the_qa_repro_is_one_line_at_the_alias_that_passes_the_limit(repo: Path) -> None:
    # 105 aliases of 100,000 characters pass 10,485,760: the 105th (p104, line 10 + 104) is reported.
    assert errors(repo, "a.yaml", _qa_repro()) == [
        "assistants/a.yaml:114:45: aliases expand this document past 10 MB "
        "(10,500,000 characters repeated by this alias and those before it)"
    ]


def test_the_qa_repro_through_validate(repo: Path) -> None:
    (repo / "assistants" / "a.yaml").write_text(_qa_repro())
    code, output = run("validate")
    assert code == 1
    assert output == (
        "assistants/a.yaml:114:45: aliases expand this document past 10 MB "
        "(10,500,000 characters repeated by this alias and those before it)\n"
        "Error: 1 error in assistants\n"
    )


def _parameters(body: list[str]) -> str:
    """A valid manifest whose function parameters hold `body` (lines indented under `parameters:`)."""
    head = ["model: gpt-4-turbo", "tools:", "  - type: function", "    function:", "      name: f"]
    return "\n".join([*head, "      parameters:", *(" " * 8 + line for line in body)]) + "\n"


def test_an_alias_of_a_collection_counts_the_keys_and_values_it_holds(repo: Path) -> None:
    # Each copy of the mapping repeats 'text' (4) + 1,000,000 characters: the 11th (line 9 + 10) passes.
    body = [f'base: &b {{text: "{"x" * 1_000_000}"}}', "copies:", *["  - *b"] * 12]
    assert errors(repo, "a.yaml", _parameters(body)) == [
        "assistants/a.yaml:19:13: aliases expand this document past 10 MB "
        "(11,000,044 characters repeated by this alias and those before it)"
    ]


def test_aliases_inside_an_anchor_count_expanded(repo: Path) -> None:
    # b holds a twice (1,000,000 added); each *b adds 1,000,000 more: the 10th *b passes 10,485,760.
    body = [f'a: &a ["{"x" * 500_000}"]', "b: &b [*a, *a]", "c: [" + ", ".join(["*b"] * 12) + "]"]
    [error] = errors(repo, "a.yaml", _parameters(body))
    column = len("        c: [") + 1 + 9 * len("*b, ")
    assert error == (
        f"assistants/a.yaml:9:{column}: aliases expand this document past 10 MB "
        "(11,000,000 characters repeated by this alias and those before it)"
    )


def test_expansion_up_to_the_limit_is_read(repo: Path) -> None:
    body = [f'base: &b {{text: "{"x" * 1_000_000}"}}', "copies:", *["  - *b"] * 10]
    assert errors(repo, "a.yaml", _parameters(body)) == []
    [loaded] = load_directory(Path("assistants")).manifests
    assert (
        loaded.manifest.model_dump()["tools"][0]["function"]["parameters"]["copies"]
        == [{"text": "x" * 1_000_000}] * 10
    )


def test_each_document_has_its_own_budget(repo: Path) -> None:
    # 60 aliases of 100,000 characters per document: 12 MB in the file, 6 MB in each document.
    document = [f'description: &d "{BIG}"', "model: gpt-4-turbo", "metadata:"]
    document += [f"  k{i}: *d" for i in range(60)]
    text = "key: a\n" + "\n".join(document) + "\n---\nkey: b\n" + "\n".join(document) + "\n"
    messages = errors(repo, "a.yaml", text)
    assert messages and not any("aliases expand" in m for m in messages)  # metadata's own limits only


def test_the_classic_alias_bomb_still_passes_the_node_bound_first(repo: Path) -> None:
    """Nine times nine... of 'x': the nodes pass 100,000 (at the 5th alias of f) before the characters pass
    10 MB; the bound is reported at that alias, from both readers."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    [error] = errors(repo, "a.yaml", "model: m\n" + "\n".join(lines) + "\n")
    assert error.endswith(
        ": document expands to more than 100,000 YAML nodes through its aliases (alias bomb?)"
    )
    assert error.startswith("assistants/a.yaml:7:")


def test_the_configuration_file_has_the_same_bound(repo: Path) -> None:
    config = repo / "reconciler.yaml"
    lines = [f'x: &x "{"c" * 100_000}"', "y: [" + ", ".join(["*x"] * 105) + "]", "environments: {}"]
    config.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigFileError) as caught:
        load_config(config)
    column = len("y: [") + 1 + 104 * len("*x, ")
    assert [str(e) for e in caught.value.errors] == [
        f"reconciler.yaml:2:{column}: aliases expand this document past 10 MB "
        "(10,500,000 characters repeated by this alias and those before it)"
    ]


# --------------------------------------------------------------------------------------------- integers


def _huge(value: str) -> str:
    return f"name: x\nmodel: gpt-4-turbo\ntemperature: {value}\n"


def test_the_integer_bound_is_python_s() -> None:
    assert yaml12.MAX_INT_DIGITS == 4_300


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 5_000, "a number of 5,000 digits (at most 4,300)"),
        ("-" + "1_00" * 2_000, "a number of 6,000 digits (at most 4,300)"),
        # Read in hexadecimal, it has no decimal form to print (in a plan, in JSON) either.
        ("0x" + "f" * 5_000, "a number of 6,021 digits (at most 4,300)"),
        # Read, but too large for a number field (a float holds 308 digits): shown by their length.
        ("9" * 4_300, "too large: a number of 4,300 digits"),
        ("0x" + "f" * 3_000, "too large: a number of 3,613 digits"),
        ("1" + "0" * 300, "must be between 0 and 2, got a number of 301 digits"),
        ("-" + "9" * 30, f"must be between 0 and 2, got -{'9' * 30}"),
        # The model says nothing more of a value the reader could not read.
        ("!!int abc", "cannot read 'abc' as int"),
    ],
    ids=["5000 digits", "6000 with underscores", "hex past", "4300 digits", "hex", "301 digits", "30", "tag"],
)
def test_a_huge_integer_is_one_line_that_does_not_echo_it(repo: Path, value: str, message: str) -> None:
    assert errors(repo, "h.yaml", _huge(value)) == [f"assistants/h.yaml:3:14: temperature: {message}"]


def test_a_huge_integer_through_validate_and_fmt(repo: Path) -> None:
    """`fmt` said `invalid YAML: Exceeds the limit (4300 digits) ...` without a position."""
    (repo / "assistants" / "h.yaml").write_text(_huge("9" * 5_000))
    at = "assistants/h.yaml:3:14: "
    assert run("validate") == (
        1,
        f"{at}temperature: a number of 5,000 digits (at most 4,300)\nError: 1 error in assistants\n",
    )
    assert run("fmt") == (
        1,
        f"{at}a number of 5,000 digits (at most 4,300)\n0 files left unchanged, 1 file with errors.\n",
    )
