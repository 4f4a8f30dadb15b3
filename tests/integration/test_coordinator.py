"""Coordinator error paths against the simulator: tokens, 429, 5xx, timeouts, recovery."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
import logging
from typing import TYPE_CHECKING
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.enphase_enlighten.api import EnphaseClient
from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.coordinator import (
    PollingIntervals,
    compute_polling_intervals,
)

from .conftest import setup_entry

if TYPE_CHECKING:
    from simulator import Simulator

POWER = "sensor.sunny_cottage_current_power"
STATUS = "sensor.sunny_cottage_status"


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """Move time on and let every due refresh finish."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def summary_interval(entry: MockConfigEntry) -> timedelta:
    intervals: PollingIntervals = entry.runtime_data.intervals
    return intervals.summary + timedelta(seconds=1)


def count(sim: Simulator, endpoint: str) -> int:
    return sum(1 for entry in sim.request_log if entry["endpoint"] == endpoint)


def reauth_started(hass: HomeAssistant) -> bool:
    return any(
        flow["context"]["source"] == SOURCE_REAUTH
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    )


@pytest.fixture
async def loaded(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> MockConfigEntry:
    """The small home set up at noon in California."""
    freezer.move_to("2026-06-21T19:00:00+00:00")
    await setup_entry(hass, config_entry)
    return config_entry


async def test_expired_access_token_refreshed_and_retried_once(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Enphase says the token expired before we thought: refresh, retry once, carry on."""
    old_token = loaded.data["token"]["access_token"]
    sim.expire_access_tokens()
    summaries = count(sim, "summary")
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE
    assert loaded.data["token"]["access_token"] != old_token
    # one rejected, one retried with the new token
    assert count(sim, "summary") == summaries + 2
    assert [e["status"] for e in sim.request_log if e["endpoint"] == "summary"][-2:] == [401, 200]
    assert not reauth_started(hass)


async def test_second_401_starts_reauth(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A 401 right after a fresh token is not an expiry: the user must sign in again."""
    sim.fail_next(2, 401, endpoint="summary")
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    assert reauth_started(hass)


async def test_revoked_refresh_token_starts_reauth(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Expired access token and a refresh token Enphase rejects: reauth."""
    sim.expire_access_tokens()
    sim.revoke_refresh_token(loaded.data["token"]["refresh_token"])
    await advance(hass, freezer, summary_interval(loaded))
    assert reauth_started(hass)
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE


async def test_token_endpoint_down_at_runtime(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A token endpoint outage is a temporary failure, not a reauth."""
    sim.expire_access_tokens()
    sim.fail_next(1, 502, endpoint="token")
    await advance(hass, freezer, summary_interval(loaded))
    assert not reauth_started(hass)
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE


async def test_token_endpoint_unreachable_at_runtime(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """No answer from the token endpoint: unavailable, no reauth, recovers."""
    sim.expire_access_tokens()
    with patch(
        "custom_components.enphase_enlighten.application_credentials."
        "EnphaseOAuth2Implementation._async_refresh_token",
        side_effect=TimeoutError,
    ):
        await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    assert not reauth_started(hass)
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE


async def test_key_mismatch_at_runtime(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A 401 "API Key -Client mismatch" is not retried: reauth at once."""
    sim.fail_next(
        1,
        401,
        body={"message": "Not Authorized", "details": "API Key -Client mismatch", "code": 401},
        endpoint="summary",
    )
    token_before = loaded.data["token"]["access_token"]
    await advance(hass, freezer, summary_interval(loaded))
    assert reauth_started(hass)
    assert loaded.data["token"]["access_token"] == token_before


async def test_rate_limit_keeps_data_and_waits_for_period_end(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 429 keeps entities available with the last data, waits, logs once, recovers."""
    before = hass.states.get(STATUS).state
    now = int(sim.now()) + int(summary_interval(loaded).total_seconds())
    body = {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "period": "month",
        "period_start": now - 3600,
        "period_end": now + 6 * 3600,
        "limit": 1000,
    }
    sim.fail_next(3, 429, body=body, endpoint="summary")
    caplog.set_level(logging.INFO)
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(STATUS).state == before
    coordinator = loaded.runtime_data.system_data[698910067].summary
    assert coordinator.last_update_success
    assert coordinator.update_interval > timedelta(hours=2)
    assert caplog.text.count("request limit reached") == 1

    # Other coordinators do not spend requests while the limit lasts.
    alarms_before = count(sim, "alarms")
    await advance(hass, freezer, loaded.runtime_data.intervals.alarms + timedelta(seconds=1))
    assert count(sim, "alarms") == alarms_before
    assert caplog.text.count("request limit reached") == 1

    sim.faults.clear()
    await advance(hass, freezer, timedelta(hours=2))
    await advance(hass, freezer, timedelta(minutes=1))
    assert "polling again" in caplog.text
    assert coordinator.update_interval == loaded.runtime_data.intervals.summary
    assert hass.states.get(STATUS).state == before


async def test_rate_limit_without_period(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A 429 with no period backs off for an hour and keeps the data."""
    sim.fail_next(1, 429, endpoint="summary")
    await advance(hass, freezer, summary_interval(loaded))
    coordinator = loaded.runtime_data.system_data[698910067].summary
    assert coordinator.update_interval == timedelta(hours=1)
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE


async def test_rate_limit_per_minute(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A per-minute 429 without period_end waits for the next minute."""
    body = {"message": "Too Many Requests", "details": "x", "code": 429, "period": "minute"}
    sim.fail_next(1, 429, body=body, endpoint="summary")
    await advance(hass, freezer, summary_interval(loaded))
    coordinator = loaded.runtime_data.system_data[698910067].summary
    assert timedelta(seconds=60) <= coordinator.update_interval <= timedelta(seconds=70)


async def test_server_error_unavailable_then_recovers(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """5xx makes entities unavailable, logs once, and recovery logs once."""
    caplog.set_level(logging.INFO)
    sim.fail_next(2, 500, endpoint="summary")
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    assert caplog.text.count("Error fetching Enphase system 698910067 summary data") == 1
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE
    assert caplog.text.count("Fetching Enphase system 698910067 summary data recovered") == 1


async def test_malformed_response(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A 200 that is not JSON is a failed update."""
    sim.fail_next(1, 200, endpoint="summary", malformed=True)
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE


async def test_timeout_unavailable_then_recovers(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """A request that times out makes entities unavailable until the next good poll.

    Real time here (no freezer): the timeout is aiohttp's own, on the event loop clock.
    """
    with patch(
        "custom_components.enphase_enlighten.EnphaseClient",
        partial(EnphaseClient, timeout=0.2),
    ):
        await setup_entry(hass, config_entry)
    coordinator = config_entry.runtime_data.system_data[698910067].summary
    sim.set_latency(1.0, "summary")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    sim.set_latency(0, "summary")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE


@pytest.mark.parametrize("sim_scenario", ["installer_28"])
async def test_minute_limit_at_startup(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """28 systems on Watt (10 a minute): setup succeeds, the rest arrives minute by minute."""
    caplog.set_level(logging.INFO)
    freezer.move_to("2026-06-21T19:00:00+00:00")
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    systems = config_entry.runtime_data.system_data
    assert len(systems) == 28
    waiting = [data for data in systems.values() if data.summary.data is None]
    assert waiting
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{waiting[0].system_id}_current_power"
    )
    assert entity_id is not None
    assert hass.states.get(entity_id).state == STATE_UNKNOWN
    for _ in range(20):
        await advance(hass, freezer, timedelta(seconds=61))
        if all(data.summary.data is not None for data in systems.values()):
            break
    assert all(data.summary.data is not None for data in systems.values())
    # Battery sensors of a system that has one are added once its summary arrives.
    assert any(
        entity_id.endswith("_battery_capacity") for entity_id in hass.states.async_entity_ids()
    )
    assert "request limit reached" not in caplog.text
    assert not [s.entity_id for s in hass.states.async_all() if s.state == STATE_UNAVAILABLE]


async def test_systems_rate_limited_at_startup(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """Without the systems there is nothing to set up: retry later."""
    sim.fail_next(1, 429, endpoint="search")
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


def test_intervals_never_exceed_quota() -> None:
    """Every plan and system count stays within a 30-day month of the quota."""
    for quota in (1_000, 50_000, 300_000, 1_500_000, 123):
        for systems in (0, 1, 3, 10, 28, 100):
            intervals = compute_polling_intervals(quota, systems)
            assert intervals.requests_per_month(max(systems, 1)) <= quota
            assert intervals.summary >= timedelta(minutes=15)


def test_watt_plan_one_home() -> None:
    """One home on Watt: summaries every 80-ish minutes, inventory daily."""
    intervals = compute_polling_intervals(1_000, 1)
    assert timedelta(minutes=60) < intervals.summary < timedelta(minutes=100)
    assert intervals.devices == timedelta(days=1)
    assert intervals.systems == timedelta(days=1)
