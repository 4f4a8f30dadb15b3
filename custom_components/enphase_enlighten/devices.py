"""The device registry: system and API usage devices, and removing devices Enphase dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from . import compat
from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from homeassistant.config_entries import ConfigEntry

    from .api import System

MANUFACTURER = "Enphase"


def system_identifier(system_id: int) -> tuple[str, str]:
    """Return the device registry identifier of a system."""
    return (DOMAIN, str(system_id))


@callback
def remove_stale_devices(
    hass: HomeAssistant, entry: ConfigEntry[Any], system_id: int, serials: set[str]
) -> None:
    """Remove the hardware devices of a system that Enphase no longer lists."""
    registry = dr.async_get(hass)
    system_device = compat.get_device(registry, system_identifier(system_id), entry.entry_id)
    if system_device is None:
        return
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if device.via_device_id != system_device.id:
            continue
        if not any(domain == DOMAIN and ident in serials for domain, ident in device.identifiers):
            compat.remove_device(registry, device, entry.entry_id)


@callback
def remove_system_device(hass: HomeAssistant, entry: ConfigEntry[Any], system_id: int) -> None:
    """Remove a system and its hardware devices from the device registry."""
    registry = dr.async_get(hass)
    system_device = compat.get_device(registry, system_identifier(system_id), entry.entry_id)
    if system_device is None:
        return
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if device.via_device_id == system_device.id:
            compat.remove_device(registry, device, entry.entry_id)
    compat.remove_device(registry, system_device, entry.entry_id)


def system_device_info(system_id: int, system: System | None) -> DeviceInfo:
    """Return the device info of a system (no address: it is private)."""
    return DeviceInfo(
        identifiers={system_identifier(system_id)},
        manufacturer=MANUFACTURER,
        # Enphase's own category of the system ("Residential System", "Commercial"...).
        # Not the public name ("Residential System"): that names the system, not a model.
        model="System",
        name=(system.name if system is not None and system.name else f"Enphase system {system_id}"),
    )


def budget_device_identifier(entry: ConfigEntry[Any]) -> tuple[str, str]:
    """Return the device registry identifier of an entry's API usage (a service device)."""
    # The account (enl_uid) is the entry's unique id; the entry id is the fallback.
    return (DOMAIN, f"{entry.unique_id or entry.entry_id}_api")


@callback
def register_system_devices(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    system_ids: Iterable[int],
    systems: Mapping[int, System],
) -> None:
    """Create the system devices first, so hardware devices can link to them.

    Systems no longer selected (or no longer on the account) leave the registry, with
    their hardware.
    """
    registry = dr.async_get(hass)
    system_ids = list(system_ids)
    kept = {system_identifier(system_id) for system_id in system_ids}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if device.via_device_id is None and not device.identifiers & kept:
            for domain, ident in device.identifiers:
                if domain == DOMAIN and ident.isdigit():
                    remove_system_device(hass, entry, int(ident))
    for system_id in system_ids:
        if system_id not in systems and compat.get_device(
            registry, system_identifier(system_id), entry.entry_id
        ):
            # Missing from Enphase's last answer: kept as it was, name included.
            continue
        registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            **system_device_info(system_id, systems.get(system_id)),
        )


def registered_system_ids(hass: HomeAssistant, entry: ConfigEntry[Any]) -> set[int]:
    """Return the ids of the systems the entry has a device for (known from earlier runs)."""
    registry = dr.async_get(hass)
    return {
        int(ident)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if device.via_device_id is None
        for domain, ident in device.identifiers
        if domain == DOMAIN and ident.isdigit()
    }


def system_device_name(hass: HomeAssistant, entry: ConfigEntry[Any], system_id: int) -> str:
    """Return the name a user knows a system by (its device's), without an address."""
    registry = dr.async_get(hass)
    device = compat.get_device(registry, system_identifier(system_id), entry.entry_id)
    if device is not None and (device.name_by_user or device.name):
        return str(device.name_by_user or device.name)
    return f"Enphase system {system_id}"
