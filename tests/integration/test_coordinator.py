"""Coordinator error paths against the simulator: tokens, 429, 5xx, timeouts, recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
import logging
from typing import TYPE_CHECKING
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.enphase_enlighten.api import EnphaseClient
from custom_components.enphase_enlighten.budget import Task, TaskKind
from custom_components.enphase_enlighten.const import DOMAIN

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


SYSTEM_ID = 698910067


def until_due(
    entry: MockConfigEntry, kind: TaskKind = TaskKind.SUMMARY, system_id: int | None = SYSTEM_ID
) -> timedelta:
    """Return how long until the planner runs a task (and a second more)."""
    if kind in (TaskKind.SYSTEMS, TaskKind.EVENT_TYPES):
        system_id = None
    now = dt_util.utcnow()
    when = entry.runtime_data.budget.planner.when_due(Task(kind, entry.entry_id, system_id), now)
    assert when is not None
    return max(when - now, timedelta(0)) + timedelta(seconds=1)


def summary_interval(entry: MockConfigEntry) -> timedelta:
    """Return how long until the next summary fetch (and a second more)."""
    return until_due(entry)


async def past_backfill(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry
) -> None:
    """Run past the energy statistics' back-fill (the month so far: a pass a minute)."""
    energies = [data.energy for data in entry.runtime_data.system_data.values()]
    for _ in range(6):
        await advance(hass, freezer, timedelta(minutes=1, seconds=1))
        if all(energy.data is not None and not energy.data.behind for energy in energies):
            return
    raise AssertionError("the energy back-fill did not finish within six minutes")


def count(sim: Simulator, endpoint: str) -> int:
    return sum(1 for entry in sim.request_log if entry["endpoint"] == endpoint)


def reauth_started(hass: HomeAssistant) -> bool:
    return any(
        flow["context"]["source"] == SOURCE_REAUTH
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    )


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


def _too_many(period: str | None, period_end: datetime | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "limit": 1000 if period == "month" else 10,
    }
    if period is not None:
        body["period"] = period
    if period_end is not None:
        body["period_end"] = int(period_end.timestamp())
    return body


def _requests(sim: Simulator) -> int:
    return len(sim.request_log)


async def test_month_limit_stops_polling_and_raises_issue(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A monthly 429 keeps the last data, stops all polling until period_end, logs once
    and raises a repair issue saying when polling resumes; both end with the period."""
    before = hass.states.get(STATUS).state
    month_end = datetime(2026, 7, 1, tzinfo=UTC)
    sim.fail_next(1, 429, body=_too_many("month", month_end), endpoint="summary")
    caplog.set_level(logging.INFO)
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(STATUS).state == before
    coordinator = loaded.runtime_data.system_data[SYSTEM_ID].summary
    assert coordinator.last_update_success
    assert caplog.text.count("request limit reached") == 1
    issue_id = f"quota_exhausted_{loaded.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "quota_exhausted"
    assert issue.translation_placeholders["resume_at"].startswith("2026-06-30")
    assert loaded.runtime_data.scheduler.next_run == month_end

    # Nothing at all is asked for while the quota is spent, whatever is due.
    requests = _requests(sim)
    for _ in range(4):
        await advance(hass, freezer, timedelta(days=2))
    assert _requests(sim) == requests
    assert caplog.text.count("request limit reached") == 1
    # A manual refresh is refused with the reason and the time polling resumes.
    assert await async_setup_component(hass, "homeassistant", {})
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": POWER}, blocking=True
    )
    assert "monthly request quota is used up. Polling resumes at 2026-06-30" in caplog.text
    with pytest.raises(HomeAssistantError) as refused:
        await coordinator.async_manual_refresh()
    assert refused.value.translation_key == "refresh_quota_exhausted"
    assert _requests(sim) == requests

    freezer.move_to(month_end + timedelta(seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _requests(sim) > requests
    assert "polling again" in caplog.text
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert hass.states.get(STATUS).state == before


async def test_minute_limit_waits_until_period_end(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A per-minute 429 pauses every fetch until its period_end, then polling goes on."""
    await advance(hass, freezer, summary_interval(loaded))
    period_end = dt_util.utcnow() + summary_interval(loaded) + timedelta(seconds=40)
    sim.fail_next(1, 429, body=_too_many("minute", period_end), endpoint="summary")
    await advance(hass, freezer, summary_interval(loaded))
    scheduler = loaded.runtime_data.scheduler
    assert scheduler.next_run is not None
    assert scheduler.next_run >= period_end.replace(microsecond=0)
    requests = _requests(sim)
    await advance(hass, freezer, timedelta(seconds=30))
    assert _requests(sim) == requests
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE
    await advance(hass, freezer, timedelta(seconds=15))
    assert _requests(sim) == requests + 1
    assert sim.request_log[-1]["status"] == 200


async def test_minute_limit_without_period_end(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A per-minute 429 without period_end waits for the next minute."""
    sim.fail_next(1, 429, body=_too_many("minute"), endpoint="summary")
    await advance(hass, freezer, summary_interval(loaded))
    now = dt_util.utcnow()
    assert loaded.runtime_data.budget.planner.blocked_until(now) == now + timedelta(minutes=1)


async def test_rate_limit_without_period_backs_off(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A 429 with no period is taken as the minute: retried once after it, the month kept.

    Refused again after the minute, it is not our pace: polling backs off (doubling) and the
    month loses only what that refusal shows (the minute's room others used), never half.
    """
    planner = loaded.runtime_data.budget.planner
    await past_backfill(hass, freezer, loaded)
    remaining = planner.stats(dt_util.utcnow()).remaining
    sim.fail_next(1, 429, endpoint="summary")
    await advance(hass, freezer, summary_interval(loaded))
    now = dt_util.utcnow()
    assert planner.blocked_until(now) == now + timedelta(minutes=1)
    assert planner.stats(now).remaining == remaining - 1  # the refused request only
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE
    requests = _requests(sim)
    await advance(hass, freezer, timedelta(seconds=30))
    assert _requests(sim) == requests
    # After the minute the summary is fetched again, once, and polling goes on as planned.
    summaries = count(sim, "summary")
    await advance(hass, freezer, timedelta(seconds=31))
    assert count(sim, "summary") == summaries + 1
    assert planner.blocked_until(dt_util.utcnow()) is None
    # Refused at the next summary and again after the minute: a backoff, not a write-off.
    remaining = planner.stats(dt_util.utcnow()).remaining
    sim.fail_next(2, 429, endpoint="summary")
    await advance(hass, freezer, summary_interval(loaded))
    await advance(hass, freezer, timedelta(minutes=1, seconds=1))
    now = dt_util.utcnow()
    assert planner.blocked_until(now) == now + timedelta(minutes=2)
    assert remaining - 2 - 10 <= planner.stats(now).remaining < remaining - 2


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


@pytest.mark.parametrize(
    ("status", "fault", "key", "placeholders", "logged"),
    [
        (503, {}, "update_server_error", {"status": "503"}, "server error (HTTP 503)"),
        (200, {"malformed": True}, "update_malformed_response", None, "could not read"),
        (403, {}, "update_forbidden", None, "plan does not include this data"),
        (422, {}, "update_rejected", {"status": "422"}, "rejected the request (HTTP 422)"),
    ],
    ids=["server_error", "malformed", "forbidden", "rejected"],
)
async def test_update_failure_has_its_own_translation(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    status: int,
    fault: dict[str, bool],
    key: str,
    placeholders: dict[str, str] | None,
    logged: str,
) -> None:
    """Each kind of failed update has its own translated message, data as placeholders.

    Not the client's English sentence: the log shows the translation, and the placeholders
    hold only the HTTP status.
    """
    sim.fail_next(1, status, endpoint="summary", **fault)
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    failure = loaded.runtime_data.system_data[SYSTEM_ID].summary.last_exception
    assert isinstance(failure, UpdateFailed)
    assert failure.translation_domain == DOMAIN
    assert failure.translation_key == key
    assert failure.translation_placeholders == placeholders
    assert logged in caplog.text
    assert "Enphase API" not in str(failure)


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
        "custom_components.enphase_enlighten.runtime.EnphaseClient",
        partial(EnphaseClient, timeout=0.2),
    ):
        await setup_entry(hass, config_entry)
    coordinator = config_entry.runtime_data.system_data[698910067].summary
    sim.set_latency(1.0, "summary")
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    assert isinstance(coordinator.last_exception, UpdateFailed)
    assert coordinator.last_exception.translation_key == "update_cannot_connect"
    assert coordinator.last_exception.translation_placeholders is None
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


@pytest.mark.parametrize(
    "body",
    [
        {"system_id": SYSTEM_ID, "last_report_at": "9999-12-31T23:59:59-05:00"},
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["time_out_of_range", "deeply_nested"],
)
async def test_odd_summary_backs_off(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    body: object,
) -> None:
    """An answer no model expected is one failed request, then a wait, not a retry storm."""
    await past_backfill(hass, freezer, loaded)
    sim.fail_next(1_000, 200, body=body, endpoint="summary")
    await advance(hass, freezer, summary_interval(loaded))
    failed = count(sim, "summary")
    assert sim.request_log[-1]["endpoint"] == "summary"
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    # Ten minutes of timer ticks: the failure waits at least two minutes, and longer after.
    for _ in range(120):
        await advance(hass, freezer, timedelta(seconds=5))
    assert count(sim, "summary") - failed <= 3
    assert not [e for e in sim.request_log if e["status"] == 429]
    sim.faults.clear()
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE


async def test_token_endpoint_answers_garbage(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A 200 from the token endpoint that is not JSON (no Enphase error type at all): the
    fetches wait like after any failure, instead of asking again every few seconds."""
    hass.config_entries.async_update_entry(
        loaded, data={**loaded.data, "token": {**loaded.data["token"], "expires_at": 0}}
    )
    sim.fail_next(1_000, 200, endpoint="token", malformed=True)
    await advance(hass, freezer, summary_interval(loaded))
    assert count(sim, "token") >= 1
    for _ in range(120):
        await advance(hass, freezer, timedelta(seconds=5))
    assert count(sim, "token") <= 10
    sim.faults.clear()
    await advance(hass, freezer, summary_interval(loaded))
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE
