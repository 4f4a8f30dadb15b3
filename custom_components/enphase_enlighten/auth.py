"""Access tokens for the client: refreshed when due or rejected, saved at once, reauth when refused."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import ClientError, ClientResponseError
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import UpdateFailed

from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.config_entry_oauth2_flow import OAuth2Session

_LOGGER = logging.getLogger(__name__)

TOKEN_STORAGE_VERSION = 1


def _token_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the store of an entry's newest token (Home Assistant writes entries late)."""
    return Store(hass, TOKEN_STORAGE_VERSION, f"{DOMAIN}.token.{entry_id}", private=True)


def _usable(token: Any) -> bool:
    return (
        isinstance(token, dict)
        and isinstance(token.get("access_token"), str)
        and isinstance(token.get("refresh_token"), str)
        and isinstance(token.get("expires_at"), int | float)
    )


async def async_restore_token(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """Put the newest token back into the entry if a crash kept it from being written.

    Home Assistant writes config entries a second after a change; Enphase retires a
    refresh token the moment it issues the next one. A token saved here after a rotation
    and newer than the entry's is the only one Enphase still accepts.
    """
    try:
        saved = await _token_store(hass, entry.entry_id).async_load()
    except (HomeAssistantError, ValueError):
        return
    token = saved.get("token") if isinstance(saved, dict) else None
    current: Mapping[str, Any] = entry.data.get("token") or {}
    if not isinstance(token, dict) or not _usable(token):
        return
    if token["refresh_token"] == current.get("refresh_token"):
        return
    expires_at = current.get("expires_at")
    if isinstance(expires_at, int | float) and token["expires_at"] <= expires_at:
        # The entry's is newer (a sign-in since, say): the saved one is retired.
        return
    _LOGGER.info("%s: using the refresh token saved after the last rotation", entry.title)
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})


async def async_forget_token(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the saved token of a deleted entry."""
    await _token_store(hass, entry_id).async_remove()


# The token request's own deadline (aiohttp's default is 300 s): a hanging token endpoint
# then fails like an unreachable one instead of holding every fetch (and set-up) for minutes.
TOKEN_TIMEOUT = 30.0


def is_token_rejected(err: ClientResponseError) -> bool:
    """Tell whether a token endpoint error means the refresh token is no longer accepted."""
    return 400 <= err.status < 500 and err.status != 429


class EnphaseAuth:
    """Supplies valid access tokens to the client and refreshes them when Enphase says so."""

    def __init__(self, hass: HomeAssistant, session: OAuth2Session) -> None:
        """Wrap the entry's OAuth2 session."""
        self._hass = hass
        self._session = session
        self._refresh_lock = asyncio.Lock()
        self._store = _token_store(hass, session.config_entry.entry_id)
        self._save_lock = asyncio.Lock()
        self._kept_refresh_token = session.token.get("refresh_token")

    @property
    def access_token(self) -> str:
        """Return the access token currently stored in the entry."""
        return str(self._session.token["access_token"])

    async def async_get_access_token(self) -> str:
        """Return a valid access token, refreshing it first when it has expired locally.

        Token endpoint failures become Home Assistant errors here, because the API client
        would otherwise see an aiohttp error and report a connection problem.
        """
        try:
            async with asyncio.timeout(TOKEN_TIMEOUT):
                await self._session.async_ensure_token_valid()
        except ClientResponseError as err:
            if is_token_rejected(err):
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN, translation_key="refresh_token_rejected"
                ) from err
            raise UpdateFailed(
                translation_domain=DOMAIN, translation_key="token_refresh_failed"
            ) from err
        except (ClientError, TimeoutError) as err:
            raise UpdateFailed(
                translation_domain=DOMAIN, translation_key="token_refresh_failed"
            ) from err
        await self._async_keep_rotated()
        return self.access_token

    async def _async_keep_rotated(self) -> None:
        """Save a rotated token before it is used; callers wait here until it is on disk."""
        if self._session.token.get("refresh_token") == self._kept_refresh_token:
            return
        async with self._save_lock:
            token = dict(self._session.token)
            if token.get("refresh_token") == self._kept_refresh_token:
                return
            try:
                await self._store.async_save({"token": token})
            except (HomeAssistantError, OSError) as err:
                # The entry still gets it, a second later: no reason to stop polling.
                _LOGGER.warning("Could not save the new Enphase token at once: %s", err)
                return
            self._kept_refresh_token = token.get("refresh_token")

    async def async_force_refresh(self, rejected_token: str) -> None:
        """Refresh the access token after Enphase rejected `rejected_token` as expired.

        Several coordinators can see the same rejection; only the first refreshes (refresh
        tokens rotate, so a second refresh with the old one would fail). The token is
        marked expired and the session's own locked refresh path does the work, so this
        never races with a routine refresh.
        """
        async with self._refresh_lock:
            if self.access_token != rejected_token:
                return
            entry = self._session.config_entry
            self._hass.config_entries.async_update_entry(
                entry, data={**entry.data, "token": {**entry.data["token"], "expires_at": 0}}
            )
            await self.async_get_access_token()
