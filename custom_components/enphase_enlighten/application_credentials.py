"""Application credentials for Enphase: authorization server and Basic-auth token requests."""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any, cast

import aiohttp
from homeassistant.components.application_credentials import (
    AuthImplementation,
    AuthorizationServer,
    ClientCredential,
)
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .api import base_url_from_env
from .compat import token_request_error

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers import config_entry_oauth2_flow

_LOGGER = logging.getLogger(__name__)

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
DEVELOPER_PORTAL_URL = "https://developer-v4.enphase.com"

# Enphase reads the grant parameters from the query string (its docs send an empty body)
# and authenticates the client with HTTP Basic, so only these fields go into the query;
# client_id/client_secret that Home Assistant adds to the request data are left out.
_GRANT_PARAMETERS: dict[str, tuple[str, ...]] = {
    "authorization_code": ("code", "redirect_uri"),
    "refresh_token": ("refresh_token",),
}


async def async_get_authorization_server(hass: HomeAssistant) -> AuthorizationServer:
    """Return the Enphase authorization server, honouring ENPHASE_ENLIGHTEN_API_URL."""
    base_url = base_url_from_env()
    return AuthorizationServer(
        authorize_url=f"{base_url}{AUTHORIZE_PATH}",
        token_url=f"{base_url}{TOKEN_PATH}",
    )


class EnphaseOAuth2Implementation(AuthImplementation):
    """OAuth2 implementation that talks to Enphase's token endpoint the way it expects."""

    async def _token_request(self, data: dict[str, Any]) -> dict[str, Any]:
        """Exchange a code or a refresh token; raises aiohttp.ClientResponseError on failure.

        Both the authorization-code exchange and the refresh go through here on every
        Home Assistant version since 2026.2, so this is the single place to adapt.
        """
        grant_type = data["grant_type"]
        params = {"grant_type": grant_type}
        params.update(
            {key: data[key] for key in _GRANT_PARAMETERS.get(grant_type, ()) if key in data}
        )
        session = async_get_clientsession(self.hass)
        async with session.post(
            self.token_url, params=params, headers={"Authorization": self._basic_auth()}
        ) as resp:
            if resp.status >= 400:
                _LOGGER.error("Enphase token request (%s) failed: HTTP %s", grant_type, resp.status)
                raise self._scrubbed_error(grant_type, resp)
            return cast("dict[str, Any]", await resp.json(content_type=None))

    def _basic_auth(self) -> str:
        """Return the HTTP Basic credentials of the client, as Enphase's token endpoint wants.

        Built by hand: aiohttp 3.14 deprecates aiohttp.BasicAuth and the auth= parameter,
        and this header is what both produce on every aiohttp version.
        """
        credentials = f"{self.client_id}:{self.client_secret}".encode()
        return f"Basic {base64.b64encode(credentials).decode('ascii')}"

    def _scrubbed_error(
        self, grant_type: str, resp: aiohttp.ClientResponse
    ) -> aiohttp.ClientResponseError:
        """Return the error for a failed token request without the secrets it carried.

        raise_for_status() would put the request URL, whose query holds the code or the
        refresh token, and the Basic header into the error, which callers log. Where Home
        Assistant has its own token errors this is one of them (see compat), so it starts
        reauthentication and words the sign-in flow's abort as for its own implementations.
        """
        url = URL(self.token_url).with_query({"grant_type": grant_type})
        request_info = aiohttp.RequestInfo(url, "POST", CIMultiDictProxy(CIMultiDict()), url)
        return token_request_error(request_info, resp.status, resp.reason or "", domain=self.domain)

    async def _async_refresh_token(self, token: dict[str, Any]) -> dict[str, Any]:
        """Refresh the token, keeping the old refresh token only if none came back.

        Enphase rotates refresh tokens: the old one dies when a new one is issued, so the
        new one must replace it (Home Assistant then saves the entry); a response without
        one would otherwise leave the entry with no way to refresh again.
        """
        new_token = await super()._async_refresh_token(token)
        if not new_token.get("refresh_token"):
            new_token["refresh_token"] = token["refresh_token"]
        return new_token


async def async_get_auth_implementation(
    hass: HomeAssistant, auth_domain: str, credential: ClientCredential
) -> config_entry_oauth2_flow.AbstractOAuth2Implementation:
    """Return the Enphase OAuth2 implementation for these application credentials."""
    return EnphaseOAuth2Implementation(
        hass,
        auth_domain,
        credential,
        await async_get_authorization_server(hass),
    )


async def async_get_description_placeholders(hass: HomeAssistant) -> dict[str, str]:
    """Return the placeholders for the application credentials dialog."""
    return {
        "developer_url": DEVELOPER_PORTAL_URL,
        "access_control": "System Details",
    }
