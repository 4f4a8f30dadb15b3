"""Plan limits per API key: per-minute and per-month counters on the simulated clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sim_helpers import load_fixture

from simulator import Simulator

SYSTEM_ID = 698910067
START = datetime(2026, 6, 30, 12, 0, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(sim: Simulator) -> None:
    sim.clock.set(START, speed=0)


async def test_minute_limit_with_period_fields(sim: Simulator, call: Any) -> None:
    for _ in range(10):
        status, _ = await call(f"/{SYSTEM_ID}/summary")
        assert status == 200
    status, body = await call(f"/{SYSTEM_ID}/summary")
    assert status == 429
    assert set(body) == set(load_fixture("error_429_minute.json"))
    minute = int(START.timestamp()) // 60 * 60
    assert body == {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "period": "minute",
        "period_start": minute,
        "period_end": minute + 60,
        "limit": 10,
    }
    # Still limited one second before period_end, free again at period_end.
    sim.clock.set(body["period_end"] - 1, speed=0)
    assert (await call(f"/{SYSTEM_ID}/summary"))[0] == 429
    sim.clock.set(body["period_end"], speed=0)
    assert (await call(f"/{SYSTEM_ID}/summary"))[0] == 200


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("", None),
        (f"/{SYSTEM_ID}", None),
        (f"/{SYSTEM_ID}/devices", None),
        ("/event_types", None),
    ],
)
async def test_plain_429_for_endpoints_without_period(call: Any, path: str, params: Any) -> None:
    for _ in range(10):
        assert (await call(path, params=params))[0] == 200
    status, body = await call(path, params=params)
    assert status == 429
    assert set(body) == set(load_fixture("error_429_plain.json"))
    assert body["details"] == "Usage limit exceeded for plan Watt"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/retrieve_system_id", {"serial_num": "202323054201"}),
        ("/inverters_summary_by_envoy_or_site", {"site_id": str(SYSTEM_ID)}),
    ],
)
async def test_period_429_endpoints(call: Any, path: str, params: Any) -> None:
    for _ in range(10):
        assert (await call(path, params=params))[0] == 200
    status, body = await call(path, params=params)
    assert status == 429
    assert body["period"] == "minute"


async def test_month_limit_and_reset(sim: Simulator, call: Any) -> None:
    sim.set_plan(api_key="sim-api-key", plan="custom", per_minute=100, per_month=5)
    for _ in range(5):
        assert (await call(f"/{SYSTEM_ID}/summary"))[0] == 200
    status, body = await call(f"/{SYSTEM_ID}/summary")
    assert status == 429
    assert body["period"] == "month"
    assert body["limit"] == 5
    assert body["details"] == "Usage limit exceeded for plan Custom"
    assert body["period_start"] == int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
    assert body["period_end"] == int(datetime(2026, 7, 1, tzinfo=UTC).timestamp())
    sim.clock.set(body["period_end"] - 1, speed=0)
    assert (await call(f"/{SYSTEM_ID}/summary"))[0] == 429
    sim.clock.set(body["period_end"], speed=0)
    assert (await call(f"/{SYSTEM_ID}/summary"))[0] == 200


async def test_limits_are_per_api_key(sim: Simulator, call: Any) -> None:
    for _ in range(10):
        assert (await call("/event_types"))[0] == 200
    assert (await call("/event_types"))[0] == 429
    other = sim.issue_tokens("sim-other-client-id")
    status, _ = await call("/event_types", key="sim-other-api-key", token=other["access_token"])
    assert status == 200


async def test_rejected_and_unauthorised_requests_do_not_count(sim: Simulator, call: Any) -> None:
    assert (await call("", token="bad"))[0] == 401
    assert (await call("", key="nope"))[0] == 401
    usage = sim.usage_report()["sim-api-key"]
    assert usage["month_count"] == 0
    for _ in range(11):
        await call("")
    usage = sim.usage_report()["sim-api-key"]
    assert (usage["minute_count"], usage["month_count"], usage["rejected"]) == (10, 10, 1)


async def test_usage_and_plan_over_control_api(http: Any, sim_url: str, call: Any) -> None:
    await call("")
    async with http.get(f"{sim_url}/_sim/usage") as resp:
        usage = await resp.json()
    assert usage["sim-api-key"]["month_count"] == 1
    assert usage["sim-api-key"]["plan"] == "watt"
    async with http.post(
        f"{sim_url}/_sim/plan", json={"client_id": "sim-client-id", "plan": "kilowatt"}
    ) as resp:
        assert await resp.json() == {
            "api_key": "sim-api-key",
            "plan": "kilowatt",
            "per_minute": 50,
            "per_month": 50000,
        }
    async with http.post(
        f"{sim_url}/_sim/plan", json={"api_key": "sim-api-key", "plan": "gold"}
    ) as resp:
        assert resp.status == 400
    async with http.delete(f"{sim_url}/_sim/usage") as resp:
        assert (await resp.json())["sim-api-key"]["month_count"] == 0
    for _ in range(50):
        assert (await call("/event_types"))[0] == 200
    status, body = await call("/event_types")
    assert (status, body["details"]) == (429, "Usage limit exceeded for plan Kilowatt")
