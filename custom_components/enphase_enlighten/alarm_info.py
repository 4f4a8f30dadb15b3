"""An alarm or event as automations and people read it: names, devices, the event data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.helpers import device_registry as dr

from .compat import get_device
from .const import DOMAIN
from .devices import system_identifier

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from homeassistant.core import HomeAssistant

    from .alarms import AlarmChange
    from .api import Alarm, EventType

# The bus event fired with the event entity; the device triggers listen to it.
ALARM_BUS_EVENT = f"{DOMAIN}_alarm"


def type_name(event_type_id: int | None, event_type: EventType | None) -> str:
    """Return an event type's name: Enphase's, else its key, else its number."""
    if event_type is not None and (event_type.event_name or event_type.event_type_key):
        return str(event_type.event_name or event_type.event_type_key)
    return f"Event type {event_type_id}" if event_type_id is not None else "Unknown event type"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def device_ids(hass: HomeAssistant, entry_id: str, serials: tuple[str, ...]) -> list[str]:
    """Return the Home Assistant device ids of the hardware with these serial numbers."""
    registry = dr.async_get(hass)
    found = []
    for serial in serials:
        device = get_device(registry, (DOMAIN, serial), entry_id)
        if device is not None:
            found.append(device.id)
    return found


def system_device_id(hass: HomeAssistant, entry_id: str, system_id: int) -> str | None:
    """Return the device id of a system's device."""
    device = get_device(dr.async_get(hass), system_identifier(system_id), entry_id)
    return device.id if device is not None else None


def _alarm_end(alarm: Alarm) -> datetime | None:
    if alarm.alarm_end_time is not None:
        return alarm.alarm_end_time
    ends = [event.end_date for event in alarm.events]
    if ends and all(end is not None for end in ends):
        return max(end for end in ends if end is not None)
    return None


def change_data(
    hass: HomeAssistant,
    entry_id: str,
    system_id: int,
    change: AlarmChange,
    event_types: dict[int, EventType],
) -> dict[str, Any]:
    """Return the data fired for a change: what an automation needs to act on it.

    Serial numbers are in it (an automation may need them); it is never logged. The end time
    is Enphase's when it gives one; ``noticed_at`` is when this read saw the change.
    """
    if (alarm := change.alarm) is not None:
        type_id, serials = alarm.event_type_id, alarm.serial_numbers
        identity: dict[str, Any] = {"alarm_id": alarm.id, "event_id": None}
        severity, start, end = alarm.severity, alarm.alarm_start_time, _alarm_end(alarm)
    elif (event := change.event) is not None:
        type_id = event.event_type_id
        serials = (event.serial_number,) if event.serial_number else ()
        identity = {"alarm_id": None, "event_id": event.id}
        severity, start, end = None, event.start_time, event.end_time
    else:
        raise ValueError("A change names an alarm or an event")
    event_type = event_types.get(type_id) if type_id is not None else None
    return {
        **identity,
        "system_id": system_id,
        "severity": severity,
        "event_type_id": type_id,
        "event_type_key": event_type.event_type_key if event_type else None,
        "name": type_name(type_id, event_type),
        "description": event_type.event_description if event_type else None,
        "recommended_action": event_type.recommended_action if event_type else None,
        "serial_numbers": list(serials),
        "device_ids": device_ids(hass, entry_id, serials),
        "start_time": _iso(start),
        "end_time": _iso(end),
        "noticed_at": _iso(change.noticed_at),
    }


def open_alarms_summary(
    hass: HomeAssistant,
    entry_id: str,
    alarms: list[Alarm],
    event_types: dict[int, EventType],
    known: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Describe the open alarms for a person: name, severity, start and the devices named.

    A device is named as in the device registry (a user's name first), else as ``known``
    (serial: the name its device gets) says: the registry may not hold it yet at start-up.
    """
    registry = dr.async_get(hass)
    described = []
    for alarm in alarms:
        if alarm.cleared:
            continue
        event_type = event_types.get(alarm.event_type_id or -1)
        devices = []
        for serial in alarm.serial_numbers:
            device = get_device(registry, (DOMAIN, serial), entry_id)
            if device is not None:
                devices.append(device.name_by_user or device.name)
            elif serial in known:
                devices.append(known[serial])
        described.append(
            {
                "name": type_name(alarm.event_type_id, event_type),
                "severity": alarm.severity,
                "event_type_key": event_type.event_type_key if event_type else None,
                "start_time": _iso(alarm.alarm_start_time),
                "devices": devices,
            }
        )
    return described
