"""Diagnostics for an Enphase entry and its devices, with private data redacted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.util import dt as dt_util

from .const import (
    CONF_API_KEY,
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    CONF_SYSTEMS,
    DOMAIN,
)
from .runtime import system_profile

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr

    from .coordinator import EnphaseCoordinator
    from .entry_budget import EntryBudget
    from .runtime import EnphaseConfigEntry, EnphaseSystemData

TO_REDACT = {
    # credentials
    CONF_API_KEY,
    "access_token",
    "refresh_token",
    "client_secret",
    "client_id",
    "jti",
    "enl_uid",
    "enl_cid",
    # identity and location
    "serial_number",
    "serial_num",
    "envoy_serial_number",
    "imei",
    "address",
    "city",
    "postal_code",
    "nmi",
    "name",
    "public_name",
    "reference",
    "other_references",
    "title",
    "unique_id",
    "identifiers",
    "connections",
    "name_by_user",
    "grid_profile",
}
# Keys whose values are hardware serial numbers: the same value under any other key (the
# EV charger's `id` is its serial) is redacted too.
SERIAL_KEYS = ("serial_number", "serial_num", "envoy_serial_number")
# Shorter values (counts, small ids) cannot identify hardware and stay readable.
_MIN_SERIAL_LENGTH = 6
REDACTED = "**REDACTED**"


def _serials(value: Any, found: set[str]) -> set[str]:
    """Collect the serial numbers anywhere in ``value``."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in SERIAL_KEYS and isinstance(item, str | int) and not isinstance(item, bool):
                if len(text := str(item)) >= _MIN_SERIAL_LENGTH:
                    found.add(text)
            else:
                _serials(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _serials(item, found)
    return found


def _without_serials(value: Any, serials: set[str]) -> Any:
    """Redact every value that is, or contains, one of ``serials``."""
    if isinstance(value, Mapping):
        return {key: _without_serials(item, serials) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_serials(item, serials) for item in value]
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)
        if any(serial in text for serial in serials):
            return REDACTED
    return value


def redact(data: Mapping[str, Any]) -> dict[str, Any]:
    """Redact private keys, then any serial number left under another key."""
    serials = _serials(data, set())
    return _without_serials(async_redact_data(data, TO_REDACT), serials)  # type: ignore[no-any-return]


def _raw(value: Any) -> Any:
    """Return the JSON Enphase sent for a model (or a container of models)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        # Coordinators key their models by serial number or id: keep only the models.
        return [_raw(item) for item in value.values()]
    if isinstance(value, (list, tuple)):
        return [_raw(item) for item in value]
    raw = getattr(value, "raw", None)
    return dict(raw) if isinstance(raw, Mapping) else value


def _coordinator(coordinator: EnphaseCoordinator[Any]) -> dict[str, Any]:
    return {
        "last_update_success": coordinator.last_update_success,
        "last_success_at": (
            coordinator.last_success_at.isoformat() if coordinator.last_success_at else None
        ),
        "last_exception": repr(coordinator.last_exception) if coordinator.last_exception else None,
        "data": _raw(coordinator.data),
    }


def _system(data: EnphaseSystemData) -> dict[str, Any]:
    return {
        "summary": _coordinator(data.summary),
        "devices": _coordinator(data.devices),
        "alarms": _coordinator(data.alarms),
        "inverters": _coordinator(data.inverters),
    }


def _entry(entry: EnphaseConfigEntry) -> dict[str, Any]:
    runtime = entry.runtime_data
    stats = runtime.stats
    return {
        "entry": async_redact_data(
            {
                "title": entry.title,
                "unique_id": entry.unique_id,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            TO_REDACT,
        ),
        "plan": {
            "plan": entry.data.get(CONF_PLAN),
            "requests_per_minute": entry.data.get(CONF_REQUESTS_PER_MINUTE),
            "requests_per_month": entry.data.get(CONF_REQUESTS_PER_MONTH),
            "systems": len(entry.options.get(CONF_SYSTEMS, [])),
        },
        "requests": {
            "total": stats.total,
            "by_endpoint": dict(stats.by_endpoint),
            "by_status": dict(stats.by_status),
            "last": [asdict(record) for record in stats.last],
        },
        "budget": _budget(runtime.budget),
    }


def _budget(budget: EntryBudget) -> dict[str, Any]:
    """Return the request planner's numbers for the entry's API key (never the key)."""
    now = dt_util.utcnow()
    planner = budget.planner
    stats = budget.stats(now)
    freshness = planner.freshness(now)
    return {
        "limits": asdict(planner.limits),
        # The effective numbers: a manual reserve left at its default follows the plan.
        "reserve": {
            "other": planner.reserve.other,
            "manual": planner.reserve.manual_for(planner.limits),
        },
        "entries_sharing_key": len(planner.owners),
        "used": stats.used,
        "remaining": stats.remaining,
        "projected_month_end": stats.projected_month_end,
        "month_end": stats.month_end.isoformat(),
        "by_endpoint": planner.endpoint_counts,
        "next_summary_at": stats.next_summary_at.isoformat() if stats.next_summary_at else None,
        "daylight_interval": stats.daylight_interval.total_seconds(),
        "alarm_interval": planner.alarm_interval(now).total_seconds(),
        "inventory_interval": planner.inventory_interval(now).total_seconds(),
        "blocked_until": stats.blocked_until.isoformat() if stats.blocked_until else None,
        "block_period": stats.block_period,
        "freshness": {
            "ok": freshness.ok,
            "systems": freshness.systems,
            "max_systems": freshness.max_systems,
            "daylight_interval": freshness.daylight_interval.total_seconds(),
        },
        "schedule": [
            {"task": str(task.kind), "system": task.system_id, "at": when.isoformat()}
            for task, when in planner.next_due(now, budget.owner)
        ],
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EnphaseConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    runtime = entry.runtime_data
    return redact(
        {
            **_entry(entry),
            "systems": _coordinator(runtime.systems),
            "event_types": _coordinator(runtime.event_types),
            "system_data": [_system(data) for data in runtime.system_data.values()],
            "daylight": _daylight(hass, entry),
        }
    )


def _daylight(hass: HomeAssistant, entry: EnphaseConfigEntry) -> list[dict[str, Any]]:
    """Say where each system's daylight comes from (an unknown time zone falls back)."""
    systems = entry.runtime_data.systems.data or {}
    result = []
    for system_id in entry.runtime_data.system_data:
        profile = system_profile(hass, entry, system_id, systems.get(system_id))
        result.append(
            {
                "system_id": system_id,
                "timezone": profile.timezone,
                # Set when Enphase's time zone is unknown here: Home Assistant's is used.
                "unknown_timezone": profile.reported_timezone,
                "timezone_from": (
                    "home_assistant" if profile.reported_timezone is not None else "system"
                ),
                "daylight_from": "time_zone" if profile.daylight_is_guess else "location",
            }
        )
    return result


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: EnphaseConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """Return diagnostics for one system or piece of hardware."""
    runtime = entry.runtime_data
    identifiers = {ident for domain, ident in device.identifiers if domain == DOMAIN}
    result: dict[str, Any] = {
        "device": {
            "model": device.model,
            "model_id": device.model_id,
            "sw_version": device.sw_version,
            "manufacturer": device.manufacturer,
        }
    }
    for system_id, data in runtime.system_data.items():
        if str(system_id) in identifiers:
            result["system"] = _system(data)
            continue
        inventory = data.devices.data.by_serial() if data.devices.data is not None else {}
        micros = data.inverters.data or {}
        for serial in identifiers:
            if serial in inventory:
                result["inventory"] = _raw(inventory[serial])
            if serial in micros:
                result["inverter_summary"] = _raw(micros[serial])
    return redact(result)
