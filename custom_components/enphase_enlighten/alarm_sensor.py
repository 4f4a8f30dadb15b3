"""The active alarms sensor of a system: how many are open, and which (added by sensor.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription, SensorStateClass

from .alarm_info import open_alarms_summary
from .coordinator import EnphaseAlarmsCoordinator
from .entity import EnphaseSystemEntity, hardware_device_info, micro_device_info

if TYPE_CHECKING:
    from collections.abc import Mapping

ACTIVE_ALARMS = SensorEntityDescription(
    key="active_alarms", state_class=SensorStateClass.MEASUREMENT
)


class EnphaseActiveAlarmsSensor(EnphaseSystemEntity[EnphaseAlarmsCoordinator], SensorEntity):
    """The number of open alarms, with their names, severities and devices as attributes."""

    # The alarms' list changes with every alarm: not worth a row per change in the history.
    _unrecorded_attributes = frozenset({"alarms"})

    async def async_added_to_hass(self) -> None:
        """Follow the event types too: the alarms' names come from them.

        They may arrive after the alarms: both are first fetched in the background.
        """
        await super().async_added_to_hass()
        event_types = self.coordinator.config_entry.runtime_data.event_types
        self.async_on_remove(event_types.async_add_listener(self._handle_coordinator_update))

    @property
    def native_value(self) -> int | None:
        """Return how many alarms are open."""
        if self.coordinator.data is None:
            return None
        return sum(1 for alarm in self.coordinator.data if not alarm.cleared)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the open alarms as a person reads them (no serial numbers)."""
        if self.coordinator.data is None:
            return None
        runtime = self.coordinator.config_entry.runtime_data
        event_types = runtime.event_types.data or {}
        known: dict[str, str] = {}
        if (data := runtime.system_data.get(self.coordinator.system_id)) is not None:
            for serial, micro in (data.inverters.data or {}).items():
                known[serial] = str(micro_device_info(data.inverters, micro).get("name"))
            for serial, device in (
                data.devices.data.by_serial() if data.devices.data else {}
            ).items():
                known[serial] = str(hardware_device_info(data.devices, device).get("name"))
        return {
            "alarms": open_alarms_summary(
                self.hass,
                self.coordinator.config_entry.entry_id,
                self.coordinator.data,
                event_types,
                known,
            )
        }
