"""Access tokens for the API client: refreshed when due or rejected, reauth when refused."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import ClientError, ClientResponseError
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import UpdateFailed

from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.config_entry_oauth2_flow import OAuth2Session


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
        return self.access_token

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
