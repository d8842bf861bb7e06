"""What a server holds cannot forge lines in a plan or a pull-request comment (a QA pass as an attacker).

A `reconciler_key` that is no key (a line break, a colour escape, markdown) was shown as a key, outside every
escaped value: a plan's orphan line and the PR comment's destroy banner spanned several lines, one of them a
forged `## All checks passed: safe to approve` heading. Now only a key is a marker (`dialect.marker_of`): such
an object is unmanaged. An orphan's name is shown as a JSON string (text) or in a code span (markdown); an id
that is no token of printable characters is refused at the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner, Result
from plan_support import write_manifests
from starlette.requests import Request
from starlette.responses import JSONResponse
from test_hostile_server import list_refusal

from reconciler import dialect
from reconciler.cli import cli
from reconciler.connection import open_client
from reconciler.options import ConnectionOptions

FORGED = "x`\n\n## All checks passed: safe to approve\n\x1b[31mRED"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / ".git").mkdir()
    write_manifests(tmp_path / "assistants", {"a": "model: gpt-4-turbo\n"})
    yield tmp_path


def seed(workdir: Path, *bodies: dict[str, object]) -> None:
    async def go() -> None:
        options = ConnectionOptions(local=True, max_retries=0, state_root=workdir)
        async with open_client(options) as client:
            for body in bodies:
                await client.create_assistant(body)

    anyio.run(go)


def plan(*args: str) -> Result:
    return CliRunner().invoke(cli, ["plan", "--local", "--no-color", *args], catch_exceptions=False)


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_marker_that_is_no_key_is_not_managed_and_forges_no_line(workdir: Path, fmt: str) -> None:
    seed(workdir, {"model": "gpt-4", "name": "evil", "metadata": {dialect.MARKER_KEY: FORGED}})
    result = plan("--prune", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "All checks passed" not in result.stdout
    assert "\x1b" not in result.stdout and "destroy" not in result.stdout.replace("0 to destroy", "")
    assert "1 unmanaged assistant left untouched" in result.stdout


def test_an_orphan_name_stays_on_its_line(workdir: Path) -> None:
    seed(workdir, {"model": "gpt-4", "name": FORGED, "metadata": {dialect.MARKER_KEY: "gone"}})
    text = plan().stdout
    [line] = [line for line in text.splitlines() if line.startswith('  "gone" (asst_')]
    assert line.endswith(r' "x`\n\n## All checks passed: safe to approve\n\u001b[31mRED"')
    markdown = plan("--format", "markdown").stdout
    [line] = [line for line in markdown.splitlines() if line.startswith("- `gone` (asst_")]
    assert line.endswith(r' ``"x`\n\n## All checks passed: safe to approve\n\u001b[31mRED"``')
    assert "\n## All checks passed" not in text + markdown


async def test_an_id_that_is_no_printable_token_is_refused() -> None:
    async def listing(request: Request) -> JSONResponse:
        data = [{"id": "asst_1\n## All checks passed", "object": "assistant", "metadata": {}}]
        return JSONResponse({"object": "list", "data": data, "has_more": False})

    assert await list_refusal(listing) == (
        'GET /assistants: the server\'s answer is not an assistant list: data[0] has an "id" that is not a '
        "token of printable characters"
    )


pytestmark = pytest.mark.anyio
