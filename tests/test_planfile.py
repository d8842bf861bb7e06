"""The saved plan file (`reconciler.planfile`, `reconciler.fsio`): every way a path can be the wrong kind of
file gives one line and exit 1, never a hang, a crash or a replaced device. CLI with `--local`, tmp cwd."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from plan_support import write_manifests

from reconciler import fsio, planfile
from reconciler.cli import cli
from reconciler.errors import ReconcilerError

HR = "name: HR helper\nmodel: gpt-4-turbo\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    write_manifests(tmp_path / "assistants", {"hr": HR})
    yield tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_plan_out_writes_a_private_regular_file_and_apply_runs_it(workdir: Path) -> None:
    (workdir / "plan.json").write_text('{"format_version": 0, "changes": []}\n')  # an older plan: replaced
    assert run("plan", "--local", "--out", "plan.json").exit_code == 0
    assert stat.S_IMODE(os.stat(workdir / "plan.json").st_mode) == planfile.FILE_MODE
    result = run("apply", "--local", "plan.json")
    assert result.exit_code == 0, result.output
    assert "+ hr: created" in result.stdout


@pytest.mark.parametrize("target", ["fifo", "/dev/null"])
def test_plan_out_refuses_a_symlink_and_leaves_it(workdir: Path, target: str) -> None:
    if target == "fifo":
        os.mkfifo(workdir / "fifo")
    (workdir / "link").symlink_to(target)
    result = run("plan", "--local", "--out", "link")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: cannot save the plan to link: it is a symbolic link, not a regular file\n"
    )
    assert (workdir / "link").is_symlink() and os.readlink(workdir / "link") == target
    assert not [p for p in workdir.iterdir() if p.name.endswith(".tmp")]


def test_plan_out_refuses_a_fifo(workdir: Path) -> None:
    os.mkfifo(workdir / "fifo")
    result = run("plan", "--local", "--out", "fifo")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: cannot save the plan to fifo: it is a FIFO, not a regular file\n",
    )
    assert stat.S_ISFIFO(os.lstat(workdir / "fifo").st_mode)


def test_apply_refuses_a_fifo_without_opening_it(workdir: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: the check comes before the open."""
    os.mkfifo(workdir / "plan.json")
    result = run("apply", "--local", "plan.json")
    assert (result.exit_code, result.output) == (
        1,
        "Error: cannot read the plan file plan.json: it is a FIFO, not a regular file\n",
    )


def test_apply_refuses_a_device(workdir: Path) -> None:
    (workdir / "zero").symlink_to("/dev/null")
    result = run("apply", "--local", "zero")
    assert (result.exit_code, result.output) == (
        1,
        "Error: cannot read the plan file zero: it is a character device, not a regular file\n",
    )


def test_apply_refuses_a_deeply_nested_document(workdir: Path) -> None:
    (workdir / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    result = run("apply", "--local", "deep.json")
    assert (result.exit_code, result.output) == (
        1,
        "Error: deep.json: not a saved plan: JSON nested too deeply; save a plan with "
        "`reconciler plan --out FILE`\n",
    )


def test_apply_refuses_the_stdout_json_form(workdir: Path) -> None:
    printed = run("plan", "--local", "--format", "json").stdout
    (workdir / "printed.json").write_text(printed)
    result = run("apply", "--local", "printed.json")
    assert result.output == (
        "Error: printed.json: this is the output of `plan --format json`, which cannot be applied (it has "
        "no fingerprints); save a plan with `reconciler plan --out FILE`\n"
    )


def test_read_bounded_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 11)
    assert fsio.read_bounded(tmp_path / "big", 11) == b"x" * 11
    with pytest.raises(fsio.FileTooLargeError) as info:
        fsio.read_bounded(tmp_path / "big", 10)
    assert info.value.strerror == "it is 11 bytes, over the limit of 10"


def test_write_atomic_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("old")
    path.chmod(0o640)
    fsio.write_atomic(path, b"new\r\n")
    assert path.read_bytes() == b"new\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_write_atomic_writes_pieces_in_order_and_a_failing_piece_leaves_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    fsio.write_atomic(path, iter([b"{", b'"a"', b":1}"]))
    assert path.read_bytes() == b'{"a":1}'

    def failing() -> Iterator[bytes]:
        yield b"partial"
        raise ValueError("out of range")

    with pytest.raises(ValueError, match="out of range"):
        fsio.write_atomic(path, failing())
    assert path.read_bytes() == b'{"a":1}'
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"]  # no temporary file left


def test_load_names_a_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format_version": "1", "changes": [{}], "summary": {}, "prune": False}))
    with pytest.raises(ReconcilerError) as info:
        planfile.load(path)
    assert str(info.value) == f"{path}: not a saved reconciler plan (changes[0] has no 'key')"


def test_o_is_the_short_form_of_out(workdir: Path) -> None:
    assert run("plan", "--local", "-o", "plan.json").exit_code == 0
    assert planfile.load(workdir / "plan.json").plan.changes[0].key == "hr"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d.update(target="local"), "target is a string, not an object"),
        (lambda d: d["target"].pop("base_url"), "target has no 'base_url'"),
        (lambda d: d.update(changes=["x"]), "changes[0] is a string, not an object"),
        (lambda d: d["changes"][0].update(files=[7]), "changes[0].files[0] is a number, not an object"),
        (lambda d: d.pop("root"), "it has no 'root'"),
        (lambda d: d.update(orphans=[{"key": "k"}]), "orphans[0] has no 'id'"),
        # An edited key or id that would span lines in the refusal and the plan shown before applying.
        (
            lambda d: d["changes"][0].update(key="hr\n## All checks passed"),
            'changes[0] has a bad field (key "hr\\n## All checks passed" is no key)',
        ),
        (
            lambda d: d["changes"][0].update(id="asst_1\x1b[8m"),
            'changes[0] has a bad field (id "asst_1\\u001b[8m" is no object id)',
        ),
        (
            lambda d: d.update(orphans=[{"key": "k", "id": 7}]),
            "orphans[0] has a bad field (id 7 is no object id)",
        ),
    ],
)
def test_load_names_the_field_of_the_wrong_type(
    workdir: Path, edit: Callable[[dict[str, Any]], object], problem: str
) -> None:
    """Today a `target` of the wrong type read `string indices must be integers, not 'str'`."""
    assert run("plan", "--local", "--out", "plan.json").exit_code == 0
    data = json.loads((workdir / "plan.json").read_text())
    edit(data)
    (workdir / "plan.json").write_text(json.dumps(data))
    with pytest.raises(ReconcilerError) as info:
        planfile.load(workdir / "plan.json")
    assert str(info.value) == f"{workdir / 'plan.json'}: not a saved reconciler plan ({problem})"
