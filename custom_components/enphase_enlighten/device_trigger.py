"""Device triggers on a system's device: an alarm raised or cleared, optionally of one type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import (
    InvalidDeviceAutomationConfig,
)
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.helpers import device_registry as dr
import voluptuous as vol

from .alarm_info import ALARM_BUS_EVENT, type_name
from .alarms import ChangeKind
from .compat import device_entry_ids, get_device_by_id
from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import CALLBACK_TYPE, HomeAssistant
    from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
    from homeassistant.helpers.typing import ConfigType

    from .api import EventType

CONF_EVENT_TYPE_ID = "event_type_id"
TRIGGER_TYPES = (ChangeKind.ALARM_RAISED.value, ChangeKind.ALARM_CLEARED.value)

TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {
        vol.Required(CONF_TYPE): vol.In(TRIGGER_TYPES),
        vol.Optional(CONF_EVENT_TYPE_ID): vol.Coerce(int),
    }
)


def _system_device(hass: HomeAssistant, device_id: str) -> dr.DeviceEntry:
    """Return the device if it is an Enphase system's, or refuse it."""
    device = get_device_by_id(dr.async_get(hass), device_id)
    if device is not None and device.via_device_id is None:
        for domain, ident in device.identifiers:
            if domain == DOMAIN and ident.isdigit():
                return device
    raise InvalidDeviceAutomationConfig(f"Not an Enphase system device: {device_id}")


def _event_types(hass: HomeAssistant, device: dr.DeviceEntry) -> dict[int, EventType]:
    """Return the event types known to the device's loaded entries."""
    found: dict[int, EventType] = {}
    for entry_id in device_entry_ids(device):
        entry = hass.config_entries.async_get_entry(entry_id)
        runtime = getattr(entry, "runtime_data", None) if entry is not None else None
        if runtime is not None and entry is not None and entry.domain == DOMAIN:
            found.update(runtime.event_types.data or {})
    return found


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, Any]]:
    """List the alarm triggers of a system's device (other devices have none)."""
    try:
        _system_device(hass, device_id)
    except InvalidDeviceAutomationConfig:
        return []
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DEVICE_ID: device_id,
            CONF_DOMAIN: DOMAIN,
            CONF_TYPE: trigger_type,
        }
        for trigger_type in TRIGGER_TYPES
    ]


async def async_get_trigger_capabilities(
    hass: HomeAssistant, config: ConfigType
) -> dict[str, vol.Schema]:
    """Offer one alarm type to filter on, by name, from the event types Enphase describes."""
    device = _system_device(hass, config[CONF_DEVICE_ID])
    names = {
        type_id: type_name(type_id, event_type)
        for type_id, event_type in sorted(_event_types(hass, device).items())
    }
    return {"extra_fields": vol.Schema({vol.Optional(CONF_EVENT_TYPE_ID): vol.In(names)})}


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen for the bus event the system's event entity fires with each change."""
    event_data: dict[str, Any] = {
        CONF_DEVICE_ID: config[CONF_DEVICE_ID],
        CONF_TYPE: config[CONF_TYPE],
    }
    if CONF_EVENT_TYPE_ID in config:
        event_data[CONF_EVENT_TYPE_ID] = config[CONF_EVENT_TYPE_ID]
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: "event",
            event_trigger.CONF_EVENT_TYPE: ALARM_BUS_EVENT,
            CONF_EVENT_DATA: event_data,
        }
    )
    return await event_trigger.async_attach_trigger(
        hass, event_config, action, trigger_info, platform_type="device"
    )
