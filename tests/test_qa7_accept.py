"""QA pass 7: `reconciler accept` and instructions files that are not one manifest's own.

- Two drifted assistants reading one `instructions_file` with different server texts: accept wrote the file
  twice, the last text winning, and said it accepted both; the next plan overwrote the other's edit.
- One drifted assistant reading a file another manifest reads too: accept rewrote it silently, and the next
  plan changed the other assistant (the environments case already warned: `gets it too`).
- An `instructions_file` that is a symlink (inside the repository: the loader reads it): accept wrote the
  manifest's other fields, then failed on the link: half an accept. Every target is now checked before any
  file is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import EMULATOR_API_KEY, MakeLiveEmulator
from http_support import JSONHandler, serve

from reconciler.cli import cli
from reconciler.emulator.testing import LiveEmulator


@pytest.fixture
def server(make_live_emulator: MakeLiveEmulator) -> LiveEmulator:
    return make_live_emulator()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: LiveEmulator) -> Iterator[Path]:
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "prompts").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", str(EMULATOR_API_KEY))
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield tmp_path


def reconciler(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def edit(server: LiveEmulator, name: str, **fields: Any) -> None:
    """A dashboard edit of the assistant named `name`."""
    with server.client() as client:
        listed = client.get("/assistants", params={"limit": 100}).json()["data"]
        [found] = [a for a in listed if a["name"] == name]
        assert client.post(f"/assistants/{found['id']}", json=fields).status_code == 200


def shared(repo: Path, *names: str) -> None:
    """Manifests `names` (lower-cased keys) all reading prompts/shared.md, applied."""
    (repo / "prompts" / "shared.md").write_text("Shared prompt.\n")
    for name in names:
        (repo / "assistants" / f"{name.lower()}.yaml").write_text(
            f"name: {name}\nmodel: gpt-4\ninstructions_file: ../prompts/shared.md\n"
        )
    assert reconciler("apply", "--auto-approve").exit_code == 0


def test_two_edits_of_one_shared_file_are_refused_and_nothing_is_written(
    repo: Path, server: LiveEmulator
) -> None:
    shared(repo, "A", "B")
    edit(server, "A", instructions="Edited for A", model="gpt-4-turbo")
    edit(server, "B", instructions="Edited for B")
    before = {p: p.read_text() for p in [*repo.glob("assistants/*"), repo / "prompts" / "shared.md"]}

    refused = reconciler("accept")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "prompts/shared.md: instructions: edited outside reconciler to different texts on assistants "
        '"a" and "b", which read this file; edit it by hand, or apply to overwrite\n'
        "Error: 1 drifted field cannot be accepted; nothing was written\n"
    )
    assert {p: p.read_text() for p in before} == before, "nothing written, a's model included"


def test_one_edit_of_a_shared_file_names_the_others_that_get_it(repo: Path, server: LiveEmulator) -> None:
    shared(repo, "A", "B", "C")
    edit(server, "A", instructions="Edited for A")
    edit(server, "C", instructions="Edited for A")

    accepted = reconciler("accept")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout == "wrote prompts/shared.md: instructions\n"
    assert accepted.stderr == (
        'Warning: prompts/shared.md: assistant "b" reads this file too, so it gets the accepted text: '
        "review its plan\n"
        "Accepted 2 fields of 2 assistants edited outside reconciler: review the changes and commit them.\n"
    )
    assert (repo / "prompts" / "shared.md").read_text() == "Edited for A\n"


def test_an_instructions_file_that_is_a_link_is_refused_before_any_write(
    repo: Path, server: LiveEmulator
) -> None:
    (repo / "prompts" / "a.md").write_text("Prompt.\n")
    (repo / "assistants" / "a.md").symlink_to("../prompts/a.md")
    manifest = repo / "assistants" / "a.yaml"
    manifest.write_text("name: A\nmodel: gpt-4\ninstructions_file: a.md\n")
    assert reconciler("apply", "--auto-approve").exit_code == 0
    edit(server, "A", instructions="Edited", model="gpt-4-turbo")

    refused = reconciler("accept")
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        "Error: cannot write assistants/a.md: it is a symbolic link, not a regular file; nothing was "
        "written\n"
    )
    assert manifest.read_text() == "name: A\nmodel: gpt-4\ninstructions_file: a.md\n"
    assert (repo / "prompts" / "a.md").read_text() == "Prompt.\n"


def accept_from_a_copy(server: LiveEmulator, monkeypatch: pytest.MonkeyPatch, **edited: Any) -> Result:
    """Apply the manifests, then accept against a server holding the applied assistant with `edited`
    fields, whatever their values (no API limit holds it back)."""
    assert reconciler("apply", "--auto-approve").exit_code == 0
    with server.client() as client:
        [held] = client.get("/assistants").json()["data"]

    class Handler(JSONHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/v1/models"):
                self.send_json({"object": "list", "data": [{"id": "gpt-4", "object": "model"}]})
            else:
                self.send_json({"object": "list", "data": [{**held, **edited}], "has_more": False})

    with serve(Handler) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        return reconciler("accept")


def test_a_server_value_the_manifest_model_refuses_is_not_written(
    repo: Path, server: LiveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server past the API's limits (a name of 300 characters: a manifest allows 256): accept wrote it, and
    every command after failed on the manifest it had written."""
    manifest = repo / "assistants" / "a.yaml"
    manifest.write_text("name: A\nmodel: gpt-4\n")

    refused = accept_from_a_copy(server, monkeypatch, name="X" * 300, description="Fine.")
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        "assistants/a.yaml: name: the server's value is not one a manifest may hold (at most 256 characters, "
        "got 300); edit it by hand, or apply to overwrite\n"
        "Error: 1 drifted field cannot be accepted; nothing was written\n"
    )
    assert manifest.read_text() == "name: A\nmodel: gpt-4\n", "description, which is fine, included"


def test_instructions_past_the_limit_are_not_written_to_their_file(
    repo: Path, server: LiveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "assistants" / "a.md").write_text("Prompt.\n")
    (repo / "assistants" / "a.yaml").write_text("name: A\nmodel: gpt-4\ninstructions_file: a.md\n")

    refused = accept_from_a_copy(server, monkeypatch, instructions="x" * 300_000)
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        "assistants/a.md: instructions: the server's value is not one a manifest may hold (at most 256,000 "
        "characters, got 300,000); edit it by hand, or apply to overwrite\n"
        "Error: 1 drifted field cannot be accepted; nothing was written\n"
    )
    assert (repo / "assistants" / "a.md").read_text() == "Prompt.\n"
