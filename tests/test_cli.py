"""The command line itself (reconciler/cli.py): usage errors exit 1 with click's message, help and version,
and the API key kept out of every error line and debug traceback. Runs against the live emulator over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from plan_support import write_manifests

from reconciler import __version__
from reconciler.cli import cli
from reconciler.cli_group import check_api_key, error_for, scrub
from reconciler.emulator.testing import LiveEmulator

KEY = "sk-cli-test-0123456789abcdef"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="reconciler", env={"NO_COLOR": "1", **(env or {})})


PLAN_USAGE = "Usage: reconciler plan [OPTIONS]\nTry 'reconciler plan --help' for help.\n\n"
APPLY_USAGE = "Usage: reconciler apply [OPTIONS] [PLAN_FILE]\nTry 'reconciler apply --help' for help.\n\n"
GROUP_USAGE = "Usage: reconciler [OPTIONS] COMMAND [ARGS]...\nTry 'reconciler --help' for help.\n\n"


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (["plan", "--bogus"], PLAN_USAGE + "Error: No such option '--bogus'. Did you mean '--out'?\n"),
        (
            ["plan", "--format", "xml"],
            PLAN_USAGE
            + "Error: Invalid value for '--format': 'xml' is not one of 'text', 'markdown', 'json'.\n",
        ),
        (
            ["apply", "--parallelism", "0"],
            APPLY_USAGE + "Error: Invalid value for '--parallelism': 0 is not in the range 1<=x<=64.\n",
        ),
        (
            ["apply", "--format", "markdown"],
            APPLY_USAGE + "Error: Invalid value for '--format': 'markdown' is not one of 'text', 'json'.\n",
        ),
        (["plan", "--target"], "Error: Option '--target' requires an argument.\n"),
        (["nosuch"], GROUP_USAGE + "Error: No such command 'nosuch'.\n"),
        (["--bogus"], GROUP_USAGE + "Error: No such option '--bogus'.\n"),
    ],
)
def test_usage_errors_exit_1_with_clicks_message(args: list[str], output: str) -> None:
    """The contract: 1 for any error; 2 is only `plan --detailed-exitcode` with changes."""
    result = run(*args)
    assert (result.exit_code, result.output) == (1, output)


def test_no_command_shows_help_and_exits_1() -> None:
    result = run()
    assert result.exit_code == 1
    assert "Usage: reconciler [OPTIONS] COMMAND [ARGS]..." in result.output
    assert "Commands:" in result.output


def test_help_and_version() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for word in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NO_COLOR", "RECONCILER_DEBUG", "Exit codes:"):
        assert word in result.output
    assert "Make the API match the manifests, or apply a saved plan." in result.output
    for name, command in cli.commands.items():
        shown = run(name, "--help")
        assert shown.exit_code == 0, name
        assert "Example:\n    reconciler " in shown.output, f"{name}: no example"
        undocumented = [p.name for p in command.params if isinstance(p, click.Option) and not p.help]
        assert undocumented == [], f"{name}: options without help: {undocumented}"
        for argument in (p for p in command.params if isinstance(p, click.Argument)):
            shown_name = (argument.metavar or argument.name or "").strip("[].").upper()
            assert shown_name in (command.help or ""), f"{name}: argument {shown_name} not explained"
    apply_help = " ".join(run("apply", "--help").output.split())
    assert (
        "--target KEY Apply only the changes to the assistant (or saved agent) with this manifest key"
        in apply_help
    )
    result = run("--version")
    assert (result.exit_code, result.output) == (0, f"reconciler, version {__version__}\n")


def test_a_usage_error_exits_1_in_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--format", "xml"], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--format': 'xml' is not one of 'text', 'markdown', 'json'."
    )


@pytest.mark.parametrize(
    ("key", "what", "position"),
    [
        (f"{KEY}\nsk-second-key-abcdefgh", "a line break", len(KEY) + 1),
        (f"{KEY}\r\n\tx", "a line break", len(KEY) + 1),
        (f"sk-clé-{KEY}", "a non-ASCII character", 6),
        (f"sk-\x7f{KEY}", "a control character (code 127)", 4),
        (f"sk-\t{KEY}", "a control character (code 9)", 4),
    ],
)
def test_a_key_no_header_can_carry_is_refused_without_showing_it(
    live_emulator: LiveEmulator, tmp_path: Path, key: str, what: str, position: int
) -> None:
    """Before, httpx's "Illegal header value b'Bearer sk-...\\n...'" reached the error line."""
    write_manifests(tmp_path / "assistants", {"a": "model: gpt-4\n"})
    env = {"OPENAI_API_KEY": key, "OPENAI_BASE_URL": live_emulator.base_url}
    length = len(key.strip())
    for args in (["plan"], ["apply", "--auto-approve"], ["import", "--all"]):
        result = run(*args, "--dir", str(tmp_path / "assistants"), env=env)
        assert result.exit_code == 1, result.output
        assert result.output == (
            f"Error: OPENAI_API_KEY has {what} at position {position} of {length}, which no HTTP header "
            "can carry: set it to the key alone\n"
        )
    assert live_emulator.stats()["total"] == 0


def test_local_needs_no_key_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_manifests(tmp_path / "assistants", {"a": "model: gpt-4\n"})
    result = run("plan", "--local", env={"OPENAI_API_KEY": "not\na key"})
    assert result.exit_code == 0, result.output


def test_local_wins_over_an_exported_base_url(
    live_emulator: LiveEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--local` with OPENAI_BASE_URL in the environment uses the embedded emulator (the flag is explicit);
    with an explicit --base-url the pair is refused."""
    monkeypatch.chdir(tmp_path)
    write_manifests(tmp_path / "assistants", {"a": "model: gpt-4\n"})
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": live_emulator.base_url}
    for args in (["plan", "--local"], ["apply", "--local", "--auto-approve"], ["import", "--local", "--all"]):
        result = run(*args, env=env)
        assert result.exit_code == 0, result.output
    assert run("plan", "--local", env=env).output == "No changes. Your assistants match the manifests.\n"
    assert live_emulator.stats()["total"] == 0
    result = run("plan", "--local", "--base-url", live_emulator.base_url, env=env)
    assert result.exit_code == 1
    assert result.output.startswith("Error: --local and --base-url exclude each other")


def test_scrub_masks_every_form_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", f" {KEY}\nsk-second-key-abcdefgh\n")
    escaped = repr(f"Bearer {KEY}\nsk-second-key-abcdefgh".encode())
    text = scrub(f"Illegal header value {escaped}; sent {KEY}; then sk-second-key-abcdefgh")
    assert KEY not in text and "sk-second-key-abcdefgh" not in text
    assert text == "Illegal header value b'Bearer ***'; sent ***; then ***"


def test_the_debug_traceback_is_scrubbed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """RECONCILER_DEBUG=1 prints the traceback of an unexpected crash, with the key masked in it."""
    monkeypatch.setenv("OPENAI_API_KEY", f"{KEY}\nx")

    def crash() -> None:
        raise RuntimeError(f"Illegal header value {(f'Bearer {KEY}' + chr(10) + 'x').encode()!r}")

    try:
        crash()
    except RuntimeError as err:
        shown = error_for(err)
    for debug, expected in (("1", "Traceback (most recent call last):"), ("", "Error: internal error:")):
        monkeypatch.setenv("RECONCILER_DEBUG", debug)
        shown.show()
        output = capsys.readouterr().err
        assert shown.exit_code == 1
        assert expected in output
        assert "RuntimeError: Illegal header value b'Bearer ***'" in output
        assert KEY not in output and "0123456789abcdef" not in output


def test_check_api_key_accepts_ordinary_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (KEY, f"  {KEY}\n", ""):
        monkeypatch.setenv("OPENAI_API_KEY", key)
        check_api_key()


def test_retries_against_a_dead_server_are_said_on_stderr(tmp_path: Path) -> None:
    """A server that does not answer is not a silent wait: each retry is one warning line, key masked."""
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    write_manifests(tmp_path / "assistants", {"a": "model: gpt-4-turbo\n"})
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    result = CliRunner().invoke(
        cli, ["plan", "--dir", str(tmp_path / "assistants"), "--max-retries", "1"], env=env
    )
    lines = result.output.splitlines()
    base = f"GET /assistants: cannot connect to http://127.0.0.1:{port}/v1 (All connection attempts failed)"
    assert result.exit_code == 1
    assert lines[0].startswith(f"reconciler: {base}; retry 1/1 in ")
    assert lines[1] == f"Error: {base} (gave up after 1 retry)"
    assert KEY not in result.output


def test_unknown_log_level_is_an_error() -> None:
    result = run("validate", env={"RECONCILER_LOG": "loud"})
    assert (result.exit_code, result.output) == (
        1,
        "Error: RECONCILER_LOG='loud' is not a log level: use one of debug, info, warning, error "
        "(or unset it)\n",
    )
