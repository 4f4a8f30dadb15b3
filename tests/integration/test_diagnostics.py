"""Entry and device diagnostics: last responses, plan and counters, private data redacted."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
import json
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.json import json_dumps
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.enphase_enlighten.diagnostics import (
    async_get_config_entry_diagnostics,
    async_get_device_diagnostics,
)
from tests.ha_compat import get_device

from .conftest import API_KEY, CLIENT_SECRET

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
GATEWAY = "202323054201"
# Values that must never appear in diagnostics.
PRIVATE = [API_KEY, CLIENT_SECRET, GATEWAY, "902167438951", "Sebastopol", "95472", "Sunny Cottage"]
# Values that change from run to run.
VOLATILE = props("started_at", "duration", "entry_id", "created_at", "modified_at", "expires_at")


def _assert_private_data_absent(diagnostics: object, entry: MockConfigEntry) -> None:
    text = json.dumps(diagnostics)
    token = entry.data["token"]
    for value in [*PRIVATE, token["access_token"], token["refresh_token"], entry.unique_id]:
        assert str(value) not in text, value
    assert "352009" not in text  # IMEI prefix


async def test_entry_diagnostics(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """The entry's diagnostics hold the raw responses, the plan and the request counts."""
    # Through JSON, as the diagnostics download does (the HTTP route needs a real clock).
    diagnostics = json.loads(json_dumps(await async_get_config_entry_diagnostics(hass, loaded)))
    _assert_private_data_absent(diagnostics, loaded)
    # The first alarms read: the open alarms and the open events (two requests).
    assert diagnostics["requests"]["total"] == 7
    assert diagnostics["plan"]["requests_per_month"] == 1000
    budget = diagnostics["budget"]
    assert budget["used"] == 7
    assert budget["limits"] == {"per_minute": 10, "per_month": 1000}
    assert budget["projected_month_end"] <= 1000
    assert budget["freshness"]["ok"]
    summary = diagnostics["system_data"][0]["summary"]["data"]
    assert summary["system_id"] == SYSTEM_ID
    assert summary["nmi"] in (None, "**REDACTED**")
    assert diagnostics == snapshot(exclude=VOLATILE)


async def test_device_diagnostics(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """System, gateway and microinverter devices each get their own data."""
    for identifier in (str(SYSTEM_ID), GATEWAY, "902167438951"):
        device = get_device(device_registry, loaded, identifier)
        assert device is not None
        diagnostics = json.loads(
            json_dumps(await async_get_device_diagnostics(hass, loaded, device))
        )
        _assert_private_data_absent(diagnostics, loaded)
        assert diagnostics == snapshot(name=identifier, exclude=VOLATILE)


@pytest.mark.parametrize("sim_scenario", ["battery_ev_home"])
async def test_no_serial_number_under_another_key(
    hass: HomeAssistant, loaded: MockConfigEntry, sim: Simulator
) -> None:
    """The EV charger's `id` is its serial number: redacted like the serial itself."""
    serials = {
        str(device["serial_number"])
        for devices in sim.systems[sim.system_ids[0]].devices.values()
        for device in devices
        if device.get("serial_number")
    }
    assert "202313029329" in serials
    diagnostics = json.dumps(await async_get_config_entry_diagnostics(hass, loaded))
    assert "ev_chargers" in diagnostics
    assert not [serial for serial in serials if serial in diagnostics]


@pytest.mark.parametrize("timezone", ["US/Pacific-New", "Mars/Olympus"])
async def test_unknown_timezone_falls_back_to_home_assistant(
    hass: HomeAssistant, loaded: MockConfigEntry, timezone: str
) -> None:
    """An obsolete or made-up time zone: daylight at Home Assistant's home, not UTC's."""
    await hass.config.async_update(
        time_zone="America/Los_Angeles", latitude=38.40, longitude=-122.82
    )
    systems = loaded.runtime_data.systems
    systems.async_set_updated_data(
        {SYSTEM_ID: dataclasses.replace(systems.data[SYSTEM_ID], timezone=timezone)}
    )
    planner = loaded.runtime_data.budget.planner
    # 01:00 and noon in California; 08:00 UTC would be daylight for UTC's guess.
    assert not planner.is_daylight(SYSTEM_ID, datetime(2026, 6, 22, 8, tzinfo=UTC))
    assert planner.is_daylight(SYSTEM_ID, datetime(2026, 6, 22, 19, tzinfo=UTC))

    diagnostics = await async_get_config_entry_diagnostics(hass, loaded)
    assert diagnostics["daylight"] == [
        {
            "system_id": SYSTEM_ID,
            "timezone": "America/Los_Angeles",
            "unknown_timezone": timezone,
            "timezone_from": "home_assistant",
            "daylight_from": "location",
        }
    ]
