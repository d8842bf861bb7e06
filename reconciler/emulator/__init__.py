"""A faithful emulator of the OpenAI Assistants API v1 (plus /files and /models) and of the Agents API's
saved agents (/v1/agents), backed by SQLite.

- `create_app(db=, api_key=, faults=)`: the ASGI app (`reconciler.emulator.app`).
- `InProcessTransport(app)`: an httpx transport serving it with no port; `local_app(workdir)` for `--local`.
- `EmulatorServer` (tests, benchmarks) and `serve` (`reconciler emulator`) run it with uvicorn.
- `FaultConfig`: latency, 500/503, 429 and dropped-write injection.
"""

from reconciler.emulator.app import create_app
from reconciler.emulator.faults import FaultConfig
from reconciler.emulator.inprocess import LOCAL_DB, InProcessTransport, local_app, local_db_path

__all__ = ["LOCAL_DB", "FaultConfig", "InProcessTransport", "create_app", "local_app", "local_db_path"]
