"""The state behind one emulator app: store (assistants, files, agents), faults, accepted key, request
counts, log and service times.

What counts in `stats()` and `requests()`: every request to a `/v1` path that reached the app, whatever its
outcome (401, 404, 429, 5xx, dropped ones included), labelled by route template
(`POST /v1/assistants/{assistant_id}`) or, for unknown routes, by the raw path. `/_emulator` calls are neither
counted nor logged. The log keeps the last `REQUEST_LOG_SIZE` requests.

Service time is the emulator's own work on a `/v1` request: from the end of the injected latency to the end
of the response (or of the aborted write), so `latency + service` is what one request costs a client.
`stats()["service"]` gives the count, total and the p50/p95/max of the last `REQUEST_LOG_SIZE` such times.
"""

from __future__ import annotations

import secrets
import statistics
import threading
from collections import Counter, deque
from typing import Any

from reconciler.emulator.agent_store import AgentStore
from reconciler.emulator.faults import FaultConfig, FaultInjector
from reconciler.emulator.store import Store
from reconciler.emulator.validation import ApiError

REQUEST_LOG_SIZE = 10_000

KEY_MISSING = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
    "auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're "
    "accessing the API from your browser and are prompted for a username and password. You can obtain an API "
    "key from https://platform.openai.com/account/api-keys."
)
#: 401s carry this challenge, as the service's did.
WWW_AUTHENTICATE = {"www-authenticate": 'Bearer realm="OpenAI API"'}
#: Keys longer than this are echoed masked: the first `_SHOWN_HEAD` and last `_SHOWN_TAIL` characters kept.
_MASK_ABOVE = 12
_SHOWN_HEAD = 8
_SHOWN_TAIL = 4


def masked_key(key: str) -> str:
    """The key as the service echoed it in `Incorrect API key provided: ...`: short keys whole, longer ones
    as their first 8 and last 4 characters around one `*` per hidden character."""
    if len(key) <= _MASK_ABOVE:
        return key
    return key[:_SHOWN_HEAD] + "*" * (len(key) - _SHOWN_HEAD - _SHOWN_TAIL) + key[-_SHOWN_TAIL:]


def key_wrong(key: str) -> str:
    return (
        f"Incorrect API key provided: {masked_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    )


class Emulator:
    """The state behind one app (thread-safe)."""

    def __init__(self, store: Store, api_key: str | None, faults: FaultConfig | None):
        self.store = store
        self.agents = AgentStore(store)
        self.api_key = api_key
        self.faults = FaultInjector(faults)
        self._lock = threading.Lock()
        self._by_route: Counter[str] = Counter()
        self._total = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._service: deque[float] = deque(maxlen=REQUEST_LOG_SIZE)
        self._service_count = 0
        self._service_total = 0.0
        self._injections: list[dict[str, Any]] = []

    # stats and log

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._total += 1
            self._by_route[f"{entry['method']} {entry['route']}"] += 1
            self._log.append(entry)

    def record_service(self, seconds: float) -> None:
        with self._lock:
            self._service.append(seconds)
            self._service_count += 1
            self._service_total += seconds

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._total,
                "by_route": dict(sorted(self._by_route.items())),
                "service": self._service_stats(),
            }

    def _service_stats(self) -> dict[str, Any]:
        times = sorted(self._service)
        if len(times) >= 2:
            cuts = statistics.quantiles(times, n=20, method="inclusive")
            p50, p95 = statistics.median(times), cuts[18]
        else:
            p50 = p95 = times[0] if times else 0.0
        return {
            "count": self._service_count,
            "total_s": round(self._service_total, 6),
            "p50_s": round(p50, 6),
            "p95_s": round(p95, 6),
            "max_s": round(times[-1] if times else 0.0, 6),
        }

    def object_counts(self) -> dict[str, int]:
        """Live objects per kind, agents included (`objects` of `/_emulator/stats`)."""
        return {**self.store.counts(), "agents": self.agents.count()}

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._log]

    def reset_stats(self) -> None:
        with self._lock:
            self._total = 0
            self._by_route.clear()
            self._log.clear()
            self._service.clear()
            self._service_count = 0
            self._service_total = 0.0

    # injected responses

    def inject(self, spec: dict[str, Any]) -> None:
        with self._lock:
            self._injections.append(spec)

    def take_injection(self, label: str) -> dict[str, Any] | None:
        with self._lock:
            for i, spec in enumerate(self._injections):
                if spec["route"] is None or spec["route"] == label:
                    spec["times"] -= 1
                    if spec["times"] <= 0:
                        del self._injections[i]
                    return spec
            return None

    def clear_injections(self) -> None:
        with self._lock:
            self._injections.clear()

    def reset(self) -> None:
        """Delete every object, clear stats, the request log and injections, and turn faults off."""
        self.store.reset()
        self.reset_stats()
        self.clear_injections()
        self.faults.configure(FaultConfig())

    def check_key(self, authorization: str | None) -> ApiError | None:
        """None when the bearer key is acceptable, else the 401 to answer (missing: `code` null; wrong:
        `invalid_api_key`, echoing the key masked as the service did)."""
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return ApiError(401, KEY_MISSING, headers=WWW_AUTHENTICATE)
        if self.api_key is not None and not secrets.compare_digest(key.encode(), self.api_key.encode()):
            return ApiError(401, key_wrong(key), code="invalid_api_key", headers=WWW_AUTHENTICATE)
        return None
