"""Production, uploads and the energy_lifetime / energy_today split, through local midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from simulator import Simulator
from simulator.model import SimSystem

SMALL = 698910067


def frozen_sim(scenario: str, when: datetime) -> Simulator:
    return Simulator(scenario, start=when, speed=0)


def local_midnight(tz: str, day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def walk(
    sim: Simulator, system: SimSystem, start: datetime, hours: float, step: int = 300
) -> list[dict[str, Any]]:
    sim.clock.set(start, speed=0)
    out = []
    for _ in range(int(hours * 3600 / step)):
        out.append(system.summary_json(sim.now()))
        sim.clock.advance(step)
    return out


@pytest.mark.parametrize("scenario", ["small_home", "battery_ev_home", "installer_28"])
def test_midnight_split_is_consistent(scenario: str) -> None:
    sim = frozen_sim(scenario, datetime(2026, 6, 20, tzinfo=UTC))
    for system_id in sim.system_ids:
        system = sim.systems[system_id]
        day = date(2026, 6, 21)
        midnight = local_midnight(system.timezone, day)
        rows = walk(sim, system, midnight - timedelta(hours=7), 14)
        if not system.is_reporting(sim.now()):
            continue  # stopped gateways: covered by test_stopped_gateway_freezes_data
        totals = [r["energy_lifetime"] + r["energy_today"] for r in rows]
        assert totals == sorted(totals), system_id  # never steps backwards
        previous = [r for r in rows if r["summary_date"] == "2026-06-20"]
        current = [r for r in rows if r["summary_date"] == "2026-06-21"]
        assert previous, system_id
        assert current, system_id
        last_total = previous[-1]["energy_lifetime"] + previous[-1]["energy_today"]
        if system.upload_interval == 900:
            # The day's last upload came after dark: the new day starts from its total.
            assert last_total == current[0]["energy_lifetime"]
        else:
            # Hours between uploads: the first upload of the new day adds the late evening.
            assert last_total <= current[0]["energy_lifetime"]
        assert current[0]["energy_lifetime"] == system.model.energy_before(date(2026, 6, 21))


def test_lag_after_midnight_is_observable() -> None:
    sim = frozen_sim("small_home", datetime(2026, 6, 20, tzinfo=UTC))
    system = sim.systems[SMALL]
    midnight = local_midnight(system.timezone, date(2026, 6, 21))
    sim.clock.set(midnight + timedelta(seconds=30), speed=0)
    just_after = system.summary_json(sim.now())
    # Before the first upload of the new day the summary still shows yesterday.
    assert just_after["summary_date"] == "2026-06-20"
    assert just_after["energy_today"] > 0
    assert just_after["last_report_at"] < midnight.timestamp()
    day_total = system.model.day_total(date(2026, 6, 20))
    assert just_after["energy_today"] == day_total
    sim.clock.set(midnight + timedelta(minutes=35), speed=0)
    later = system.summary_json(sim.now())
    assert later["summary_date"] == "2026-06-21"
    assert later["energy_today"] == 0
    assert later["energy_lifetime"] == just_after["energy_lifetime"] + day_total


def test_lifetime_lag_quirk_can_step_backwards() -> None:
    sim = frozen_sim("small_home", datetime(2026, 6, 20, tzinfo=UTC))
    system = sim.update_system(SMALL, {"lifetime_lag": 3600})
    midnight = local_midnight(system.timezone, date(2026, 6, 21))
    sim.clock.set(midnight - timedelta(minutes=1), speed=0)
    before = system.summary_json(sim.now())
    sim.clock.set(midnight + timedelta(minutes=40), speed=0)
    during = system.summary_json(sim.now())
    assert during["summary_date"] == "2026-06-21"
    assert (
        during["energy_lifetime"] + during["energy_today"]
        < before["energy_lifetime"] + before["energy_today"]
    )
    sim.clock.set(midnight + timedelta(hours=1, minutes=5), speed=0)
    after = system.summary_json(sim.now())
    assert after["energy_lifetime"] == before["energy_lifetime"] + before["energy_today"]


def test_values_change_only_at_uploads() -> None:
    sim = frozen_sim("small_home", datetime(2026, 6, 21, 18, 0, tzinfo=UTC))
    system = sim.systems[SMALL]
    rows = walk(sim, system, datetime(2026, 6, 21, 18, 0, tzinfo=UTC), 2, step=60)
    reports = sorted({r["last_report_at"] for r in rows})
    assert all(b - a == 900 for a, b in itertools.pairwise(reports))
    assert all(r % 900 == system.upload_phase for r in reports)
    by_report: dict[int, set[tuple[int, int, int]]] = {}
    for r in rows:
        by_report.setdefault(r["last_report_at"], set()).add(
            (r["energy_today"], r["current_power"], r["last_interval_end_at"])
        )
    assert all(len(v) == 1 for v in by_report.values())
    assert all(r["last_interval_end_at"] <= r["last_report_at"] for r in rows)
    assert all(r["last_interval_end_at"] % 300 == 0 for r in rows)


def test_cellular_gateway_uploads_every_six_hours() -> None:
    start = datetime(2026, 6, 21, tzinfo=UTC)
    sim = frozen_sim("battery_ev_home", start)
    system = sim.systems[sim.system_ids[0]]
    assert system.upload_interval == 6 * 3600
    rows = walk(sim, system, start, 26, step=900)
    reports = sorted({r["last_report_at"] for r in rows})
    assert all(b - a == 6 * 3600 for a, b in itertools.pairwise(reports))
    assert len(reports) in (4, 5)
    # Devices report at the same upload times.
    devices = system.devices_json(sim.now())
    assert {d["last_report_at"] for items in devices["devices"].values() for d in items} == {
        system.last_upload(sim.now())
    }


def test_production_follows_daylight_in_each_timezone() -> None:
    sim = frozen_sim("installer_28", datetime(2026, 3, 20, tzinfo=UTC))
    checked = 0
    for system_id in sim.system_ids:
        system = sim.systems[system_id]
        if not system.is_reporting(sim.now()):
            continue
        tz = ZoneInfo(system.timezone)
        noon = datetime(2026, 3, 20, 13, 0, tzinfo=tz)
        night = datetime(2026, 3, 20, 2, 0, tzinfo=tz)
        if system.upload_interval > 900:
            noon += timedelta(hours=4)
        sim.clock.set(noon, speed=0)
        day = system.summary_json(sim.now())
        sim.clock.set(night, speed=0)
        dark = system.summary_json(sim.now())
        assert dark["current_power"] == 0, system.timezone
        if system.upload_interval == 900:
            assert day["current_power"] > 0.1 * day["size_w"], system.timezone
        checked += 1
    assert checked >= 25


def test_past_summary_dates() -> None:
    sim = frozen_sim("small_home", datetime(2026, 6, 21, 20, 0, tzinfo=UTC))
    system = sim.systems[SMALL]
    now = sim.now()
    days = [date(2026, 6, 15) + timedelta(days=i) for i in range(6)]
    rows = [system.summary_json(now, d) for d in days]
    for row, day in zip(rows, days, strict=True):
        assert row["summary_date"] == day.isoformat()
        assert (row["modules"], row["size_w"], row["current_power"]) == (0, 0, 0)
        assert row["energy_today"] == system.model.day_total(day)
    for a, b in itertools.pairwise(rows):
        assert b["energy_lifetime"] == a["energy_lifetime"] + a["energy_today"]
    current = system.summary_json(now)
    assert current["energy_lifetime"] == rows[-1]["energy_lifetime"] + rows[-1]["energy_today"]
    assert current["modules"] == 10


def test_before_operational_is_zero() -> None:
    sim = frozen_sim("small_home", datetime(2026, 6, 21, 20, 0, tzinfo=UTC))
    row = sim.systems[SMALL].summary_json(sim.now(), date(2020, 1, 1))
    assert (row["energy_today"], row["energy_lifetime"]) == (0, 0)


async def test_summary_date_parameter(sim: Simulator, call: Any) -> None:
    sim.clock.set(datetime(2026, 6, 21, 20, 0, tzinfo=UTC), speed=0)
    status, body = await call(f"/{SMALL}/summary", params={"summary_date": "2026-06-19"})
    assert status == 200
    assert (body["summary_date"], body["modules"], body["size_w"], body["current_power"]) == (
        "2026-06-19",
        0,
        0,
        0,
    )
    status, body = await call(f"/{SMALL}/summary", params={"summary_date": "2026-06-23"})
    assert status == 422
    assert body["details"] == "Invalid request because of 'Requested date is in the future'"
    status, body = await call(f"/{SMALL}/summary", params={"summary_date": "yesterday"})
    assert (status, body["code"]) == (422, 422)


def test_stopped_gateway_freezes_data() -> None:
    start = datetime(2026, 6, 21, 18, 0, tzinfo=UTC)
    sim = frozen_sim("small_home", start)
    system = sim.update_system(SMALL, {"reporting": False})
    frozen = system.summary_json(sim.now())
    sim.clock.advance(timedelta(hours=5))
    later = system.summary_json(sim.now())
    assert later == {**frozen, "status": "comm"}
    sim.update_system(SMALL, {"reporting": True})
    assert system.summary_json(sim.now())["last_report_at"] > frozen["last_report_at"]


def test_dst_days_stay_consistent() -> None:
    # 2026-11-01 has 25 hours in Los Angeles; 2026-03-08 has 23.
    for day in (date(2026, 11, 1), date(2026, 3, 8)):
        sim = frozen_sim("small_home", datetime(2026, 1, 1, tzinfo=UTC))
        system = sim.systems[SMALL]
        rows = walk(sim, system, local_midnight(system.timezone, day), 26, step=900)
        totals = [r["energy_lifetime"] + r["energy_today"] for r in rows]
        assert totals == sorted(totals)
        final = [r for r in rows if r["summary_date"] == day.isoformat()][-1]
        assert final["energy_today"] == system.model.day_total(day)
