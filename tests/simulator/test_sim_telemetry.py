"""Telemetry endpoints over HTTP: Swagger shapes, windows and limits, uploads, plans, hardware."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sim_helpers import assert_same_shape, load_fixture

from simulator import Simulator
from simulator.household import consumption_meters

# The 200/403/422/429 examples of these endpoints, copied verbatim from Enphase's Swagger file
# (../shared/enphase-api/monitoring-api-v4.swagger.json).
EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "telemetry_examples.json").read_text(encoding="utf-8")
)

SMALL = 698910067  # small_home: meters, no battery, Los Angeles, broadband
HOME = 701644354  # demo_home / battery_ev_home: meters, battery, EV charger, Denver
NO_METERS = 702000002  # installer_28 index 1: microinverters only, San Diego
BATTERY_NO_METER = 702000016  # installer_28 index 15: a battery but no consumption meter
FOREIGN = 698906018
DENVER = ZoneInfo("America/Denver")
# A Wednesday early afternoon in Denver: the demo home has been producing for hours.
NOON = datetime(2026, 6, 24, 13, 7, 30, tzinfo=DENVER)

PATHS = {
    "telemetry_production_micro": "telemetry/production_micro",
    "telemetry_production_meter": "telemetry/production_meter",
    "telemetry_consumption_meter": "telemetry/consumption_meter",
    "telemetry_battery": "telemetry/battery",
    "energy_import_telemetry": "energy_import_telemetry",
    "energy_export_telemetry": "energy_export_telemetry",
    "latest_telemetry": "latest_telemetry",
    "energy_lifetime": "energy_lifetime",
    "consumption_lifetime": "consumption_lifetime",
    "battery_lifetime": "battery_lifetime",
    "energy_import_lifetime": "energy_import_lifetime",
    "energy_export_lifetime": "energy_export_lifetime",
}
INTERVAL_ENDPOINTS = [name for name in PATHS if "lifetime" not in name and "latest" not in name]
METER_ENDPOINTS = [n for n in INTERVAL_ENDPOINTS if n != "telemetry_production_micro"]


@pytest.fixture(autouse=True)
def partner_plan(sim: Simulator) -> None:
    """Room for many calls a minute; the plan tests set their own."""
    sim.set_plan(api_key="sim-api-key", plan="partner")
    sim.clock.set(NOON, speed=0)


async def ok(call: Any, system_id: int, name: str, token: str | None = None, **params: Any) -> Any:
    status, body = await call(f"/{system_id}/{PATHS[name]}", params=params or None, token=token)
    assert status == 200, (name, body)
    return body


def midnight(tz: str, day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).timestamp())


def flat(intervals: list[Any]) -> list[dict[str, Any]]:
    """Import/export intervals nest one level deeper; the others are flat."""
    return [row for group in intervals for row in group] if intervals else []


# --- shapes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sim_scenario", ["demo_home"])
@pytest.mark.parametrize("name", sorted(PATHS))
async def test_shape_matches_swagger_example(call: Any, name: str) -> None:
    params = {"production": "all"} if name == "energy_lifetime" else {}
    if "lifetime" in name:
        params["start_date"] = "2026-06-01"  # the default (operational date) works too, slower
    body = await ok(call, HOME, name, **params)
    example = EXAMPLES[name]["200"]
    if name == "latest_telemetry":
        assert set(body) == set(example)
        assert set(body["devices"]) == {"meters", "encharges", "evse"}  # no heat pump here
        for kind, items in body["devices"].items():
            for item in items:
                assert_same_shape(item, example["devices"][kind][0])
        return
    assert_same_shape(body, example)
    if name in ("energy_import_telemetry", "energy_export_telemetry"):
        assert body["intervals"], name
        assert all(isinstance(group, list) for group in body["intervals"])
        for row in flat(body["intervals"]):
            assert_same_shape(row, example["intervals"][0][0])
    if name == "telemetry_battery":
        assert re.fullmatch(r"\d{1,3}%", body["last_reported_aggregate_soc"])
        assert all(isinstance(row["soc"]["percent"], int) for row in body["intervals"])
    if name in INTERVAL_ENDPOINTS:
        assert body["intervals"], name
        assert body["items"] == "intervals"


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_energy_lifetime_without_production_all(sim: Simulator, call: Any) -> None:
    body = await ok(call, HOME, "energy_lifetime")
    assert set(body) == {"system_id", "start_date", "meter_start_date", "production", "meta"}
    assert body["start_date"] == body["meter_start_date"] == "2022-12-31"
    # Default end: yesterday. The whole series is the summary's lifetime energy.
    summary = sim.systems[HOME].summary_json(sim.now())
    assert summary["summary_date"] == "2026-06-24"
    assert sum(body["production"]) == summary["energy_lifetime"]


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_latest_telemetry_channels_and_battery(sim: Simulator, call: Any) -> None:
    body = await ok(call, HOME, "latest_telemetry")
    meters = body["devices"]["meters"]
    assert [(m["name"], m["channel"]) for m in meters] == [
        ("production", 1),
        ("production", 2),
        ("production", 3),
        ("consumption", 1),
        ("consumption", 2),
        ("consumption", 3),
    ]
    # Single-phase: channels 2 and 3 have no meter.
    assert all(m["power"] is None and m["last_report_at"] is None for m in meters[1:3])
    assert all(m["power"] is None and m["last_report_at"] is None for m in meters[4:])
    system = sim.systems[HOME]
    report = system.last_upload(sim.now())
    assert meters[0]["last_report_at"] == meters[3]["last_report_at"] == report
    quarter = system.cutoff(sim.now()) // 900 * 900
    assert meters[0]["power"] == sim.power_truth(HOME, "production", quarter)
    assert meters[3]["power"] == sim.power_truth(HOME, "consumption", quarter)
    batteries = body["devices"]["encharges"]
    assert len(batteries) == 4  # two IQ Batteries and two AC Batteries
    charging = sim.power_truth(HOME, "battery_charge", quarter)
    discharging = sim.power_truth(HOME, "battery_discharge", quarter)
    assert sum(b["power"] for b in batteries) == charging - discharging
    expected = "Charging" if charging else "Discharging" if discharging else "Idle"
    assert {b["operational_mode"] for b in batteries} == {expected}
    assert [e["serial_number"] for e in body["devices"]["evse"]] == ["202313029329"]
    assert body["devices"]["evse"][0]["operational_mode"] in ("CHARGING", "PLUGGED_OUT")


# --- windows and granularity -------------------------------------------------------------------
@pytest.mark.parametrize("sim_scenario", ["demo_home"])
@pytest.mark.parametrize(
    ("granularity", "micro", "meter"),
    [("day", 288, 96), ("15mins", 3, 1), ("5mins", 1, 0), ("week", 2016, 672)],
)
async def test_granularity_on_past_days(
    call: Any, granularity: str, micro: int, meter: int
) -> None:
    start = midnight("America/Denver", date(2026, 6, 15))  # a full week, no DST change
    params = {"start_at": start, "granularity": granularity}
    body = await ok(call, HOME, "telemetry_production_micro", **params)
    ends = [row["end_at"] for row in body["intervals"]]
    assert len(ends) == micro
    assert ends == list(range(start + 300, start + 300 * micro + 1, 300))
    step = {"5mins": 300, "15mins": 900, "day": 86400, "week": 7 * 86400}[granularity]
    assert (body["start_at"], body["end_at"]) == (start, start + step)
    for name in METER_ENDPOINTS:
        rows = await ok(call, HOME, name, **params)
        found = rows["intervals"] if "energy_" not in name else flat(rows["intervals"])
        assert [r["end_at"] for r in found] == list(
            range(start + 900, start + 900 * meter + 1, 900)
        ), name


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_default_window_is_today_with_trailing_zeros(sim: Simulator, call: Any) -> None:
    system = sim.systems[HOME]
    now = int(sim.now())
    cutoff = system.cutoff(now)
    today = midnight("America/Denver", NOON.date())
    body = await ok(call, HOME, "telemetry_production_micro")
    assert (body["start_at"], body["end_at"], body["granularity"]) == (today, now, "day")
    rows = body["intervals"]
    assert [r["end_at"] for r in rows] == list(range(today + 300, now // 300 * 300 + 1, 300))
    reported = [r for r in rows if r["end_at"] <= cutoff]
    pending = [r for r in rows if r["end_at"] > cutoff]
    assert pending, "some intervals end after the last upload"
    # Not reported yet: zeros, as Enphase sends them.
    assert all((r["enwh"], r["powr"], r["devices_reporting"]) == (0, 0, 0) for r in pending)
    assert sum(r["enwh"] for r in reported) == system.summary_json(now)["energy_today"] > 0
    assert all(r["powr"] == r["enwh"] * 12 for r in rows)
    assert body["meta"]["last_report_at"] == system.last_upload(now)
    # 15-minute channels: zeros after the last uploaded quarter too.
    meter = await ok(call, HOME, "telemetry_consumption_meter")
    quarter = cutoff // 900 * 900
    assert all(r["enwh"] == 0 for r in meter["intervals"] if r["end_at"] > quarter)
    shown = [r["enwh"] for r in meter["intervals"] if r["end_at"] <= quarter]
    assert shown == [
        sim.energy_truth(HOME, "consumption", end - 900, end)
        for end in range(today + 900, quarter + 1, 900)
    ]
    assert sum(shown) > 0


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_empty_list_after_the_last_reported_interval(sim: Simulator, call: Any) -> None:
    cutoff = sim.systems[HOME].cutoff(sim.now())
    assert cutoff + 60 < sim.now()
    for name in INTERVAL_ENDPOINTS:
        body = await ok(call, HOME, name, start_at=cutoff + 60, granularity="15mins")
        assert body["intervals"] == [], name
        assert body["start_at"] == cutoff + 60
        # From the last interval on there is data (zeros after it).
        body = await ok(call, HOME, name, start_at=cutoff - 900, granularity="15mins")
        assert body["intervals"], name


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_start_date_and_end_date_fields(call: Any) -> None:
    body = await ok(call, HOME, "telemetry_consumption_meter", start_date="2026-06-20")
    assert body["start_date"] == "2026-06-20"
    assert "start_at" not in body
    assert len(body["intervals"]) == 96
    body = await ok(
        call,
        HOME,
        "telemetry_consumption_meter",
        start_date="2026-06-20",
        end_date="2026-06-22",
    )
    assert (body["start_date"], body["end_date"]) == ("2026-06-20", "2026-06-22")
    assert "end_at" not in body
    assert len(body["intervals"]) == 3 * 96
    body = await ok(
        call, HOME, "energy_import_telemetry", start_date="2026-06-20", end_date="2026-06-22"
    )
    assert [len(group) for group in body["intervals"]] == [96, 96, 96]  # one list per day


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
@pytest.mark.parametrize("name", INTERVAL_ENDPOINTS)
async def test_window_limits(sim: Simulator, call: Any, name: str) -> None:
    now = int(sim.now())
    path = f"/{HOME}/{PATHS[name]}"
    week_ago = midnight("America/Denver", date(2026, 6, 16))
    status, body = await call(path, params={"start_at": week_ago, "end_at": week_ago + 7 * 86400})
    assert status == 200
    status, body = await call(
        path, params={"start_at": week_ago, "end_at": week_ago + 7 * 86400 + 900}
    )
    assert status == 422
    assert set(body) == {"message", "details", "code"}
    assert body["message"] == "Unprocessable Entity"
    assert "cannot be more than 7 days" in body["details"]
    status, body = await call(path, params={"start_at": now - 2 * 366 * 86400})
    assert status == 422
    assert "within 2 years" in body["details"]
    status, body = await call(path, params={"start_at": now - 2 * 364 * 86400})
    assert status == 200
    status, body = await call(path, params={"start_at": now + 3600})
    assert (status, body["details"]) == (
        422,
        "Invalid request because of 'Requested date is in the future'",
    )
    status, body = await call(path, params={"start_at": week_ago, "end_at": week_ago - 900})
    assert status == 422
    assert body["details"].startswith(
        "Invalid request because of 'Requested date range is invalid for this system. "
        f"{{:start_at=>{week_ago}, :end_at=>{week_ago - 900}, :first_interval=>"
    )
    for bad in ({"granularity": "hour"}, {"start_at": "yesterday"}, {"start_date": "06/20"}):
        status, body = await call(path, params=bad)
        assert (status, body["code"]) == (422, 422), bad


@pytest.mark.parametrize("sim_scenario", ["battery_ev_home"])
async def test_start_before_the_first_day_moves_to_it(sim: Simulator, call: Any) -> None:
    sim.clock.set(datetime(2023, 1, 10, 12, tzinfo=UTC), speed=0)
    first = midnight("America/Denver", date(2022, 12, 31))  # operational 2023-01-01T00:00Z
    body = await ok(call, HOME, "telemetry_battery", start_at=first - 30 * 86400)
    assert body["start_at"] == first
    assert body["intervals"][0]["end_at"] == first + 900
    assert body["intervals"][0]["soc"]["percent"] == 10  # commissioned at the reserve


# --- uploads -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sim_scenario", ["battery_ev_home"])
async def test_cellular_uploads_gate_telemetry(sim: Simulator, call: Any) -> None:
    system = sim.systems[HOME]
    assert system.upload_interval == 6 * 3600
    today = midnight("America/Denver", NOON.date())
    first = await ok(call, HOME, "telemetry_battery", start_at=today)
    cutoff = system.cutoff(sim.now()) // 900 * 900
    assert any(r["end_at"] > cutoff for r in first["intervals"])
    assert all(
        r["charge"]["devices_reporting"] == 0 for r in first["intervals"] if r["end_at"] > cutoff
    )
    sim.clock.advance(6 * 3600)
    later = await ok(call, HOME, "telemetry_battery", start_at=today)
    new_cutoff = system.cutoff(sim.now()) // 900 * 900
    assert new_cutoff >= cutoff + 5 * 3600
    # Uploaded intervals never change; the next upload fills in the zeros.
    old = {r["end_at"]: r for r in first["intervals"] if r["end_at"] <= cutoff}
    assert all(r == old[r["end_at"]] for r in later["intervals"] if r["end_at"] in old)
    filled = [r for r in later["intervals"] if cutoff < r["end_at"] <= new_cutoff]
    assert filled
    assert all(r["soc"]["devices_reporting"] == 4 for r in filled)
    last = next(r for r in later["intervals"] if r["end_at"] == new_cutoff)
    assert later["last_reported_aggregate_soc"] == f"{last['soc']['percent']}%"


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_latest_telemetry_null_after_seven_silent_days(sim: Simulator, call: Any) -> None:
    sim.update_system(HOME, {"reporting": False})
    sim.clock.advance(timedelta(days=6))
    body = await ok(call, HOME, "latest_telemetry", token=sim.issue_tokens()["access_token"])
    assert body["devices"]["meters"][0]["power"] is not None
    sim.clock.advance(timedelta(days=1, hours=1))
    body = await ok(call, HOME, "latest_telemetry", token=sim.issue_tokens()["access_token"])
    for items in body["devices"].values():
        for item in items:
            assert item["last_report_at"] is None
            assert item.get("power") is None
            assert item.get("operational_mode") is None


# --- hardware ----------------------------------------------------------------------------------
async def test_no_battery_no_battery_channel(call: Any) -> None:
    body = await ok(call, SMALL, "telemetry_battery")
    assert (body["total_devices"], body["intervals"]) == (0, [])
    assert body["last_reported_aggregate_soc"] is None
    body = await ok(call, SMALL, "battery_lifetime", start_date="2026-06-01")
    assert (body["charge"], body["discharge"]) == ([], [])
    latest = await ok(call, SMALL, "latest_telemetry")
    assert set(latest["devices"]) == {"meters"}
    # A consumption meter and no battery: consumption is the home's load.
    consumption = await ok(call, SMALL, "telemetry_consumption_meter", start_date="2026-06-20")
    assert sum(r["enwh"] for r in consumption["intervals"]) > 5000


@pytest.mark.parametrize("sim_scenario", ["installer_28"])
async def test_no_meters_no_consumption_or_grid(sim: Simulator, call: Any) -> None:
    system = sim.systems[NO_METERS]
    assert not consumption_meters(system)
    assert "meters" not in system.devices
    for name in ("telemetry_consumption_meter", "telemetry_production_meter"):
        body = await ok(call, NO_METERS, name, start_date="2026-06-20")
        assert (body["total_devices"], body["intervals"]) == (0, []), name
    for name in ("energy_import_telemetry", "energy_export_telemetry"):
        body = await ok(call, NO_METERS, name, start_date="2026-06-20")
        assert (body["total_devices"], body["intervals"]) == (0, []), name
    for name, field in (
        ("consumption_lifetime", "consumption"),
        ("energy_import_lifetime", "import"),
        ("energy_export_lifetime", "export"),
    ):
        body = await ok(call, NO_METERS, name, start_date="2026-06-01")
        assert body[field] == [], name
    latest = await ok(call, NO_METERS, "latest_telemetry")
    consumption = [m for m in latest["devices"]["meters"] if m["name"] == "consumption"]
    assert [(m["channel"], m["id"], m["power"]) for m in consumption] == [
        (1, None, None),
        (2, None, None),
        (3, None, None),
    ]
    production = latest["devices"]["meters"][0]
    assert production["id"] is None  # no production meter: the microinverters' power
    assert production["power"] == system.summary_json(sim.now())["current_power"]
    lifetime = await ok(call, NO_METERS, "energy_lifetime", start_date="2026-06-01")
    assert "meter_start_date" not in lifetime
    assert (await ok(call, NO_METERS, "telemetry_production_micro"))["intervals"]
    with pytest.raises(Exception, match="does not measure grid_import"):
        sim.hourly_truth(NO_METERS, "grid_import", NOON - timedelta(hours=1), NOON)


@pytest.mark.parametrize("sim_scenario", ["installer_28"])
async def test_battery_without_consumption_meter(sim: Simulator, call: Any) -> None:
    body = await ok(call, BATTERY_NO_METER, "telemetry_battery", start_date="2026-06-20")
    assert body["total_devices"] == 1
    assert len(body["intervals"]) == 96
    assert (await ok(call, BATTERY_NO_METER, "energy_import_telemetry"))["intervals"] == []
    assert sim.truth_channels(BATTERY_NO_METER) == [
        "production",
        "battery_charge",
        "battery_discharge",
    ]


async def test_removing_the_consumption_meter_removes_the_channels(
    sim: Simulator, call: Any
) -> None:
    before = await ok(call, SMALL, "energy_import_lifetime", start_date="2026-06-20")
    assert len(before["import"]) == 4
    sim.remove_device(SMALL, "202323054201EIM2")
    after = await ok(call, SMALL, "energy_import_lifetime", start_date="2026-06-20")
    assert after["import"] == []
    latest = await ok(call, SMALL, "latest_telemetry")
    assert latest["devices"]["meters"][3]["power"] is None


# --- lifetime series ---------------------------------------------------------------------------
@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_lifetime_dates(sim: Simulator, call: Any) -> None:
    body = await ok(call, HOME, "consumption_lifetime", start_date="2026-06-10")
    assert body["start_date"] == "2026-06-10"
    assert len(body["consumption"]) == 14  # to yesterday, 2026-06-23
    body = await ok(call, HOME, "consumption_lifetime", start_date="2026-06-24")
    assert len(body["consumption"]) == 1  # today: so far
    system = sim.systems[HOME]
    reported = system.cutoff(sim.now()) // 900 * 900
    assert body["consumption"] == [
        sim.energy_truth(HOME, "consumption", midnight("America/Denver", NOON.date()), reported)
    ]
    body = await ok(call, HOME, "battery_lifetime", start_date="2022-01-01", end_date="2023-01-03")
    assert body["start_date"] == "2022-12-31"  # the operational date
    assert len(body["charge"]) == len(body["discharge"]) == 4
    body = await ok(call, HOME, "energy_lifetime", start_date="2026-06-20", end_date="2026-07-30")
    assert len(body["production"]) == 5  # never past today
    for name, details in (
        ("energy_lifetime", "Requested date range is invalid for this system"),
        ("consumption_lifetime", "Requested date is in the future"),
        ("battery_lifetime", "Requested date is in the future"),
    ):
        status, error = await call(f"/{HOME}/{PATHS[name]}", params={"start_date": "2026-06-25"})
        assert (status, error) == (
            422,
            {"message": "Unprocessable Entity", "details": details, "code": 422},
        )
    status, error = await call(
        f"/{HOME}/consumption_lifetime",
        params={"start_date": "2026-06-20", "end_date": "2026-06-19"},
    )
    assert (status, error["details"]) == (422, "Requested date range is invalid for this system")


async def test_lifetime_trailing_zeros_while_the_gateway_is_silent(
    sim: Simulator, call: Any
) -> None:
    sim.clock.set(datetime(2026, 6, 20, 20, tzinfo=UTC), speed=0)  # 13:00 in Los Angeles
    sim.update_system(SMALL, {"reporting": False})
    sim.clock.set(datetime(2026, 6, 24, 20, tzinfo=UTC), speed=0)
    body = await ok(call, SMALL, "energy_lifetime", start_date="2026-06-18", end_date="2026-06-24")
    production = body["production"]
    model = sim.systems[SMALL].model
    assert production[:2] == [
        model.day_total(date(2026, 6, 18)),
        model.day_total(date(2026, 6, 19)),
    ]
    assert 0 < production[2] < model.day_total(date(2026, 6, 20))  # up to the last upload
    assert production[3:] == [0, 0, 0, 0]  # trailing zeros: not reported yet
    imports = await ok(
        call, SMALL, "energy_import_lifetime", start_date="2026-06-18", end_date="2026-06-24"
    )
    assert imports["import"][3:] == [0, 0, 0, 0]
    sim.update_system(SMALL, {"reporting": True})
    body = await ok(call, SMALL, "energy_lifetime", start_date="2026-06-18", end_date="2026-06-23")
    assert body["production"] == [
        model.day_total(date(2026, 6, 18) + timedelta(days=i)) for i in range(6)
    ]


# --- plans, limits, faults, auth -------------------------------------------------------------
@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_watt_serves_site_telemetry_and_refuses_device_level(
    sim: Simulator, call: Any
) -> None:
    sim.set_plan(api_key="sim-api-key", plan="watt")
    for name in PATHS:
        await ok(call, HOME, name)
        sim.clock.advance(7)  # stay under 10 a minute
    before = sim.usage_report()["sim-api-key"]["month_count"]
    for path in (
        "devices/micros/telemetry",
        "devices/encharges/121593621979/telemetry",
        "live_data",
    ):
        status, body = await call(f"/{HOME}/{path}")
        assert (status, body) == (403, EXAMPLES["telemetry_battery"]["403"]), path
    # A refused request still counts against the plan.
    assert sim.usage_report()["sim-api-key"]["month_count"] == before + 3
    assert [e["endpoint"] for e in sim.request_log[-3:]] == [
        "devices_micros_telemetry",
        "devices_encharges_serial_telemetry",
        "live_data",
    ]
    sim.set_plan(api_key="sim-api-key", plan="kilowatt")
    status, body = await call(f"/{HOME}/live_data")
    assert (status, body) == (501, load_fixture("error_501.json"))


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_battery_telemetry_on_kilowatt_reading(
    sim: Simulator, call: Any, http: Any, sim_url: str
) -> None:
    sim.set_plan(api_key="sim-api-key", plan="watt")
    async with http.post(
        f"{sim_url}/_sim/endpoint_plans", json={"endpoint": "telemetry_battery", "plan": "kilowatt"}
    ) as resp:
        plans = await resp.json()
    assert plans["telemetry_battery"] == {
        "group": "Site Level Consumption Monitoring",
        "plan": "kilowatt",
    }
    assert plans["telemetry_consumption_meter"]["plan"] == "watt"
    status, body = await call(f"/{HOME}/telemetry/battery")
    assert (status, body) == (403, EXAMPLES["telemetry_battery"]["403"])
    assert (await call(f"/{HOME}/battery_lifetime"))[0] == 200
    sim.set_plan(api_key="sim-api-key", plan="kilowatt")
    assert (await call(f"/{HOME}/telemetry/battery"))[0] == 200
    sim.set_endpoint_plan("telemetry_battery", None)
    sim.set_plan(api_key="sim-api-key", plan="watt")
    sim.clock.advance(60)
    assert (await call(f"/{HOME}/telemetry/battery"))[0] == 200
    async with http.post(
        f"{sim_url}/_sim/endpoint_plans", json={"endpoint": "telemetry_battery", "plan": "gold"}
    ) as resp:
        assert resp.status == 400


@pytest.mark.parametrize(
    ("name", "period"),
    [
        ("telemetry_production_micro", True),
        ("telemetry_battery", True),
        ("energy_lifetime", True),
        ("energy_import_telemetry", False),
        ("latest_telemetry", False),
        ("consumption_lifetime", False),
    ],
)
async def test_telemetry_counts_against_the_minute(
    sim: Simulator, call: Any, name: str, period: bool
) -> None:
    sim.set_plan(api_key="sim-api-key", plan="watt")
    params = {"start_date": "2026-06-20"} if "lifetime" in name else None
    for _ in range(10):
        assert (await call(f"/{SMALL}/{PATHS[name]}", params=params))[0] == 200
    status, body = await call(f"/{SMALL}/{PATHS[name]}", params=params)
    assert status == 429
    fixture = "error_429_minute.json" if period else "error_429_plain.json"
    assert set(body) == set(load_fixture(fixture)) == set(EXAMPLES[name]["429"])
    usage = sim.usage_report()["sim-api-key"]
    assert (usage["minute_count"], usage["rejected"]) == (10, 1)
    assert [e["endpoint"] for e in sim.request_log] == [name] * 11


async def test_month_limit_applies_to_telemetry(sim: Simulator, call: Any) -> None:
    sim.set_plan(api_key="sim-api-key", plan="custom", per_minute=100, per_month=3)
    for _ in range(3):
        assert (await call(f"/{SMALL}/latest_telemetry"))[0] == 200
    status, body = await call(f"/{SMALL}/telemetry/production_micro")
    assert (status, body["period"]) == (429, "month")


async def test_faults_auth_and_ownership(sim: Simulator, call: Any) -> None:
    sim.fail_next(1, 503, endpoint="telemetry_consumption_meter")
    assert (await call(f"/{SMALL}/telemetry/production_micro"))[0] == 200
    status, body = await call(f"/{SMALL}/telemetry/consumption_meter")
    assert (status, body["code"]) == (503, 503)
    assert (await call(f"/{SMALL}/telemetry/consumption_meter"))[0] == 200
    status, body = await call(f"/{SMALL}/energy_lifetime", token="not-a-token")
    assert (status, body) == (401, load_fixture("error_401.json"))
    status, body = await call(f"/{FOREIGN}/telemetry/production_micro")
    assert (status, body) == (403, load_fixture("error_403.json"))
    status, body = await call("/1/latest_telemetry")
    assert (status, body) == (404, load_fixture("error_404_system.json"))
    status, body = await call(f"/{SMALL}/energy_lifetime", method="POST")
    assert (status, body) == (405, load_fixture("error_405.json"))
