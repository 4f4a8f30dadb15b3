"""The household model: totals agree to the Wh across endpoints, battery physics, load profile."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from simulator import Simulator
from simulator.household import CHARGE_EFFICIENCY_PCT, QUARTER

SMALL = 698910067
HOME = 701644354
BATTERY_NO_METER = 702000016


def midnight(tz: str, day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).timestamp())


def frozen(scenario: str, when: datetime) -> Simulator:
    sim = Simulator(scenario, start=when, speed=0)
    sim.set_plan(api_key="sim-api-key", plan="partner")
    return sim


def flat(intervals: list[Any]) -> list[dict[str, Any]]:
    return [row for group in intervals for row in group]


# --- every total agrees, over a week with a DST change ---------------------------------------
@pytest.mark.parametrize(
    ("sim_scenario", "system_id", "first_day", "dst_day", "dst_intervals"),
    [
        # Los Angeles falls back on 2026-11-01 (25 hours); no battery.
        ("small_home", SMALL, date(2026, 10, 29), date(2026, 11, 1), 300),
        # Denver springs forward on 2026-03-08 (23 hours); battery and EV charger.
        ("demo_home", HOME, date(2026, 3, 5), date(2026, 3, 8), 276),
    ],
)
async def test_week_totals_agree_across_endpoints(
    sim: Simulator,
    call: Any,
    system_id: int,
    first_day: date,
    dst_day: date,
    dst_intervals: int,
) -> None:
    sim.set_plan(api_key="sim-api-key", plan="partner")
    system = sim.systems[system_id]
    tz = system.timezone
    days = [first_day + timedelta(days=i) for i in range(7)]
    # Two hours after the last local midnight of the week: everything uploaded.
    sim.clock.set(midnight(tz, days[-1] + timedelta(days=1)) + 7200, speed=0)
    tokens = sim.issue_tokens()["access_token"]

    async def get(path: str, **params: Any) -> Any:
        status, body = await call(f"/{system_id}/{path}", params=params, token=tokens)
        assert status == 200, (path, body)
        return body

    span = {"start_date": days[0].isoformat(), "end_date": days[-1].isoformat()}
    lifetime = (await get("energy_lifetime", **span))["production"]
    consumption = (await get("consumption_lifetime", **span))["consumption"]
    imports = (await get("energy_import_lifetime", **span))["import"]
    exports = (await get("energy_export_lifetime", **span))["export"]
    battery = await get("battery_lifetime", **span) if system.household.battery else None
    for index, day in enumerate(days):
        start, end = midnight(tz, day), midnight(tz, day + timedelta(days=1))
        micro = (await get("telemetry/production_micro", start_date=day.isoformat()))["intervals"]
        assert len(micro) == (dst_intervals if day == dst_day else 288), day
        meter = (await get("telemetry/production_meter", start_date=day.isoformat()))["intervals"]
        assert len(meter) * 3 == len(micro)
        summary = await get("summary", summary_date=day.isoformat())
        produced = sum(r["enwh"] for r in micro)
        truth = sim.hourly_truth(system_id, "production", start, end)
        assert len(truth) == (end - start) // 3600
        assert (
            produced
            == sum(r["wh_del"] for r in meter)
            == lifetime[index]
            == summary["energy_today"]
            == sum(truth.values())
            == system.model.day_total(day)
        ), day
        used = await get("telemetry/consumption_meter", start_date=day.isoformat())
        grid_in = flat(
            (await get("energy_import_telemetry", start_date=day.isoformat()))["intervals"]
        )
        grid_out = flat(
            (await get("energy_export_telemetry", start_date=day.isoformat()))["intervals"]
        )
        assert (
            sum(r["enwh"] for r in used["intervals"])
            == consumption[index]
            == sim.energy_truth(system_id, "consumption", start, end)
        )
        assert (
            sum(r["wh_imported"] for r in grid_in)
            == imports[index]
            == sim.energy_truth(system_id, "grid_import", start, end)
        )
        assert (
            sum(r["wh_exported"] for r in grid_out)
            == exports[index]
            == sim.energy_truth(system_id, "grid_export", start, end)
        )
        # The Net meter's identity: consumption = production + import - export, per quarter.
        by_end = {r["end_at"]: r for r in meter}
        for row_used, row_in, row_out in zip(used["intervals"], grid_in, grid_out, strict=True):
            assert row_used["end_at"] == row_in["end_at"] == row_out["end_at"]
            assert row_in["wh_imported"] == 0 or row_out["wh_exported"] == 0
            assert (
                row_used["enwh"]
                == by_end[row_used["end_at"]]["wh_del"]
                + row_in["wh_imported"]
                - row_out["wh_exported"]
            )
        if battery is not None:
            rows = (await get("telemetry/battery", start_date=day.isoformat()))["intervals"]
            assert sum(r["charge"]["enwh"] for r in rows) == battery["charge"][index]
            assert sum(r["discharge"]["enwh"] for r in rows) == battery["discharge"][index]
            assert battery["charge"][index] == sim.energy_truth(
                system_id, "battery_charge", start, end
            )
    # One week-long call holds the same energy as the seven days.
    week = await get(
        "telemetry/production_micro", start_date=days[0].isoformat(), granularity="week"
    )
    assert sum(r["enwh"] for r in week["intervals"]) == sum(lifetime)
    assert week["intervals"][-1]["end_at"] == midnight(tz, days[-1] + timedelta(days=1))
    grid_week = await get(
        "energy_import_telemetry", start_date=days[0].isoformat(), granularity="week"
    )
    assert [len(g) for g in grid_week["intervals"]] == [
        len(sim.systems[system_id].household.day(d).ends) for d in days
    ]
    assert sum(r["wh_imported"] for r in flat(grid_week["intervals"])) == sum(imports)
    # The summary's lifetime energy is the series' sum up to the day before its date.
    summary = await get("summary", summary_date=days[-1].isoformat())
    before = (await get("energy_lifetime", end_date=(days[-1] - timedelta(days=1)).isoformat()))[
        "production"
    ]
    assert summary["energy_lifetime"] == sum(before)


@pytest.mark.parametrize("sim_scenario", ["small_home"])
async def test_through_local_midnight_telemetry_follows_the_summary(
    sim: Simulator, call: Any
) -> None:
    """Around midnight the summary keeps yesterday until the first upload; telemetry agrees."""
    sim.set_plan(api_key="sim-api-key", plan="partner")
    system = sim.systems[SMALL]
    tz = system.timezone
    new_day = date(2026, 6, 21)
    sim.clock.set(midnight(tz, new_day) - 1800, speed=0)
    tokens = sim.issue_tokens()["access_token"]
    seen = set()
    for _ in range(18):  # 23:30 to 00:55, every 5 minutes
        now = sim.now()
        status, summary = await call(f"/{SMALL}/summary", token=tokens)
        assert status == 200
        day = summary["summary_date"]
        seen.add(day)
        status, body = await call(
            f"/{SMALL}/telemetry/production_micro", params={"start_date": day}, token=tokens
        )
        cutoff = system.cutoff(now)
        reported = sum(r["enwh"] for r in body["intervals"] if r["end_at"] <= cutoff)
        assert reported == summary["energy_today"], (now, day)
        status, body = await call(
            f"/{SMALL}/energy_lifetime", params={"start_date": day}, token=tokens
        )
        assert body["production"] == [summary["energy_today"]]
        status, today = await call(f"/{SMALL}/telemetry/production_micro", token=tokens)
        if day != new_day.isoformat() and now >= midnight(tz, new_day):
            # After midnight, before the first upload of the day: nothing for today yet.
            assert today["intervals"] == []
        sim.clock.advance(300)
    assert seen == {"2026-06-20", "2026-06-21"}


# --- quarter physics -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scenario", "system_id"),
    [("demo_home", HOME), ("small_home", SMALL), ("installer_28", BATTERY_NO_METER)],
)
def test_quarter_balance_over_a_month(scenario: str, system_id: int) -> None:
    sim = frozen(scenario, datetime(2026, 8, 1, tzinfo=UTC))
    household = sim.systems[system_id].household
    battery = household.battery
    for offset in range(31):
        flows = household.day(date(2026, 7, 1) + timedelta(days=offset))
        previous = flows.start_stored
        for i in range(len(flows.ends)):
            production, load = flows.production[i], flows.load[i]
            charge, discharge, stored = flows.charge[i], flows.discharge[i], flows.stored[i]
            grid = load - production + charge - discharge
            assert flows.grid_import[i] == max(0, grid)
            assert flows.grid_export[i] == max(0, -grid)
            assert flows.grid_import[i] == 0 or flows.grid_export[i] == 0
            assert min(production, load, charge, discharge) >= 0
            if battery is None:
                assert (charge, discharge, stored) == (0, 0, 0)
                continue
            # Charges only from surplus, discharges only to cover a deficit, within limits.
            assert charge <= max(0, production - load)
            assert discharge <= max(0, load - production)
            assert charge == 0 or discharge == 0
            assert charge <= battery.charge_per_quarter
            assert discharge <= battery.discharge_per_quarter
            assert battery.reserve_wh <= stored <= battery.capacity_wh
            assert 0 <= battery.percent(stored) <= 100
            expected = min(
                battery.capacity_wh, previous + charge * CHARGE_EFFICIENCY_PCT // 100 - discharge
            )
            assert stored == expected
            previous = stored
        if battery is not None:
            assert (
                flows.stored[-1]
                == household.day(date(2026, 7, 1) + timedelta(days=offset + 1)).start_stored
            )


@pytest.mark.parametrize(
    ("scenario", "system_id"), [("demo_home", HOME), ("installer_28", BATTERY_NO_METER)]
)
def test_state_of_charge_moves_every_day(scenario: str, system_id: int) -> None:
    sim = frozen(scenario, datetime(2026, 12, 1, tzinfo=UTC))
    household = sim.systems[system_id].household
    battery = household.battery
    assert battery is not None
    tz = ZoneInfo(household.tz)
    for month in (1, 6, 11):
        moving = evenings = 0
        for day in range(1, 29):
            flows = household.day(date(2026, month, day))
            percents = [battery.percent(s) for s in flows.stored]
            moving += max(percents) - min(percents) >= 10
            # It charges in daylight and discharges in the evening (unless a grey winter
            # day left nothing to give).
            charging_hours = {
                datetime.fromtimestamp(e - QUARTER, tz).hour
                for e, c in zip(flows.ends, flows.charge, strict=True)
                if c
            }
            assert charging_hours <= set(range(5, 21)), (month, day)
            evenings += any(
                d
                for e, d in zip(flows.ends, flows.discharge, strict=True)
                if datetime.fromtimestamp(e - QUARTER, tz).hour >= 18
            )
        assert moving >= 25, month
        assert evenings >= 17, month


def test_battery_state_does_not_depend_on_what_was_asked_first() -> None:
    when = datetime(2026, 7, 1, tzinfo=UTC)
    direct = frozen("battery_ev_home", when).systems[HOME].household
    walked = frozen("battery_ev_home", when).systems[HOME].household
    target = date(2026, 6, 20)
    for offset in range(60, 0, -1):
        walked.day(target - timedelta(days=offset))
    assert direct.day(target) == walked.day(target)
    assert direct.start_stored(target) == walked.start_stored(target)


def test_model_is_deterministic_per_system() -> None:
    when = datetime(2026, 7, 1, tzinfo=UTC)
    a = frozen("installer_28", when)
    b = frozen("installer_28", when)
    day = date(2026, 6, 20)
    loads = {}
    for system_id in a.system_ids:
        flows = a.systems[system_id].household.day(day)
        assert flows == b.systems[system_id].household.day(day)
        loads[system_id] = flows.load
    assert len(set(loads.values())) == len(loads)  # every home its own profile


def test_every_local_midnight_is_on_the_quarter_grid() -> None:
    sim = frozen("installer_28", datetime(2026, 7, 1, tzinfo=UTC))
    for system_id in sim.system_ids:
        system = sim.systems[system_id]
        for day in (date(2026, 3, 8), date(2026, 4, 5), date(2026, 10, 4), date(2026, 11, 1)):
            flows = system.household.day(day)
            assert midnight(system.timezone, day) % QUARTER == 0, system.timezone
            assert flows.ends[0] == midnight(system.timezone, day) + QUARTER
            assert flows.ends[-1] == midnight(system.timezone, day + timedelta(days=1))


def test_load_profile_peaks_weekends_and_ev() -> None:
    sim = frozen("battery_ev_home", datetime(2026, 7, 1, tzinfo=UTC))
    household = sim.systems[HOME].household
    tz = ZoneInfo(household.tz)

    def hourly(day: date) -> dict[int, int]:
        flows = household.day(day)
        out: dict[int, int] = {}
        for end, wh in zip(flows.ends, flows.load, strict=True):
            hour = datetime.fromtimestamp(end - QUARTER, tz).hour
            out[hour] = out.get(hour, 0) + wh
        return out

    weekdays = [date(2026, 6, 1) + timedelta(days=i) for i in range(28)]
    sessions = 0
    for day in weekdays:
        load = hourly(day)
        assert max(load[h] for h in range(17, 23)) > 2 * load[3], day  # the evening peak
        if day.weekday() < 5:
            assert max(load[h] for h in range(5, 9)) > 1.5 * load[3], day  # the morning peak
        sessions += any(household.day(day).ev)
    assert 4 <= sessions <= 20  # evening EV sessions on some days
    # Weekends: the morning is later and midday is busier than on weekdays.
    saturday, monday = hourly(date(2026, 6, 6)), hourly(date(2026, 6, 8))
    assert saturday[13] > monday[13]
    plain = frozen("small_home", datetime(2026, 7, 1, tzinfo=UTC)).systems[SMALL].household
    assert not any(any(plain.day(d).ev) for d in weekdays)  # no EV charger, no sessions


def test_consumption_switch() -> None:
    sim = frozen("battery_ev_home", datetime(2026, 7, 1, tzinfo=UTC))
    start, end = (
        midnight("America/Denver", date(2026, 6, 20)),
        midnight("America/Denver", date(2026, 6, 21)),
    )
    net = sim.energy_truth(HOME, "consumption", start, end)
    load = sim.energy_truth(HOME, "home_load", start, end)
    charge = sim.energy_truth(HOME, "battery_charge", start, end)
    discharge = sim.energy_truth(HOME, "battery_discharge", start, end)
    assert net == load + charge - discharge != load
    sim.update_system(HOME, {"consumption_includes_battery": False})
    assert sim.energy_truth(HOME, "consumption", start, end) == load
    assert sim.systems[HOME].household.day_totals(date(2026, 6, 20))["consumption"] == load


def test_new_micro_changes_production_from_tomorrow_only() -> None:
    when = datetime(2026, 6, 20, 20, tzinfo=UTC)
    sim = frozen("small_home", when)
    household = sim.systems[SMALL].household
    yesterday, today, tomorrow = date(2026, 6, 19), date(2026, 6, 20), date(2026, 6, 21)
    before = {d: household.day_totals(d) for d in (yesterday, today, tomorrow)}
    sim.add_device(SMALL, "micros", {"serial_number": "902167439999", "_watts": 349})
    after = {d: household.day_totals(d) for d in (yesterday, today, tomorrow)}
    assert after[yesterday] == before[yesterday]
    assert after[today] == before[today]
    assert after[tomorrow]["production"] > before[tomorrow]["production"]
    assert after[tomorrow]["production"] == sim.systems[SMALL].model.day_total(tomorrow)
    assert after[tomorrow]["home_load"] == before[tomorrow]["home_load"]
