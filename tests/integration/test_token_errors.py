"""Failed Enphase token requests as Home Assistant sees them: its own token errors where it has them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from unittest.mock import patch

import aiohttp
from homeassistant import exceptions
from homeassistant.config_entries import SOURCE_USER
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import config_entry_oauth2_flow
import pytest

from custom_components.enphase_enlighten.application_credentials import (
    EnphaseOAuth2Implementation,
)
from custom_components.enphase_enlighten.const import DOMAIN

from .conftest import CLIENT_SECRET
from .test_config_flow import _sign_in

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from simulator import Simulator

pytestmark = pytest.mark.usefixtures("current_request_with_host", "setup_credentials")

# Home Assistant's own token request errors, on the versions that have them (2026.3 on).
HA_REAUTH_ERROR = getattr(exceptions, "OAuth2TokenRequestReauthError", None)
HA_TRANSIENT_ERROR = getattr(exceptions, "OAuth2TokenRequestTransientError", None)


@pytest.fixture(autouse=True)
def no_entry_setup() -> Iterator[None]:
    """A created entry is not set up: these tests are about the token requests only."""
    with patch("custom_components.enphase_enlighten.async_setup_entry", return_value=True):
        yield


async def _implementation(hass: HomeAssistant) -> EnphaseOAuth2Implementation:
    implementations = await config_entry_oauth2_flow.async_get_implementations(hass, DOMAIN)
    implementation = implementations[DOMAIN]
    assert isinstance(implementation, EnphaseOAuth2Implementation)
    return implementation


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        # Enphase refusing the code: the flow says authorization failed where Home Assistant
        # tells refusals from failures by its own reauth error (before 2026.3 only a 401 did).
        (400, "oauth_unauthorized" if HA_REAUTH_ERROR else "oauth_failed"),
        (401, "oauth_unauthorized"),
        (429, "oauth_failed"),
        (503, "oauth_failed"),
    ],
)
async def test_code_exchange_errors_abort_the_sign_in(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    status: int,
    reason: str,
) -> None:
    """A refused code reads as refused, a failing token endpoint as a failure; nothing is saved."""
    sim.fail_next(1, status, endpoint="token")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await _sign_in(hass, hass_client_no_auth, result, sim_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert hass.config_entries.async_entries(DOMAIN) == []
    assert [entry["status"] for entry in sim.request_log if entry["endpoint"] == "token"] == [
        status
    ]


@pytest.mark.parametrize(
    ("status", "ha_error", "other_ha_error"),
    [
        (400, HA_REAUTH_ERROR, HA_TRANSIENT_ERROR),
        (401, HA_REAUTH_ERROR, HA_TRANSIENT_ERROR),
        (429, HA_TRANSIENT_ERROR, HA_REAUTH_ERROR),
        (500, HA_TRANSIENT_ERROR, HA_REAUTH_ERROR),
        (503, HA_TRANSIENT_ERROR, HA_REAUTH_ERROR),
    ],
)
async def test_refresh_errors_tell_reauth_from_retry(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    status: int,
    ha_error: type[Exception] | None,
    other_ha_error: type[Exception] | None,
) -> None:
    """A refused refresh asks for a new sign-in, a busy or failing server for a retry.

    Home Assistant starts reauthentication itself for its reauth error and retries setup for
    the transient one; on every version the error keeps the status and carries no secret.
    """
    implementation = await _implementation(hass)
    token = sim.issue_tokens()
    sim.fail_next(1, status, endpoint="token")
    with pytest.raises(aiohttp.ClientResponseError) as err:
        await implementation.async_refresh_token(dict(token))
    assert err.value.status == status
    if ha_error is not None and other_ha_error is not None:
        assert isinstance(err.value, ha_error)
        assert not isinstance(err.value, other_ha_error)
    for text in (str(err.value), repr(err.value), repr(err.value.request_info)):
        assert token["refresh_token"] not in text
        assert CLIENT_SECRET not in text
        assert "Basic" not in text
    # The refresh token was not used up by the failed request: the next refresh works.
    assert (await implementation.async_refresh_token(dict(token)))["access_token"]
