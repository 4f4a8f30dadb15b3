"""The get_alarms and get_events actions: a system's alarm and event history, within the budget."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util

from .alarm_info import device_ids, type_name
from .api import EnphaseError, EnphaseWindowError
from .budget import RefreshRefusal
from .compat import device_entry_ids, get_device_by_id, vol
from .const import DOMAIN
from .messages import enphase_failure, format_time, refresh_refused

if TYPE_CHECKING:
    from datetime import datetime

    from .api import Alarm, Event, EventType
    from .runtime import EnphaseConfigEntry

SERVICE_GET_ALARMS = "get_alarms"
SERVICE_GET_EVENTS = "get_events"
ATTR_SYSTEM = "system"
ATTR_START = "start"
ATTR_END = "end"
ATTR_CLEARED = "cleared"

EVENTS_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_SYSTEM): cv.string,
        vol.Required(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
    }
)
ALARMS_SCHEMA = EVENTS_SCHEMA.extend({vol.Optional(ATTR_CLEARED, default=False): cv.boolean})


@callback
def async_setup_history_services(hass: HomeAssistant) -> None:
    """Register get_alarms and get_events (once, whatever the entries)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_ALARMS,
        _async_get_alarms,
        schema=ALARMS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_EVENTS,
        _async_get_events,
        schema=EVENTS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )


def _system(hass: HomeAssistant, device_id: str) -> tuple[EnphaseConfigEntry, int]:
    """Return the loaded entry and the system id of a system's device (or its hardware's)."""
    registry = dr.async_get(hass)
    device = get_device_by_id(registry, device_id)
    if device is not None and device.via_device_id is not None:
        device = get_device_by_id(registry, device.via_device_id)
    if device is not None:
        system_ids = [
            int(ident)
            for domain, ident in device.identifiers
            if domain == DOMAIN and ident.isdigit()
        ]
        for entry_id in device_entry_ids(device):
            entry = hass.config_entries.async_get_entry(entry_id)
            if entry is None or entry.domain != DOMAIN:
                continue
            if entry.state is not ConfigEntryState.LOADED:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="entry_not_loaded",
                    translation_placeholders={"entry": entry.title},
                )
            loaded = cast("EnphaseConfigEntry", entry)
            for system_id in system_ids:
                if system_id in loaded.runtime_data.system_data:
                    return loaded, system_id
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_system",
        translation_placeholders={"system": device_id},
    )


def _window(call: ServiceCall) -> tuple[datetime, datetime]:
    """Return the asked window in UTC; a time without a zone is Home Assistant's."""
    now = dt_util.utcnow()
    start = dt_util.as_utc(call.data[ATTR_START])
    end = dt_util.as_utc(call.data[ATTR_END]) if ATTR_END in call.data else now
    if end < start:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="history_reversed",
            translation_placeholders={"start": format_time(start), "end": format_time(end)},
        )
    return start, min(end, now)


async def _async_read(
    call: ServiceCall, read: str, **kwargs: Any
) -> tuple[EnphaseConfigEntry, int, list[Any], int]:
    """Check the window and the budget, then read it a week per request."""
    entry, system_id = _system(call.hass, call.data[ATTR_SYSTEM])
    start, end = _window(call)
    runtime = entry.runtime_data
    client = runtime.client
    try:
        requests = client.window_count(start, end)
    except EnphaseWindowError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="history_too_old"
        ) from err
    planner = runtime.budget.planner
    now = dt_util.utcnow()
    if requests > planner.limits.per_minute:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="history_too_long",
            translation_placeholders={
                "requests": str(requests),
                "per_minute": str(planner.limits.per_minute),
            },
        )
    if not (decision := planner.can_refresh(now, requests)):
        if decision.reason is RefreshRefusal.BUDGET:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="history_budget",
                translation_placeholders={
                    "requests": str(requests),
                    "remaining": str(planner.stats(now).remaining),
                },
            )
        raise refresh_refused(decision, now)
    before = runtime.stats.total
    try:
        items = await getattr(client, read)(system_id, start, end, **kwargs)
    except EnphaseError as err:
        # A 429 says until when Enphase's pause holds, as a refused refresh says it.
        raise enphase_failure(err, runtime.budget) from err
    finally:
        await runtime.budget.async_changed()
    return entry, system_id, items, runtime.stats.total - before


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _types(entry: EnphaseConfigEntry) -> dict[int, EventType]:
    return entry.runtime_data.event_types.data or {}


async def _async_get_alarms(call: ServiceCall) -> ServiceResponse:
    """Return a system's active (or cleared) alarms of a window, with names and devices."""
    entry, system_id, alarms, spent = await _async_read(
        call, "alarms", cleared=call.data[ATTR_CLEARED]
    )
    types = _types(entry)

    def describe(alarm: Alarm) -> dict[str, Any]:
        event_type = types.get(alarm.event_type_id or -1)
        return {
            "alarm_id": alarm.id,
            "severity": alarm.severity,
            "cleared": alarm.cleared,
            "event_type_id": alarm.event_type_id,
            "event_type_key": event_type.event_type_key if event_type else None,
            "name": type_name(alarm.event_type_id, event_type),
            "start_time": _iso(alarm.alarm_start_time),
            "end_time": _iso(alarm.alarm_end_time),
            "serial_numbers": list(alarm.serial_numbers),
            "device_ids": device_ids(call.hass, entry.entry_id, alarm.serial_numbers),
        }

    return {
        "system_id": system_id,
        "alarms": [describe(alarm) for alarm in alarms],
        "requests_spent": spent,
    }


async def _async_get_events(call: ServiceCall) -> ServiceResponse:
    """Return a system's events of a window, with names and devices."""
    entry, system_id, events, spent = await _async_read(call, "events")
    types = _types(entry)

    def describe(event: Event) -> dict[str, Any]:
        event_type = types.get(event.event_type_id or -1)
        serials = (event.serial_number,) if event.serial_number else ()
        return {
            "event_id": event.id,
            "status": event.status,
            "event_type_id": event.event_type_id,
            "event_type_key": event_type.event_type_key if event_type else None,
            "name": type_name(event.event_type_id, event_type),
            "start_time": _iso(event.start_time),
            "end_time": _iso(event.end_time),
            "serial_numbers": list(serials),
            "device_ids": device_ids(call.hass, entry.entry_id, serials),
        }

    return {
        "system_id": system_id,
        "events": [describe(event) for event in events],
        "requests_spent": spent,
    }
