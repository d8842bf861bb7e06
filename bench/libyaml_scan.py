"""The least a reader of YAML on our stack can do: read every manifest file of a directory and pull its
events through libyaml (ruamel.yaml.clib's `CParser`, which `reconciler` loads manifests with), building
nothing. `python -m bench.libyaml_scan DIR` prints how many events it read.

The benchmarks run it beside `validate`'s load (in-process, over the same 1,000 manifests) and beside the
10,000-assistant plan (a fresh process from the CLI's environment, as `bench.httpx_list` lists the same
assistants): with httpx alone, it says how much of a CPU target the libraries take before anything of ours
runs."""

from __future__ import annotations

import os
import sys

from ruamel.yaml.events import StreamEndEvent
from ruamel.yaml.main import CParser


def scan(directory: str) -> int:
    """How many libyaml events the `*.yaml` files directly in `directory` hold, read as the loader reads them
    (bytes, decoded as UTF-8)."""
    events = 0
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(directory, name), "rb") as file:
            parser = CParser(file.read().decode("utf-8"))
        try:
            while type(parser.get_event()) is not StreamEndEvent:
                events += 1
        finally:
            parser.dispose()
    return events


if __name__ == "__main__":
    print(scan(sys.argv[1]))
