"""Auth, the beta header, unknown routes, response headers, stats and the request log."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from reconciler.emulator.testing import EMULATOR_API_KEY, InProcessEmulator, LiveEmulator
from reconciler.emulator.validation import INVALID_JSON

BETA_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by setting the "
    "header 'OpenAI-Beta: assistants=v1'."
)


KEY_MISSING = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
    "auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're "
    "accessing the API from your browser and are prompted for a username and password. You can obtain an API "
    "key from https://platform.openai.com/account/api-keys."
)


@pytest.mark.anyio
@pytest.mark.parametrize("authorization", [None, "", "Bearer ", "Basic abc"])
async def test_401_without_a_key(emulator: InProcessEmulator, authorization: str | None) -> None:
    headers = {"OpenAI-Beta": "assistants=v1"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with emulator.client(headers=headers) as client:
        for path in ("/assistants", "/files", "/models"):
            response = await client.get(path)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Bearer realm="OpenAI API"'
            assert response.json() == {
                "error": {
                    "message": KEY_MISSING,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }
        admin = await client.get("http://emulator.local/_emulator/stats")
        assert admin.status_code == 401
    assert emulator.stats()["total"] == 3  # counted, though refused


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("key", "echoed"),
    [
        ("sk-wrong", "sk-wrong"),  # short keys are echoed whole
        ("sk-abcdefghi", "sk-abcdefghi"),
        ("sk-abcdefghij", "sk-abcde*ghij"),
        ("sk-WRQsP" + "a" * 39 + "xQBt", "sk-WRQsP" + "*" * 39 + "xQBt"),  # a 51-character key
    ],
)
async def test_401_with_a_wrong_key_echoes_it_masked(
    emulator: InProcessEmulator, key: str, echoed: str
) -> None:
    async with emulator.client(headers={"Authorization": f"Bearer {key}"}) as client:
        response = await client.get("/assistants")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="OpenAI API"'
    assert response.json() == {
        "error": {
            "message": f"Incorrect API key provided: {echoed}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


@pytest.mark.anyio
async def test_any_key_when_none_is_configured(make_emulator: Callable[..., InProcessEmulator]) -> None:
    emu = make_emulator(api_key=None)
    async with emu.client(
        headers={"Authorization": "Bearer whatever", "OpenAI-Beta": "assistants=v1"}
    ) as client:
        assert (await client.get("/assistants")).status_code == 200
        assert (await client.get("/assistants", headers={"Authorization": "Bearer"})).status_code == 401


@pytest.mark.anyio
async def test_beta_header_only_on_assistants_routes(emulator: InProcessEmulator) -> None:
    async with emulator.client(beta=False) as client:
        for method, path in [
            ("GET", "/assistants"),
            ("POST", "/assistants"),
            ("GET", "/assistants/asst_x/files"),
        ]:
            response = await client.request(method, path)
            assert response.status_code == 400
            assert response.json()["error"] == {
                "message": BETA_MESSAGE,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_beta",
            }
        assert (await client.get("/files")).status_code == 200
        assert (await client.get("/models")).status_code == 200
        v2 = await client.get("/assistants", headers={"OpenAI-Beta": "assistants=v2"})
        assert (v2.status_code, v2.json()["error"]["message"]) == (404, "Invalid URL (GET /v1/assistants)")
        combined = await client.get("/assistants", headers={"OpenAI-Beta": "other=1, assistants=v1"})
        assert combined.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nope"),
        ("PUT", "/v1/assistants"),
        ("PATCH", "/v1/assistants/asst_x"),
        ("GET", "/v1/assistants/"),
    ],
)
async def test_unknown_route(emulator: InProcessEmulator, method: str, path: str) -> None:
    async with emulator.client() as client:
        response = await client.request(method, "http://emulator.local" + path)
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": f"Invalid URL ({method} {path})",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    assert emulator.stats()["by_route"] == {f"{method} {path}": 1}


@pytest.mark.anyio
async def test_response_headers(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        responses = [
            await client.get("/assistants"),
            await client.get("/assistants/asst_missing"),
            await client.post("/assistants", content=b"{", headers={"content-type": "application/json"}),
            await client.get("/models", headers={"OpenAI-Organization": "org-123"}),
        ]
    for response in responses:
        assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
        assert response.headers["openai-version"] == "2020-10-01"
        assert int(response.headers["openai-processing-ms"]) >= 0
        assert int(response.headers["x-ratelimit-limit-requests"]) > 0
        assert int(response.headers["x-ratelimit-remaining-requests"]) >= 0
        assert re.fullmatch(r"\d+(ms|s)|\d+m\d+s|\d+\.\d+s", response.headers["x-ratelimit-reset-requests"])
    assert len({r.headers["x-request-id"] for r in responses}) == len(responses)
    assert responses[2].json()["error"]["message"] == INVALID_JSON
    assert responses[3].headers["openai-organization"] == "org-123"


@pytest.mark.anyio
async def test_stats_and_request_log(emulator: InProcessEmulator) -> None:
    async with emulator.client() as client:
        created = (await client.post("/assistants", json={"model": "gpt-4", "name": "x"})).json()
        await client.post(f"/assistants/{created['id']}", json={"name": "y"})
        await client.get("/assistants", params={"limit": "5", "order": "asc"})
        await client.post(
            "/files", files={"file": ("a.txt", b"secret bytes")}, data={"purpose": "assistants"}
        )
        await client.get("http://emulator.local/_emulator/stats")  # admin calls are not counted
    stats = emulator.stats()
    assert stats["total"] == 4
    assert stats["by_route"] == {
        "GET /v1/assistants": 1,
        "POST /v1/assistants": 1,
        "POST /v1/assistants/{assistant_id}": 1,
        "POST /v1/files": 1,
    }
    log = emulator.requests()
    assert [(r["method"], r["route"], r["status"]) for r in log] == [
        ("POST", "/v1/assistants", 200),
        ("POST", "/v1/assistants/{assistant_id}", 200),
        ("GET", "/v1/assistants", 200),
        ("POST", "/v1/files", 200),
    ]
    assert log[1]["path"] == f"/v1/assistants/{created['id']}"
    assert log[1]["body"] == {"name": "y"}
    assert log[2]["query"] == {"limit": "5", "order": "asc"}
    assert log[3]["body"] == {"file": "a.txt", "purpose": "assistants"}
    assert all("authorization" not in r["headers"] for r in log)
    assert log[0]["headers"]["openai-beta"] == "assistants=v1"
    emulator.reset_stats()
    assert (emulator.stats()["total"], emulator.requests()) == (0, [])


def test_admin_endpoints_over_http(live_emulator: LiveEmulator) -> None:
    with live_emulator.client() as client:
        client.get("/models")
        admin = client.get(live_emulator.url + "/_emulator/stats")
        assert admin.json()["by_route"] == {"GET /v1/models": 1}
        assert "x-request-id" in admin.headers
        faults = client.post(live_emulator.url + "/_emulator/faults", json={"latency_ms": 1, "seed": 3})
        assert faults.json() == {
            "latency_ms": 1,
            "fail_rate": 0,
            "rate_limit_rps": 0,
            "drop_rate": 0,
            "seed": 3,
            "commit_delay_ms": 0,
        }
        bad = client.post(live_emulator.url + "/_emulator/faults", json={"fail_rate": 2})
        assert bad.status_code == 400
        assert client.post(live_emulator.url + "/_emulator/stats/reset").json()["total"] == 0
        assert client.get(live_emulator.url + "/_emulator/requests").json() == []
    assert live_emulator.api_key == EMULATOR_API_KEY


@pytest.mark.anyio
async def test_service_time_counts_every_v1_request_and_excludes_the_injected_latency(
    emulator: InProcessEmulator,
) -> None:
    emulator.set_faults(latency_ms=40)
    async with emulator.client() as client:
        for _ in range(3):
            assert (await client.get("/assistants")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
        await client.get("http://emulator.local/_emulator/stats")  # not counted
    service = emulator.stats()["service"]
    assert set(service) == {"count", "total_s", "p50_s", "p95_s", "max_s"}
    assert service["count"] == 4
    assert 0 < service["p50_s"] <= service["p95_s"] <= service["max_s"]
    assert service["p50_s"] < 0.04  # the 40 ms wait is not service time
    assert service["total_s"] >= service["max_s"]
    emulator.reset_stats()
    assert emulator.stats()["service"] == {
        "count": 0,
        "total_s": 0.0,
        "p50_s": 0.0,
        "p95_s": 0.0,
        "max_s": 0.0,
    }


@pytest.mark.anyio
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1E+400"])
async def test_a_body_holding_nan_or_infinity_is_not_json(emulator: InProcessEmulator, constant: str) -> None:
    body = '{"model": "gpt-4", "tools": [{"type": "function", "function": {"name": "f", "parameters": '
    body += '{"type": "object", "properties": {"x": {"type": "number", "maximum": ' + constant + "}}}}}]}"
    async with emulator.client() as client:
        refused = await client.post("/assistants", content=body, headers={"content-type": "application/json"})
        listed = await client.get("/assistants")
    assert (refused.status_code, refused.json()["error"]["message"]) == (400, INVALID_JSON)
    assert (listed.status_code, listed.json()["data"]) == (200, [])
