"""Alarms across restarts: one open_alarms read, saved open alarms, one event per change."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.enphase_enlighten.alarm_info import ALARM_BUS_EVENT
from custom_components.enphase_enlighten.alarms import ALARM_MEMORIES, events_interval
from custom_components.enphase_enlighten.budget import Task, TaskKind
from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.coordinator import EnphaseAlarmsCoordinator
from custom_components.enphase_enlighten.entry_budget import PLANNERS
from custom_components.enphase_enlighten.held import HELD_DATA
from tests.ha_compat import find_device

from .conftest import API_KEY, setup_entry

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
GATEWAY = "202323054201"
MICRO = "902167438951"
ACTIVE = "binary_sensor.sunny_cottage_active_alarm"
COUNT = "sensor.sunny_cottage_active_alarms"
# Longer than the Watt plan's alarm interval for one system (18.5 h): alarms are due again.
ALARMS_DUE = timedelta(hours=19)
EVENT = "event.sunny_cottage_alarm"
GATEWAY_PROBLEM = "binary_sensor.gateway_054201_problem"
MICRO_PROBLEM = "binary_sensor.microinverter_438951_problem"


@pytest.fixture
def now(freezer: FrozenDateTimeFactory) -> None:
    """Noon in California."""
    freezer.move_to("2026-06-21T19:00:00+00:00")


@pytest.fixture
def fired(hass: HomeAssistant) -> list[dict[str, Any]]:
    """The bus events the event entity fires, in order."""
    events: list[dict[str, Any]] = []

    @callback
    def _record(event: Event) -> None:
        events.append(dict(event.data))

    hass.bus.async_listen(ALARM_BUS_EVENT, _record)
    return events


def alarm_changes(fired: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alarms raised and cleared (an alarm's own events open and close beside it)."""
    return [event for event in fired if event["type"].startswith("alarm_")]


def open_alarm(sim: Simulator, age: timedelta, event_type_id: int = 28, **kwargs: Any) -> Any:
    """Raise an alarm that started ``age`` ago."""
    return sim.raise_alarm(SYSTEM_ID, event_type_id, at=dt_util.utcnow() - age, **kwargs)


def requests(sim: Simulator, endpoint: str) -> int:
    """Requests to one endpoint the simulator has answered so far."""
    return sum(1 for entry in sim.request_log if entry["endpoint"] == endpoint)


def alarms_coordinator(entry: MockConfigEntry) -> EnphaseAlarmsCoordinator:
    """The small home's alarms coordinator."""
    coordinator: EnphaseAlarmsCoordinator = entry.runtime_data.system_data[SYSTEM_ID].alarms
    return coordinator


async def refresh_alarms(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Read the alarms now, as the scheduler would."""
    coordinator = alarms_coordinator(entry)
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert coordinator.last_update_success


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
async def test_months_old_alarm_one_request_at_first_install_and_after_restart(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    fired: list[dict[str, Any]],
) -> None:
    """Open twenty weeks: active at once from one request; cleared while off fires once."""
    alarm = open_alarm(sim, timedelta(weeks=20))
    await setup_entry(hass, config_entry)
    assert requests(sim, "open_alarms") == 1
    assert requests(sim, "alarms") == 0
    assert hass.states.get(ACTIVE).state == STATE_ON
    assert hass.states.get(COUNT).state == "1"
    # Already open at the first install: not news.
    assert hass.states.get(EVENT).state == STATE_UNKNOWN
    assert fired == []
    saved = hass_storage[f"{DOMAIN}.alarms.{config_entry.entry_id}"]["data"]
    assert [a["id"] for a in saved["systems"][str(SYSTEM_ID)]["open"]] == [alarm["id"]]
    text = str(saved)
    assert API_KEY not in text
    assert config_entry.data["token"]["access_token"] not in text

    # Restarted when the alarms are due again (a restart fetches only what is due).
    freezer.tick(ALARMS_DUE)
    await restart(hass, config_entry)
    assert requests(sim, "open_alarms") == 2
    assert hass.states.get(ACTIVE).state == STATE_ON
    # Known before the restart: nothing fires again.
    assert hass.states.get(EVENT).state == STATE_UNKNOWN
    assert fired == []

    # Cleared while Home Assistant was off: off after the next restart, and fired once.
    sim.clear_alarm(alarm["id"])
    freezer.tick(ALARMS_DUE)
    await restart(hass, config_entry)
    assert hass.states.get(ACTIVE).state == STATE_OFF
    assert hass.states.get(COUNT).state == "0"
    assert [(e["type"], e["alarm_id"]) for e in alarm_changes(fired)] == [
        ("alarm_cleared", alarm["id"])
    ]
    assert hass.states.get(EVENT).attributes["event_type"] == "alarm_cleared"
    saved = hass_storage[f"{DOMAIN}.alarms.{config_entry.entry_id}"]["data"]
    assert saved["systems"][str(SYSTEM_ID)]["open"] == []
    # And not again after one more restart.
    count = len(fired)
    freezer.tick(timedelta(hours=1))
    await restart(hass, config_entry)
    assert len(fired) == count


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_alarm_raised_while_off_fires_once_with_its_data(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    fired: list[dict[str, Any]],
) -> None:
    """Raised while Home Assistant was off: fired once after the restart, with what it is."""
    known = open_alarm(sim, timedelta(days=2))
    await setup_entry(hass, config_entry)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()

    freezer.tick(ALARMS_DUE)
    new = open_alarm(sim, timedelta(hours=1), event_type_id=47, serial_number=MICRO)
    hass.data.pop(PLANNERS, None)
    hass.data.pop(ALARM_MEMORIES, None)
    hass.data.pop(HELD_DATA, None)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = hass.states.get(EVENT)
    assert state.state == dt_util.utcnow().isoformat(timespec="milliseconds")
    assert state.attributes["event_type"] == "alarm_raised"
    assert state.attributes["alarm_id"] == new["id"]
    (data,) = alarm_changes(fired)
    device = find_device(hass, MICRO)
    system = find_device(hass, str(SYSTEM_ID))
    assert data == {
        "device_id": system.id,
        "type": "alarm_raised",
        "alarm_id": new["id"],
        "event_id": None,
        "system_id": SYSTEM_ID,
        "severity": 2,
        "event_type_id": 47,
        "event_type_key": "meter_issue",
        "name": data["name"],
        "description": data["description"],
        "recommended_action": data["recommended_action"],
        "serial_numbers": [MICRO],
        "device_ids": [device.id],
        "start_time": (dt_util.utcnow() - timedelta(hours=1)).replace(microsecond=0).isoformat(),
        "end_time": None,
        "noticed_at": dt_util.utcnow().isoformat(),
    }
    assert data["name"]
    assert data["name"] != "meter_issue"
    assert data["description"]
    assert [a.id for a in alarms_coordinator(config_entry).data] == [known["id"], new["id"]]

    # Still open at the next read: nothing more.
    count = len(fired)
    freezer.tick(timedelta(minutes=5))
    await refresh_alarms(hass, config_entry)
    assert len(fired) == count
    assert hass.states.get(EVENT).state == state.state


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_raised_and_cleared_between_reads_each_fire_once(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    fired: list[dict[str, Any]],
) -> None:
    """Every read fires what changed since the one before, nothing twice."""
    await setup_entry(hass, config_entry)
    first = open_alarm(sim, timedelta(minutes=1))
    second = open_alarm(sim, timedelta(minutes=1), event_type_id=4781)
    freezer.tick(timedelta(minutes=5))
    await refresh_alarms(hass, config_entry)
    raised = alarm_changes(fired)
    assert sorted(e["alarm_id"] for e in raised) == sorted([first["id"], second["id"]])
    assert {e["type"] for e in raised} == {"alarm_raised"}
    sim.clear_alarm(first["id"])
    freezer.tick(timedelta(minutes=5))
    await refresh_alarms(hass, config_entry)
    await refresh_alarms(hass, config_entry)
    assert [(e["type"], e["alarm_id"]) for e in alarm_changes(fired)[2:]] == [
        ("alarm_cleared", first["id"])
    ]
    assert hass.states.get(COUNT).state == "1"


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_first_install_read_late_fires_nothing_old(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    fired: list[dict[str, Any]],
) -> None:
    """At the first install, alarms already open are not news even if the first read waits."""
    open_alarm(sim, timedelta(days=3))
    sim.fail_next(1, 500, endpoint="open_alarms")
    await setup_entry(hass, config_entry)
    assert alarms_coordinator(config_entry).data is None
    freezer.tick(timedelta(minutes=5))
    await refresh_alarms(hass, config_entry)
    assert hass.states.get(ACTIVE).state == STATE_ON
    assert hass.states.get(EVENT).state == STATE_UNKNOWN
    new = open_alarm(sim, timedelta(minutes=1))
    freezer.tick(timedelta(minutes=5))
    await refresh_alarms(hass, config_entry)
    assert [e["alarm_id"] for e in alarm_changes(fired)] == [new["id"]]


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
    fired: list[dict[str, Any]],
) -> None:
    """Saved alarm state that cannot be read counts as none: the first read is the baseline."""
    open_alarm(sim, timedelta(days=1))
    hass_storage[f"{DOMAIN}.alarms.{config_entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.alarms.{config_entry.entry_id}",
        "data": {"systems": {str(SYSTEM_ID): saved}},
    }
    await setup_entry(hass, config_entry)
    assert alarms_coordinator(config_entry).restored_ids is None
    assert hass.states.get(ACTIVE).state == STATE_ON
    assert fired == []


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_saved_alarms_shown_before_the_first_read(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """When the first read after a restart must wait (a 429), the saved alarms show."""
    open_alarm(sim, timedelta(days=3), serial_number=MICRO)
    await setup_entry(hass, config_entry)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(hours=1))
    hass.data.pop(PLANNERS, None)
    hass.data.pop(ALARM_MEMORIES, None)
    sim.fail_next(1, 429, endpoint="open_alarms")
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert not alarms_coordinator(config_entry).fetched
    assert hass.states.get(ACTIVE).state == STATE_ON
    assert hass.states.get(MICRO_PROBLEM).state == STATE_ON
    assert hass.states.get(EVENT).state == STATE_UNKNOWN


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


async def run_scheduler_until(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: Any
) -> None:
    """Move the clock to ``when`` and let the entry's scheduler wake as its timer says."""
    freezer.move_to(when)
    async_fire_time_changed(hass, when)
    await hass.async_block_till_done()


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_status_change_reads_the_alarms_at_once(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    fired: list[dict[str, Any]],
) -> None:
    """The gateway stops reporting: the next summary says "comm" and the alarms are read."""
    await setup_entry(hass, config_entry)
    runtime = config_entry.runtime_data
    planner = runtime.budget.planner
    task = Task(TaskKind.ALARMS, config_entry.entry_id, SYSTEM_ID)
    summary_at = planner.next_summary_at(dt_util.utcnow(), SYSTEM_ID)
    # Hours away on Watt.
    assert planner.when_due(task, summary_at) > summary_at + timedelta(hours=1)
    alarm = open_alarm(sim, timedelta(seconds=10))
    before = requests(sim, "open_alarms")
    await run_scheduler_until(hass, freezer, summary_at + timedelta(seconds=1))
    assert runtime.system_data[SYSTEM_ID].summary.data.status == "comm"
    assert runtime.scheduler.next_run <= dt_util.utcnow() + timedelta(seconds=2)
    await run_scheduler_until(hass, freezer, runtime.scheduler.next_run)
    assert requests(sim, "open_alarms") == before + 1
    assert [(e["type"], e["alarm_id"]) for e in alarm_changes(fired)] == [
        ("alarm_raised", alarm["id"])
    ]
    assert hass.states.get(GATEWAY_PROBLEM).state == STATE_ON
    # Read: not due again at once.
    assert planner.when_due(task, dt_util.utcnow()) > dt_util.utcnow() + timedelta(hours=1)


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_device_status_change_reads_the_alarms_at_once(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    fired: list[dict[str, Any]],
) -> None:
    """A microinverter stops reporting: the devices read shows it, the alarms are read."""
    await setup_entry(hass, config_entry)
    runtime = config_entry.runtime_data
    planner = runtime.budget.planner
    task = Task(TaskKind.ALARMS, config_entry.entry_id, SYSTEM_ID)
    # A kind that leaves the summary's status alone: only the devices read can tell.
    sim.set_alarm_kind(6, {"device_status": "not_reporting", "device_kinds": ["micros"]})
    alarm = open_alarm(sim, timedelta(seconds=10), event_type_id=6, serial_number=MICRO)
    now = dt_util.utcnow()
    assert planner.when_due(task, now) > now
    await runtime.system_data[SYSTEM_ID].devices.async_refresh()
    assert planner.when_due(task, now) <= now
    await hass.async_block_till_done()
    await runtime.scheduler.async_run()
    await hass.async_block_till_done()
    assert [(e["type"], e["alarm_id"]) for e in alarm_changes(fired)] == [
        ("alarm_raised", alarm["id"])
    ]
    assert hass.states.get(MICRO_PROBLEM).state == STATE_ON


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_silent_alarm_names_a_device_problem_and_the_count(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An alarm that changes no status still shows: the count, its name, the device's Problem."""
    await setup_entry(hass, config_entry)
    assert hass.states.get(GATEWAY_PROBLEM).state == STATE_OFF
    sim.set_alarm_kind(47, None)
    open_alarm(sim, timedelta(minutes=2), event_type_id=47, serial_number=GATEWAY, severity=3)
    freezer.tick(timedelta(minutes=5))
    await refresh_alarms(hass, config_entry)
    state = hass.states.get(COUNT)
    assert state.state == "1"
    (described,) = state.attributes["alarms"]
    assert described["severity"] == 3
    assert described["event_type_key"] == "meter_issue"
    assert described["name"]
    assert described["name"] != "meter_issue"
    assert described["devices"] == [find_device(hass, GATEWAY).name]
    assert GATEWAY not in str({k: v for k, v in described.items() if k != "devices"})
    assert hass.states.get(GATEWAY_PROBLEM).state == STATE_ON
    assert hass.states.get(MICRO_PROBLEM).state == STATE_OFF


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_events_opened_and_closed_fire_once(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    fired: list[dict[str, Any]],
) -> None:
    """Open events are read with the alarms weekly on Watt: each opening and closing once."""
    await setup_entry(hass, config_entry)
    assert requests(sim, "open_events") == 1
    event = sim.open_event(SYSTEM_ID, 12, serial_number=GATEWAY)
    freezer.tick(timedelta(days=2))
    await refresh_alarms(hass, config_entry)
    # Read less than a week ago: not again (the open alarms are).
    assert requests(sim, "open_events") == 1
    assert alarms_coordinator(config_entry).requests_needed(dt_util.utcnow()) == 1
    assert fired == []
    freezer.tick(timedelta(days=5))
    assert alarms_coordinator(config_entry).requests_needed(dt_util.utcnow()) == 2
    await refresh_alarms(hass, config_entry)
    assert requests(sim, "open_events") == 2
    (opened,) = fired
    assert opened["type"] == "event_opened"
    assert opened["event_id"]
    assert opened["alarm_id"] is None
    assert opened["serial_numbers"] == [GATEWAY]
    assert opened["event_type_id"] == 12
    sim.close_event(event["id"])
    # An alarm comes with its own events: it fires at once, its events with the next read.
    alarm = open_alarm(sim, timedelta(minutes=1))
    freezer.tick(timedelta(minutes=5))
    await refresh_alarms(hass, config_entry)
    assert requests(sim, "open_events") == 2
    assert [(e["type"], e["alarm_id"]) for e in fired[1:]] == [("alarm_raised", alarm["id"])]
    freezer.tick(timedelta(days=7))
    await refresh_alarms(hass, config_entry)
    kinds = sorted(e["type"] for e in fired[2:])
    assert kinds == ["event_closed", "event_opened"]
    assert (
        next(e for e in fired[2:] if e["type"] == "event_closed")["event_id"]
        == (opened["event_id"])
    )
    count = len(fired)
    freezer.tick(timedelta(days=7))
    await refresh_alarms(hass, config_entry)
    assert len(fired) == count


@pytest.mark.usefixtures("sim_url", "setup_credentials", "now")
async def test_cleared_alarm_polls_the_summary_at_once(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A gateway back from an outage uploads its backlog: the summary is read at once."""
    await setup_entry(hass, config_entry)
    planner = config_entry.runtime_data.budget.planner
    task = Task(TaskKind.SUMMARY, config_entry.entry_id, SYSTEM_ID)
    summary = config_entry.runtime_data.system_data[SYSTEM_ID].summary
    # A silent alarm's end changes nothing the summary shows: no extra summary.
    sim.set_alarm_kind(3612, None)
    silent = open_alarm(sim, timedelta(minutes=1), event_type_id=3612)
    freezer.tick(timedelta(minutes=1))
    await refresh_alarms(hass, config_entry)
    sim.clear_alarm(silent["id"])
    freezer.tick(timedelta(minutes=1))
    await refresh_alarms(hass, config_entry)
    now = dt_util.utcnow()
    assert planner.when_due(task, now) > now
    # The gateway stops reporting; the summary says so.
    alarm = open_alarm(sim, timedelta(minutes=1))
    freezer.tick(timedelta(minutes=2))
    await summary.async_refresh()
    assert summary.data.status == "comm"
    await refresh_alarms(hass, config_entry)
    now = dt_util.utcnow()
    assert planner.when_due(task, now) > now
    sim.clear_alarm(alarm["id"])
    freezer.tick(timedelta(minutes=1))
    await refresh_alarms(hass, config_entry)
    now = dt_util.utcnow()
    assert planner.when_due(task, now) <= now
    await summary.async_refresh()
    assert summary.data.status == "normal"
    assert planner.when_due(task, now) > now


def test_events_read_every_few_hours_on_generous_plans_weekly_on_tight() -> None:
    """Kilowatt reads alarms every 15 minutes: its events every 6 hours; Watt's weekly."""
    assert events_interval(timedelta(minutes=15)) == timedelta(hours=6)
    assert events_interval(timedelta(hours=18)) == timedelta(days=7)
