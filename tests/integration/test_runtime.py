"""Set-up within a deadline: slow or failing Enphase never holds Home Assistant's start."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.enphase_enlighten.alarms import ALARM_MEMORIES
from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.entry_budget import PLANNERS
from custom_components.enphase_enlighten.held import HELD_DATA

from .conftest import setup_entry

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
POWER = "sensor.sunny_cottage_current_power"
RUNTIME = "custom_components.enphase_enlighten.runtime"


@pytest.fixture
def short_deadline() -> object:
    """Set-up waits for Enphase 0.3 s (6 s in use), so the tests need not wait long."""
    # create: the same test runs (and fails) on code without the deadline.
    with patch(f"{RUNTIME}.SETUP_DEADLINE", 0.3, create=True):
        yield


def _expire(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "token": {**entry.data["token"], "expires_at": 0}}
    )


def _endpoints(sim: Simulator, start: int = 0) -> list[str | None]:
    return [entry["endpoint"] for entry in sim.request_log[start:]]


async def _retry_setup(hass: HomeAssistant, freezer: FrozenDateTimeFactory, after: float) -> None:
    """Let Home Assistant's own set-up retry run (it waits 5 to 80 s between tries)."""
    freezer.tick(timedelta(seconds=after))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.usefixtures("sim_url", "setup_credentials", "short_deadline")
async def test_hanging_token_endpoint_retries_setup_and_keeps_the_new_token(
    hass: HomeAssistant, sim: Simulator, config_entry: MockConfigEntry
) -> None:
    """A token endpoint slower than the deadline: set-up is retried, never left failed.

    The refresh goes on after set-up gave up, and the token it brings is saved: Enphase
    has already retired the old refresh token.
    """
    old = dict(config_entry.data["token"])
    config_entry.add_to_hass(hass)
    _expire(hass, config_entry)
    sim.set_latency(1.0, endpoint="token")
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert config_entry.reason == "Enphase is slow to answer; set-up is retried shortly"
    assert _endpoints(sim) == []

    await hass.async_block_till_done(wait_background_tasks=True)
    assert _endpoints(sim) == ["token"]
    token = config_entry.data["token"]
    assert token["refresh_token"] != old["refresh_token"]
    assert token["expires_at"] > dt_util.utcnow().timestamp()

    # The retry uses the saved token: no second refresh (the first one would be refused).
    sim.set_latency(0, endpoint="token")
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert config_entry.state is ConfigEntryState.LOADED
    assert _endpoints(sim).count("token") == 1


@pytest.mark.usefixtures("sim_url", "setup_credentials")
async def test_token_request_has_its_own_timeout(
    hass: HomeAssistant, sim: Simulator, config_entry: MockConfigEntry
) -> None:
    """A token endpoint that never answers ends in a retry after the token timeout."""
    config_entry.add_to_hass(hass)
    _expire(hass, config_entry)
    sim.set_latency(5.0, endpoint="token")
    with (
        patch("custom_components.enphase_enlighten.auth.TOKEN_TIMEOUT", 0.2, create=True),
        patch(f"{RUNTIME}.SETUP_DEADLINE", 3.0),
    ):
        await hass.config_entries.async_setup(config_entry.entry_id)
    # Not the deadline's message: the token request itself gave up.
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert config_entry.reason == "Could not reach Enphase to renew the sign-in; retrying later"
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.usefixtures("sim_url", "setup_credentials", "short_deadline")
async def test_slow_search_of_a_new_entry_is_held_for_the_retry(
    hass: HomeAssistant, sim: Simulator, config_entry: MockConfigEntry
) -> None:
    """A search slower than the deadline: retried; its late answer serves the retry."""
    sim.set_latency(1.0, endpoint="search")
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _endpoints(sim) == ["search"]

    # Home Assistant's own retry, 5 to 10 s later.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert config_entry.state is ConfigEntryState.LOADED
    # One search in all; the first fetches ran after the set-up, in the background.
    assert _endpoints(sim).count("search") == 1
    assert "summary" in _endpoints(sim)
    assert hass.states.get(POWER).state not in ("unknown", "unavailable")


@pytest.mark.usefixtures("sim_url", "setup_credentials", "short_deadline")
async def test_slow_enphase_does_not_hold_a_restart(
    hass: HomeAssistant, sim: Simulator, config_entry: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Every endpoint slower than the deadline: a restart loads at once; fetches come later."""
    await setup_entry(hass, config_entry)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    for key in (PLANNERS, ALARM_MEMORIES, HELD_DATA):
        hass.data.pop(key, None)
    # The summary's answer was not held (a crash right after it): it is fetched at start.
    del hass_storage[f"{DOMAIN}.held.{config_entry.entry_id}"]["data"]["answers"][
        f"summary:{SYSTEM_ID}"
    ]
    sim.set_latency(1.0)
    requests = len(sim.request_log)

    assert await hass.config_entries.async_setup(config_entry.entry_id)
    # Loaded, entities there, while the summary is still on its way.
    assert config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(POWER) is not None
    assert _endpoints(sim, requests) == []
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _endpoints(sim, requests) == ["summary"]
    assert hass.states.get(POWER).state not in ("unknown", "unavailable")


@pytest.mark.usefixtures("sim_url", "setup_credentials")
async def test_search_failing_at_start_costs_nothing_while_backing_off(
    hass: HomeAssistant,
    sim: Simulator,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A search answering 500: Home Assistant's set-up retries wait for the planner's retry."""
    freezer.move_to("2026-06-21T19:00:00+00:00")
    sim.fail_next(1000, 500, endpoint="search")
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert _endpoints(sim) == ["search"]

    # Home Assistant retries after 5, 10, 20, 40 s...: none of them asks before the retry.
    for after in (6, 11, 21, 41):
        await _retry_setup(hass, freezer, after)
        assert config_entry.state is ConfigEntryState.SETUP_RETRY
        assert config_entry.reason is not None
        assert config_entry.reason.startswith("Enphase failed to answer the last time")
    assert _endpoints(sim) == ["search"]

    # Past the retry time the next try asks again, and once Enphase answers, it loads.
    sim.faults.clear()
    await _retry_setup(hass, freezer, 81)
    assert config_entry.state is ConfigEntryState.LOADED
    assert _endpoints(sim).count("search") == 2
