"""The Enphase Enlighten integration: set up and unload a config entry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.helpers import config_validation as cv

from .alarms import async_forget_alarms
from .auth import async_forget_token
from .const import DOMAIN
from .held import async_forget_held
from .runtime import EnphaseConfigEntry, async_setup_runtime, device_in_use
from .services import async_setup_services
from .services_history import async_setup_history_services

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import device_registry as dr
    from homeassistant.helpers.typing import ConfigType

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the service actions, which exist whether or not an entry is loaded."""
    async_setup_services(hass)
    async_setup_history_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EnphaseConfigEntry) -> bool:
    """Set up an Enphase account from a config entry."""
    await async_setup_runtime(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EnphaseConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: EnphaseConfigEntry) -> None:
    """Forget the deleted entry's saved alarms, token and held answers.

    The request counts stay: they belong to the API key, which other entries or a new entry
    for the same account may still use this month.
    """
    await async_forget_alarms(hass, entry.entry_id)
    await async_forget_token(hass, entry.entry_id)
    await async_forget_held(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: EnphaseConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow deleting a device by hand unless Enphase still lists it."""
    return not device_in_use(entry, device)
