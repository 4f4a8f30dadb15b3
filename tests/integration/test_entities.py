"""Entities and devices for every simulator scenario and for the reference data."""

from __future__ import annotations

from collections import Counter
import json
from pathlib import Path
import time
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from syrupy.assertion import SnapshotAssertion

from custom_components.enphase_enlighten.api import API_URL_ENV, DEFAULT_BASE_URL
from custom_components.enphase_enlighten.const import CONF_SYSTEMS, DOMAIN
from tests.ha_compat import get_device

from .conftest import entry_data, setup_entry

if TYPE_CHECKING:
    from simulator import Simulator

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOON_IN_CALIFORNIA = "2026-06-21T19:00:00+00:00"


def snapshot_entry(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    entry: MockConfigEntry,
) -> None:
    """Snapshot the entry's devices, entity registry entries and states."""
    devices = sorted(
        dr.async_entries_for_config_entry(device_registry, entry.entry_id),
        key=lambda device: sorted(device.identifiers),
    )
    assert devices == snapshot(name="devices")
    for entity_entry in sorted(
        er.async_entries_for_config_entry(entity_registry, entry.entry_id),
        key=lambda e: e.entity_id,
    ):
        assert entity_entry == snapshot(name=f"{entity_entry.entity_id}-entry")
        state = hass.states.get(entity_entry.entity_id)
        assert state == snapshot(name=f"{entity_entry.entity_id}-state")


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "setup_credentials", "sim_url")
@pytest.mark.parametrize("sim_scenario", ["small_home", "battery_ev_home"])
async def test_scenario_entities(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Every device and entity of a scenario, with its state at noon."""
    freezer.move_to(NOON_IN_CALIFORNIA)
    await setup_entry(hass, config_entry)
    snapshot_entry(hass, entity_registry, device_registry, snapshot, config_entry)
    for state in hass.states.async_all():
        assert state.state != "-1"


@pytest.mark.usefixtures("setup_credentials", "sim_url")
@pytest.mark.parametrize(("sim_scenario", "plan"), [("installer_28", "partner")])
async def test_installer_entities(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
) -> None:
    """28 systems: one search request, and per system the same set of entities."""
    freezer.move_to(NOON_IN_CALIFORNIA)
    await setup_entry(hass, config_entry)
    assert sum(1 for e in sim.request_log if e["endpoint"] == "search") == 1
    entities = er.async_entries_for_config_entry(entity_registry, config_entry.entry_id)
    systems = [
        device
        for device in dr.async_entries_for_config_entry(device_registry, config_entry.entry_id)
        if device.via_device_id is None and device.entry_type is None
    ]
    assert len(systems) == 28
    summary = {
        "entities_by_platform": dict(sorted(Counter(e.domain for e in entities).items())),
        "disabled": sum(1 for e in entities if e.disabled_by is not None),
        "systems": sorted(device.name for device in systems),
        "system_states": {
            state.entity_id: state.state
            for state in sorted(hass.states.async_all(), key=lambda s: s.entity_id)
            if state.attributes.get("device_class") in {"enum", "problem", "energy", "power"}
            and not state.entity_id.startswith(
                ("sensor.microinverter", "binary_sensor.microinverter")
            )
        },
    }
    assert summary == snapshot
    unavailable = [s.entity_id for s in hass.states.async_all() if s.state == STATE_UNAVAILABLE]
    assert not unavailable


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "setup_credentials")
async def test_reference_data(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reference's example responses, recorded in tests/fixtures, become entities."""
    monkeypatch.delenv(API_URL_ENV, raising=False)
    freezer.move_to("2019-05-09T11:15:00+00:00")
    api = f"{DEFAULT_BASE_URL}/api/v4/systems"
    aioclient_mock.post(f"{api}/search", json=_fixture("search_page"))
    aioclient_mock.get(f"{api}/event_types", json=_fixture("event_types"))
    aioclient_mock.get(f"{api}/698910067/summary", json=_fixture("summary"))
    aioclient_mock.get(f"{api}/698910067/devices", json=_fixture("devices"))
    # The reference has no open_alarms/open_events examples; its alarms and events have
    # the same shape (the Swagger's own examples differ only in the `cleared` fields).
    aioclient_mock.get(f"{api}/698910067/open_alarms", json=_fixture("alarms"))
    aioclient_mock.get(f"{api}/698910067/open_events", json=_fixture("events"))
    aioclient_mock.get(
        f"{api}/inverters_summary_by_envoy_or_site", json=_fixture("inverters_summary")
    )
    token = {
        "access_token": "reference-access-token",
        "refresh_token": "reference-refresh-token",
        "token_type": "bearer",
        "expires_in": 86393,
        "enl_uid": 1,
    }
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Enphase",
        unique_id="1",
        data={**entry_data(token), "token": {**token, "expires_at": time.time() + 86393}},
        options={CONF_SYSTEMS: [698910067]},
    )
    await setup_entry(hass, entry)
    snapshot_entry(hass, entity_registry, device_registry, snapshot, entry)
    # Two meters and two AC batteries share one device id: all four are devices.
    serials = {
        ident
        for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
        for _, ident in device.identifiers
    }
    assert {"901553005272EIM1", "901553005272EIM2", "911364446952", "911499228280"} <= serials
    # Microinverters only the inverters summary lists survive an inventory refresh.
    await entry.runtime_data.system_data[698910067].devices.async_refresh()
    await hass.async_block_till_done()
    assert get_device(device_registry, entry, "688346865858") is not None
    power = hass.states.get("sensor.enphase_system_current_power")
    assert power is not None
    assert power.state == "0"
    lifetime = hass.states.get("sensor.enphase_system_lifetime_energy")
    assert lifetime is not None
    assert lifetime.state not in {STATE_UNKNOWN, STATE_UNAVAILABLE}
