"""The API key never leaks: every command, through success and every failure, with verbose diagnostics.

A canary key is put in `OPENAI_API_KEY` and every command (validate, plan in each format with `--out`, apply,
apply of a saved plan, import, fmt) is run against live HTTP servers that: accept it; refuse it (401); fail
(500/503); drop writes after committing them; echo the key back in error bodies and headers; never answer (a
bare socket: timeouts); close the connection on every request. Each run also has `RECONCILER_DEBUG=1` (the
only verbose switch: tracebacks instead of one line) or root logging at DEBUG captured from every logger.
The canary must not appear in stdout, stderr, a log record, or any file the run left behind (saved plans,
imported manifests, local state).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.server import EmulatorServer

CANARY = "sk-canary-0123456789abcdef"
#: The key, and the parts of it that would betray it even if its prefix were masked.
FRAGMENTS = (CANARY, "canary-0123456789abcdef", "0123456789abcdef")
OTHER_KEY = "sk-other-key-not-the-canary"

MANIFESTS = {
    "helper.yaml": "name: Helper\nmodel: gpt-4\ninstructions: Help.\n",
    "writer.yaml": "name: Writer\nmodel: gpt-4-turbo\ndescription: Writes.\nmetadata:\n  team: docs\n",
}


def leaks(text: str | bytes) -> list[str]:
    """The key fragments found in `text`."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return [f for f in FRAGMENTS if f.encode() in data]


def assert_clean(what: str, *texts: str, directory: Path | None = None) -> None:
    """No fragment of the key in any text, nor in any file under `directory`."""
    for text in texts:
        found = leaks(text)
        assert not found, f"{what}: key leaked in output: {found}\n{text[:2000]}"
    if directory is not None:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                found = leaks(path.read_bytes())
                assert not found, f"{what}: key leaked in {path.relative_to(directory)}"


# ------------------------------------------------------------------------------------------------ servers


class BareSocketServer:
    """A TCP server that accepts connections and then either never answers (`hang`) or closes them after
    reading the request (`close`)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.received = bytearray()
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(1.0)
            with contextlib.suppress(OSError):
                self.received += conn.recv(65536)
            if self.mode == "close":
                conn.close()
            else:
                self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.sock.close()


@dataclass
class Target:
    """A server to point the CLI at, and what we expect of runs against it."""

    name: str
    base_url: str
    ok: bool
    bare: BareSocketServer | None = None


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, Target]]:
    """Live servers (and bare sockets) for every condition, started once for the module."""
    servers = {
        "success": EmulatorServer(api_key=CANARY),
        "401": EmulatorServer(api_key=OTHER_KEY),
        "500": EmulatorServer(api_key=CANARY, faults=FaultConfig(fail_rate=1.0, seed=7)),
        "dropped writes": EmulatorServer(api_key=CANARY, faults=FaultConfig(drop_rate=1.0, seed=7)),
        "echo 401": EmulatorServer(api_key=CANARY),
        "echo 500": EmulatorServer(api_key=CANARY),
        "echo on writes": EmulatorServer(api_key=CANARY),
    }
    sockets = {"timeout": BareSocketServer("hang"), "closed connection": BareSocketServer("close")}
    for server in servers.values():
        server.start()
    found = {name: Target(name, s.base_url, ok=name == "success") for name, s in servers.items()}
    found.update({name: Target(name, s.base_url, ok=False, bare=s) for name, s in sockets.items()})
    # The echo servers answer every request with the key in their error body and headers: the worst a hostile
    # or buggy server (or a proxy) can do with what it received.
    for name, status, route in (
        ("echo 401", 401, None),
        ("echo 500", 500, None),
        ("echo on writes", 400, "POST /v1/assistants"),
    ):
        echo = servers[name]
        body = {
            "error": {
                "message": f"Incorrect API key provided: {CANARY}. Bearer {CANARY}",
                "type": f"invalid_request_error {CANARY}",
                "param": CANARY,
                "code": CANARY,
            }
        }
        headers = {"x-request-id": f"req_{CANARY}", "x-should-retry": "false", "x-echo": CANARY}
        spec = {"status": status, "route": route, "body": body, "headers": headers, "times": 1_000_000}
        with httpx.Client(base_url=echo.url, headers={"Authorization": f"Bearer {CANARY}"}) as admin:
            response = admin.post("/_emulator/inject", json=spec)
            assert response.status_code == 200, response.text
    yield found
    for server in servers.values():
        server.stop()
    for bare in sockets.values():
        bare.close()


# ----------------------------------------------------------------------------------------------- commands


def _project(tmp: Path) -> Path:
    directory = tmp / "assistants"
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in MANIFESTS.items():
        (directory / name).write_text(text)
    return tmp


COMMANDS: dict[str, list[str]] = {
    "validate": ["validate"],
    "fmt --check": ["fmt", "--check"],
    "plan text": ["plan", "--format", "text", "--out", "plan-text.json"],
    "plan markdown": ["plan", "--format", "markdown", "--out", "plan-md.json"],
    "plan json": ["plan", "--format", "json", "--out", "plan-json.json", "--detailed-exitcode"],
    "apply": ["apply", "--auto-approve"],
    "apply json": ["apply", "--auto-approve", "--format", "json", "--parallelism", "2"],
    "import --all": ["import", "--all", "--dir", "imported"],
    "import id": ["import", "asst_doesnotexist0000000000", "--dir", "imported"],
}
OFFLINE = {"validate", "fmt --check"}
RETRIES = ["--max-retries", "1"]


def _args(command: str) -> list[str]:
    args = list(COMMANDS[command])
    if command not in OFFLINE:
        args += RETRIES
    return args


def _env(base_url: str, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": CANARY,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_ORG_ID": "org-test",
        "NO_COLOR": "1",
        **extra,
    }


@pytest.fixture
def fast_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-read timeout is not a CLI option (60 s; --timeout is the overall deadline); shorten it
    in-process so timeouts happen quickly."""
    from reconciler.client import Client

    defaults = dict(Client.__init__.__kwdefaults__ or {})
    defaults["timeout"] = 0.5
    monkeypatch.setattr(Client.__init__, "__kwdefaults__", defaults)


class _Records(logging.Handler):
    """Collects every log record, formatted, split into our loggers and third-party ones."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.ours: list[str] = []
        self.theirs: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        (self.ours if record.name.split(".")[0] == "reconciler" else self.theirs).append(text)


@dataclass
class Run:
    """One in-process CLI run: exit code, everything printed, and the log records."""

    code: int
    output: str
    our_logs: str
    their_logs: str


def _invoke(args: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Run the CLI in-process in `cwd` with every logger recorded at DEBUG."""
    handler = _Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    old_cwd = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, args, env=env, catch_exceptions=True)
    finally:
        os.chdir(old_cwd)
        root.removeHandler(handler)
        root.setLevel(old_level)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += "".join(traceback.format_exception(result.exception))
    return Run(result.exit_code, output, "\n".join(handler.ours), "\n".join(handler.theirs))


def run_leaks(what: str, run: Run, condition: str) -> list[str]:
    """Where the key shows in a run: its output, our own log records, and (unless the server itself echoed
    the key: httpcore logs the response headers it received) third-party log records."""
    places = {"output": run.output, "reconciler log records": run.our_logs}
    if not condition.startswith("echo"):
        places["httpx/httpcore log records"] = run.their_logs
    found = []
    for place, text in places.items():
        for line in text.splitlines():
            if leaks(line):
                found.append(f"{what}: {place}: {line.strip()[:300]}")
                break
    return found


def file_leaks(what: str, directory: Path) -> list[str]:
    """The files under `directory` that hold the key."""
    return [
        f"{what}: file {path.relative_to(directory)}"
        for path in sorted(directory.rglob("*"))
        if path.is_file() and leaks(path.read_bytes())
    ]


CONDITIONS = [
    "success",
    "401",
    "500",
    "dropped writes",
    "echo 401",
    "echo 500",
    "echo on writes",
    "timeout",
    "closed connection",
]
#: Conditions under which every command that talks to the API must fail.
FAILING = {"401", "500", "echo 401", "echo 500", "timeout", "closed connection"}


#: With RECONCILER_DEBUG=1 (which only changes what an unexpected crash prints), these suffice.
DEBUG_COMMANDS = ("plan json", "apply json", "import --all")


@pytest.mark.usefixtures("fast_timeouts")
@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "RECONCILER_DEBUG"])
@pytest.mark.parametrize("condition", CONDITIONS)
def test_no_command_leaks_the_key(
    tmp_path: Path, targets: dict[str, Target], condition: str, debug: bool
) -> None:
    """Every command against every condition, in-process with DEBUG logging captured."""
    target = targets[condition]
    project = _project(tmp_path)
    env = _env(target.base_url, **({"RECONCILER_DEBUG": "1"} if debug else {}))
    retries = ["--max-retries", "0" if condition == "timeout" else "1"]
    found: list[str] = []
    for command in DEBUG_COMMANDS if debug else COMMANDS:
        args = COMMANDS[command] + ([] if command in OFFLINE else retries)
        run = _invoke(args, env, project)
        found += run_leaks(f"{condition}: {command}", run, condition)
        if command in ("plan text", "apply") and condition == "success":
            assert run.code in (0, 2), f"{command} should succeed against {condition}:\n{run.output}"
        if command not in OFFLINE and condition in FAILING and command != "import id":
            assert run.code == 1, f"{command} should fail against {condition}:\n{run.output}"
    if target.ok and not debug:
        # a saved plan, applied (the plan files must be usable, and clean)
        run = _invoke(["plan", "--out", "saved.json", *retries], env, project)
        assert run.code == 0, run.output
        found += run_leaks(f"{condition}: plan --out", run, condition)
        run = _invoke(["apply", "saved.json", *retries], env, project)
        found += run_leaks(f"{condition}: apply saved plan", run, condition)
    found += file_leaks(condition, project)
    assert not found, "the key leaked:\n" + "\n".join(found)


def test_import_writes_no_key(tmp_path: Path, targets: dict[str, Target]) -> None:
    """Imported manifests (an unmanaged assistant exists) hold no key, even from metadata-like fields."""
    target = targets["success"]
    with httpx.Client(
        base_url=target.base_url,
        headers={"Authorization": f"Bearer {CANARY}", "OpenAI-Beta": "assistants=v1"},
    ) as api:
        created = api.post("/assistants", json={"model": "gpt-4", "name": "Legacy bot", "instructions": "Hi"})
        assert created.status_code == 200, created.text
    project = _project(tmp_path)
    run = _invoke(["import", "--all", "--dir", "imported", *RETRIES], _env(target.base_url), project)
    assert run.code == 0, run.output
    assert list((project / "imported").glob("*.yaml")), run.output
    found = run_leaks("import", run, "success") + file_leaks("import", project)
    assert not found, "the key leaked:\n" + "\n".join(found)


# -------------------------------------------------------------------------------------- real processes


@pytest.fixture(scope="module")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bytecode cache for the child processes, outside the repository and the virtualenv."""
    return tmp_path_factory.mktemp("pycache")


PROCESS_CASES: list[tuple[str, str, list[str], bool]] = [
    ("success", "apply", ["apply", "--auto-approve", "--format", "json"], False),
    ("401", "plan", ["plan", "--out", "p.json"], True),
    ("500", "apply", ["apply", "--auto-approve"], True),
    ("echo 500", "import", ["import", "--all"], True),
    ("closed connection", "plan markdown", ["plan", "--format", "markdown"], False),
]


@pytest.mark.parametrize(
    ("condition", "name", "args", "debug"), PROCESS_CASES, ids=[f"{c}-{n}" for c, n, _, _ in PROCESS_CASES]
)
def test_real_processes_leak_nothing(
    tmp_path: Path,
    pycache: Path,
    targets: dict[str, Target],
    condition: str,
    name: str,
    args: list[str],
    debug: bool,
) -> None:
    """A handful of runs as real processes (real stdio, excepthook and logging setup)."""
    target = targets[condition]
    project = _project(tmp_path)
    env = {**os.environ, **_env(target.base_url), "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once into `pycache`, not on every start
    env.pop("RECONCILER_DEBUG", None)
    if debug:
        env["RECONCILER_DEBUG"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *args, *RETRIES],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_clean(f"{condition}: {name}", proc.stdout, proc.stderr, directory=project)
    if condition != "success":
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr


def test_the_canary_does_reach_the_server(targets: dict[str, Target], tmp_path: Path) -> None:
    """The control: the key really is sent (so "not in the output" is meaningful)."""
    project = _project(tmp_path)
    bare = targets["closed connection"]
    run = _invoke(["plan", *RETRIES], _env(bare.base_url), project)
    assert run.code == 1
    assert not leaks(run.output)
    assert bare.bare is not None and CANARY.encode() in bytes(bare.bare.received)
