"""Devices as a person tells them apart: short names, serials kept, the model, gateway links."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.const import DOMAIN


def _devices(device_registry: dr.DeviceRegistry, entry: MockConfigEntry) -> list[dr.DeviceEntry]:
    return dr.async_entries_for_config_entry(device_registry, entry.entry_id)


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_hardware_names_differ_early_and_hold_no_serial(
    hass: HomeAssistant, loaded: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """Names end in a serial's last digits; the whole serial stays in the device info."""
    hardware = [
        device for device in _devices(device_registry, loaded) if device.serial_number is not None
    ]
    micros = [device for device in hardware if (device.name or "").startswith("Microinverter")]
    assert len(micros) >= 16
    # A card shows a name's first 25 characters ("Microinverter 482110037..." before): enough
    # to tell every microinverter apart now.
    assert len({(device.name or "")[:25] for device in micros}) == len(micros)
    for device in hardware:
        serial = device.serial_number
        assert serial
        assert (DOMAIN, serial) in device.identifiers
        # No serial-like number in a name: device diagnostics files are named after it.
        assert serial not in (device.name or ""), device.name
        assert not any(len(word) >= 9 and word.isdigit() for word in (device.name or "").split())
    assert any(device.name == f"Microinverter …{micros[0].serial_number[-6:]}" for device in micros)  # type: ignore[index]


@pytest.mark.parametrize("sim_scenario", ["demo_home"])
async def test_system_model_is_not_its_public_name(
    hass: HomeAssistant, loaded: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """The system device's model says what it is, not Enphase's public name of the system."""
    (system,) = [
        device
        for device in _devices(device_registry, loaded)
        if device.via_device_id is None and device.entry_type is None
    ]
    assert system.model == "System"
    assert system.model != "Residential System"


@pytest.mark.parametrize(
    ("sim_scenario", "cellular"), [("small_home", False), ("battery_ev_home", True)]
)
async def test_cellular_plan_end_only_on_cellular_gateways(
    hass: HomeAssistant, loaded: MockConfigEntry, entity_registry: er.EntityRegistry, cellular: bool
) -> None:
    """A broadband gateway shows no cellular plan end, though Enphase lists a modem for it."""
    plan_end = [
        entry
        for entry in er.async_entries_for_config_entry(entity_registry, loaded.entry_id)
        if entry.unique_id.endswith("_cellular_plan_end")
    ]
    assert bool(plan_end) is cellular
