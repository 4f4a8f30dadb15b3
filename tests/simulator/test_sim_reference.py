"""Every reference example in tests/fixtures is reproduced by the simulator, in shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestServer
import pytest
from sim_helpers import FIXTURES, assert_same_shape, load_fixture

from simulator import Simulator, create_app

SMALL = 698910067
BATTERY = 701644354
FOREIGN = 698906018


@dataclass(frozen=True)
class Case:
    """How to make the simulator answer like one fixture."""

    path: str
    status: int = 200
    method: str = "GET"
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    scenario: str = "small_home"
    exact: bool = False  # error bodies must match verbatim
    setup: str | None = None  # "limit" | "fault500" | "window"
    key: str = "sim-api-key"
    token: str | None = None


CASES: dict[str, Case] = {
    "systems_page.json": Case(""),
    "search_page.json": Case("/search", method="POST", body={"system": {"ids": [SMALL]}}),
    "system.json": Case(f"/{SMALL}"),
    "summary.json": Case(f"/{BATTERY}/summary", scenario="battery_ev_home"),
    "devices.json": Case(f"/{BATTERY}/devices", scenario="battery_ev_home"),
    "retrieve_system_id.json": Case("/retrieve_system_id", params={"serial_num": "202323054201"}),
    "events.json": Case(f"/{SMALL}/events", setup="window"),
    "alarms.json": Case(f"/{SMALL}/alarms", setup="window", params={"cleared": "true"}),
    "event_types.json": Case("/event_types"),
    "inverters_summary.json": Case(
        "/inverters_summary_by_envoy_or_site", params={"site_id": SMALL}
    ),
    "error_401.json": Case("", 401, exact=True, token="expired-or-unknown"),
    "error_401_key_mismatch.json": Case("", 401, exact=True, key="sim-other-api-key"),
    "error_403.json": Case(f"/{FOREIGN}/summary", 403, exact=True),
    "error_404_system.json": Case("/1/devices", 404, exact=True),
    "error_404_envoy.json": Case(
        "/retrieve_system_id", 404, params={"serial_num": "1"}, exact=True
    ),
    "error_404_event_type.json": Case(
        "/event_types", 404, params={"event_type_id": 12345}, exact=True
    ),
    "error_405.json": Case(f"/{SMALL}/devices", 405, method="DELETE", exact=True),
    "error_422_envoy_or_site.json": Case("/inverters_summary_by_envoy_or_site", 422, exact=True),
    "error_422_search.json": Case(
        "/search", 422, method="POST", body={"sort_by": "id"}, exact=True
    ),
    "error_422_serial.json": Case("/retrieve_system_id", 422, exact=True),
    "error_422_sort.json": Case("", 422, params={"sort_by": "name"}, exact=True),
    "error_422_start_time.json": Case(f"/{SMALL}/alarms", 422, exact=True),
    "error_429_minute.json": Case(f"/{SMALL}/summary", 429, setup="limit"),
    "error_429_plain.json": Case(f"/{SMALL}/devices", 429, setup="limit"),
    "error_500.json": Case(f"/{SMALL}/devices", 500, setup="fault500", exact=True),
    "error_501.json": Case(f"/{SMALL}/rgm_stats", 501, exact=True),
}


def test_every_fixture_has_a_case() -> None:
    responses = {p.name for p in FIXTURES.glob("*.json")} - {"search_request.json"}
    assert responses == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_reproduces(
    name: str, http: Any, monkeypatch: pytest.MonkeyPatch, socket_enabled: None
) -> None:
    case = CASES[name]
    sim = Simulator(case.scenario, auto_approve=True)
    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    try:
        params = dict(case.params)
        if case.setup == "window":
            params.update(start_time=int(sim.now()) - 5 * 86400, end_time=int(sim.now()))
        if case.setup == "limit":
            sim.set_plan(api_key="sim-api-key", plan="kilowatt", per_minute=5)
            sim.clock.set(sim.clock.time() // 60 * 60 + 1, speed=0)
        if case.setup == "fault500":
            sim.fail_next(1, 500, endpoint="devices")
        token = case.token or sim.issue_tokens()["access_token"]
        headers = {"key": case.key, "Authorization": f"Bearer {token}"}
        url = str(server.make_url(f"/api/v4/systems{case.path}"))
        for _ in range(5 if case.setup == "limit" else 0):
            async with http.get(url, headers=headers) as resp:
                assert resp.status == 200
        async with http.request(
            case.method, url, params=params, json=case.body, headers=headers
        ) as resp:
            status, body = resp.status, await resp.json()
    finally:
        await server.close()
    expected = load_fixture(name)
    assert status == case.status
    if case.exact:
        assert body == expected
    else:
        assert_same_shape(body, expected)
    if case.setup == "limit":
        assert body["details"] == "Usage limit exceeded for plan Kilowatt"
        if "limit" in body:
            assert body["limit"] == 5
            assert body["period_end"] - body["period_start"] == 60


async def test_search_request_example_is_accepted(call: Any) -> None:
    status, body = await call(
        "/search", method="POST", json_body=load_fixture("search_request.json")
    )
    assert (status, body["total"], body["systems"]) == (200, 0, [])
