"""An event entity per system that fires when Enphase raises a new alarm."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback

from .coordinator import EnphaseAlarmsCoordinator
from .entity import EnphaseSystemEntity

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .api import Alarm, EventType
    from .runtime import EnphaseConfigEntry

# Coordinators do all the fetching; entities only read their data.
PARALLEL_UPDATES = 0

# Event type of an alarm whose event type Enphase does not (yet) describe.
UNKNOWN_EVENT_TYPE = "unknown_alarm"

ALARM_EVENT = EventEntityDescription(key="alarm")


def event_type_name(event_type_id: int | None, event_type: EventType | None) -> str:
    """Return the event type fired for an alarm: Enphase's key, or a stable fallback."""
    if event_type is not None and event_type.event_type_key:
        return event_type.event_type_key
    if event_type_id is not None:
        return f"event_type_{event_type_id}"
    return UNKNOWN_EVENT_TYPE


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
    """Fires once for every alarm that was not active at the previous poll."""

    def __init__(
        self, coordinator: EnphaseAlarmsCoordinator, description: EventEntityDescription
    ) -> None:
        """Create the event entity for a system."""
        super().__init__(coordinator, description)
        # Alarms a run before this one knew are not news; alarms raised while Home Assistant
        # was off are. At the first install, alarms already active are not news either:
        # the first data is the baseline (None until there is some).
        self._seen: set[str] | None = (
            set(coordinator.restored_ids)
            if coordinator.restored_ids is not None
            else None
            if coordinator.data is None
            else {alarm.id for alarm in coordinator.data}
        )
        self._attr_event_types = self._known_event_types()

    def _event_types(self) -> dict[int, EventType]:
        return self.coordinator.config_entry.runtime_data.event_types.data or {}

    def _known_event_types(self) -> list[str]:
        names = {
            event_type_name(type_id, event_type)
            for type_id, event_type in self._event_types().items()
        }
        names.add(UNKNOWN_EVENT_TYPE)
        return sorted(names)

    async def async_added_to_hass(self) -> None:
        """Also follow event type updates, which rename what is fired."""
        await super().async_added_to_hass()
        event_types = self.coordinator.config_entry.runtime_data.event_types
        self.async_on_remove(event_types.async_add_listener(self._handle_event_types_update))
        # The first fetch runs before the entity exists: alarms it found new fire now.
        self._announce()

    @callback
    def _handle_event_types_update(self) -> None:
        self._attr_event_types = self._known_event_types()
        self.async_write_ha_state()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._announce()
        super()._handle_coordinator_update()

    @callback
    def _announce(self) -> None:
        """Fire once for each active alarm not seen before."""
        if self.coordinator.data is None:
            return
        alarms = self.coordinator.data
        seen, self._seen = self._seen, {alarm.id for alarm in alarms}
        if seen is None:
            return
        for alarm in alarms:
            if alarm.id not in seen and not alarm.cleared:
                self._fire(alarm)

    @callback
    def _fire(self, alarm: Alarm) -> None:
        event_type = self._event_types().get(alarm.event_type_id or -1)
        name = event_type_name(alarm.event_type_id, event_type)
        if name not in self._attr_event_types:
            self._attr_event_types = sorted({*self._attr_event_types, name})
        self._trigger_event(
            name,
            {
                "alarm_id": alarm.id,
                "severity": alarm.severity,
                "event_type_id": alarm.event_type_id,
                "event_name": event_type.event_name if event_type else None,
                "description": event_type.event_description if event_type else None,
                "recommended_action": event_type.recommended_action if event_type else None,
                "started_at": (
                    alarm.alarm_start_time.isoformat() if alarm.alarm_start_time else None
                ),
            },
        )
        self.async_write_ha_state()
