"""Ground truth: the Python API on the Simulator and /_sim/truth, moved by the simulated clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from simulator import Simulator, SimulatorError
from simulator.household import QUARTER

SMALL = 698910067
HOME = 701644354
KATHMANDU = 702000022  # installer_28 index 21: +05:45, microinverters only


def frozen(scenario: str, when: datetime) -> Simulator:
    return Simulator(scenario, start=when, speed=0)


def test_hourly_truth_keys_and_sums() -> None:
    sim = frozen("battery_ev_home", datetime(2026, 7, 1, tzinfo=UTC))
    start = datetime(2026, 6, 1, 6, tzinfo=UTC)  # local midnight in Denver
    end = start + timedelta(days=30)
    for channel in sim.truth_channels(HOME):
        hours = sim.hourly_truth(HOME, channel, start, end)
        keys = list(hours)
        assert keys[0] == start
        assert keys[-1] == end - timedelta(hours=1)
        assert len(keys) == 30 * 24
        assert all(k.tzinfo == UTC and k.minute == 0 for k in keys)
        assert sum(hours.values()) == sim.energy_truth(HOME, channel, start, end)
        assert all(v >= 0 for v in hours.values())
    household = sim.systems[HOME].household
    days = [date(2026, 6, 1) + timedelta(days=i) for i in range(30)]
    assert sum(sim.hourly_truth(HOME, "grid_import", start, end).values()) == sum(
        household.day_totals(d)["grid_import"] for d in days
    )
    # Epoch seconds work too, and a range inside an hour still gives that whole hour.
    inside = sim.hourly_truth(HOME, "production", start.timestamp() + 600, start.timestamp() + 1200)
    assert list(inside) == [start]


def test_truth_channels_follow_hardware() -> None:
    assert frozen("small_home", datetime(2026, 7, 1, tzinfo=UTC)).truth_channels(SMALL) == [
        "production",
        "consumption",
        "home_load",
        "grid_import",
        "grid_export",
    ]
    sim = frozen("battery_ev_home", datetime(2026, 7, 1, tzinfo=UTC))
    assert sim.truth_channels(HOME)[-2:] == ["battery_charge", "battery_discharge"]
    small = frozen("small_home", datetime(2026, 7, 1, tzinfo=UTC))
    with pytest.raises(SimulatorError, match="no battery"):
        small.soc_truth(SMALL)
    with pytest.raises(SimulatorError, match="does not measure battery_charge"):
        small.hourly_truth(SMALL, "battery_charge", 0, 3600)
    with pytest.raises(SimulatorError, match="unknown channel"):
        small.hourly_truth(SMALL, "solar", 0, 3600)
    with pytest.raises(SimulatorError, match="unknown system"):
        small.hourly_truth(1, "production", 0, 3600)
    with pytest.raises(SimulatorError, match="timezone"):
        small.hourly_truth(SMALL, "production", datetime(2026, 6, 1), datetime(2026, 6, 2))  # noqa: DTZ001


def test_soc_and_power_truth() -> None:
    sim = frozen("battery_ev_home", datetime(2026, 6, 21, 12, 7, tzinfo=UTC))
    household = sim.systems[HOME].household
    state = sim.battery_truth(HOME)
    quarter = int(sim.now()) // QUARTER * QUARTER
    assert state == {
        "percent": household.soc_at(quarter),
        "stored_wh": household.stored_at(quarter),
        "capacity_wh": 12480,
        "reserve_wh": 1248,
    }
    assert sim.soc_truth(HOME) == state["percent"]
    percents = {sim.soc_truth(HOME, quarter + k * QUARTER) for k in range(96)}
    assert len(percents) > 10
    assert all(10 <= p <= 100 for p in percents)
    assert sim.power_truth(HOME, "production", quarter + 899) == 4 * sim.energy_truth(
        HOME, "production", quarter - QUARTER, quarter
    )


def test_truth_where_local_hours_are_not_utc_hours() -> None:
    """+05:45: local days cut UTC hours, yet every quarter falls in exactly one hour."""
    sim = frozen("installer_28", datetime(2026, 7, 1, tzinfo=UTC))
    system = sim.systems[KATHMANDU]
    assert system.timezone == "Asia/Kathmandu"
    zone = ZoneInfo(system.timezone)
    start = datetime(2026, 6, 10, tzinfo=zone)
    end = datetime(2026, 6, 13, tzinfo=zone)
    hours = sim.hourly_truth(KATHMANDU, "production", start, end)
    assert next(iter(hours)) == datetime(2026, 6, 9, 18, tzinfo=UTC)  # 23:45 local
    days = [date(2026, 6, 10), date(2026, 6, 11), date(2026, 6, 12)]
    assert sum(hours.values()) == sum(system.model.day_total(d) for d in days)


async def test_truth_over_http_and_the_clock(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    sim.clock.set(datetime(2026, 6, 21, 20, tzinfo=UTC), speed=0)
    async with http.get(f"{sim_url}/_sim/truth/{SMALL}") as resp:
        index = await resp.json()
    assert index == {
        "system_id": SMALL,
        "timezone": "America/Los_Angeles",
        "channels": sim.truth_channels(SMALL),
        "consumption_includes_battery": True,
        "battery": None,
    }
    params = {
        "channel": "production,grid_export",
        "start": "2026-06-20T00:00:00-07:00",
        "end": str(int(datetime(2026, 6, 21, 7, tzinfo=UTC).timestamp())),
    }
    async with http.get(f"{sim_url}/_sim/truth/{SMALL}/hourly", params=params) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert set(body["channels"]) == {"production", "grid_export"}
    start, end = datetime(2026, 6, 20, 7, tzinfo=UTC), datetime(2026, 6, 21, 7, tzinfo=UTC)
    python = sim.hourly_truth(SMALL, "production", start, end)
    assert [(h["start"], h["wh"]) for h in body["channels"]["production"]] == [
        (k.isoformat(), v) for k, v in python.items()
    ]
    assert body["totals"]["production"] == sim.systems[SMALL].model.day_total(date(2026, 6, 20))
    async with http.get(f"{sim_url}/_sim/truth/{SMALL}/hourly", params={"start": "x"}) as resp:
        assert resp.status == 400
    async with http.get(
        f"{sim_url}/_sim/truth/{SMALL}/hourly",
        params={"start": "2026-06-20T00:00:00", "end": "2026-06-21T00:00:00+00:00"},
    ) as resp:
        assert resp.status == 400
        assert "offset" in (await resp.json())["error"]
    async with http.get(f"{sim_url}/_sim/truth/{SMALL}/battery") as resp:
        assert resp.status == 400
        assert "no battery" in (await resp.json())["error"]
    async with http.get(f"{sim_url}/_sim/truth/{SMALL}/power") as resp:
        power = await resp.json()
    assert power["quarter_end"] == "2026-06-21T20:00:00+00:00"
    assert power["power"]["production"] == sim.power_truth(SMALL, "production")
    # Moving the clock moves "now" for every default.
    async with http.post(
        f"{sim_url}/_sim/clock", json={"set": "2026-06-21T23:50:00-07:00", "speed": 0}
    ) as resp:
        assert resp.status == 200
    async with http.get(f"{sim_url}/_sim/truth/{SMALL}/power") as resp:
        power = await resp.json()
    assert power["quarter_end"] == "2026-06-22T06:45:00+00:00"
    assert power["power"]["production"] == 0  # night in California


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_battery_truth_over_http_follows_the_clock(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    sim.clock.set(datetime(2026, 6, 21, 12, tzinfo=UTC), speed=0)
    async with http.get(f"{sim_url}/_sim/truth/{HOME}/battery") as resp:
        morning = await resp.json()
    async with http.get(
        f"{sim_url}/_sim/truth/{HOME}/battery", params={"at": "2026-06-21T20:00:00+00:00"}
    ) as resp:
        afternoon = await resp.json()
    assert morning["at"] == "2026-06-21T12:00:00+00:00"
    assert morning["percent"] == sim.soc_truth(HOME, datetime(2026, 6, 21, 12, tzinfo=UTC))
    assert afternoon["percent"] == 100 > morning["percent"]  # a sunny June day fills it
    async with http.post(f"{sim_url}/_sim/clock", json={"advance": 8 * 3600}) as resp:
        assert resp.status == 200
    async with http.get(f"{sim_url}/_sim/truth/{HOME}/battery") as resp:
        assert (await resp.json())["percent"] == afternoon["percent"]


def test_truth_does_not_change_with_uploads() -> None:
    """The truth is the model: an hour's value is the same before and after its upload."""
    hour = datetime(2026, 6, 21, 18, tzinfo=UTC)
    early = frozen("battery_ev_home", hour + timedelta(minutes=30))
    late = frozen("battery_ev_home", hour + timedelta(days=3))
    for channel in early.truth_channels(HOME):
        assert early.hourly_truth(HOME, channel, hour, hour + timedelta(hours=1)) == (
            late.hourly_truth(HOME, channel, hour, hour + timedelta(hours=1))
        )
