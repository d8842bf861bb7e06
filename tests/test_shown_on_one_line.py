# ruff: noqa: E501  (exact error messages read best on one line)
"""Text shown in a plan cannot forge its lines: a manifest naming a knowledge or instructions file whose path
holds a line break, an escape or a direction override is refused at validate (the file name was printed raw:
`+ file assistants/docs/a` then a line of the author's choosing, in the plan and in the PR comment's diff
block); an uploaded name from the server is shown as a JSON string in plans and reports, and so is a metadata
key that is not one printable word, from a manifest or from the server."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from apply_support import client_for, plan_dir, seed
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from test_files import put, repo, sha, text

from reconciler import knowledge
from reconciler.apply import Executor
from reconciler.client import Client
from reconciler.emulator.testing import InProcessEmulator
from reconciler.manifest import load_directory
from reconciler.render.report import render_report

__all__ = ["repo"]  # the fixture: a repository (`.git`) as the working directory, with `assistants/docs/`

REFUSAL = "a path with a line break, a control character or a direction override; rename the file (plans and PR comments show it on one line)"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\n## All checks passed.md", "a\\n## All checks passed.md"),
        ("a\x1b[8mhidden.md", "a\\x1b[8mhidden.md"),
        ("a\u202edm.txt", "a\\u202edm.txt"),
        ("a\u2028b.md", "a\\u2028b.md"),
    ],
)
def test_a_file_path_no_line_can_show_is_refused(repo: Path, name: str, shown: str) -> None:
    put(repo, f"assistants/docs/{name}", b"content\n")
    quoted = name.encode("unicode_escape").decode()
    put(repo, "assistants/hr.yaml", f'model: gpt-4\ntools: [{{type: retrieval}}]\nfiles: ["docs/{quoted}"]\n')
    put(repo, "assistants/it.yaml", f'model: gpt-4\ninstructions_file: "docs/{quoted}"\n')
    errors = [str(e) for e in load_directory(Path("assistants")).errors]
    assert errors == [
        f"assistants/hr.yaml:3:9: files[0]: 'docs/{shown}': {REFUSAL}",
        f"assistants/it.yaml:2:20: instructions_file: 'docs/{shown}': {REFUSAL}",
    ]


def test_paths_in_other_scripts_are_fine(repo: Path) -> None:
    put(repo, "assistants/docs/politique de congés ✓.md", b"content\n")
    put(
        repo,
        "assistants/hr.yaml",
        'model: gpt-4\ntools: [{type: retrieval}]\nfiles: ["docs/politique de congés ✓.md"]\n',
    )
    assert load_directory(Path("assistants")).errors == []


@pytest.mark.anyio
async def test_an_uploaded_name_is_shown_as_a_json_string(emulator: InProcessEmulator, repo: Path) -> None:
    put(repo, "assistants/hr.yaml", "model: gpt-4\n")
    async with client_for(emulator) as client:
        # A name that no upload through httpx carries (it percent-encodes quotes), as another client could.
        name = knowledge.remote_name('say "yes" \\ for hr.md', sha(b"x"))
        stray_id = emulator.state.store.create_file(filename=name, purpose="assistants", content=b"x")["id"]
        the_plan = await plan_dir(client, repo / "assistants", prune=True)
        report = await Executor(client, settle_window=0).run(the_plan)
    shown = f'"say \\"yes\\" \\\\ for hr.sha256-{sha(b"x")[:16]}.md"'
    assert f"  - file {shown} ({stray_id}, 1 B) will be deleted: no manifest or assistant uses it\n" in text(
        the_plan
    )
    assert f"- file {shown} ({stray_id}, 1 B) will be deleted: " in text(the_plan, "markdown")
    out = io.StringIO()
    render_report(report, out, color=False)
    assert f"- file {shown}: deleted ({stray_id})" in out.getvalue().splitlines()


@pytest.mark.anyio
async def test_a_metadata_key_that_is_no_word_is_a_json_string(
    emulator: InProcessEmulator, repo: Path
) -> None:
    put(
        repo, "assistants/hr.yaml", 'model: gpt-4\nmetadata:\n  "a\\n## All checks passed": "v"\n  team: hr\n'
    )
    async with client_for(emulator) as client:
        await seed(client, {"model": "gpt-4", "metadata": {"x\u202ey": "w", "reconciler_key": "hr"}})
        the_plan = await plan_dir(client, repo / "assistants")
    assert [
        line.strip() for line in text(the_plan).splitlines() if "=" in line and "metadata" not in line
    ] == [
        '- "x\\u202ey"                = "w"',
        '+ "a\\n## All checks passed" = "v"',
        '+ team                      = "hr"',
    ]
    assert '+   "a\\n## All checks passed" = "v"' in text(the_plan, "markdown").splitlines()


FORGED = "f\n```\n## All checks passed"


@pytest.mark.anyio
async def test_a_servers_tool_names_and_types_stay_on_their_line(repo: Path) -> None:
    """A server's function name, mcp label or tool type is shown as a JSON string when no word (a server
    other than the API: the API refuses such names)."""
    tools = [
        {"type": "function", "function": {"name": FORGED, "parameters": {"type": "object"}}},
        {"type": FORGED},
    ]
    listed = {"id": "asst_1", "object": "assistant", "created_at": 1, "name": None, "description": None}
    listed |= {"model": "gpt-4", "instructions": None, "tools": tools, "file_ids": [], "metadata": {}}
    listed["metadata"] = {"reconciler_key": "hr"}

    async def assistants(request: Request) -> JSONResponse:
        return JSONResponse(
            {"object": "list", "data": [listed], "first_id": "asst_1", "last_id": "asst_1", "has_more": False}
        )

    put(repo, "assistants/hr.yaml", "model: gpt-4\n")
    transport = httpx.ASGITransport(app=Starlette(routes=[Route("/v1/assistants", assistants)]))
    async with Client(
        api_key="sk-hostile-0123456789", base_url="http://hostile/v1", transport=transport
    ) as client:
        the_plan = await plan_dir(client, repo / "assistants")
    shown = [line.strip() for line in text(the_plan).splitlines() if line.strip().startswith(("- f", '- "'))]
    assert shown == ['- function "f\\n```\\n## All checks passed"', '- "f\\n```\\n## All checks passed"']
    fences = [line for line in text(the_plan, "markdown").splitlines() if line.startswith("`")]
    assert fences == ["````diff", "````"]
