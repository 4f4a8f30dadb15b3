"""Paging, sorting and validation on the installer account with 28 systems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sim_helpers import load_fixture

from simulator import Simulator


@pytest.fixture
def sim_scenario() -> str:
    return "installer_28"


@pytest.fixture(autouse=True)
def roomy_plan(sim: Simulator) -> None:
    sim.set_plan(api_key="sim-api-key", plan="partner")


async def test_systems_pages(sim: Simulator, call: Any) -> None:
    seen: list[int] = []
    for page, expected in ((1, 10), (2, 10), (3, 8), (4, 0)):
        status, body = await call("", params={"page": page})
        assert status == 200
        assert (body["total"], body["current_page"], body["size"], body["count"]) == (
            28,
            page,
            10,
            expected,
        )
        seen += [s["system_id"] for s in body["systems"]]
    assert seen == sorted(sim.system_ids)
    _, body = await call("", params={"size": 100, "sort_by": "-id"})
    assert [s["system_id"] for s in body["systems"]] == sorted(sim.system_ids, reverse=True)
    _, body = await call("", params={"size": 100, "sort_by": "id"})
    assert [s["system_id"] for s in body["systems"]] == sorted(sim.system_ids)


@pytest.mark.parametrize(
    "params", [{"size": 0}, {"size": 101}, {"page": 0}, {"page": "x"}, {"size": "1.5"}]
)
async def test_systems_paging_bounds(call: Any, params: dict[str, Any]) -> None:
    status, body = await call("", params=params)
    assert status == 422
    assert body["message"] == "Unprocessable Entity"
    assert body["code"] == 422


async def test_bad_sort(call: Any) -> None:
    assert await call("", params={"sort_by": "name"}) == (422, load_fixture("error_422_sort.json"))
    status, body = await call("/search", method="POST", json_body={"sort_by": "name", "system": {}})
    assert (status, body) == (422, load_fixture("error_422_sort.json"))


async def test_search_paging(sim: Simulator, call: Any) -> None:
    status, body = await call(
        "/search", method="POST", params={"size": 1000}, json_body={"system": {}}
    )
    assert (status, body["count"], body["size"]) == (200, 28, 1000)
    status, body = await call(
        "/search", method="POST", params={"size": 1001}, json_body={"system": {}}
    )
    assert status == 422
    ids = sorted(sim.system_ids)[5:9]
    status, body = await call(
        "/search",
        method="POST",
        params={"size": 3, "page": 2},
        json_body={"sort_by": "-id", "system": {"ids": ids}},
    )
    assert (body["total"], body["count"]) == (4, 1)
    assert body["systems"][0]["system_id"] == ids[0]


async def test_search_statuses(call: Any) -> None:
    status, body = await call(
        "/search",
        method="POST",
        params={"size": 100},
        json_body={"system": {"statuses": ["normal"]}},
    )
    assert status == 200
    assert 10 < body["total"] < 28
    status, body = await call(
        "/search", method="POST", json_body={"system": {"statuses": ["comm"]}}
    )
    assert body["total"] == 2


async def test_inverters_summary_pages(sim: Simulator, call: Any) -> None:
    site = max(sim.system_ids, key=lambda s: len(sim.systems[s].micros))
    count = len(sim.systems[site].micros)
    serials: list[str] = []
    page = 1
    while True:
        status, body = await call(
            "/inverters_summary_by_envoy_or_site", params={"site_id": site, "size": 7, "page": page}
        )
        assert status == 200
        micros = [m for envoy in body for m in envoy["micro_inverters"]]
        serials += [m["serial_number"] for m in micros]
        if len(micros) < 7:
            break
        page += 1
    assert len(serials) == len(set(serials)) == count
    status, body = await call(
        "/inverters_summary_by_envoy_or_site", params={"site_id": site, "size": 101}
    )
    assert status == 422


async def test_events_window_validation(sim: Simulator, call: Any) -> None:
    sim.clock.set(datetime(2026, 6, 21, 12, tzinfo=UTC), speed=0)
    system_id = sim.system_ids[0]
    now = int(sim.now())
    for endpoint in ("events", "alarms"):
        assert await call(f"/{system_id}/{endpoint}") == (
            422,
            load_fixture("error_422_start_time.json"),
        )
        status, body = await call(f"/{system_id}/{endpoint}", params={"start_time": "abc"})
        assert (status, body["details"]) == (422, "Failed to parse date abc")
        old = int((datetime(2025, 9, 21, 12, tzinfo=UTC) - timedelta(seconds=1)).timestamp())
        status, body = await call(f"/{system_id}/{endpoint}", params={"start_time": old})
        assert status == 422
        assert "9 months" in body["details"]
        status, _ = await call(f"/{system_id}/{endpoint}", params={"start_time": old + 1})
        assert status == 200
        status, body = await call(
            f"/{system_id}/{endpoint}", params={"start_time": now - 8 * 86400, "end_time": now}
        )
        assert status == 422
        assert "1 week" in body["details"]
        status, _ = await call(
            f"/{system_id}/{endpoint}", params={"start_time": now - 7 * 86400, "end_time": now}
        )
        assert status == 200
        status, body = await call(
            f"/{system_id}/{endpoint}", params={"start_time": now, "end_time": now - 1}
        )
        assert status == 422
    status, body = await call("/1/events", params={"start_time": now})
    assert (status, body) == (404, load_fixture("error_404_system.json"))


async def test_events_end_defaults_to_one_day(sim: Simulator, call: Any) -> None:
    system_id = sim.system_ids[0]
    event = sim.systems[system_id].events[0]
    # Starting just after the event ended: no overlap within one day.
    status, body = await call(
        f"/{system_id}/events", params={"start_time": event["start"] - 2 * 86400}
    )
    assert (status, body["events"]) == (200, [])
    status, body = await call(f"/{system_id}/events", params={"start_time": event["start"] - 3600})
    assert [e["event_type_id"] for e in body["events"]] == [event["event_type_id"]]
