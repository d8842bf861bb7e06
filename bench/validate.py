"""`validate` on 1,000 manifests: the time of `load_directory` itself (imports and process start excluded).

Run: `python -m bench.validate` (prints `name: value unit` lines). The manifests are realistic: half like the
HR helper (retrieval, folded instructions), half like the IT helpdesk (a function tool with a JSON Schema).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Figure

NAME = "validate"
COUNT = 1000
RUNS = 5

ROOT = Path(__file__).resolve().parent.parent


def make_manifests(directory: Path, count: int = COUNT) -> None:
    """Write `count` manifests, alternating the two shipped examples with distinct names."""
    examples = [
        (ROOT / "assistants" / "hr-helper.yaml").read_text(),
        (ROOT / "assistants" / "it-helpdesk.yaml").read_text(),
    ]
    for i in range(count):
        text = examples[i % 2].replace("name: ", f"name: {i:04d} ", 1)
        (directory / f"assistant-{i:04d}.yaml").write_text(text)


def run(count: int = COUNT, runs: int = RUNS) -> list[Figure]:
    """Median wall time of `load_directory` over `runs` runs on `count` fresh manifests."""
    from ruamel.yaml.main import CParser

    from reconciler.manifest import load_directory

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / ".git").mkdir()
        shutil.copytree(ROOT / "assistants" / "docs", directory / "docs")  # the HR helper's `files:`
        make_manifests(directory, count)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            result = load_directory(directory)
            times.append(time.perf_counter() - start)
            assert not result.errors and len(result.manifests) == count, result.errors[:3]
    median = statistics.median(times)
    parser = "libyaml (ruamel.yaml.clib)" if CParser is not None else "pure Python"
    return [
        Figure(NAME, f"load {count} manifests", round(median, 3), "s", f"median of {runs}, {parser}"),
        Figure(NAME, "per manifest", round(median / count * 1000, 3), "ms"),
    ]


if __name__ == "__main__":
    for figure in run():
        print(f"{figure.name}: {figure.value} {figure.unit} {figure.note}".rstrip())
