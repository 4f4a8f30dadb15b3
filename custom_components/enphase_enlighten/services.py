"""Service actions: refresh a system's data now, import older energy history, within the budget."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import TYPE_CHECKING, cast

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util

from . import compat
from .api import EnphaseError
from .compat import vol
from .const import DOMAIN
from .messages import enphase_failure, rate_limit_refusal, refresh_refused

if TYPE_CHECKING:
    from .coordinator import EnphaseSummaryCoordinator
    from .runtime import EnphaseConfigEntry, EnphaseRuntimeData

SERVICE_REFRESH = "refresh"
SERVICE_IMPORT_HISTORY = "import_history"
ATTR_SYSTEM = "system"
ATTR_START_DATE = "start_date"

REFRESH_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_SYSTEM): cv.string,
    }
)
IMPORT_HISTORY_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_SYSTEM): cv.string,
        vol.Required(ATTR_START_DATE): cv.date,
    }
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's service actions (once, whatever the entries)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_REFRESH,
        _async_refresh,
        schema=REFRESH_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_IMPORT_HISTORY,
        _async_import_history,
        schema=IMPORT_HISTORY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> EnphaseConfigEntry:
    """Return the loaded entry, or tell the user why it cannot be used."""
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"entry": entry.title},
        )
    return cast("EnphaseConfigEntry", entry)


def _system_of_device(hass: HomeAssistant, entry: EnphaseConfigEntry, device_id: str) -> int:
    """Return the system id of a system device, or of the system a hardware device is part of."""
    registry = dr.async_get(hass)
    device = compat.get_device_by_id(registry, device_id)
    if device is not None and device.via_device_id is not None:
        device = compat.get_device_by_id(registry, device.via_device_id)
    if device is not None and compat.owns_device(device, entry.entry_id):
        for domain, ident in device.identifiers:
            if (
                domain == DOMAIN
                and ident.isdigit()
                and int(ident) in entry.runtime_data.system_data
            ):
                return int(ident)
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="not_a_system",
        translation_placeholders={"entry": entry.title},
    )


async def _async_refresh(call: ServiceCall) -> ServiceResponse:
    """Fetch the summary (power, energy, status) of the entry's systems now, if allowed.

    All or nothing: the budget must allow one request per system, or none is made.
    """
    entry = _loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    runtime = entry.runtime_data
    if ATTR_SYSTEM in call.data:
        system_ids = [_system_of_device(call.hass, entry, call.data[ATTR_SYSTEM])]
    else:
        system_ids = sorted(runtime.system_data)
    targets: list[EnphaseSummaryCoordinator] = [
        runtime.system_data[system_id].summary for system_id in system_ids
    ]
    planner = runtime.budget.planner
    started = dt_util.utcnow()
    # No upload since the summary held can exist yet: it is the answer, for free.
    held = [coordinator.system_id for coordinator in targets if coordinator.nothing_new(started)]
    targets = [coordinator for coordinator in targets if coordinator.system_id not in held]
    requests_before = runtime.stats.total
    if targets:
        await _async_refresh_targets(runtime, targets)
    now = dt_util.utcnow()
    if not call.return_response:
        return None
    return {
        "systems": list(system_ids),
        "requests_spent": runtime.stats.total - requests_before,
        "requests_remaining": planner.stats(now).remaining,
        # Systems answered from the data held: their gateway cannot have uploaded since.
        "unchanged_systems": list(held),
    }


async def _async_refresh_targets(
    runtime: EnphaseRuntimeData, targets: list[EnphaseSummaryCoordinator]
) -> None:
    """Fetch the targets' summaries within a reservation; raise when refused or failed."""
    planner = runtime.budget.planner
    # The requests are reserved before any is sent: of many calls at once, only what the
    # minute allows goes out, the rest are refused here.
    reservation = planner.reserve_refresh(dt_util.utcnow(), len(targets))
    if not reservation:
        raise refresh_refused(reservation.decision, dt_util.utcnow())
    with reservation:
        # Not the debounced request_refresh: the user waits for this answer.
        await asyncio.gather(*(coordinator.async_refresh() for coordinator in targets))
    await runtime.budget.async_changed()
    now = dt_util.utcnow()
    # This call's own outcome (its reservation saw its fetches end), not the coordinators'
    # shared state, which other calls and the scheduler change too.
    if reservation.rate_limited:
        raise rate_limit_refusal(planner, now)
    if reservation.failed or reservation.done < len(targets):
        failed = next(
            (coordinator for coordinator in targets if coordinator.last_exception), targets[0]
        )
        cause = failed.last_exception
        if isinstance(cause, HomeAssistantError) and cause.translation_key:
            # The coordinator's own translated failure (cannot connect, server error, ...).
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=cause.translation_key,
                translation_placeholders=cause.translation_placeholders,
            ) from cause
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="refresh_failed")


async def _async_import_history(call: ServiceCall) -> ServiceResponse:
    """Import a system's older energy history, as far as one minute's requests go.

    Refused, before any request, when the month's budget cannot afford the whole import
    besides what the planner still needs; a long import continues with the next call.
    """
    entry = _loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    runtime = entry.runtime_data
    if ATTR_SYSTEM in call.data:
        system_ids = [_system_of_device(call.hass, entry, call.data[ATTR_SYSTEM])]
    else:
        system_ids = sorted(runtime.system_data)
    now = dt_util.utcnow()
    start = dt_util.start_of_local_day(call.data[ATTR_START_DATE]).astimezone(UTC)
    planner = runtime.budget.planner
    plans = []
    for system_id in system_ids:
        energy = runtime.system_data[system_id].energy
        plans.append((energy, *await energy.async_history_plan(start, now)))
    total = sum(requests for *_, requests in plans)
    stats = planner.stats(now)
    limit = planner.limits.per_month - planner.reserve.other
    if stats.projected_month_end + total > limit:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="import_budget",
            translation_placeholders={
                "requests": str(total),
                "available": str(max(0, limit - stats.projected_month_end)),
            },
        )
    per_call = max(1, planner.limits.per_minute - 1)
    spent = hours = 0
    complete = True
    # The call's requests are reserved before any is sent: of many calls at once, only what
    # the minute allows goes out, the rest are refused here (as for refresh).
    reservation = planner.reserve_refresh(dt_util.utcnow(), max(1, min(total, per_call)))
    if total and not reservation:
        raise refresh_refused(reservation.decision, dt_util.utcnow())
    try:
        with reservation:
            for energy, starts, end, requests in plans:
                if not requests:
                    continue
                chunk = min(requests, per_call - spent)
                if chunk <= 0:
                    complete = False
                    break
                report, _ = await energy.async_import(starts, end, chunk, history=True)
                spent += report.requests
                hours += report.hours
                complete = complete and not report.behind
    except EnphaseError as err:
        # What was imported before the failure stays; the next call continues from it.
        raise enphase_failure(err, runtime.budget) from err
    finally:
        await runtime.budget.async_changed()
    if not call.return_response:
        return None
    return {
        "systems": list(system_ids),
        "requests_spent": spent,
        "hours_imported": hours,
        "complete": complete,
        "requests_remaining": planner.stats(dt_util.utcnow()).remaining,
    }
