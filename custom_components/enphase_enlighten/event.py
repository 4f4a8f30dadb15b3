"""An event entity per system: alarms raised and cleared, events opened and closed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback

from .alarm_info import ALARM_BUS_EVENT, change_data, system_device_id
from .alarms import ChangeKind
from .coordinator import EnphaseAlarmsCoordinator
from .entity import EnphaseSystemEntity

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .api import EventType
    from .runtime import EnphaseConfigEntry

# Coordinators do all the fetching; entities only read their data.
PARALLEL_UPDATES = 0

ALARM_EVENT = EventEntityDescription(key="alarm", event_types=[kind.value for kind in ChangeKind])


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an alarm event entity for each system."""
    async_add_entities(
        EnphaseAlarmEvent(data.alarms, ALARM_EVENT)
        for data in entry.runtime_data.system_data.values()
    )


class EnphaseAlarmEvent(EnphaseSystemEntity[EnphaseAlarmsCoordinator], EventEntity):
    """Fires once for every alarm raised or cleared and event opened or closed.

    The coordinator says what changed between two reads (saved across restarts, so nothing
    fires twice and nothing is missed); each change also goes on the bus as
    ``enphase_enlighten_alarm`` with the system's device id, which the device triggers
    follow: unlike this entity's state, the bus event does not come back on a reload.
    """

    def _event_types(self) -> dict[int, EventType]:
        return self.coordinator.config_entry.runtime_data.event_types.data or {}

    async def async_added_to_hass(self) -> None:
        """Fire what the first read (run before the entity existed) found."""
        await super().async_added_to_hass()
        self._announce()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._announce()
        super()._handle_coordinator_update()

    @callback
    def _announce(self) -> None:
        """Fire each change not announced yet, in order."""
        changes = self.coordinator.pop_changes()
        if not changes:
            return
        device_id = system_device_id(
            self.hass, self.coordinator.config_entry.entry_id, self.coordinator.system_id
        )
        for change in changes:
            data = change_data(
                self.hass,
                self.coordinator.config_entry.entry_id,
                self.coordinator.system_id,
                change,
                self._event_types(),
            )
            self._trigger_event(change.kind.value, data)
            self.async_write_ha_state()
            self.hass.bus.async_fire(
                ALARM_BUS_EVENT, {"device_id": device_id, "type": change.kind.value, **data}
            )
