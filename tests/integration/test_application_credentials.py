"""Application credentials: Enphase's authorization server and its Basic-auth token requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_entry_oauth2_flow
import pytest

from custom_components.enphase_enlighten.application_credentials import (
    EnphaseOAuth2Implementation,
    async_get_authorization_server,
    async_get_description_placeholders,
)
from custom_components.enphase_enlighten.const import DOMAIN

from .conftest import CLIENT_ID

if TYPE_CHECKING:
    from simulator import Simulator

pytestmark = pytest.mark.usefixtures("setup_credentials")


async def _implementation(hass: HomeAssistant) -> EnphaseOAuth2Implementation:
    implementations = await config_entry_oauth2_flow.async_get_implementations(hass, DOMAIN)
    implementation = implementations[DOMAIN]
    assert isinstance(implementation, EnphaseOAuth2Implementation)
    return implementation


async def test_authorization_server_follows_the_base_url(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real Enphase URLs by default, the simulator's when the variable points there."""
    monkeypatch.delenv("ENPHASE_ENLIGHTEN_API_URL", raising=False)
    server = await async_get_authorization_server(hass)
    assert server.authorize_url == "https://api.enphaseenergy.com/oauth/authorize"
    assert server.token_url == "https://api.enphaseenergy.com/oauth/token"

    monkeypatch.setenv("ENPHASE_ENLIGHTEN_API_URL", "http://127.0.0.1:8090/")
    implementation = await _implementation(hass)
    assert implementation.authorize_url == "http://127.0.0.1:8090/oauth/authorize"
    assert implementation.token_url == "http://127.0.0.1:8090/oauth/token"
    assert implementation.client_id == CLIENT_ID


async def test_description_placeholders(hass: HomeAssistant) -> None:
    """The dialog points to the developer portal and names the access control to tick."""
    assert await async_get_description_placeholders(hass) == {
        "developer_url": "https://developer-v4.enphase.com",
        "access_control": "System Details",
    }


async def test_refresh_rotates_the_refresh_token(
    hass: HomeAssistant, sim: Simulator, sim_url: str
) -> None:
    """A refresh sends Basic auth and only grant_type and refresh_token, in the query."""
    implementation = await _implementation(hass)
    token = sim.issue_tokens()
    new_token = await implementation.async_refresh_token(dict(token))

    assert new_token["refresh_token"] != token["refresh_token"]
    assert new_token["access_token"] != token["access_token"]
    assert new_token["enl_uid"] == sim.default_user_id
    assert new_token["expires_in"] == token["expires_in"]
    assert "expires_at" in new_token
    assert sim.refresh_tokens[token["refresh_token"]].used
    (request,) = sim.request_log
    assert request["endpoint"] == "token"
    assert request["status"] == 200
    # The log leaves out the refresh token's value; nothing else may be in the query.
    assert request["query"] == {"grant_type": "refresh_token"}

    # The old refresh token is dead now: only the stored rotation keeps the entry working.
    with pytest.raises(aiohttp.ClientResponseError) as err:
        await implementation.async_refresh_token(dict(token))
    assert err.value.status == 400
    # Callers log this error: neither the refresh token nor the client secret may be in it.
    for text in (str(err.value), repr(err.value), repr(err.value.request_info)):
        assert token["refresh_token"] not in text
        assert "sim-client-secret" not in text
        assert "Basic" not in text
    assert "refresh_token" in await implementation.async_refresh_token(new_token)


async def test_refresh_without_a_new_refresh_token_keeps_the_old_one(
    hass: HomeAssistant, sim: Simulator, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If Enphase ever answers without a refresh token, the old one is not thrown away."""
    issue_tokens = sim.issue_tokens

    def issue_without_refresh(*args: Any, **kwargs: Any) -> dict[str, Any]:
        token = issue_tokens(*args, **kwargs)
        token["refresh_token"] = ""
        return token

    implementation = await _implementation(hass)
    token = sim.issue_tokens()
    monkeypatch.setattr(sim, "issue_tokens", issue_without_refresh)
    new_token = await implementation.async_refresh_token(dict(token))
    assert new_token["refresh_token"] == token["refresh_token"]
    assert new_token["access_token"] != token["access_token"]


async def test_token_request_needs_basic_auth(
    hass: HomeAssistant, sim: Simulator, sim_url: str
) -> None:
    """The simulator refuses client credentials in the query: Basic auth is what it takes."""
    token = sim.issue_tokens()
    session = aiohttp.ClientSession()
    try:
        async with session.post(
            f"{sim_url}/oauth/token",
            params={
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
                "client_id": "sim-client-id",
                "client_secret": "sim-client-secret",
            },
        ) as resp:
            assert resp.status == 401
    finally:
        await session.close()
