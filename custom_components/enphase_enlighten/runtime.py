"""Builds and holds a loaded entry's client, planner, scheduler and coordinators."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.config_entry_oauth2_flow import (
    ImplementationUnavailableError,
    OAuth2Session,
    async_get_config_entry_implementation,
)
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util

from . import compat
from .api import EnphaseClient, RequestRecord, System
from .auth import EnphaseAuth, async_restore_token
from .budget import SystemProfile, with_fallback_zone
from .const import CONF_API_KEY, DOMAIN
from .coordinator import (
    EnphaseAlarmsCoordinator,
    EnphaseDevicesCoordinator,
    EnphaseEventTypesCoordinator,
    EnphaseInvertersCoordinator,
    EnphaseSummaryCoordinator,
    EnphaseSystemCoordinator,
    EnphaseSystemsCoordinator,
)
from .devices import (
    budget_device_identifier,
    register_system_devices,
    registered_system_ids,
    remove_system_device,
    system_device_name,
    system_identifier,
)
from .energy import EnphaseEnergyCoordinator
from .entry_budget import EntryBudget, planner_registry
from .held import HeldData, held_data
from .messages import format_time
from .options import plan_limits, plan_reserve, selected_system_ids, unreadable_settings
from .repairs import async_update_settings_issue, async_update_system_missing_issue
from .scheduler import EnphaseScheduler

if TYPE_CHECKING:
    from collections.abc import Coroutine

_LOGGER = logging.getLogger(__name__)

# A system missing from the systems read is removed when a read at least this much later
# still misses it (or Enphase answers 404 for it): one empty answer removes nothing.
MISSING_CONFIRM_AFTER = timedelta(hours=1)

# Microinverter sensors: the inverters summary is fetched only while one of them is enabled.
MICRO_SENSOR_KEYS = ("micro_power", "micro_lifetime_energy")
# How long set-up waits for Enphase (the token, the systems when none are held), in seconds:
# under Home Assistant's 10 s warning. Past it set-up is retried; what was asked goes on in
# the background and its answer is kept for the retry.
SETUP_DEADLINE = 6.0


@dataclass
class RequestStats:
    """Counts the requests the client reports, for diagnostics."""

    total: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    last: list[RequestRecord] = field(default_factory=list)

    @callback
    def record(self, record: RequestRecord) -> None:
        """Count one request (the client's on_request callback)."""
        self.total += 1
        self.by_endpoint[record.endpoint] += 1
        self.by_status[str(record.status) if record.status is not None else "no_response"] += 1
        self.last = [*self.last[-19:], record]


@dataclass
class EnphaseSystemData:
    """The coordinators of one system."""

    system_id: int
    summary: EnphaseSummaryCoordinator
    devices: EnphaseDevicesCoordinator
    alarms: EnphaseAlarmsCoordinator
    inverters: EnphaseInvertersCoordinator
    energy: EnphaseEnergyCoordinator

    @property
    def coordinators(self) -> tuple[EnphaseSystemCoordinator[Any], ...]:
        """Return every coordinator of the system."""
        return (self.summary, self.devices, self.alarms, self.inverters, self.energy)


@dataclass
class EnphaseRuntimeData:
    """Everything a loaded entry needs, stored in entry.runtime_data."""

    client: EnphaseClient
    auth: EnphaseAuth
    stats: RequestStats
    budget: EntryBudget
    scheduler: EnphaseScheduler
    systems: EnphaseSystemsCoordinator
    event_types: EnphaseEventTypesCoordinator
    held: HeldData
    system_data: dict[int, EnphaseSystemData] = field(default_factory=dict)
    # Selected systems missing from Enphase's systems answer, since the first read without.
    missing: dict[int, datetime] = field(default_factory=dict)


type EnphaseConfigEntry = ConfigEntry[EnphaseRuntimeData]


def build_system_data(
    hass: HomeAssistant,
    entry: EnphaseConfigEntry,
    runtime: EnphaseRuntimeData,
    system_id: int,
) -> EnphaseSystemData:
    """Create the coordinators of one system."""
    args = (hass, entry, runtime.client, runtime.auth, runtime.budget, system_id)
    devices = EnphaseDevicesCoordinator(*args, what="devices")
    inverters = EnphaseInvertersCoordinator(*args, what="inverters")
    # A microinverter in the inverters summary is not stale even if the inventory
    # (fetched at another time) does not list it.
    devices.other_serials = lambda: set(inverters.data or ())
    summary = EnphaseSummaryCoordinator(*args, what="summary")
    energy = EnphaseEnergyCoordinator(*args, what="energy")
    # The hardware decides which channels exist; the statistics carry the system's name.
    energy.hardware = lambda: (devices.data, summary.data)
    energy.system_name = lambda: (
        system.name if (system := (runtime.systems.data or {}).get(system_id)) is not None else None
    )
    for coordinator in (summary, devices, inverters, energy):
        coordinator.held = runtime.held
    return EnphaseSystemData(
        system_id=system_id,
        summary=summary,
        devices=devices,
        alarms=EnphaseAlarmsCoordinator(*args, what="alarms"),
        inverters=inverters,
        energy=energy,
    )


def wants_inverters(hass: HomeAssistant, entry: ConfigEntry[Any], system_id: int) -> bool:
    """Whether a system's microinverter sensors are in use (or not created yet)."""
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    system_device = compat.get_device(devices, system_identifier(system_id), entry.entry_id)
    found = False
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        if not entity.unique_id.endswith(MICRO_SENSOR_KEYS) or entity.device_id is None:
            continue
        device = compat.get_device_by_id(devices, entity.device_id)
        if device is None or system_device is None or device.via_device_id != system_device.id:
            continue
        found = True
        if entity.disabled_by is None:
            return True
    return not found


def system_profile(
    hass: HomeAssistant, entry: ConfigEntry[Any], system_id: int, system: System | None
) -> SystemProfile:
    """Describe a system to the planner: its time zone, sun, gateway link and battery."""
    timezone = system.timezone if system is not None else None
    connection = (system.connection_type or "").lower() if system is not None else ""
    # Home Assistant's location is the system's only when they share a time zone.
    here = timezone is not None and timezone == hass.config.time_zone
    battery = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{system_id}_battery_capacity"
    )
    profile = SystemProfile(
        system_id,
        timezone=timezone,
        latitude=hass.config.latitude if here else None,
        longitude=hass.config.longitude if here else None,
        has_battery=battery is not None,
        cellular="cell" in connection,
        inverters=wants_inverters(hass, entry, system_id),
        telemetry=True,
    )
    # An unknown or obsolete time zone: daylight at Home Assistant's home, not UTC's.
    return with_fallback_zone(
        profile, hass.config.time_zone, hass.config.latitude, hass.config.longitude
    )


@callback
def update_planner_systems(hass: HomeAssistant, entry: EnphaseConfigEntry) -> None:
    """Tell the planner which systems the entry polls, as they are now."""
    runtime = entry.runtime_data
    systems = runtime.systems.data or {}
    profiles = [
        system_profile(hass, entry, system_id, systems.get(system_id))
        for system_id in runtime.system_data
    ]
    runtime.budget.planner.set_systems(entry.entry_id, profiles)
    runtime.budget.systems = tuple(sorted(runtime.system_data))


async def _async_by_deadline[T](
    hass: HomeAssistant, deadline: float, work: Coroutine[Any, Any, T], name: str
) -> T:
    """Await ``work`` until the set-up deadline (loop time); past it, set-up is retried.

    The work is not cancelled at the deadline: a token refresh Enphase has already answered
    must still be saved (the old refresh token is dead), and a systems answer is held for
    the retry. Each request has its own timeout, so the work ends.
    """
    task = hass.async_create_background_task(work, f"{DOMAIN} {name}")
    # Retrieved here, so a failure after the deadline is not reported as never retrieved.
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    try:
        async with asyncio.timeout_at(deadline):
            return await asyncio.shield(task)
    except TimeoutError as err:
        if not task.done():
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN, translation_key="setup_slow"
            ) from err
        raise


async def _async_auth(
    hass: HomeAssistant, entry: EnphaseConfigEntry, deadline: float
) -> EnphaseAuth:
    """Return the entry's token supply, with a valid access token already in hand."""
    try:
        implementation = await async_get_config_entry_implementation(hass, entry)
    except (ImplementationUnavailableError, ValueError) as err:
        # Home Assistant 2026.2 raises ValueError when the credentials are gone; later
        # versions raise ImplementationUnavailableError.
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="oauth2_implementation_unavailable"
        ) from err
    await async_restore_token(hass, entry)
    auth = EnphaseAuth(hass, OAuth2Session(hass, entry, implementation))
    try:
        # A rejected refresh token raises ConfigEntryAuthFailed (reauth) from here as is.
        await _async_by_deadline(hass, deadline, auth.async_get_access_token(), "token")
    except UpdateFailed as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="token_refresh_failed"
        ) from err
    return auth


async def async_setup_runtime(hass: HomeAssistant, entry: EnphaseConfigEntry) -> None:
    """Build the entry's runtime data from what is held, or fetch the systems; start polling.

    Set-up waits only for what the entities need to exist: a token and the systems (held
    from an earlier run, or one search), within ``SETUP_DEADLINE``. The other fetches run
    in the background; held answers stand in for them until then. Raises
    ConfigEntryNotReady while the token, the budget or Enphase stand in the way (set-up is
    retried), ConfigEntryAuthFailed when the refresh token is refused.
    """
    deadline = asyncio.get_running_loop().time() + SETUP_DEADLINE
    api_key = entry.data.get(CONF_API_KEY)
    if not isinstance(api_key, str) or not api_key.strip():
        # Lost from the entry (edited by hand): the reauth flow asks for it again.
        raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="api_key_missing")
    async_update_settings_issue(hass, entry, unreadable_settings(entry))
    auth = await _async_auth(hass, entry, deadline)
    stats = RequestStats()
    registry = planner_registry(hass)
    # Entries with the same API key share one planner: the quota is the application's.
    limits = plan_limits(entry)
    planner = await registry.async_acquire(
        api_key, entry.entry_id, limits, reserve=plan_reserve(entry, limits)
    )
    entry.async_on_unload(partial(registry.async_release, api_key, entry.entry_id))
    budget = EntryBudget(hass, entry, planner)

    @callback
    def _on_request(record: RequestRecord) -> None:
        stats.record(record)
        budget.request_done(record)

    client = EnphaseClient(
        async_get_clientsession(hass),
        auth.async_get_access_token,
        api_key,
        on_request=_on_request,
        # Counted as sent: two entries starting together must not both see room.
        on_send=budget.request_sent,
        # Home Assistant's clock, so the client and the coordinators agree on "now".
        now=lambda: dt_util.utcnow().timestamp(),
    )
    scheduler = EnphaseScheduler(hass, entry, budget)
    entry.async_on_unload(scheduler.async_stop)
    held = held_data(hass, entry.entry_id)
    await held.async_load()
    systems = EnphaseSystemsCoordinator(hass, entry, client, auth, budget)
    systems.held = held
    event_types = EnphaseEventTypesCoordinator(hass, entry, client, auth, budget)
    runtime = EnphaseRuntimeData(
        client=client,
        auth=auth,
        stats=stats,
        budget=budget,
        scheduler=scheduler,
        systems=systems,
        event_types=event_types,
        held=held,
    )
    if not await systems.async_restore():
        await _async_first_systems(hass, runtime, deadline)
    if systems.data is None:
        # Rate limited before the first answer: nothing is known about the systems yet.
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="rate_limited")

    now = dt_util.utcnow()
    # A system known from an earlier run but missing from this answer is kept for now:
    # one empty answer must not remove it and its devices (see _on_systems_update).
    known = registered_system_ids(hass, entry)
    missing = [i for i in selected_system_ids(entry) if i in known and i not in systems.data]
    for system_id in [*systems.data, *missing]:
        runtime.system_data[system_id] = build_system_data(hass, entry, runtime, system_id)
    entry.runtime_data = runtime
    for system_id in missing:
        _mark_missing(hass, entry, system_id, now)
    update_planner_systems(hass, entry)
    await _async_start(hass, entry)


async def _async_first_systems(
    hass: HomeAssistant, runtime: EnphaseRuntimeData, deadline: float
) -> None:
    """Fetch the systems for a set-up with none held, if the planner lets set-up spend."""
    planner, budget, systems = runtime.budget.planner, runtime.budget, runtime.systems
    now = dt_util.utcnow()
    if not (decision := planner.may_spend(now, planner.cost(systems.task), systems.task)):
        # Enphase said stop (a 429), this minute's requests are spent (a reload right after
        # a setup), or the search failed and backs off: asking now would spend for nothing.
        budget.async_update_issues(now)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            # Not Enphase's pause but the search's own backoff after a failure.
            translation_key="rate_limited_until"
            if planner.blocked_until(now) is not None or decision.reason != "backing_off"
            else "setup_backing_off",
            translation_placeholders={"retry_at": format_time(decision.retry_at or now)},
        )
    try:
        await _async_by_deadline(
            hass, deadline, systems.async_config_entry_first_refresh(), "systems"
        )
    except ConfigEntryNotReady as err:
        if err.translation_key == "setup_slow":
            # It goes on in the background (its answer is held for the retry); for the
            # planner it failed, so a retry with nothing held waits before asking again.
            planner.record_failure(systems.task, now)
        raise
    finally:
        # Counted and saved even if the setup stops here.
        await budget.async_changed()


async def _async_start(hass: HomeAssistant, entry: EnphaseConfigEntry) -> None:
    """Restore held answers, create the system devices, start polling, follow changes."""
    runtime = entry.runtime_data
    scheduler, systems, event_types = runtime.scheduler, runtime.systems, runtime.event_types
    # Only the systems gate the setup. Held answers stand for the rest until the planner
    # says they are due; what none is held for is fetched in the first run, in the
    # background, as far as the per-minute limit allows. A failure there leaves those
    # entities unavailable until their next fetch instead of retrying the whole setup,
    # which would spend the quota again on what already succeeded.
    scheduler.add(systems, first_fetch=False)
    scheduler.add(event_types, first_fetch=not await event_types.async_load_cached())
    # Systems with no live values held (or none readable): their telemetry runs at once.
    missing_energy: set[int] = set()
    for system_id, data in runtime.system_data.items():
        scheduler.add(data.summary, first_fetch=not await data.summary.async_restore())
        scheduler.add(data.devices, first_fetch=not await data.devices.async_restore())
        scheduler.add(data.alarms, first_fetch=not await data.alarms.async_restore())
        # Microinverter data only while one of its sensors is enabled (the planner
        # schedules it on the same condition); the first setup has none yet.
        restored = await data.inverters.async_restore()
        scheduler.add(
            data.inverters, first_fetch=wants_inverters(hass, entry, system_id) and not restored
        )
        # The live values held: the entities show them before telemetry is due again.
        if not await data.energy.async_restore():
            missing_energy.add(system_id)
        for coordinator in (data.summary, data.devices):
            entry.async_on_unload(
                coordinator.async_add_listener(partial(_on_system_fetched, hass, entry, system_id))
            )
    register_system_devices(hass, entry, runtime.system_data, systems.data)
    # No update listener: the options flow reloads the entry when it saves new options, the
    # reconfigure and reauth flows when they finish, and token refreshes reload nothing.
    entry.async_on_unload(systems.async_add_listener(lambda: _on_systems_update(hass, entry)))
    # Telemetry after the first run: the devices it fetched (or held) say which channels
    # exist. It runs at once only if due or nothing readable was held (a restart does not
    # import again what is in the recorder, nor fetch again the live values it holds).
    now = dt_util.utcnow()
    energy_due = {
        system_id: system_id in missing_energy
        or (
            (when := runtime.budget.planner.when_due(data.energy.task, now)) is not None
            and when <= now
        )
        for system_id, data in runtime.system_data.items()
    }

    async def _async_add_energy() -> None:
        for system_id, data in list(runtime.system_data.items()):
            scheduler.add(data.energy, first_fetch=energy_due.get(system_id, False))
        if any(energy_due.values()):
            await scheduler.async_run()

    scheduler.start(then=_async_add_energy)


@callback
def _on_systems_update(hass: HomeAssistant, entry: EnphaseConfigEntry) -> None:
    """Apply renames, drop systems Enphase no longer returns, add ones that came back."""
    runtime = entry.runtime_data
    systems = runtime.systems
    if not systems.last_update_success or systems.data is None:
        return
    if set(systems.data) - set(runtime.system_data):
        # A selected system Enphase did not return at start-up is back: set it up.
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    registry = dr.async_get(hass)
    now = dt_util.utcnow()
    for system_id in list(runtime.system_data):
        system = systems.data.get(system_id)
        if system is None:
            since = runtime.missing.get(system_id)
            if since is None:
                _mark_missing(hass, entry, system_id, now)
            elif now - since >= MISSING_CONFIRM_AFTER:
                # Missing from two reads some time apart: gone from the account.
                _drop_system(hass, entry, system_id)
            continue
        if runtime.missing.pop(system_id, None) is not None:
            _LOGGER.info("Enphase lists system %s again", system_id)
            async_update_system_missing_issue(hass, entry, system_id, "", None)
        device = compat.get_device(registry, system_identifier(system_id), entry.entry_id)
        if device is not None and system.name and device.name != system.name:
            registry.async_update_device(device.id, name=system.name)
    # Time zones and gateway links may have changed, or systems gone.
    update_planner_systems(hass, entry)


@callback
def _mark_missing(
    hass: HomeAssistant, entry: EnphaseConfigEntry, system_id: int, now: datetime
) -> None:
    """Note a system missing from Enphase's answer, and say so before removing it."""
    entry.runtime_data.missing[system_id] = now
    _LOGGER.warning(
        "Enphase did not list system %s; it is removed if it is still missing at the next"
        " systems read, or if Enphase says it does not exist",
        system_id,
    )
    # The name is for the user's own repair list only, never for the log.
    async_update_system_missing_issue(
        hass, entry, system_id, system_device_name(hass, entry, system_id), now
    )


@callback
def _on_system_fetched(hass: HomeAssistant, entry: EnphaseConfigEntry, system_id: int) -> None:
    """Drop a missing system at once when Enphase answers 404 for it."""
    runtime = entry.runtime_data
    data = runtime.system_data.get(system_id)
    if data is None or system_id not in runtime.missing:
        return
    if data.summary.not_found or data.devices.not_found:
        _drop_system(hass, entry, system_id)


@callback
def _drop_system(hass: HomeAssistant, entry: EnphaseConfigEntry, system_id: int) -> None:
    """Stop polling a system that is gone and remove it and its devices."""
    runtime = entry.runtime_data
    data = runtime.system_data.pop(system_id, None)
    if data is None:
        return
    _LOGGER.warning("Enphase system %s is gone; removing it and its devices", system_id)
    for coordinator in data.coordinators:
        entry.async_create_task(hass, coordinator.async_shutdown())
        runtime.held.forget(coordinator.held_key)
    runtime.scheduler.remove_system(system_id)
    remove_system_device(hass, entry, system_id)
    runtime.missing.pop(system_id, None)
    async_update_system_missing_issue(hass, entry, system_id, "", None)
    update_planner_systems(hass, entry)


def device_in_use(entry: EnphaseConfigEntry, device: dr.DeviceEntry) -> bool:
    """Whether a device stands for something the entry still has (not deleted by hand)."""
    runtime = entry.runtime_data
    identifiers = {ident for domain, ident in device.identifiers if domain == DOMAIN}
    if budget_device_identifier(entry)[1] in identifiers:
        return True
    for system_id, data in runtime.system_data.items():
        if str(system_id) in identifiers:
            return True
        if data.devices.data is not None and identifiers & set(data.devices.data.by_serial()):
            return True
        if data.inverters.data is not None and identifiers & set(data.inverters.data):
            return True
    return False
