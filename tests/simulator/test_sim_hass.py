"""The shared fixtures work inside Home Assistant's test harness (event loop, sockets, freezer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import os
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from simulator import Simulator


async def test_sim_url_with_hass(hass: HomeAssistant, sim: Simulator, sim_url: str) -> None:
    assert os.environ["ENPHASE_ENLIGHTEN_API_URL"] == sim_url
    assert sim_url.startswith("http://127.0.0.1:")
    session = async_get_clientsession(hass)
    tokens = sim.issue_tokens()
    resp = await session.get(
        f"{sim_url}/api/v4/systems",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "key": "sim-api-key"},
    )
    assert resp.status == 200
    assert (await resp.json())["total"] == 1


async def test_freezer_moves_token_expiry(
    hass: HomeAssistant, sim: Simulator, sim_url: str, freezer: Any
) -> None:
    freezer.move_to(datetime(2026, 6, 21, 12, tzinfo=UTC))
    tokens = sim.issue_tokens()
    session = async_get_clientsession(hass)
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "key": "sim-api-key"}
    assert (await session.get(f"{sim_url}/api/v4/systems", headers=headers)).status == 200
    freezer.tick(timedelta(seconds=tokens["expires_in"] + 1))
    assert (await session.get(f"{sim_url}/api/v4/systems", headers=headers)).status == 401
