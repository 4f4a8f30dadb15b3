"""The Enphase Enlighten integration: set up and unload a config entry."""

from __future__ import annotations

from functools import partial
import logging
from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.config_entry_oauth2_flow import (
    ImplementationUnavailableError,
    OAuth2Session,
    async_get_config_entry_implementation,
)
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util

from .api import EnphaseClient, RequestRecord
from .const import (
    CONF_API_KEY,
    CONF_RESERVE_MANUAL,
    CONF_RESERVE_OTHER,
    CONF_SYSTEMS,
    DOMAIN,
)
from .coordinator import (
    AlarmMemory,
    EnphaseAuth,
    EnphaseConfigEntry,
    EnphaseEventTypesCoordinator,
    EnphaseRuntimeData,
    EnphaseScheduler,
    EnphaseSystemsCoordinator,
    EntryBudget,
    RequestStats,
    build_system_data,
    format_time,
    plan_limits,
    plan_reserve,
    planner_registry,
    remove_system_device,
    system_identifier,
    update_planner_systems,
    wants_inverters,
)
from .entity import budget_device_identifier, system_device_info
from .services import async_setup_services

if TYPE_CHECKING:
    from homeassistant.helpers.typing import ConfigType

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the service actions, which exist whether or not an entry is loaded."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EnphaseConfigEntry) -> bool:
    """Set up an Enphase account from a config entry."""
    try:
        implementation = await async_get_config_entry_implementation(hass, entry)
    except (ImplementationUnavailableError, ValueError) as err:
        # Home Assistant 2026.2 raises ValueError when the credentials are gone; later
        # versions raise ImplementationUnavailableError.
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="oauth2_implementation_unavailable"
        ) from err
    auth = EnphaseAuth(hass, OAuth2Session(hass, entry, implementation))
    try:
        # A rejected refresh token raises ConfigEntryAuthFailed (reauth) from here as is.
        await auth.async_get_access_token()
    except UpdateFailed as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="token_refresh_failed"
        ) from err
    stats = RequestStats()
    registry = planner_registry(hass)
    api_key = entry.data[CONF_API_KEY]
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
        planner.record_request(record)

    client = EnphaseClient(
        async_get_clientsession(hass),
        auth.async_get_access_token,
        api_key,
        on_request=_on_request,
        # Home Assistant's clock, so the client and the coordinators agree on "now".
        now=lambda: dt_util.utcnow().timestamp(),
    )
    scheduler = EnphaseScheduler(hass, entry, budget)
    entry.async_on_unload(scheduler.async_stop)
    systems = EnphaseSystemsCoordinator(hass, entry, client, auth, budget)
    event_types = EnphaseEventTypesCoordinator(hass, entry, client, auth, budget)
    runtime = EnphaseRuntimeData(
        client=client,
        auth=auth,
        stats=stats,
        budget=budget,
        scheduler=scheduler,
        systems=systems,
        event_types=event_types,
    )
    now = dt_util.utcnow()
    if not (decision := planner.can_refresh(now, 1)):
        # Enphase said stop (a 429), or this minute's requests are spent (a reload right
        # after a setup): asking now would only earn a 429.
        budget.async_update_issues(now)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="rate_limited_until",
            translation_placeholders={"retry_at": format_time(decision.retry_at or now)},
        )
    await systems.async_config_entry_first_refresh()
    # Counted and saved even if the setup stops here.
    await budget.async_changed()
    if systems.data is None:
        # Rate limited before the first answer: nothing is known about the systems yet.
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="rate_limited")

    for system_id in systems.data:
        runtime.system_data[system_id] = build_system_data(hass, entry, runtime, system_id)
    entry.runtime_data = runtime
    update_planner_systems(hass, entry)

    # Only the systems gate the setup. What the entities need is fetched in the first run,
    # as far as the per-minute limit allows; a failure there leaves those entities
    # unavailable until their next fetch instead of retrying the whole setup, which would
    # spend the quota again on what already succeeded. Event types saved by an earlier
    # run are used as they are until the planner says they are due.
    scheduler.add(systems, first_fetch=False)
    scheduler.add(event_types, first_fetch=not await event_types.async_load_cached())
    for system_id, data in runtime.system_data.items():
        scheduler.add(data.summary)
        scheduler.add(data.devices)
        scheduler.add(data.alarms)
        # Microinverter data only while one of its sensors is enabled (the planner
        # schedules it on the same condition); the first setup has none yet.
        scheduler.add(data.inverters, first_fetch=wants_inverters(hass, entry, system_id))
    await scheduler.async_run()
    _register_system_devices(hass, entry)
    entry.async_on_unload(systems.async_add_listener(lambda: _on_systems_update(hass, entry)))
    reloading_options = (CONF_SYSTEMS, CONF_RESERVE_OTHER, CONF_RESERVE_MANUAL)
    selection = [entry.options.get(option) for option in reloading_options]

    async def _async_entry_updated(hass: HomeAssistant, entry: EnphaseConfigEntry) -> None:
        # Token refreshes update the entry too; only new options (systems, reserve) reload.
        if [entry.options.get(option) for option in reloading_options] != selection:
            await hass.config_entries.async_reload(entry.entry_id)

    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


@callback
def _register_system_devices(hass: HomeAssistant, entry: EnphaseConfigEntry) -> None:
    """Create the system devices first, so hardware devices can link to them.

    Systems no longer selected (or no longer on the account) leave the registry, with
    their hardware.
    """
    registry = dr.async_get(hass)
    runtime = entry.runtime_data
    kept = {system_identifier(system_id) for system_id in runtime.system_data}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if device.via_device_id is None and not device.identifiers & kept:
            for domain, ident in device.identifiers:
                if domain == DOMAIN and ident.isdigit():
                    remove_system_device(hass, entry, int(ident))
    for system_id in runtime.system_data:
        registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            **system_device_info(system_id, runtime.systems.data.get(system_id)),
        )


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
    for system_id, data in list(runtime.system_data.items()):
        system = systems.data.get(system_id)
        if system is None:
            for coordinator in data.coordinators:
                entry.async_create_task(hass, coordinator.async_shutdown())
            del runtime.system_data[system_id]
            runtime.scheduler.remove_system(system_id)
            remove_system_device(hass, entry, system_id)
            continue
        device = registry.async_get_device(identifiers={system_identifier(system_id)})
        if device is not None and system.name and device.name != system.name:
            registry.async_update_device(device.id, name=system.name)
    # Time zones and gateway links may have changed, or systems gone.
    update_planner_systems(hass, entry)


async def async_unload_entry(hass: HomeAssistant, entry: EnphaseConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: EnphaseConfigEntry) -> None:
    """Forget the deleted entry's saved alarms.

    The request counts stay: they belong to the API key, which other entries or a new entry
    for the same account may still use this month.
    """
    await AlarmMemory(hass, entry.entry_id).store.async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: EnphaseConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow deleting a device by hand unless Enphase still lists it."""
    runtime = entry.runtime_data
    identifiers = {ident for domain, ident in device.identifiers if domain == DOMAIN}
    if budget_device_identifier(entry)[1] in identifiers:
        return False
    for system_id, data in runtime.system_data.items():
        if str(system_id) in identifiers:
            return False
        if data.devices.data is not None and identifiers & set(data.devices.data.by_serial()):
            return False
        if data.inverters.data is not None and identifiers & set(data.inverters.data):
            return False
    return True
