"""Alarms across restarts: a four-week first look, saved open alarms, events for news only."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.alarms import ALARM_MEMORIES
from custom_components.enphase_enlighten.const import (
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    DOMAIN,
)
from custom_components.enphase_enlighten.coordinator import EnphaseAlarmsCoordinator
from custom_components.enphase_enlighten.entry_budget import PLANNERS
from custom_components.enphase_enlighten.held import HELD_DATA
from simulator.model import SimSystem

from .conftest import API_KEY, setup_entry

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
ACTIVE = "binary_sensor.sunny_cottage_active_alarm"
# Longer than the Watt plan's alarm interval for one system (18.5 h): alarms are due again.
ALARMS_DUE = timedelta(hours=19)
EVENT = "event.sunny_cottage_alarm"


@pytest.fixture(params=["overlap", "start"])
def semantics(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How Enphase picks the alarms of a window (unconfirmed): both must work.

    "overlap" (the simulator's reading): every alarm open during the window. "start": only
    alarms that started in it, so an alarm open for weeks is missed by a one-week look.
    """
    if request.param == "start":
        monkeypatch.setattr(
            SimSystem, "_overlaps", staticmethod(lambda start, end, lo, hi: lo <= start <= hi)
        )
    return str(request.param)


@pytest.fixture
def now(freezer: FrozenDateTimeFactory) -> None:
    """Noon in California."""
    freezer.move_to("2026-06-21T19:00:00+00:00")


def open_alarm(sim: Simulator, age: timedelta, event_type_id: int = 28) -> dict[str, Any]:
    """Open an alarm that started ``age`` ago."""
    alarm = sim.raise_alarm(SYSTEM_ID, event_type_id)
    start = int(alarm["start"] - age.total_seconds())
    alarm["start"] = start
    for event in alarm["events"]:
        event["start_date"] = start
    return alarm


def alarm_requests(sim: Simulator) -> int:
    """Alarm requests the simulator has answered so far."""
    return sum(1 for entry in sim.request_log if entry["endpoint"] == "alarms")


def alarms_coordinator(entry: MockConfigEntry) -> EnphaseAlarmsCoordinator:
    """The small home's alarms coordinator."""
    coordinator: EnphaseAlarmsCoordinator = entry.runtime_data.system_data[SYSTEM_ID].alarms
    return coordinator


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload, forget everything held in memory, and set up again from storage."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    hass.data.pop(PLANNERS, None)
    hass.data.pop(ALARM_MEMORIES, None)
    hass.data.pop(HELD_DATA, None)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_alarm_weeks_old_active_at_first_install_and_after_restart(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    semantics: str,
) -> None:
    """Open three weeks before the first setup: active at once, and after a restart."""
    alarm = open_alarm(sim, timedelta(weeks=3))
    await setup_entry(hass, config_entry)
    # No saved state: four weeks, one request per week.
    assert alarm_requests(sim) == 4
    assert hass.states.get(ACTIVE).state == STATE_ON
    # Already active at the first install: not news.
    assert hass.states.get(EVENT).state == STATE_UNKNOWN
    saved = hass_storage[f"{DOMAIN}.alarms.{config_entry.entry_id}"]["data"]
    assert [a["id"] for a in saved["systems"][str(SYSTEM_ID)]["open"]] == [alarm["id"]]
    text = str(saved)
    assert API_KEY not in text
    assert config_entry.data["token"]["access_token"] not in text

    # Restarted when the alarms are due again (a restart fetches only what is due).
    freezer.tick(ALARMS_DUE)
    before = alarm_requests(sim)
    await restart(hass, config_entry)
    # The last week (the last fetch was a day ago), plus, when Enphase lists an alarm
    # only in the window it started in, one request around the followed alarm's start.
    assert alarm_requests(sim) - before == (1 if semantics == "overlap" else 2)
    assert hass.states.get(ACTIVE).state == STATE_ON
    # Known before the restart: the event does not fire again.
    assert hass.states.get(EVENT).state == STATE_UNKNOWN

    # Cleared while Home Assistant was off: off after the next restart.
    sim.clear_alarm(alarm["id"])
    freezer.tick(ALARMS_DUE)
    await restart(hass, config_entry)
    assert hass.states.get(ACTIVE).state == STATE_OFF
    saved = hass_storage[f"{DOMAIN}.alarms.{config_entry.entry_id}"]["data"]
    assert saved["systems"][str(SYSTEM_ID)]["open"] == []


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_alarm_raised_while_off_fires_once(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An alarm raised while Home Assistant was off fires the event once, after the restart."""
    known = open_alarm(sim, timedelta(days=2))
    await setup_entry(hass, config_entry)
    assert hass.states.get(EVENT).state == STATE_UNKNOWN
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()

    freezer.tick(ALARMS_DUE)
    new = open_alarm(sim, timedelta(hours=1), event_type_id=47)
    hass.data.pop(PLANNERS, None)
    hass.data.pop(ALARM_MEMORIES, None)
    hass.data.pop(HELD_DATA, None)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    event = hass.states.get(EVENT)
    assert event.state == dt_util.utcnow().isoformat(timespec="milliseconds")
    assert event.attributes["alarm_id"] == new["id"]
    assert event.attributes["event_type"] == "meter_issue"
    assert [a.id for a in alarms_coordinator(config_entry).data] == [known["id"], new["id"]]

    # Still open at the next fetch: no second event.
    freezer.tick(timedelta(minutes=5))
    coordinator = alarms_coordinator(config_entry)
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert coordinator.last_update_success
    assert hass.states.get(EVENT).state == event.state


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now", "semantics")
async def test_followed_alarms_checked_a_week_window_each(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Followed alarms older than the last week cost one request per week-long group."""
    ids = {open_alarm(sim, timedelta(days=days))["id"] for days in (20, 19, 12)}
    await setup_entry(hass, config_entry)
    coordinator = alarms_coordinator(config_entry)
    assert {a.id for a in coordinator.data} == ids
    freezer.tick(timedelta(minutes=5))
    now = dt_util.utcnow()
    # The last week, the group of the 20 and 19 day old alarms, the 12 day old one.
    assert coordinator.requests_needed(now) == 3
    assert config_entry.runtime_data.budget.planner.cost(coordinator.task) == 3
    # A long stop: the time since the last fetch is read (ten days: two requests), and the
    # followed alarms before it (two groups); never more than four weeks back.
    coordinator.fetched_at = now - timedelta(days=10)
    assert coordinator.requests_needed(now) == 4
    coordinator.fetched_at = now - timedelta(days=40)
    assert coordinator.requests_needed(now) == 4


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_long_stop_reads_the_time_off(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Off for ten days: the restart reads those ten days (two requests), not four weeks."""
    await setup_entry(hass, config_entry)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(days=10))
    alarm = open_alarm(sim, timedelta(days=9))
    before = alarm_requests(sim)
    hass.data.pop(PLANNERS, None)
    hass.data.pop(ALARM_MEMORIES, None)
    hass.data.pop(HELD_DATA, None)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert alarm_requests(sim) - before == 2
    assert hass.states.get(ACTIVE).state == STATE_ON
    assert hass.states.get(EVENT).attributes["alarm_id"] == alarm["id"]


@pytest.mark.parametrize(
    "saved",
    [
        {"fetched_at": "not a time", "open": []},
        # Hand-edited, no time zone: comparing it with aware times crashed the set-up.
        {"fetched_at": "2026-06-21T18:00:00", "open": []},
        {
            "fetched_at": "2026-06-21T18:00:00+00:00",
            "open": [{"id": 1, "alarm_start_time": "9999-12-31T23:59:59-05:00"}],
        },
        {"fetched_at": "2026-06-21T18:00:00+00:00", "open": "not a list"},
        "not a mapping",
    ],
)
@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_unreadable_saved_state_is_a_first_install(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    saved: Any,
) -> None:
    """Saved alarm state that cannot be read counts as none: four weeks are read."""
    hass_storage[f"{DOMAIN}.alarms.{config_entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.alarms.{config_entry.entry_id}",
        "data": {"systems": {str(SYSTEM_ID): saved}},
    }
    await setup_entry(hass, config_entry)
    assert alarm_requests(sim) == 4
    assert alarms_coordinator(config_entry).restored_ids is None
    assert hass.states.get(ACTIVE).state == STATE_OFF


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_saved_alarms_shown_before_the_first_fetch(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """When the first fetch after a restart must wait (a 429), the saved alarms show."""
    open_alarm(sim, timedelta(days=3))
    await setup_entry(hass, config_entry)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(hours=1))
    hass.data.pop(PLANNERS, None)
    hass.data.pop(ALARM_MEMORIES, None)
    sim.fail_next(1, 429, endpoint="alarms")
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = alarms_coordinator(config_entry)
    assert not coordinator.fetched
    assert hass.states.get(ACTIVE).state == STATE_ON
    assert hass.states.get(EVENT).state == STATE_UNKNOWN


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_first_install_fetch_late_fires_nothing_old(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """At the first install, alarms already open are not news even if the first fetch waits."""
    open_alarm(sim, timedelta(days=3))
    sim.fail_next(1, 500, endpoint="alarms")
    await setup_entry(hass, config_entry)
    coordinator = alarms_coordinator(config_entry)
    assert coordinator.data is None
    freezer.tick(timedelta(minutes=5))
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(ACTIVE).state == STATE_ON
    assert hass.states.get(EVENT).state == STATE_UNKNOWN
    # A new one after that is news.
    new = open_alarm(sim, timedelta(minutes=1))
    freezer.tick(timedelta(minutes=5))
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(EVENT).attributes["alarm_id"] == new["id"]


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_deleting_the_entry_forgets_its_alarms(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A deleted entry leaves no saved alarms behind; the key's request counts stay."""
    open_alarm(sim, timedelta(days=1))
    await setup_entry(hass, config_entry)
    key = f"{DOMAIN}.alarms.{config_entry.entry_id}"
    assert hass_storage[key]["data"]["systems"][str(SYSTEM_ID)]["open"]
    budget_keys = [k for k in hass_storage if k.startswith(f"{DOMAIN}.budget.")]
    assert budget_keys

    assert await hass.config_entries.async_remove(config_entry.entry_id)
    await hass.async_block_till_done()

    assert key not in hass_storage
    assert all(k in hass_storage for k in budget_keys)


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_small_quota_per_system_first_looks_back_one_week(
    hass: HomeAssistant, sim: Simulator, config_entry: MockConfigEntry
) -> None:
    """With under 250 requests a month per system the first look costs one request."""
    old = open_alarm(sim, timedelta(weeks=3))
    recent = open_alarm(sim, timedelta(days=2), event_type_id=4781)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=config_entry.title,
        unique_id=config_entry.unique_id,
        data={
            **config_entry.data,
            CONF_PLAN: "custom",
            CONF_REQUESTS_PER_MINUTE: 10,
            CONF_REQUESTS_PER_MONTH: 200,
        },
        options=dict(config_entry.options),
    )
    await setup_entry(hass, entry)

    assert alarm_requests(sim) == 1
    found = {alarm.id for alarm in alarms_coordinator(entry).data or ()}
    assert str(recent["id"]) in found
    # Under the simulator's reading (every alarm open during the window) the old one shows.
    assert str(old["id"]) in found
    assert hass.states.get(ACTIVE).state == STATE_ON
