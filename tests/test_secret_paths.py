"""Every path a credential or hostile server text can take to the screen or the repository: import of an
assistant holding the key, a base URL with credentials, diagnostics and usage errors, validate, a server's
error text with terminal escapes, and keys too plain to mask. Through the CLI, against the real emulator or
a tiny hostile HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from http_support import serve
from test_apply_cli import manifests, run, seed

from reconciler.cli import cli
from reconciler.emulator.testing import LiveEmulator

KEY = "sk-test-SECRET123456789"


def invoke(*args: str, **env: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1", **env}, catch_exceptions=False)


def test_import_refuses_assistants_holding_the_key_in_any_case(
    live_emulator: LiveEmulator, tmp_path: Path
) -> None:
    key = live_emulator.api_key
    assert key
    with live_emulator.client() as http:
        leaky = http.post("/assistants", json={"model": "gpt-4", "name": f"Leaky {key}", "instructions": key})
        upper = http.post("/assistants", json={"model": "gpt-4", "name": "ok", "description": key.upper()})
        http.post("/assistants", json={"model": "gpt-4", "name": "clean"})
    d = tmp_path / "imported"
    result = run(live_emulator, "import", "--all", "--dir", str(d))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: {leaky.json()['id']}: name, instructions hold the API key (the value of OPENAI_API_KEY): "
        "not imported, remove it from the assistant first\n"
        f"{upper.json()['id']}: description holds the API key (the value of OPENAI_API_KEY): not imported, "
        "remove it from the assistant first\n"
    )
    assert not d.exists()  # nothing written, not even the clean one


def test_credentials_in_a_base_url_are_never_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = "Error: invalid base URL {} (from --base-url or OPENAI_BASE_URL): it may not {}, e.g. "
    tail = "https://api.openai.com/v1\n"
    for url, shown, problem in [
        (f"http://user:{KEY}@x/v1", "'http://***@x/v1'", "contain credentials"),
        ("http://u:hunter2pass@x/v1", "'http://***@x/v1'", "contain credentials"),
        ("http://x/v1?api_key=sk-live-abcdef123", "'http://x/v1?***'", "have a query or fragment"),
    ]:
        result = invoke("plan", OPENAI_API_KEY=KEY, OPENAI_BASE_URL=url)
        assert (result.exit_code, result.output) == (1, error.format(shown, problem) + tail)
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "a.yaml").write_text("model: gpt-4\n")
    (tmp_path / "reconciler.yaml").write_text(
        'environments:\n  staging:\n    base_url: "http://user:hunter2pass@x/v1"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", OPENAI_API_KEY=KEY)
    assert result.exit_code == 1 and "hunter2pass" not in result.output
    assert result.stderr.startswith(
        "reconciler.yaml:3:15: environments.staging.base_url: invalid base URL 'http://***@x/v1': "
    )


def test_every_line_the_cli_writes_is_masked(tmp_path: Path) -> None:
    """Diagnostics, fmt, usage errors: one masking layer, whatever prints."""
    d = tmp_path / "assistants"
    d.mkdir()
    (d / "a.yaml").write_text(f"model: gpt-4\n{KEY}: 1\n")
    (tmp_path / f"{KEY}.yaml").write_text("model: [\n")
    runs = [
        invoke("plan", "--local", "--dir", str(d), OPENAI_API_KEY=KEY),
        invoke("validate", "--dir", str(d), OPENAI_API_KEY=KEY),
        invoke("fmt", "--check", str(tmp_path / f"{KEY}.yaml"), OPENAI_API_KEY=KEY),
        invoke("fmt", KEY, OPENAI_API_KEY=KEY),
        invoke("plan", f"--{KEY}", OPENAI_API_KEY=KEY),
        invoke("plan", "--format", KEY, OPENAI_API_KEY=KEY),
    ]
    for result in runs:
        assert result.exit_code == 1
        assert KEY not in result.output and "***" in result.output, result.output
    assert f"{d}/a.yaml:2:1: ***: unknown field '***'" in runs[0].stderr


def test_validate_refuses_a_manifest_holding_the_key_as_plan_does(tmp_path: Path) -> None:
    d = tmp_path / "assistants"
    d.mkdir()
    (d / "hr.yaml").write_text(f"model: gpt-4\ninstructions: my key is {KEY}\n")
    line = (
        f"Error: {d}/hr.yaml:2:1: instructions: holds the API key (the value of OPENAI_API_KEY); remove it "
        "from the manifest\n"
    )
    for command in ("validate", "plan"):
        result = (
            invoke(command, "--local", "--dir", str(d), OPENAI_API_KEY=KEY)
            if command == "plan"
            else (invoke(command, "--dir", str(d), OPENAI_API_KEY=KEY))
        )
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", line)
    assert invoke("validate", "--dir", str(d)).exit_code == 0  # no key set: nothing to hold


@pytest.mark.parametrize(
    ("key", "where", "at"),
    [
        ('sk-quote"and\\backslash1234', "instructions", "2:1: instructions"),  # searched as sent, not as JSON
        ("sk-nested-0123456789abcdef", "tools", "4:25: tools[0].function.description"),  # the value itself
        ("sk-nested-0123456789abcdef", "metadata", "2:1: metadata"),  # a mapping key: never named in the line
    ],
)
def test_the_key_is_found_wherever_a_manifest_holds_it(tmp_path: Path, key: str, where: str, at: str) -> None:
    d = tmp_path / "assistants"
    d.mkdir()
    quoted = json.dumps(f"use {key} here")
    values = {
        "instructions": f"instructions: {quoted}",
        "tools": f"tools:\n  - type: function\n    function: {{name: f, description: {quoted}}}",
        "metadata": f"metadata:\n  {json.dumps(key)}: x",
    }
    (d / "hr.yaml").write_text(f"model: gpt-4\n{values[where]}\n")
    result = invoke("validate", "--dir", str(d), OPENAI_API_KEY=key)
    assert (result.exit_code, result.stdout) == (1, "")
    assert f"{d}/hr.yaml:{at}: holds the API key (the value of OPENAI_API_KEY)" in result.stderr
    assert key not in result.stderr


def test_validate_refuses_each_environments_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "hr.yaml").write_text(f"model: gpt-4\ndescription: {KEY}\n")
    (tmp_path / "reconciler.yaml").write_text(
        "environments:\n  staging:\n    api_key_env: STAGING_KEY\n  production: {}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = invoke("validate", STAGING_KEY=KEY)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (  # in every environment: any key this process holds is refused everywhere
        "assistants/hr.yaml:2:1: description: holds the API key (the value of STAGING_KEY); remove it from "
        "the manifest\n"
        "Error: 1 error in the manifests of staging, production\n"
    )


def test_another_environments_key_is_refused_not_sent_to_this_ones_server(
    live_emulator: LiveEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Masked in the plan but applied before: a manifest of staging holding production's key wrote it to
    staging's server."""
    prod = "sk-prod-BBBBBBBBBBBBBBBBBBBBBBBB2"
    (tmp_path / ".git").mkdir()
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "canary.yaml").write_text(
        f'name: Canary\nmodel: gpt-4\ninstructions: "prod key: {prod}"\nonly: [staging]\n'
    )
    (tmp_path / "reconciler.yaml").write_text(
        f"environments:\n  staging:\n    base_url: {live_emulator.base_url}\n    api_key_env: STAGING_KEY\n"
        f"  production:\n    base_url: {live_emulator.base_url}\n    api_key_env: PROD_KEY\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    env = {"STAGING_KEY": live_emulator.api_key or "", "PROD_KEY": prod}
    line = (
        "assistants/canary.yaml:3:1: instructions: holds the API key (the value of PROD_KEY); remove it from "
        "the manifest"
    )
    result = invoke("validate", **env)
    assert (result.exit_code, result.stderr) == (
        1,
        f"{line} (environment staging)\nError: 1 error in the manifests of staging, production\n",
    )
    result = invoke("apply", "--env", "staging", "--auto-approve", **env)
    assert (result.exit_code, result.stderr) == (1, f"Error: {line}\n")
    with live_emulator.client() as http:
        assert http.get("/assistants").json()["data"] == []


@pytest.fixture
def hostile() -> Iterator[str]:
    """A server answering every request 400 with terminal escapes in its error message; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(
                {
                    "error": {
                        "message": "bad \x1b[2J\x1b[31mPWNED\x1b]0;title\x07 \u202eevil",
                        "type": "x\x1b[1m",
                    }
                }
            ).encode()
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve(Handler) as url:
        yield url


def test_a_servers_terminal_escapes_are_shown_escaped(hostile: str, tmp_path: Path) -> None:
    d = tmp_path / "assistants"
    d.mkdir()
    (d / "a.yaml").write_text("model: gpt-4\n")
    result = invoke("plan", "--dir", str(d), OPENAI_API_KEY=KEY, OPENAI_BASE_URL=hostile)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: GET /assistants: 400 x\\u001b[1m: bad \\u001b[2J\\u001b[31mPWNED\\u001b]0;title\\u0007 "
        "\\u202eevil\n"
    )


@pytest.mark.parametrize(
    ("key", "problem"),
    [("assistants", "is a plain word (letters only)"), ("sk-a", "is only 4 characters long")],
)
def test_a_key_too_plain_to_mask_is_refused(key: str, problem: str, tmp_path: Path) -> None:
    result = invoke("plan", "--dir", str(tmp_path), OPENAI_API_KEY=key)
    assert (result.exit_code, result.output) == (
        1,
        f"Error: OPENAI_API_KEY {problem}: that is no API key, and masking it would garble every line "
        "shown (keys look like sk-...)\n",
    )


def test_a_blank_key_is_called_blank(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("model: gpt-4\n")
    result = invoke("plan", "--dir", str(tmp_path), OPENAI_API_KEY=" ")
    assert result.output.startswith("Error: OPENAI_API_KEY is blank: export it to use")


def test_the_servers_partial_echo_of_a_wrong_key_is_masked(
    live_emulator: LiveEmulator, tmp_path: Path
) -> None:
    wrong = "sk-wrong-key-0012345"
    (tmp_path / "a.yaml").write_text("model: gpt-4\n")
    result = invoke(
        "plan", "--dir", str(tmp_path), OPENAI_API_KEY=wrong, OPENAI_BASE_URL=live_emulator.base_url
    )
    assert result.exit_code == 1
    assert "Incorrect API key provided: ***. You can find" in result.stderr
    assert wrong[:8] not in result.output and wrong[-4:] not in result.output


def test_server_names_reach_the_terminal_escaped(live_emulator: LiveEmulator, tmp_path: Path) -> None:
    seed(live_emulator, "old", name="Old \x1b[8mhidden\x1b]0;title\x07 \u202eevil")
    seed(live_emulator, "keep")
    d = manifests(tmp_path / "m", "keep")
    for args in (("plan", "--prune"), ("apply", "--prune", "--auto-approve")):
        result = run(live_emulator, *args, "--dir", str(d))
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output and "\u202e" not in result.output
    assert "\\u001b[8mhidden" in result.output, result.output


def test_an_environments_key_is_masked_in_reconciler_yaml_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key variable named by reconciler.yaml is masked in that file's own errors, printed before any
    environment could be used."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "reconciler.yaml").write_text(
        f"environments:\n  staging:\n    api_key_env: STAGING_KEY\n    {KEY}: 1\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = invoke("validate", STAGING_KEY=KEY)
    assert (result.exit_code, result.stdout) == (1, "")
    assert KEY not in result.stderr
    assert result.stderr.startswith("reconciler.yaml:4:5: environments.staging.***: unknown field '***'")
