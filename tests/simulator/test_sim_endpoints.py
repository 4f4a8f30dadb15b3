"""The ten endpoints reproduce the reference's shapes, paging, sorting and errors."""

from __future__ import annotations

from typing import Any

import pytest
from sim_helpers import assert_same_shape, load_fixture

from simulator import Simulator

SYSTEM_ID = 698910067
FOREIGN_SYSTEM_ID = 698906018
GATEWAY = "202323054201"
BATTERY_KEYS = {"battery_charge_w", "battery_discharge_w", "battery_capacity_wh"}


async def test_systems_list_shape(call: Any) -> None:
    status, body = await call("")
    assert status == 200
    expected = load_fixture("systems_page.json")
    assert_same_shape(body, expected)
    assert body["items"] == "systems"
    assert (body["total"], body["current_page"], body["size"], body["count"]) == (1, 1, 10, 1)
    system = body["systems"][0]
    assert (system["energy_lifetime"], system["energy_today"], system["system_size"]) == (
        -1,
        -1,
        -1,
    )
    assert system["system_id"] == SYSTEM_ID


async def test_trailing_slash_lists_systems(call: Any) -> None:
    status, body = await call("/")
    assert status == 200
    assert body["items"] == "systems"


async def test_search_shape(call: Any) -> None:
    status, body = await call("/search", method="POST", json_body={"system": {"ids": [SYSTEM_ID]}})
    assert status == 200
    assert_same_shape(body, load_fixture("search_page.json"))
    system = body["systems"][0]
    assert "city" not in system["address"]
    assert (system["energy_lifetime"], system["energy_today"], system["system_size"]) == (
        -1,
        -1,
        -1,
    )


async def test_search_filters(call: Any) -> None:
    status, body = await call(
        "/search", method="POST", json_body={"sort_by": "-id", "system": {"statuses": ["comm"]}}
    )
    assert (status, body["total"], body["systems"]) == (200, 0, [])
    status, body = await call("/search", method="POST", json_body={"system": {"name": "sunny"}})
    assert body["total"] == 1
    status, body = await call(
        "/search", method="POST", json_body={"system": {"reference": "106015287"}}
    )
    assert body["total"] == 1
    status, body = await call(
        "/search", method="POST", json_body={"system": {"other_reference": "nope"}}
    )
    assert body["total"] == 0
    # Only the user's own systems are searchable.
    status, body = await call(
        "/search", method="POST", json_body={"system": {"ids": [FOREIGN_SYSTEM_ID]}}
    )
    assert body["total"] == 0


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, "system is missing at Json body location"),
        ({"sort_by": "id"}, "system is missing at Json body location"),
        ({"system": {"ids": [1]}, "bogus": 1}, "bogus is not allowed at Json body location"),
        ({"system": {"bogus": 1}}, "system[bogus] is not allowed at Json body location"),
    ],
)
async def test_search_422(call: Any, body: Any, details: str) -> None:
    status, response = await call("/search", method="POST", json_body=body)
    assert status == 422
    assert response == {"message": "Unprocessable Entity", "details": details, "code": 422}


async def test_search_missing_system_matches_reference(call: Any) -> None:
    status, response = await call("/search", method="POST", json_body={"sort_by": "id"})
    assert (status, response) == (422, load_fixture("error_422_search.json"))


async def test_system_shape(call: Any) -> None:
    status, body = await call(f"/{SYSTEM_ID}")
    assert status == 200
    assert_same_shape(body, load_fixture("system.json"))


async def test_summary_shape(call: Any) -> None:
    status, body = await call(f"/{SYSTEM_ID}/summary")
    assert status == 200
    expected = {k: v for k, v in load_fixture("summary.json").items() if k not in BATTERY_KEYS}
    assert_same_shape(body, expected)
    assert body["modules"] == 10
    assert body["size_w"] == 3490


async def test_devices_shape(call: Any) -> None:
    status, body = await call(f"/{SYSTEM_ID}/devices")
    assert status == 200
    reference = load_fixture("devices.json")
    assert set(body) == set(reference)
    assert list(body["devices"]) == ["micros", "meters", "gateways"]
    for kind, items in body["devices"].items():
        for item in items:
            assert_same_shape(item, reference["devices"][kind][0])
    assert body["total_devices"] == 10 + 2 + 1  # the retired gateway is not returned
    meter_ids = [m["id"] for m in body["devices"]["meters"]]
    assert len(meter_ids) == 2
    assert meter_ids[0] == meter_ids[1]


async def test_retrieve_system_id(call: Any) -> None:
    status, body = await call("/retrieve_system_id", params={"serial_num": GATEWAY})
    assert (status, body) == (200, {"system_id": SYSTEM_ID})
    assert_same_shape(body, load_fixture("retrieve_system_id.json"))


@pytest.mark.parametrize(
    ("params", "status", "fixture"),
    [
        ({}, 422, "error_422_serial.json"),
        ({"serial_num": "121842012242"}, 404, "error_404_envoy.json"),  # retired envoy
        ({"serial_num": "000000000000"}, 404, "error_404_envoy.json"),
        ({"serial_num": "121999000001"}, 404, "error_404_envoy.json"),  # another user's envoy
    ],
)
async def test_retrieve_system_id_errors(
    call: Any, params: dict[str, str], status: int, fixture: str
) -> None:
    got_status, body = await call("/retrieve_system_id", params=params)
    assert (got_status, body) == (status, load_fixture(fixture))


async def test_events_and_alarms_shape(sim: Simulator, call: Any) -> None:
    start = int(sim.now()) - 4 * 86400
    status, body = await call(
        f"/{SYSTEM_ID}/events", params={"start_time": start, "end_time": start + 7 * 86400}
    )
    assert status == 200
    assert_same_shape(body, load_fixture("events.json"))
    assert body["events"][0]["status"] == "Closed"
    status, body = await call(
        f"/{SYSTEM_ID}/alarms",
        params={"start_time": start, "end_time": start + 7 * 86400, "cleared": "true"},
    )
    assert status == 200
    assert_same_shape(body, load_fixture("alarms.json"))
    assert body["alarms"][0]["cleared"] is True
    status, body = await call(
        f"/{SYSTEM_ID}/alarms", params={"start_time": start, "end_time": start + 7 * 86400}
    )
    assert body["alarms"] == []


async def test_event_types(call: Any) -> None:
    status, body = await call("/event_types")
    assert status == 200
    assert_same_shape(body, load_fixture("event_types.json"))
    reference = load_fixture("event_types.json")["event_types"]
    for expected in reference:
        assert expected in body["event_types"]
    assert len(body["event_types"]) > len(reference)
    status, body = await call("/event_types", params={"event_type_id": 28})
    assert (status, [e["event_type_id"] for e in body["event_types"]]) == (200, [28])
    status, body = await call("/event_types", params={"event_type_id": 12345})
    assert (status, body) == (404, load_fixture("error_404_event_type.json"))


async def test_inverters_summary_shape(call: Any) -> None:
    status, body = await call("/inverters_summary_by_envoy_or_site", params={"site_id": SYSTEM_ID})
    assert status == 200
    assert_same_shape(body, load_fixture("inverters_summary.json"))
    micros = body[0]["micro_inverters"]
    assert len(micros) == 10
    assert isinstance(micros[0]["power_produced"], dict)
    assert isinstance(micros[1]["power_produced"], int)
    status, by_envoy = await call(
        "/inverters_summary_by_envoy_or_site",
        params={"envoy_serial_number": GATEWAY, "size": 4, "page": 3},
    )
    assert status == 200
    assert len(by_envoy[0]["micro_inverters"]) == 2
    status, body = await call("/inverters_summary_by_envoy_or_site")
    assert (status, body) == (422, load_fixture("error_422_envoy_or_site.json"))


@pytest.mark.parametrize("path", ["", "/summary", "/devices"])
async def test_unknown_and_foreign_system(call: Any, path: str) -> None:
    status, body = await call(f"/1{path}")
    assert (status, body) == (404, load_fixture("error_404_system.json"))
    status, body = await call(f"/{FOREIGN_SYSTEM_ID}{path}")
    assert (status, body) == (403, load_fixture("error_403.json"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", ""),
        ("GET", "/search"),
        ("DELETE", f"/{SYSTEM_ID}"),
        ("POST", f"/{SYSTEM_ID}/summary"),
        ("PUT", "/event_types"),
        ("POST", "/retrieve_system_id"),
    ],
)
async def test_wrong_method_405(call: Any, method: str, path: str) -> None:
    status, body = await call(path, method=method)
    assert (status, body) == (405, load_fixture("error_405.json"))


async def test_endpoints_not_modelled_are_501(sim: Simulator, call: Any) -> None:
    # Telemetry is modelled (test_sim_telemetry.py); meter readings and rgm_stats are not.
    for path in ("rgm_stats", "production_meter_readings", "storage_meter_readings"):
        status, body = await call(f"/{SYSTEM_ID}/{path}")
        assert (status, body) == (501, load_fixture("error_501.json")), path
    # Device-level telemetry: Kilowatt's (403 on Watt, test_sim_telemetry.py), no data here.
    sim.set_plan(api_key="sim-api-key", plan="kilowatt")
    status, body = await call(f"/{SYSTEM_ID}/devices/micros/telemetry")
    assert (status, body) == (501, load_fixture("error_501.json"))


async def test_bad_token_and_key(sim: Simulator, call: Any) -> None:
    status, body = await call("", token="not-a-token")
    assert (status, body) == (401, load_fixture("error_401.json"))
    status, body = await call("", token="")
    assert (status, body) == (401, load_fixture("error_401.json"))
    status, body = await call("", key="wrong-key")
    assert status == 401
    assert body["message"] == "Not Authorized"
    status, body = await call("", key=None)
    assert status == 401
    status, body = await call("", key="sim-other-api-key")
    assert (status, body) == (401, load_fixture("error_401_key_mismatch.json"))


async def test_key_in_query_string(sim_url: str, tokens: dict[str, Any], http: Any) -> None:
    async with http.get(
        f"{sim_url}/api/v4/systems",
        params={"key": "sim-api-key"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    ) as resp:
        assert resp.status == 200
