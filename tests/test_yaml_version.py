# ruff: noqa: E501  (exact error messages read best on one line)
"""A `%YAML` directive naming another version than 1.2 is refused by every reader, at its line: under YAML 1.1
`yes` is true and `017` is 15, and `fmt`'s round trip read it so and rewrote `default: yes` as `default: true`
while validate and plan read (and sent) the string 'yes'."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_manifest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.manifest import load_directory

repo = test_manifest.repo  # the fixture: a fake repository (with .git) holding assistants/, the cwd

MESSAGE = "%YAML 1.1: reconciler reads YAML 1.2 only, where yes, no, on and off are strings and 017 is 17; remove the directive"
SCHEMA = (
    "name: x\nmodel: gpt-4\ntools:\n  - type: function\n    function:\n      name: f\n      parameters:\n"
    "        type: object\n        properties:\n          a:\n            type: boolean\n            default: yes\n"
)


@pytest.mark.parametrize("fast", [True, False])
def test_validate_refuses_yaml_1_1_at_the_directive(repo: Path, fast: bool) -> None:
    (repo / "assistants" / "a.yaml").write_text("# header\n%YAML 1.1\n---\n" + SCHEMA)
    (repo / "assistants" / "b.yaml").write_text("name: b\nmodel: gpt-4\n")
    (repo / "assistants" / "c.yaml").write_text(
        "key: one\nmodel: gpt-4\n...\n%YAML 1.1\n---\nkey: two\nmodel: gpt-4\n"
    )
    errors = [str(e) for e in load_directory(Path("assistants"), fast=fast).errors]
    assert errors == [f"assistants/a.yaml:2:1: {MESSAGE}", f"assistants/c.yaml:4:1: {MESSAGE}"]


def test_yaml_1_2_declared_is_read(repo: Path) -> None:
    (repo / "assistants" / "a.yaml").write_text("%YAML 1.2\n---\nname: yes\nmodel: gpt-4\n")
    result = load_directory(Path("assistants"))
    assert result.errors == []
    assert result.manifests[0].manifest.name == "yes"


def test_fmt_refuses_rather_than_rewrite_the_meaning(repo: Path) -> None:
    path = repo / "assistants" / "a.yaml"
    path.write_text("%YAML 1.1\n---\n" + SCHEMA)
    for args in (["fmt", "--check"], ["fmt"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        assert result.output.splitlines()[0] == f"assistants/a.yaml:1:1: {MESSAGE}"
    assert path.read_text() == "%YAML 1.1\n---\n" + SCHEMA


def test_the_environments_file_refuses_it_too(repo: Path) -> None:
    (repo / "assistants" / "a.yaml").write_text("name: a\nmodel: gpt-4\n")
    (repo / "reconciler.yaml").write_text("%YAML 1.1\n---\nenvironments:\n  prod: {}\n")
    result = CliRunner().invoke(cli, ["validate", "--env", "prod"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"reconciler.yaml:1:1: {MESSAGE}",
        "Error: 1 error in reconciler.yaml",
    ]
