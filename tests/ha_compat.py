"""What the tests need the same on every supported Home Assistant: devices, snapshots, energy.

The integration's own differences live in custom_components/enphase_enlighten/compat.py; the
tests look devices up through it too. The snapshot serializer brings each version's registry
and state shapes to one form (the 2026.2.3 one), so one snapshot file fits both ends; each
normalisation says what changed and when it can go. None of them checks a version: each
looks at the shape it is given, and on 2026.2.3 none finds anything to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.energy import data as energy_data
from homeassistant.helpers import device_registry
from pytest_homeassistant_custom_component.syrupy import (
    ANY,
    HomeAssistantSnapshotExtension,
    HomeAssistantSnapshotSerializer,
)

from custom_components.enphase_enlighten import compat
from custom_components.enphase_enlighten.const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant, State
    from homeassistant.helpers import device_registry as dr, entity_registry as er
    from syrupy.types import SerializableData


def get_device(
    registry: dr.DeviceRegistry, entry: ConfigEntry[Any], identifier: str | tuple[str, str]
) -> dr.DeviceEntry | None:
    """Return the entry's device with this identifier (a bare one is the integration's)."""
    if isinstance(identifier, str):
        identifier = (DOMAIN, identifier)
    return compat.get_device(registry, identifier, entry.entry_id)


def find_device(hass: HomeAssistant, identifier: str | tuple[str, str]) -> dr.DeviceEntry | None:
    """Return the device with this identifier among the integration's config entries."""
    registry = device_registry.async_get(hass)
    for entry in hass.config_entries.async_entries(DOMAIN):
        if (device := get_device(registry, entry, identifier)) is not None:
            return device
    return None


def grid_source(stat_energy_from: str, stat_energy_to: str) -> dict[str, Any]:
    """The Energy dashboard's grid source importing one statistic and exporting another.

    2026.11 made a grid one connection with its import and export (as a battery is) and
    refuses the flow_from/flow_to lists it migrates stored preferences from; goes once the
    minimum has the connection form.
    """
    if "flow_from" not in energy_data.GridSourceType.__annotations__:
        return {
            "type": "grid",
            "stat_energy_from": stat_energy_from,
            "stat_energy_to": stat_energy_to,
            "stat_cost": None,
            "entity_energy_price": None,
            "number_energy_price": None,
            "stat_compensation": None,
            "entity_energy_price_export": None,
            "number_energy_price_export": None,
            "cost_adjustment_day": 0,
        }
    return {
        "type": "grid",
        "flow_from": [
            {
                "stat_energy_from": stat_energy_from,
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
            }
        ],
        "flow_to": [
            {
                "stat_energy_to": stat_energy_to,
                "stat_compensation": None,
                "entity_energy_price": None,
                "number_energy_price": None,
            }
        ],
        "cost_adjustment_day": 0,
    }


class ComparableSnapshotSerializer(HomeAssistantSnapshotSerializer):
    """The Home Assistant serializer, registry entries and states in one form for all ends."""

    @classmethod
    def _serializable_device_registry_entry(cls, data: dr.DeviceEntry) -> SerializableData:
        serialized = super()._serializable_device_registry_entry(data)
        # 2026.8 gave a device one config entry and subentry (config_entry_id and
        # config_subentry_id, both <ANY> here) instead of sets and a primary entry; goes
        # once the minimum is 2026.8 and the snapshots are updated.
        if "config_entry_id" in serialized:
            serialized.pop("config_entry_id")
            serialized.pop("config_subentry_id")
            serialized["config_entries"] = ANY
            serialized["config_entries_subentries"] = ANY
            serialized["primary_config_entry"] = ANY
        return serialized

    @classmethod
    def _serializable_entity_registry_entry(cls, data: er.RegistryEntry) -> SerializableData:
        serialized = super()._serializable_entity_registry_entry(data)
        # After 2026.2.3 (2026.11 has it) entity entries gained compat_name, and aliases
        # list the entity's own name as None ([None] when the user set none); goes with
        # the same snapshot update.
        serialized.pop("compat_name", None)
        if serialized["aliases"] == [None]:
            serialized["aliases"] = set()
        if serialized["capabilities"] is not None:
            serialized["capabilities"] = _plain_keys(serialized["capabilities"])
        return serialized

    @classmethod
    def _serializable_state(cls, data: State) -> SerializableData:
        serialized = super()._serializable_state(data)
        serialized["attributes"] = _plain_keys(serialized["attributes"])
        return serialized


def _plain_keys(mapping: dict[Any, Any]) -> dict[Any, Any]:
    """Return the mapping (of its own type) with StrEnum keys as the strings they equal."""
    # After 2026.2.3 (2026.11 has it) state attributes and entity capabilities are keyed
    # by StrEnum members (ATTR_FRIENDLY_NAME is EntityStateAttribute.FRIENDLY_NAME),
    # printed apart from their strings; goes once the minimum has them and the snapshots
    # are updated.
    return type(mapping)({str(key): value for key, value in mapping.items()})


class ComparableSnapshotExtension(HomeAssistantSnapshotExtension):
    """Snapshots compared in the one form of ComparableSnapshotSerializer."""

    serializer_class = ComparableSnapshotSerializer
