"""What the flows ask of Enphase: the account's systems, a gateway's system, an entry's token."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.helpers.update_coordinator import UpdateFailed

from .api import (
    EnphaseApiKeyMismatchError,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseConnectionError,
    EnphaseError,
    EnphaseForbiddenError,
    EnphaseInvalidRequestError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    EnphaseServerError,
    RequestRecord,
    System,
    TokenProvider,
)
from .auth import EnphaseAuth, async_restore_token
from .const import (
    CONF_SYSTEMS,
)
from .entry_budget import async_count_flow_requests
from .flow_forms import CONF_SERIAL_NUMBER

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .runtime import EnphaseConfigEntry

_LOGGER = logging.getLogger(__name__)

# What looking up an entry's OAuth implementation raises when its application credentials
# were deleted: ValueError on 2026.2, ImplementationUnavailableError on later versions.
CREDENTIALS_GONE = (ValueError, config_entry_oauth2_flow.ImplementationUnavailableError)


class ReauthRequiredError(Exception):
    """The saved refresh token was rejected; only signing in again can fix it."""


def error_key(err: EnphaseError) -> str:
    """Return the translation key of the form error for an API error."""
    if isinstance(err, EnphaseApiKeyMismatchError):
        return "api_key_mismatch"
    if isinstance(err, EnphaseAuthError):
        return "invalid_api_key"
    if isinstance(err, EnphaseRateLimitError):
        return "quota_exceeded"
    if isinstance(err, (EnphaseConnectionError, EnphaseServerError)):
        return "cannot_connect"
    _LOGGER.warning("Unexpected Enphase API error: %s", err)
    return "unknown"


async def async_list_systems(client: EnphaseClient) -> tuple[list[System], str | None]:
    """Read every system on the account; return them, or the form error key."""
    try:
        systems = await client.all_systems()
    except EnphaseError as err:
        return [], error_key(err)
    except ReauthRequiredError:
        raise
    except Exception:
        _LOGGER.exception("Unexpected error while reading the Enphase systems")
        return [], "unknown"
    return systems, None


async def async_resolve_selection(
    client: EnphaseClient, user_input: Mapping[str, Any]
) -> tuple[list[int], dict[str, str]]:
    """Turn the systems form into system ids, looking up a gateway serial number if given."""
    selected = {int(value) for value in user_input.get(CONF_SYSTEMS, [])}
    if serial := str(user_input.get(CONF_SERIAL_NUMBER, "")).strip():
        try:
            selected.add(await client.retrieve_system_id(serial))
        except (EnphaseNotFoundError, EnphaseForbiddenError, EnphaseInvalidRequestError):
            return [], {CONF_SERIAL_NUMBER: "serial_not_found"}
        except EnphaseError as err:
            return [], {"base": error_key(err)}
        except Exception:
            _LOGGER.exception("Unexpected error while looking up a gateway serial number")
            return [], {"base": "unknown"}
    if not selected:
        return [], {"base": "no_systems_selected"}
    return sorted(selected), {}


class FlowRequests:
    """Collects a flow's API requests until they are added to the key's monthly count.

    No entry (and so no planner) may exist yet, but the requests count against the
    application's quota all the same.
    """

    def __init__(self) -> None:
        """Start with no requests kept."""
        self._records: list[RequestRecord] = []

    @callback
    def record(self, record: RequestRecord) -> None:
        """Keep one request the client reports (its on_request callback)."""
        self._records.append(record)

    async def async_count(self, hass: HomeAssistant, api_key: str) -> None:
        """Add the requests kept so far to the API key's monthly count."""
        records, self._records = self._records, []
        await async_count_flow_requests(hass, api_key, records)

    def discard(self) -> None:
        """Forget the requests kept so far (an unknown key has no quota to count them in)."""
        self._records = []


async def async_entry_token_provider(
    hass: HomeAssistant, entry: EnphaseConfigEntry
) -> TokenProvider:
    """Return a token provider for an existing entry, refreshing its token when due.

    A loaded entry's own refresh path is shared: Enphase rotates refresh tokens, so a
    second session refreshing at the same moment would be left with a dead one. Either way
    the new token is written to the entry at once, so an abandoned flow loses nothing.
    """
    if entry.state is ConfigEntryState.LOADED:
        get_access_token = entry.runtime_data.auth.async_get_access_token
    else:
        implementation = await config_entry_oauth2_flow.async_get_config_entry_implementation(
            hass, entry
        )
        # A token saved after a rotation the entry missed (a crash) is the live one.
        await async_restore_token(hass, entry)
        session = config_entry_oauth2_flow.OAuth2Session(hass, entry, implementation)
        get_access_token = EnphaseAuth(hass, session).async_get_access_token

    async def token_provider() -> str:
        try:
            return await get_access_token()
        except ConfigEntryAuthFailed as err:
            # Only a new sign-in helps: offer it now rather than at the next poll (Home
            # Assistant skips this while a reconfigure flow of the entry is open).
            entry.async_start_reauth(hass)
            raise ReauthRequiredError from err
        except UpdateFailed as err:
            raise EnphaseConnectionError("Could not refresh the Enphase access token") from err

    return token_provider
