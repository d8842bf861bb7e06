"""The JSON Schemas of the three JSON forms (`reconciler.formats`, `schema/*.json`): the files are generated
from the declarations, and real CLI outputs against the embedded emulator (`--local`) validate."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result
from plan_support import write_manifests

from reconciler import formats
from reconciler.cli import cli

ROOT = Path(__file__).resolve().parents[1]
FORMS = {form.file: form for form in formats.FORMS}


def validator(file: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / "schema" / file).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid(file: str, data: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(file).iter_errors(data)]
    assert errors == []


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A tmp cwd holding a copy of the repository's example manifests (and their knowledge file)."""
    shutil.copytree(ROOT / "assistants", tmp_path / "assistants")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    yield tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--local"], catch_exceptions=False)


def test_schema_files_are_up_to_date() -> None:
    assert formats.out_of_date(ROOT / "schema") == [], "run: python -m reconciler.formats"
    for file in FORMS:
        schema = json.loads((ROOT / "schema" / file).read_text(encoding="utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert (schema["$id"], schema["title"]) == (f"urn:reconciler:schema:{file}", FORMS[file].title)
        assert schema["description"]


def test_check_names_missing_and_changed_files_then_write_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "schema"
    assert formats.main(["--check", "--dir", str(directory)]) == 1
    assert not directory.exists()
    assert formats.main(["--dir", str(directory)]) == 0
    assert formats.main(["--check", "--dir", str(directory)]) == 0
    (directory / "plan.json").write_text("{}\n")
    capsys.readouterr()
    assert formats.main(["--check", "--dir", str(directory)]) == 1
    assert capsys.readouterr().err == (
        f"{directory / 'plan.json'}: out of date; run python -m reconciler.formats\n"
    )


def test_plan_and_saved_plan_validate(workdir: Path) -> None:
    result = run("plan", "--format", "json", "--out", "plan.json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    saved = json.loads((workdir / "plan.json").read_text())
    assert printed["summary"]["create"] == 2 and printed["files"]  # hr-helper's knowledge file
    assert "files" in saved["changes"][0] or "files" in saved["changes"][1]
    assert_valid("plan.json", printed)
    assert_valid("saved-plan.json", saved)
    # what a program needs besides the changes (issue 14): the saved form's managed, orphans and warnings
    assert (printed["managed"], printed["orphans"], printed["warnings"]) == (0, [], [])


def test_pruned_plan_with_orphans_deletes_and_detached_files_validates(workdir: Path) -> None:
    assert run("apply", "--auto-approve").exit_code == 0
    (workdir / "assistants" / "it-helpdesk.yaml").unlink()
    hr = workdir / "assistants" / "hr-helper.yaml"
    hr.write_text(hr.read_text().replace("files:\n  - docs/leave-policy.md\n", ""))
    result = run("plan", "--format", "json", "--out", "kept.json")
    assert result.exit_code == 0, result.output
    assert_valid("plan.json", json.loads(result.stdout))
    kept = json.loads((workdir / "kept.json").read_text())
    assert [o["key"] for o in kept["orphans"]] == ["it-helpdesk"]
    assert_valid("saved-plan.json", kept)

    result = run("plan", "--format", "json", "--out", "pruned.json", "--prune")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["summary"]["delete"] == 1 and printed["file_summary"]["delete"] == 1
    assert [f["status"] for c in printed["changes"] for f in c.get("files", [])] == ["detach"]
    assert_valid("plan.json", printed)
    assert_valid("saved-plan.json", json.loads((workdir / "pruned.json").read_text()))


def test_apply_report_with_a_failure_and_knowledge_files_validates(workdir: Path) -> None:
    write_manifests(
        workdir / "assistants",
        {"broken": "model: gpt-4o\n"},  # listed by /models, refused by v1 at create
    )
    # with the server's own model rules (only /models), the create is refused at apply, not at plan
    result = run("apply", "--auto-approve", "--format", "json", "--model-rules", "server")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["summary"] == {"created": 2, "updated": 0, "deleted": 0, "failed": 1}
    assert [f["status"] for f in report["files"]] == ["uploaded"]
    assert_valid("apply-report.json", report)


@pytest.mark.parametrize(
    ("file", "key"),
    [("plan.json", "unmanaged"), ("saved-plan.json", "managed"), ("apply-report.json", "ok")],
)
def test_a_form_missing_a_required_key_fails(workdir: Path, file: str, key: str) -> None:
    if file == "apply-report.json":
        data = json.loads(run("apply", "--auto-approve", "--format", "json").stdout)
    else:
        result = run("plan", "--format", "json", "--out", "plan.json")
        data = json.loads(result.stdout if file == "plan.json" else (workdir / "plan.json").read_text())
    assert_valid(file, data)
    del data[key]
    errors = [e.message for e in validator(file).iter_errors(data)]
    assert errors == [f"'{key}' is a required property"]


def test_nested_forms_are_closed_and_typed(workdir: Path) -> None:
    run("plan", "--format", "json", "--out", "plan.json")
    saved = json.loads((workdir / "plan.json").read_text())
    change = saved["changes"][0]
    del change["fingerprint"]
    change["surprise"] = 1
    saved["summary"]["no-op"] = "0"
    messages = sorted(e.message for e in validator("saved-plan.json").iter_errors(saved))
    assert messages == [
        "'0' is not of type 'integer'",
        "'fingerprint' is a required property",
        "Additional properties are not allowed ('surprise' was unexpected)",
    ]
