"""QA pass 5: bad option and environment values, and output that cannot be written, are one clear line and
exit code 1, never "internal error", a traceback or a hang.

- Every float option (a click type shared by all commands, `cli_options.FiniteFloatRange`) refuses NaN and
  the infinities, and `POST /_emulator/faults` answers 400 naming the field.
- OPENAI_ORG_ID, OPENAI_PROJECT_ID and reconciler.yaml's `organization:`/`project:` holding what no HTTP
  header can carry are refused as the API key is, before any request.
- A closed stdout or a full disk (`>/dev/full`) is `Error: cannot write the output: ...` (in a real process:
  only there can a standard stream be missing or a device be full).
- `environments: {}` says what is wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import EMULATOR_API_KEY

from reconciler.cli import cli
from reconciler.emulator.testing import InProcessEmulator, LiveEmulator

CLI = (sys.executable, "-m", "reconciler")
#: Long enough for a cold start on a busy machine; a refused option returns in well under a second.
PROCESS_TIMEOUT = 30


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    for variable in ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "assistants").mkdir()
    (tmp_path / "assistants" / "bot.yaml").write_text("name: Bot\nmodel: gpt-4\n")
    yield tmp_path


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="reconciler", env=env)


def last_line(text: str) -> str:
    return text.rstrip("\n").rsplit("\n", 1)[-1]


# a, b: the emulator's float options. In a real process: with the old code `--rate-limit-rps nan` started
# a server (every request then failed with a 500), which only a timeout ends.


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--fail-rate", "nan", "'nan' is not a finite number."),
        ("--drop-rate", "nan", "'nan' is not a finite number."),
        ("--rate-limit-rps", "nan", "'nan' is not a finite number."),
        ("--rate-limit-rps", "inf", "'inf' is not a finite number."),
        ("--latency-ms", "inf", "'inf' is not a finite number."),
        ("--commit-delay-ms", "nan", "'nan' is not a finite number."),
        ("--commit-delay-ms", "-inf", "-inf is not in the range x>=0."),
    ],
)
def test_the_emulator_refuses_a_float_option_that_is_no_finite_number(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    done = subprocess.run(
        [*CLI, "emulator", "--port", "0", option, value],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert done.returncode == 1
    assert last_line(done.stderr) == f"Error: Invalid value for '{option}': {message}"
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"fail_rate": NaN}', "fail_rate must be a number between 0 and 1, got nan"),
        (b'{"drop_rate": NaN}', "drop_rate must be a number between 0 and 1, got nan"),
        (b'{"rate_limit_rps": NaN}', "rate_limit_rps must be a finite number >= 0, got nan"),
        (b'{"rate_limit_rps": Infinity}', "rate_limit_rps must be a finite number >= 0, got inf"),
        (b'{"latency_ms": 1e999}', "latency_ms must be a finite number >= 0, got inf"),
        (b'{"commit_delay_ms": -Infinity}', "commit_delay_ms must be a finite number >= 0, got -inf"),
        (
            b'{"latency_ms": 1' + b"0" * 400 + b"}",
            "latency_ms must be a finite number >= 0, got 1000000000000000000000000000000000000...",
        ),
    ],
)
@pytest.mark.anyio
async def test_the_faults_endpoint_refuses_what_is_no_finite_number(
    emulator: InProcessEmulator, body: bytes, message: str
) -> None:
    emulator.set_faults(latency_ms=1)
    async with emulator.client(base_url="http://emulator.local") as http:
        answer = await http.post("/_emulator/faults", content=body)
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == message
        # the refused body changed nothing, and the API still answers
        assert (await http.get("/_emulator/faults")).json()["latency_ms"] == 1
        assert (await http.get("/v1/assistants")).status_code == 200


# e: every other command's float options


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("apply", "--local", "--lock-timeout", "nan"), "--lock-timeout': 'nan' is not a finite number."),
        (
            ("apply", "--local", "--lock-timeout", "inf"),
            "--lock-timeout': inf is not in the range 0<=x<=86400.",
        ),
        (
            ("apply", "--local", "--lock-timeout", "-1"),
            "--lock-timeout': -1.0 is not in the range 0<=x<=86400.",
        ),
        (
            ("apply", "--local", "--settle-seconds", "nan"),
            "--settle-seconds' (env var: 'RECONCILER_SETTLE_SECONDS'): 'nan' is not a finite number.",
        ),
        (("plan", "--local", "--timeout", "nan"), "--timeout': 'nan' is not a finite number."),
    ],
)
def test_a_float_option_that_is_no_finite_number_is_a_usage_error(
    workdir: Path, args: tuple[str, ...], message: str
) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert last_line(result.stderr) == f"Error: Invalid value for '{message}"
    assert result.stdout == ""
    assert not (workdir / ".reconciler").exists()  # refused before anything ran


def test_a_settle_window_from_the_environment_that_is_no_number_is_a_usage_error(workdir: Path) -> None:
    result = invoke("apply", "--local", env={"RECONCILER_SETTLE_SECONDS": "nan"})
    assert result.exit_code == 1
    assert last_line(result.stderr) == (
        "Error: Invalid value for '--settle-seconds' (env var: 'RECONCILER_SETTLE_SECONDS'): "
        "'nan' is not a finite number."
    )


# c: the organisation and the project go in headers


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "OPENAI_PROJECT_ID",
            "proj_é",
            "OPENAI_PROJECT_ID has a non-ASCII character at position 6 of 6, which no HTTP header can carry: "
            "set it to the project ID alone",
        ),
        (
            "OPENAI_ORG_ID",
            "org\nx",
            "OPENAI_ORG_ID has a line break at position 4 of 5, which no HTTP header can carry: "
            "set it to the organization ID alone",
        ),
        (
            "OPENAI_ORG_ID",
            " org\tx ",
            "OPENAI_ORG_ID has a control character (code 9) at position 4 of 5, which no HTTP header can "
            "carry: set it to the organization ID alone",
        ),
    ],
)
def test_an_identity_no_header_can_carry_is_refused_before_any_request(
    workdir: Path, live_emulator: LiveEmulator, variable: str, value: str, message: str
) -> None:
    env = {"OPENAI_API_KEY": EMULATOR_API_KEY, variable: value}
    result = invoke("plan", "--base-url", live_emulator.base_url, env=env)
    assert (result.exit_code, result.stderr) == (1, f"Error: {message}\n")
    assert live_emulator.stats()["total"] == 0


def test_an_identity_with_spaces_around_it_is_sent_stripped(
    workdir: Path, live_emulator: LiveEmulator
) -> None:
    env = {"OPENAI_API_KEY": EMULATOR_API_KEY, "OPENAI_ORG_ID": " org-1 ", "OPENAI_PROJECT_ID": "proj_1\n"}
    result = invoke("plan", "--base-url", live_emulator.base_url, env=env)
    assert result.exit_code == 0, result.output
    sent = {
        (r["headers"]["openai-organization"], r["headers"]["openai-project"])
        for r in live_emulator.requests()
    }
    assert sent == {("org-1", "proj_1")}


def test_reconciler_yaml_identities_no_header_can_carry_are_refused_at_their_lines(workdir: Path) -> None:
    (workdir / "reconciler.yaml").write_text(
        'environments:\n  dev:\n    project: "proj_é"\n    organization: "org\\r1"\n', encoding="utf-8"
    )
    for args in (("validate",), ("plan", "--local", "--env", "dev")):
        result = invoke(*args)
        assert result.exit_code == 1
        assert result.stderr == (
            "reconciler.yaml:3:14: environments.dev.project: holds a non-ASCII character at position 6 of 6, "
            "which no HTTP header can carry: give the ID alone\n"
            "reconciler.yaml:4:19: environments.dev.organization: holds a line break at position 4 of 5, "
            "which no HTTP header can carry: give the ID alone\n"
            "Error: 2 errors in reconciler.yaml\n"
        )


# f


def test_no_environment_in_reconciler_yaml_says_so(workdir: Path) -> None:
    (workdir / "reconciler.yaml").write_text("environments: {}\n")
    result = invoke("validate")
    assert result.exit_code == 1
    assert result.stderr == (
        "reconciler.yaml:1:15: environments: no environment is named: "
        "name at least one (or remove the file)\n"
        "Error: 1 error in reconciler.yaml\n"
    )


# d: output that cannot be written


def run_with_stdout(workdir: Path, redirect: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`reconciler ARGS` with stdout redirected by the shell (`>&-`, `>/dev/full`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RECONCILER_"))}
    return subprocess.run(
        ["sh", "-c", f'"$@" {redirect}', "sh", *CLI, *args],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )


@pytest.mark.parametrize(
    "args", [("plan", "--local"), ("validate",), ("--help",), ("emulator", "--port", "0")]
)
def test_a_closed_stdout_is_one_line(workdir: Path, args: tuple[str, ...]) -> None:
    done = run_with_stdout(workdir, ">&-", *args)
    assert (done.returncode, done.stderr) == (1, "Error: cannot write the output: stdout is closed\n")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize(
    "args", [("plan", "--local"), ("plan", "--local", "--detailed-exitcode"), ("validate",), ("--help",)]
)
def test_a_full_disk_is_one_line(workdir: Path, args: tuple[str, ...]) -> None:
    done = run_with_stdout(workdir, ">/dev/full", *args)
    assert (done.returncode, done.stderr) == (1, "Error: cannot write the output: No space left on device\n")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_apply_whose_plan_cannot_be_shown_changes_nothing(workdir: Path) -> None:
    done = run_with_stdout(workdir, ">/dev/full", "apply", "--local", "--auto-approve")
    assert (done.returncode, done.stderr) == (1, "Error: cannot write the output: No space left on device\n")
    assert last_line(invoke("plan", "--local").stdout) == "Plan: 1 to add, 0 to change, 0 to destroy."


def test_a_closed_stdout_does_not_stop_a_command_that_writes_nothing_there(workdir: Path) -> None:
    done = run_with_stdout(workdir, ">&-", "fmt", "--check")
    assert (done.returncode, done.stderr) == (0, "1 file already formatted.\n")


def test_an_error_with_stderr_closed_still_exits_1(workdir: Path) -> None:
    done = subprocess.run(
        ["sh", "-c", '"$@" 2>&-', "sh", *CLI, "plan", "--local", "--dir", "missing"],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert (done.returncode, done.stdout) == (1, "")


def test_a_closed_stdin_is_no_terminal(workdir: Path) -> None:
    done = subprocess.run(
        ["sh", "-c", '"$@" <&-', "sh", *CLI, "apply", "--local"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert done.returncode == 1
    assert last_line(done.stderr) == (
        "Error: stdin is not a terminal, so apply cannot ask for approval: pass --auto-approve to apply "
        "without asking, or apply a saved plan file"
    )
