"""Devices and systems that appear, change or disappear while Home Assistant runs."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.budget import TaskKind
from custom_components.enphase_enlighten.const import CONF_SYSTEMS, DOMAIN
from custom_components.enphase_enlighten.held import HELD_DATA
from tests.ha_compat import get_device

from .conftest import setup_entry
from .test_coordinator import advance, until_due

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
NEW_SERIAL = "902167439999"
# Named by the serial's last digits, so cards of many microinverters differ; the serial
# stays in the device info.
NEW_OBJECT_ID = "microinverter_439999"


@pytest.fixture
async def loaded(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> MockConfigEntry:
    """The small home set up at noon in California."""
    freezer.move_to("2026-06-21T19:00:00+00:00")
    await setup_entry(hass, config_entry)
    # The first alarms fetch reads four weeks (four requests): on the Watt plan the setup
    # fills its minute, and the tests' own refreshes come in the next one.
    freezer.tick(60)
    return config_entry


async def test_new_device_gets_entities_without_restart(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A microinverter added on Enphase's side shows up at the next inventory poll."""
    sim.add_device(
        SYSTEM_ID,
        "micros",
        {
            "id": 1,
            "name": f"Microinverter {NEW_SERIAL}",
            "serial_number": NEW_SERIAL,
            "part_number": "800-01333-r01",
            "sku": "IQ8A-72-2-US",
            "model": "IQ8A",
            "product_name": "IQ8A",
            "_watts": 349,
            "_envoy": "202323054201",
        },
    )
    assert get_device(device_registry, loaded, NEW_SERIAL) is None
    await advance(hass, freezer, until_due(loaded, TaskKind.DEVICES))
    device = get_device(device_registry, loaded, NEW_SERIAL)
    assert device is not None
    system = get_device(device_registry, loaded, str(SYSTEM_ID))
    assert system is not None
    assert device.via_device_id == system.id
    assert device.name == "Microinverter …439999"
    assert device.serial_number == NEW_SERIAL
    assert hass.states.get(f"binary_sensor.{NEW_OBJECT_ID}_problem").state == STATE_OFF
    # Power and energy come from the inverters summary.
    await loaded.runtime_data.system_data[SYSTEM_ID].inverters.async_refresh()
    await hass.async_block_till_done()
    power = hass.states.get(f"sensor.{NEW_OBJECT_ID}_power")
    assert power is not None
    assert power.state not in {STATE_UNKNOWN, STATE_UNAVAILABLE}
    # Disabled by default: the per-micro status.
    status = entity_registry.async_get(f"sensor.{NEW_OBJECT_ID}_status")
    assert status is not None
    assert status.disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_removed_device_leaves_the_registry(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A device Enphase stops listing is removed, entities and all; it can come back."""
    serial = "202323054201EIM2"
    removed = sim.remove_device(SYSTEM_ID, serial)
    devices = loaded.runtime_data.system_data[SYSTEM_ID].devices
    await devices.async_refresh()
    await hass.async_block_till_done()
    assert get_device(device_registry, loaded, serial) is None
    assert entity_registry.async_get("binary_sensor.net_meter_problem") is None
    assert hass.states.get("binary_sensor.net_meter_problem") is None

    sim.add_device(SYSTEM_ID, "meters", removed)
    await devices.async_refresh()
    await hass.async_block_till_done()
    assert get_device(device_registry, loaded, serial) is not None
    assert hass.states.get("binary_sensor.net_meter_problem").state == STATE_OFF


async def test_system_renamed_and_removed(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The daily systems read renames the device, and drops a system that is gone."""
    sim.update_system(SYSTEM_ID, {"name": "Sunny Villa"})
    await advance(hass, freezer, until_due(loaded, TaskKind.SYSTEMS))
    system = get_device(device_registry, loaded, str(SYSTEM_ID))
    assert system is not None
    assert system.name == "Sunny Villa"

    sim.remove_system(SYSTEM_ID)
    await loaded.runtime_data.systems.async_refresh()
    await hass.async_block_till_done()
    # One answer without it removes nothing; the next read, some time later, does.
    assert get_device(device_registry, loaded, str(SYSTEM_ID)) is not None
    freezer.tick(timedelta(hours=2))
    await loaded.runtime_data.systems.async_refresh()
    await hass.async_block_till_done()
    assert get_device(device_registry, loaded, str(SYSTEM_ID)) is None
    assert get_device(device_registry, loaded, "202323054201") is None
    assert loaded.runtime_data.system_data == {}
    # Only the API usage device (the request budget's sensors) is left.
    devices = dr.async_entries_for_config_entry(device_registry, loaded.entry_id)
    assert [device.entry_type for device in devices] == [dr.DeviceEntryType.SERVICE]
    assert loaded.runtime_data.budget.planner.stats(dt_util.utcnow()).next_summary_at is None


EMPTY_SEARCH = {"total": 0, "current_page": 1, "size": 1000, "count": 0, "systems": []}


def _entry_devices(device_registry: dr.DeviceRegistry, entry: MockConfigEntry) -> set[str]:
    return {
        device.id for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    }


def _missing_issue(
    issue_registry: ir.IssueRegistry, entry: MockConfigEntry
) -> ir.IssueEntry | None:
    return issue_registry.async_get_issue(DOMAIN, f"system_missing_{entry.entry_id}_{SYSTEM_ID}")


async def test_one_empty_systems_answer_removes_nothing(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An empty systems list once: a repair says the system is missing, nothing is removed."""
    devices = _entry_devices(device_registry, loaded)
    assert len(devices) > 10
    sim.fail_next(1, 200, body=EMPTY_SEARCH, endpoint="search")
    await loaded.runtime_data.systems.async_refresh()
    await hass.async_block_till_done()
    assert _entry_devices(device_registry, loaded) == devices
    assert list(loaded.runtime_data.system_data) == [SYSTEM_ID]
    issue = _missing_issue(issue_registry, loaded)
    assert issue is not None
    assert issue.translation_key == "system_missing"
    assert issue.translation_placeholders["system"] == "Sunny Cottage"
    assert hass.states.get("sensor.sunny_cottage_current_power").state != STATE_UNAVAILABLE
    # The next read lists it again: the issue goes, everything stays.
    freezer.tick(timedelta(hours=2))
    await loaded.runtime_data.systems.async_refresh()
    await hass.async_block_till_done()
    assert _missing_issue(issue_registry, loaded) is None
    assert _entry_devices(device_registry, loaded) == devices
    # Missing again later counts from scratch: one answer still removes nothing.
    sim.fail_next(1, 200, body=EMPTY_SEARCH, endpoint="search")
    freezer.tick(timedelta(hours=2))
    await loaded.runtime_data.systems.async_refresh()
    await hass.async_block_till_done()
    assert _entry_devices(device_registry, loaded) == devices


async def test_missing_system_removed_when_enphase_says_404(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Missing from the systems list and 404 for its summary: removed without waiting."""
    sim.remove_system(SYSTEM_ID)
    await loaded.runtime_data.systems.async_refresh()
    await hass.async_block_till_done()
    assert _missing_issue(issue_registry, loaded) is not None
    await loaded.runtime_data.system_data[SYSTEM_ID].summary.async_refresh()
    await hass.async_block_till_done()
    assert get_device(device_registry, loaded, str(SYSTEM_ID)) is None
    assert loaded.runtime_data.system_data == {}
    assert _missing_issue(issue_registry, loaded) is None


async def test_empty_systems_answer_at_restart_keeps_devices(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A restart whose systems read comes back empty keeps the known system and devices."""
    devices = _entry_devices(device_registry, loaded)
    # Nothing held (a restart that lost it): the restart reads the systems again.
    await hass.data[HELD_DATA].pop(loaded.entry_id).store.async_remove()
    sim.fail_next(1, 200, body=EMPTY_SEARCH, endpoint="search")
    assert await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _entry_devices(device_registry, loaded) == devices
    assert list(loaded.runtime_data.system_data) == [SYSTEM_ID]
    assert _missing_issue(issue_registry, loaded) is not None
    system = get_device(device_registry, loaded, str(SYSTEM_ID))
    assert system is not None
    assert system.name == "Sunny Cottage"


async def test_selected_system_gone_at_startup(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """A selected system Enphase no longer returns gets no coordinators."""
    sim.remove_system(SYSTEM_ID)
    await setup_entry(hass, config_entry)
    assert config_entry.runtime_data.system_data == {}


async def test_selected_system_comes_back(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A selected system missing at start-up is set up when the systems read finds it."""
    spec = {
        "system_id": 700000001,
        "name": "Garden Shed",
        "timezone": "America/Los_Angeles",
        "lat": 38.4,
        "lon": -122.8,
        "devices": {},
    }
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_SYSTEMS: [SYSTEM_ID, 700000001]}
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert list(config_entry.runtime_data.system_data) == [SYSTEM_ID]
    # The reload that sets the system up waits for a minute with room for its requests.
    freezer.tick(60)
    sim.add_system(spec)
    await config_entry.runtime_data.systems.async_refresh()
    await hass.async_block_till_done()
    assert sorted(config_entry.runtime_data.system_data) == [SYSTEM_ID, 700000001]
    assert get_device(device_registry, config_entry, "700000001") is not None


async def test_new_alarm_fires_event(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry
) -> None:
    """A new alarm fires the event entity once, with its type's name, and turns on the sensor."""
    alarms = loaded.runtime_data.system_data[SYSTEM_ID].alarms
    assert hass.states.get("event.sunny_cottage_alarm").state == STATE_UNKNOWN
    alarm = sim.raise_alarm(SYSTEM_ID, 28, severity=4)
    await alarms.async_refresh()
    await hass.async_block_till_done()
    event = hass.states.get("event.sunny_cottage_alarm")
    assert event.state not in {STATE_UNKNOWN, STATE_UNAVAILABLE}
    assert event.attributes["event_type"] == "alarm_raised"
    assert event.attributes["event_type_key"] == "envoy_no_report"
    assert event.attributes["name"] == "Gateway not reporting"
    assert event.attributes["severity"] == 4
    assert event.attributes["alarm_id"] == alarm["id"]
    assert hass.states.get("binary_sensor.sunny_cottage_active_alarm").state == STATE_ON
    fired_at = event.state

    # Still active at the next poll: no second event.
    await alarms.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get("event.sunny_cottage_alarm").state == fired_at

    sim.clear_alarm(alarm["id"])
    await alarms.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.sunny_cottage_active_alarm").state == STATE_OFF
    event = hass.states.get("event.sunny_cottage_alarm")
    assert event.attributes["event_type"] == "alarm_cleared"
    assert event.attributes["alarm_id"] == alarm["id"]


async def test_alarm_of_unknown_type(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry
) -> None:
    """An alarm whose type Enphase does not describe still fires, under a stable name."""
    sim.raise_alarm(SYSTEM_ID, 999999)
    await loaded.runtime_data.system_data[SYSTEM_ID].alarms.async_refresh()
    await hass.async_block_till_done()
    event = hass.states.get("event.sunny_cottage_alarm")
    assert event.attributes["event_type"] == "alarm_raised"
    assert event.attributes["name"] == "Event type 999999"
    assert event.attributes["event_type_key"] is None


async def test_event_entity_fires_four_kinds_of_change(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry
) -> None:
    """The event entity's types are the changes, whatever Enphase's event types are."""
    await loaded.runtime_data.event_types.async_refresh()
    await hass.async_block_till_done()
    event = hass.states.get("event.sunny_cottage_alarm")
    assert event.attributes["event_types"] == [
        "alarm_raised",
        "alarm_cleared",
        "event_opened",
        "event_closed",
    ]


async def test_unknown_statuses_kept(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    entity_registry_enabled_by_default: None,
) -> None:
    """A status Enphase adds later is shown as it comes, and counts as a problem."""
    sim.update_system(SYSTEM_ID, {"status": "grid_profile_issue"})
    sim.update_device(SYSTEM_ID, "202323054201", {"status": "upgrading"})
    data = loaded.runtime_data.system_data[SYSTEM_ID]
    await data.summary.async_refresh()
    await data.devices.async_refresh()
    await hass.async_block_till_done()
    status = hass.states.get("sensor.sunny_cottage_status")
    assert status.state == "grid_profile_issue"
    assert "grid_profile_issue" in status.attributes["options"]
    assert hass.states.get("binary_sensor.sunny_cottage_problem").state == STATE_ON
    gateway = hass.states.get("sensor.gateway_054201_status")
    assert gateway.state == "upgrading"
    assert hass.states.get("binary_sensor.gateway_054201_problem").state == STATE_ON

    sim.update_system(SYSTEM_ID, {"status": "unknown"})
    await data.summary.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sunny_cottage_status").state == STATE_UNKNOWN
    assert hass.states.get("binary_sensor.sunny_cottage_problem").state == STATE_UNKNOWN


async def test_gateway_stops_reporting(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Reports older than the broadband cadence allows: not reporting, status comm."""
    assert hass.states.get("binary_sensor.sunny_cottage_gateway_reporting").state == STATE_ON
    sim.update_system(SYSTEM_ID, {"reporting": False})
    freezer.tick(7200)
    summary = loaded.runtime_data.system_data[SYSTEM_ID].summary
    await summary.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.sunny_cottage_gateway_reporting").state == STATE_OFF
    assert hass.states.get("sensor.sunny_cottage_status").state == "comm"
    assert hass.states.get("binary_sensor.sunny_cottage_problem").state == STATE_ON
