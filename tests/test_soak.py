"""Soak: ten applies in a row under injected faults, with random manifest edits between them.

A live emulator (real HTTP) fails requests (500/503), drops writes after committing them, and rate-limits,
all seeded. Between applies the manifests are edited at random (fixed seed): fields changed, tools swapped,
manifests added and removed (applied with `--prune`). An unmanaged assistant sits beside them throughout.
Each apply succeeds or fails cleanly (it may give up on a change: exit 1 with "Run apply again"), and never
leaves a duplicate; the last manifests are re-applied under faults until an apply succeeds (at most 3 times).
Afterwards, with faults off: every manifest key has exactly one assistant, no managed assistant is left
without a manifest, the unmanaged one is untouched, and a fresh plan is empty.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from reconciler.cli import cli
from reconciler.dialect import MARKER_KEY
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.server import EmulatorServer

KEY = "sk-soak-0123456789"
SEED = 20240416
ROUNDS = 10
START = 24
FAULTS = FaultConfig(latency_ms=1, fail_rate=0.12, drop_rate=0.1, rate_limit_rps=20, seed=SEED)
MODELS = ("gpt-4", "gpt-4-turbo", "gpt-3.5-turbo")
TOOLS: tuple[dict[str, Any], ...] = (
    {"type": "code_interpreter"},
    {"type": "retrieval"},
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    },
)


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(api_key=KEY, faults=FAULTS) as srv:
        yield srv


def _admin(server: EmulatorServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)


def set_faults(server: EmulatorServer, faults: FaultConfig) -> None:
    with _admin(server) as admin:
        response = admin.post("/_emulator/faults", json=faults.to_dict())
        assert response.status_code == 200, response.text


def list_all(server: EmulatorServer) -> list[dict[str, Any]]:
    """Every assistant on the server (faults must be off)."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    with httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v1"},
        timeout=30,
    ) as api:
        while True:
            params: dict[str, Any] = {"limit": 100, "order": "asc", **({"after": after} if after else {})}
            response = api.get("/assistants", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            found += page["data"]
            if not page["data"] or not page["has_more"]:
                return found
            after = page["last_id"]


def random_manifest(rng: random.Random, key: str) -> dict[str, Any]:
    manifest: dict[str, Any] = {"name": f"Soak {key}", "model": rng.choice(MODELS)}
    if rng.random() < 0.7:
        manifest["instructions"] = f"You are {key}. " + " ".join(rng.choices(["Be brief.", "Cite."], k=3))
    if rng.random() < 0.5:
        manifest["description"] = f"{key} v{rng.randrange(100)}"
    if rng.random() < 0.5:
        manifest["tools"] = rng.sample(list(TOOLS), rng.randrange(1, len(TOOLS) + 1))
    if rng.random() < 0.5:
        manifest["metadata"] = {"team": rng.choice(["a", "b", "c"]), "tier": str(rng.randrange(3))}
    if rng.random() < 0.4:
        manifest["temperature"] = rng.choice([0.0, 0.5, 1.5])
    return manifest


def edit(rng: random.Random, manifest: dict[str, Any]) -> dict[str, Any]:
    """One random edit of one manifest."""
    manifest = dict(manifest)
    field = rng.choice(["instructions", "description", "model", "tools", "metadata", "temperature", "drop"])
    if field == "instructions":
        manifest["instructions"] = f"Edited {rng.randrange(10**6)}."
    elif field == "description":
        manifest["description"] = f"desc {rng.randrange(10**6)}"
    elif field == "model":
        manifest["model"] = rng.choice(MODELS)
    elif field == "tools":
        manifest["tools"] = rng.sample(list(TOOLS), rng.randrange(0, len(TOOLS) + 1))
    elif field == "metadata":
        manifest["metadata"] = {"team": rng.choice(["a", "b", "c", "d"]), "round": str(rng.randrange(99))}
    elif field == "temperature":
        manifest["temperature"] = rng.choice([0.2, 0.7, 1.0, 1.9])
    else:
        optional = [k for k in manifest if k not in ("name", "model")]
        if optional:
            del manifest[rng.choice(optional)]
    return manifest


def write_all(directory: Path, manifests: dict[str, dict[str, Any]]) -> None:
    """Make `directory` hold exactly these manifests (key -> fields), one `<key>.yaml` each."""
    directory.mkdir(parents=True, exist_ok=True)
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    wanted = {f"{key}.yaml" for key in manifests}
    for path in directory.glob("*.yaml"):
        if path.name not in wanted:
            path.unlink()
    for key, fields in manifests.items():
        buffer = io.StringIO()
        yaml.dump(fields, buffer)
        (directory / f"{key}.yaml").write_text(buffer.getvalue())


def run_cli(args: list[str], server: EmulatorServer) -> tuple[int, str]:
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url, "NO_COLOR": "1"}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nTraceback (escaped exception): {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, output


def managed_counts(server: EmulatorServer) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Assistants per marker key, and the unmanaged ones (faults paused while listing)."""
    set_faults(server, FaultConfig())
    try:
        listed = list_all(server)
    finally:
        set_faults(server, FAULTS)
    counts = Counter(a["metadata"][MARKER_KEY] for a in listed if MARKER_KEY in (a.get("metadata") or {}))
    unmanaged = [a for a in listed if MARKER_KEY not in (a.get("metadata") or {})]
    return counts, unmanaged


def check_round(what: str, code: int, output: str, server: EmulatorServer) -> None:
    """An apply under faults either succeeds or fails cleanly (one summary line, no traceback), and never
    leaves two assistants with the same key."""
    assert "Traceback" not in output, output
    assert code in (0, 1), f"{what}: exit {code}\n{output}"
    if code == 1:
        assert "Run apply again" in output, f"{what}: failed without the recovery hint\n{output}"
    counts, _ = managed_counts(server)
    duplicates = {k: n for k, n in counts.items() if n > 1}
    assert not duplicates, f"{what}: duplicate assistants {duplicates}\n{output}"


def test_ten_applies_under_faults_converge(tmp_path: Path, server: EmulatorServer) -> None:
    rng = random.Random(SEED)
    directory = tmp_path / "assistants"
    dir_args = ["--dir", str(directory)]

    # An unmanaged assistant that must never be touched.
    set_faults(server, FaultConfig())
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v1"}
    ) as api:
        legacy = api.post("/assistants", json={"model": "gpt-4", "name": "Hand-made", "instructions": "Hi"})
        assert legacy.status_code == 200, legacy.text
    legacy_before = legacy.json()
    set_faults(server, FAULTS)

    apply_args = ["apply", "--auto-approve", "--prune", "--parallelism", "4", "--max-retries", "8", *dir_args]
    manifests = {f"bot-{i:03d}": random_manifest(rng, f"bot-{i:03d}") for i in range(START)}
    next_index = START
    history: list[str] = []
    for round_number in range(1, ROUNDS + 1):
        if round_number > 1:
            for key in rng.sample(sorted(manifests), k=min(6, len(manifests))):
                manifests[key] = edit(rng, manifests[key])
            for _ in range(rng.randrange(0, 4)):
                key = f"bot-{next_index:03d}"
                next_index += 1
                manifests[key] = random_manifest(rng, key)
            for key in rng.sample(sorted(manifests), k=rng.randrange(0, 3)):
                del manifests[key]
        write_all(directory, manifests)
        code, output = run_cli(apply_args, server)
        history.append(f"round {round_number}: exit {code}, {len(manifests)} manifests")
        check_round(f"round {round_number}", code, output, server)

    # An apply may give up on a change under faults (exit 1, "Run apply again to retry"): the documented
    # recovery is to apply again. Do that, still under faults, until the last manifests are in place.
    extra = 0
    while code != 0 and extra < 3:
        extra += 1
        code, output = run_cli(apply_args, server)
        history.append(f"re-apply {extra}: exit {code}")
        check_round(f"re-apply {extra}", code, output, server)
    assert code == 0, "no convergence under faults:\n" + "\n".join(history) + "\n" + output

    set_faults(server, FaultConfig())
    with _admin(server) as admin:
        log = admin.get("/_emulator/requests").json()
    seen = Counter("dropped" if e.get("dropped") else e["status"] for e in log)
    assert seen[429] and (seen[500] or seen[503]) and seen["dropped"], f"faults were not exercised: {seen}"
    listed = list_all(server)
    counts = Counter(a["metadata"][MARKER_KEY] for a in listed if MARKER_KEY in (a.get("metadata") or {}))
    assert set(counts) == set(manifests), (
        f"lost: {sorted(set(manifests) - set(counts))}, left over: {sorted(set(counts) - set(manifests))}"
    )
    assert all(n == 1 for n in counts.values()), counts
    unmanaged = [a for a in listed if MARKER_KEY not in (a.get("metadata") or {})]
    assert unmanaged == [legacy_before], unmanaged

    code, output = run_cli(["plan", "--detailed-exitcode", "--prune", *dir_args], server)
    assert code == 0, "a plan after the soak is not empty:\n" + output + "\n" + "\n".join(history)
