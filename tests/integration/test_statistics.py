"""Energy statistics in the real recorder equal the simulator's ground truth, hour by hour."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import (
    list_statistic_ids,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.enphase_enlighten.alarms import ALARM_MEMORIES
from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.entry_budget import PLANNERS
from custom_components.enphase_enlighten.held import HELD_DATA, HELD_SAVE_DELAY
from custom_components.enphase_enlighten.statistics import (
    CHANNELS,
    async_import_hours,
    statistic_id,
)

from .conftest import setup_entry
from .test_coordinator import advance

if TYPE_CHECKING:
    from simulator import Simulator

DEMO = 701644354
SMALL = 698910067


async def _rows(hass: HomeAssistant, stat_id: str) -> dict[datetime, float]:
    await async_wait_recording_done(hass)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        datetime(2020, 1, 1, tzinfo=UTC),
        None,
        {stat_id},
        "hour",
        None,
        {"sum"},
    )
    return {
        datetime.fromtimestamp(row["start"], UTC): float(row["sum"])
        for row in result.get(stat_id, [])
    }


def _hourly(rows: dict[datetime, float]) -> dict[datetime, int]:
    """Each hour's Wh: its sum less the hour before's (the first hour: its sum)."""
    hours = sorted(rows)
    result = {}
    previous = 0.0
    for hour in hours:
        result[hour] = round(rows[hour] - previous)
        previous = rows[hour]
    return result


async def _assert_truth(
    hass: HomeAssistant,
    sim: Simulator,
    system_id: int,
    channels: list[str],
    *,
    first: datetime,
    lag: timedelta,
) -> None:
    """Every channel: contiguous hours from ``first``, each equal to the truth, up to the lag."""
    now = sim.clock.now()
    for channel in channels:
        rows = await _rows(hass, statistic_id(system_id, channel))
        assert rows, f"no statistics for {channel}"
        hours = sorted(rows)
        assert hours[0] == first, channel
        # No hole: every hour between the first and the last is there.
        assert len(hours) == (hours[-1] - hours[0]) / timedelta(hours=1) + 1, channel
        assert hours[-1] + timedelta(hours=1) >= now - lag, f"{channel} lags behind"
        truth = sim.hourly_truth(system_id, channel, first, hours[-1] + timedelta(hours=1))
        assert _hourly(rows) == truth, channel
        assert sum(truth.values()) > 0, f"{channel} is all zeros: nothing tested"


async def _first_import(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Let the scheduler run the first import, once the first fetches leave the minute room."""
    for _ in range(3):
        await advance(hass, freezer, timedelta(seconds=61))


async def _restart(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    off: timedelta = timedelta(0),
) -> None:
    """Stop the entry, stay off for ``off``, start again from what was saved alone.

    What the integration keeps in memory across reloads is dropped; the saves it delayed are
    written first (as at Home Assistant's stop). The recorder and its statistics stay, as
    its database does across a restart.
    """
    assert await hass.config_entries.async_unload(entry.entry_id)
    await advance(hass, freezer, off + timedelta(seconds=HELD_SAVE_DELAY + 1))
    for key in (PLANNERS, ALARM_MEMORIES, HELD_DATA):
        hass.data.pop(key, None)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def _import(entry: MockConfigEntry, system_id: int) -> Any:
    energy = entry.runtime_data.system_data[system_id].energy
    await energy.async_refresh()
    return energy.data


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_first_setup_backfills_the_month_in_passes(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Set up on the 10th: the month so far arrives within the minute limit, then stays exact."""
    freezer.move_to("2026-06-10T20:00:00+00:00")
    await setup_entry(hass, config_entry)
    energy = config_entry.runtime_data.system_data[DEMO].energy
    for _ in range(3):  # the first fetches leave the minute room
        if energy.data is not None:
            break
        await advance(hass, freezer, timedelta(seconds=61))
    data = energy.data
    assert data is not None
    assert set(data.channels) == set(CHANNELS)
    # Nine days of five endpoints do not fit in the six requests of one fetch on Watt.
    assert data.requests <= 6
    assert data.behind
    # The oldest week came first, yet the state of charge is the batteries' now.
    reported = datetime.fromtimestamp(sim.system(DEMO).cutoff(sim.now()) // 900 * 900, UTC)
    assert hass.states.get(
        "sensor.mountain_view_battery_home_battery_state_of_charge"
    ).state == str(sim.soc_truth(DEMO, reported))
    # The scheduler goes on at the next chances, not at the telemetry interval (hours on Watt).
    for _ in range(8):
        await advance(hass, freezer, timedelta(seconds=61))
        data = energy.data
        if not data.behind:
            break
    assert not data.behind
    # June 1st, local midnight in Home Assistant's time zone (US/Pacific: 07:00 UTC).
    await _assert_truth(
        hass,
        sim,
        DEMO,
        list(CHANNELS),
        first=datetime(2026, 6, 1, 7, tzinfo=UTC),
        lag=timedelta(hours=2),
    )
    ids = {
        item["statistic_id"]: item
        for item in await get_instance(hass).async_add_executor_job(
            list_statistic_ids, hass, None, "sum"
        )
    }
    meta = ids[statistic_id(DEMO, "grid_import")]
    assert meta["source"] == DOMAIN
    assert meta["unit_class"] == "energy"
    assert meta["statistics_unit_of_measurement"] == "Wh"


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_gateway_offline_over_a_week_is_not_asked_every_minute(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Hours the gateway has not uploaded wait for it; once it is back they are imported."""
    freezer.move_to("2026-06-03T20:00:00+00:00")
    await setup_entry(hass, config_entry)
    await _first_import(hass, config_entry, freezer)
    energy = config_entry.runtime_data.system_data[DEMO].energy
    assert energy.data is not None
    assert not energy.data.behind
    alarm = sim.raise_alarm(DEMO, 28)  # "Gateway not reporting": its uploads stop
    # Nine days on: more than a week to read, nothing uploaded in it.
    await advance(hass, freezer, timedelta(days=9))

    def telemetry_calls() -> int:
        return sum(1 for entry in sim.request_log if "telemetry" in str(entry.get("path", "")))

    before = telemetry_calls()
    for _ in range(10):
        await advance(hass, freezer, timedelta(seconds=61))
    # At most one round in ten minutes (it was one every minute: ten rounds, 50 requests).
    assert telemetry_calls() - before <= 6
    # The gateway back with its backlog: the outage's hours are imported, exact and without a
    # hole, by the next rounds (on Watt a home with meters gets one at dusk every day or two).
    sim.clear_alarm(alarm["id"])
    for _ in range(12):
        await advance(hass, freezer, timedelta(hours=2))
        for _ in range(4):
            await advance(hass, freezer, timedelta(seconds=61))
    await _assert_truth(
        hass, sim, DEMO, ["production", "grid_import"],
        first=datetime(2026, 6, 1, 7, tzinfo=UTC), lag=timedelta(days=2),
    )  # fmt: skip


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_week_with_restarts_gap_midnight_and_dst(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """28 Oct to 4 Nov 2026: imports every 5 hours, a reload, restarts, HA off over DST's end.

    Every hour imported equals the truth, none twice, none missing, whatever happened.
    """
    freezer.move_to("2026-10-28T19:00:00+00:00")
    await setup_entry(hass, config_entry)
    await _first_import(hass, config_entry, freezer)
    for _ in range(8):
        freezer.tick(timedelta(minutes=1))
        if not (await _import(config_entry, DEMO)).behind:
            break
    end = datetime(2026, 11, 4, 19, tzinfo=UTC)
    step = 0
    midnights = 0
    while sim.clock.now() < end:
        step += 1
        before = dt_util.now()
        freezer.tick(timedelta(hours=5))
        if step == 3:
            # A reload: the entry's coordinators and what they held in memory are new.
            await hass.config_entries.async_reload(config_entry.entry_id)
            await hass.async_block_till_done()
            await _first_import(hass, config_entry, freezer)
        if step in (5, 14):
            # A restart: only what is saved (and the recorder's statistics) is left.
            await _restart(hass, config_entry, freezer)
            await _first_import(hass, config_entry, freezer)
        if step == 8:
            # Home Assistant off for two days, over DST's end (1 November, 02:00 PDT).
            off_at = dt_util.now()
            await _restart(hass, config_entry, freezer, timedelta(days=2))
            assert off_at.utcoffset() != dt_util.now().utcoffset(), "no DST change while off"
            await _first_import(hass, config_entry, freezer)
        midnights += before.date() != dt_util.now().date()
        data = await _import(config_entry, DEMO)
        assert not data.behind
    assert midnights >= 5, "fewer local midnights than days"
    # 1 October, local midnight (PDT: 07:00 UTC).
    await _assert_truth(
        hass,
        sim,
        DEMO,
        list(CHANNELS),
        first=datetime(2026, 10, 1, 7, tzinfo=UTC),
        lag=timedelta(hours=2),
    )
    # The same fetch again writes nothing: no hour counted twice.
    freezer.tick(timedelta(minutes=1))
    data = await _import(config_entry, DEMO)
    assert data.hours_written == 0


@pytest.mark.parametrize("sim_scenario", ["battery_ev_home"])
async def test_hours_not_uploaded_yet_wait_and_are_filled_in(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A cellular gateway uploads every 6 hours: zeros after its upload are not imported."""
    freezer.move_to("2026-06-02T20:00:00+00:00")
    await setup_entry(hass, config_entry)
    await _first_import(hass, config_entry, freezer)
    energy = config_entry.runtime_data.system_data[DEMO].energy
    await _assert_truth(
        hass, sim, DEMO, ["production"], first=datetime(2026, 6, 1, 7, tzinfo=UTC),
        lag=timedelta(hours=7),
    )  # fmt: skip
    before = energy.data.imported_until["production"]
    last_upload = sim.system(DEMO).last_upload(sim.now())
    assert before <= datetime.fromtimestamp(last_upload, UTC)
    freezer.tick(timedelta(hours=7))
    await energy.async_refresh()
    assert energy.data.imported_until["production"] > before
    await _assert_truth(
        hass, sim, DEMO, ["production", "battery_charge"],
        first=datetime(2026, 6, 1, 7, tzinfo=UTC), lag=timedelta(hours=7),
    )  # fmt: skip


async def test_no_meter_no_battery_only_production(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Sunny Cottage has meters but no battery: no battery statistics, the rest exact."""
    freezer.move_to("2026-06-03T20:00:00+00:00")
    await setup_entry(hass, config_entry)
    await _first_import(hass, config_entry, freezer)
    data = config_entry.runtime_data.system_data[SMALL].energy.data
    assert set(data.channels) == {"production", "consumption", "grid_import", "grid_export"}
    assert await _rows(hass, statistic_id(SMALL, "battery_charge")) == {}
    await _assert_truth(
        hass, sim, SMALL, ["production", "consumption", "grid_import", "grid_export"],
        first=datetime(2026, 6, 1, 7, tzinfo=UTC), lag=timedelta(hours=2),
    )  # fmt: skip


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_refused_endpoint_switched_off_with_repair(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Battery telemetry on Kilowatt only: refused once, a repair names the plan, never retried."""
    sim.set_endpoint_plan("telemetry_battery", "kilowatt")
    freezer.move_to("2026-06-02T20:00:00+00:00")
    await setup_entry(hass, config_entry)
    await _first_import(hass, config_entry, freezer)
    issues = [
        issue
        for (domain, _), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and (issue.translation_key or "").startswith("telemetry_refused")
    ]
    assert len(issues) == 1
    # The battery's own text (translated, no channel name passed in), and the plan it needs.
    assert issues[0].translation_key == "telemetry_refused_battery"
    assert issues[0].translation_placeholders["needed"] == "Kilowatt"
    assert issues[0].translation_placeholders["plan"] == "Watt"

    def battery_calls() -> int:
        return sum(1 for r in sim.request_log if r["endpoint"] == "telemetry_battery")

    calls = battery_calls()
    assert calls == 1
    for _ in range(3):
        freezer.tick(timedelta(hours=5))
        await _import(config_entry, DEMO)
    await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(hours=5))
    data = await _import(config_entry, DEMO)
    assert battery_calls() == calls, "a refused endpoint was asked again"
    assert "battery_charge" not in data.channels
    await _assert_truth(
        hass, sim, DEMO, ["production", "grid_export"],
        first=datetime(2026, 6, 1, 7, tzinfo=UTC), lag=timedelta(hours=2),
    )  # fmt: skip


async def test_import_hours_rewrites_changed_hours_and_shifts_later_sums(
    hass: HomeAssistant,
) -> None:
    """Same hours again: nothing written; a corrected hour: it and later sums move; history."""
    h = [datetime(2026, 6, 1, 10, tzinfo=UTC) + timedelta(hours=i) for i in range(6)]
    stat = statistic_id(1, "consumption")

    async def write(hours: dict[datetime, int]) -> int:
        written = await async_import_hours(hass, 1, "consumption", hours, "Home consumption")
        await async_wait_recording_done(hass)
        return written

    assert await write({h[2]: 100, h[3]: 0, h[4]: 50}) == 3
    assert _hourly(await _rows(hass, stat)) == {h[2]: 100, h[3]: 0, h[4]: 50}
    # The same hours again, and with one more: only the new one is written.
    assert await write({h[2]: 100, h[3]: 0, h[4]: 50}) == 0
    assert await write({h[3]: 0, h[4]: 50, h[5]: 7}) == 1
    # Later data fills in an hour imported as zero: it and every later sum move.
    assert await write({h[3]: 30}) == 3
    rows = await _rows(hass, stat)
    assert _hourly(rows) == {h[2]: 100, h[3]: 30, h[4]: 50, h[5]: 7}
    assert rows[h[5]] == 187
    # Older history on request: the later sums grow by its total, their hours unchanged.
    assert await write({h[0]: 4, h[1]: 6}) == 6
    rows = await _rows(hass, stat)
    assert _hourly(rows) == {h[0]: 4, h[1]: 6, h[2]: 100, h[3]: 30, h[4]: 50, h[5]: 7}
    assert rows[h[5]] == 197


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_import_history_action(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Older history on request: answered with its cost and hours, exact, then refused when too big."""
    freezer.move_to("2026-06-03T20:00:00+00:00")
    await setup_entry(hass, config_entry)
    await _first_import(hass, config_entry, freezer)
    freezer.tick(timedelta(minutes=1))
    result = await hass.services.async_call(
        DOMAIN,
        "import_history",
        {"config_entry_id": config_entry.entry_id, "start_date": "2026-05-27"},
        blocking=True,
        return_response=True,
    )
    # Five endpoints, one call each for 27 to 31 May (local days, PDT).
    assert result["requests_spent"] == 5
    assert result["hours_imported"] > 5 * 24
    assert result["complete"] is True
    await _assert_truth(
        hass, sim, DEMO, list(CHANNELS),
        first=datetime(2026, 5, 27, 7, tzinfo=UTC), lag=timedelta(hours=2),
    )  # fmt: skip
    # Again: nothing older to read, nothing written twice.
    freezer.tick(timedelta(minutes=1))
    again = await hass.services.async_call(
        DOMAIN,
        "import_history",
        {"config_entry_id": config_entry.entry_id, "start_date": "2026-05-27"},
        blocking=True,
        return_response=True,
    )
    assert again["hours_imported"] == 0
    # Two years back on Watt: about 525 requests, more than the month can spare.
    requests_before = len(sim.request_log)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "import_history",
            {"config_entry_id": config_entry.entry_id, "start_date": "2024-06-10"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "import_budget"
    assert "requests" in str(err.value)
    assert len(sim.request_log) == requests_before
    # Two calls at once, each a minute's worth (two weeks of five endpoints): one is sent,
    # the other refused before sending anything, and Enphase answers no 429.
    freezer.tick(timedelta(minutes=2))

    async def import_from(start: str) -> Any:
        return await hass.services.async_call(
            DOMAIN,
            "import_history",
            {"config_entry_id": config_entry.entry_id, "start_date": start},
            blocking=True,
            return_response=True,
        )

    results = await asyncio.gather(
        import_from("2026-05-12"), import_from("2026-05-12"), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, HomeAssistantError)]
    done = [r for r in results if isinstance(r, dict)]
    assert len(refused) == 1, results
    assert len(done) == 1, results
    assert refused[0].translation_key == "refresh_minute_limit"
    assert done[0]["requests_spent"] == 9
    assert all(entry.get("status") != 429 for entry in sim.request_log)
    # Enphase failing mid-way: a translated error; the hours imported before it stay.
    freezer.tick(timedelta(minutes=2))
    before = await _rows(hass, statistic_id(DEMO, "production"))
    sim.fail_next(1, 500, endpoint="telemetry_consumption_meter")
    with pytest.raises(HomeAssistantError) as err:
        await import_from("2026-05-01")
    assert err.value.translation_key == "update_server_error"
    after = await _rows(hass, statistic_id(DEMO, "production"))
    assert min(after) < min(before)


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_live_sensors_follow_the_telemetry_and_expire(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Consumption, grid and battery power, SoC: the last uploaded quarter; unknown after a day."""
    freezer.move_to("2026-06-03T20:07:00+00:00")
    await setup_entry(hass, config_entry)
    await _first_import(hass, config_entry, freezer)
    # The last quarter the gateway uploaded (every 15 minutes, a minute's margin).
    reported = datetime.fromtimestamp(sim.system(DEMO).cutoff(sim.now()) // 900 * 900, UTC)
    at = reported
    consumption = sim.power_truth(DEMO, "consumption", at)
    grid = sim.power_truth(DEMO, "grid_import", at) - sim.power_truth(DEMO, "grid_export", at)
    assert hass.states.get("sensor.mountain_view_battery_home_consumption_power").state == str(
        consumption
    )
    assert hass.states.get("sensor.mountain_view_battery_home_grid_power").state == str(grid)
    charge = sim.power_truth(DEMO, "battery_charge", at)
    discharge = sim.power_truth(DEMO, "battery_discharge", at)
    assert (
        int(hass.states.get("sensor.mountain_view_battery_home_battery_charging_power").state)
        == charge - discharge
    )
    assert hass.states.get(
        "sensor.mountain_view_battery_home_battery_state_of_charge"
    ).state == str(sim.soc_truth(DEMO, at))
    # A day later without a telemetry fetch: the values are not current, so unknown.
    energy = config_entry.runtime_data.system_data[DEMO].energy
    fetched = energy.last_success_at
    upload = datetime.fromtimestamp(sim.system(DEMO).last_upload(sim.now()), UTC)
    freezer.move_to(upload + timedelta(days=1, seconds=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert energy.last_success_at == fetched, "an energy fetch brought newer values"
    for key in (
        "consumption_power",
        "grid_power",
        "battery_charging_power",
        "battery_state_of_charge",
    ):
        assert hass.states.get(f"sensor.mountain_view_battery_home_{key}").state == "unknown", key


async def test_no_battery_no_battery_sensors(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Sunny Cottage: consumption and grid power, no battery sensors."""
    freezer.move_to("2026-06-03T20:07:00+00:00")
    await setup_entry(hass, config_entry)
    await _first_import(hass, config_entry, freezer)
    assert hass.states.get("sensor.sunny_cottage_consumption_power") is not None
    assert hass.states.get("sensor.sunny_cottage_grid_power") is not None
    assert hass.states.get("sensor.sunny_cottage_battery_state_of_charge") is None
    assert hass.states.get("sensor.sunny_cottage_battery_charging_power") is None
