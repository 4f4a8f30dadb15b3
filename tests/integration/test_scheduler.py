"""The scheduler under faults: failing first fetches back off, two entries share the minute."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.budget import Task, TaskKind, storage_key
from custom_components.enphase_enlighten.const import CONF_SYSTEMS, DOMAIN

from .conftest import API_KEY, entry_data, setup_entry
from .test_coordinator import advance
from .test_entry_budget import JUNE_FIRST_NOON, NEIGHBOUR_SYSTEM, NEIGHBOUR_USER, run_until

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067


def _count(sim: Simulator, endpoint: str) -> int:
    return sum(1 for entry in sim.request_log if entry["endpoint"] == endpoint)


async def test_devices_failing_all_day_cost_about_ten_requests(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A devices endpoint answering 500 ("unable to fetch data") from set-up on, for a day.

    The first fetch is owed (its entities wait) but waits for the planner's backoff:
    about ten requests that day, not one every two minutes (720).
    """
    freezer.move_to(JUNE_FIRST_NOON)
    assert await async_setup_component(hass, "homeassistant", {})
    sim.fail_next(100_000, 500, endpoint="devices")
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    await run_until(hass, freezer, config_entry, JUNE_FIRST_NOON + timedelta(days=1))
    devices = _count(sim, "devices")
    assert 8 <= devices <= 14
    planner = config_entry.runtime_data.budget.planner
    task = Task(TaskKind.DEVICES, config_entry.entry_id, SYSTEM_ID)
    assert task in config_entry.runtime_data.scheduler.first_fetch
    retry = planner.retry_at(task)
    assert retry is not None
    assert retry - dt_util.utcnow() <= timedelta(hours=6)
    # Summaries went on all the while.
    assert _count(sim, "summary") > 20
    # When Enphase answers again, the devices come with the next try.
    sim.faults.clear()
    await advance(hass, freezer, retry - dt_util.utcnow() + timedelta(seconds=2))
    assert task not in config_entry.runtime_data.scheduler.first_fetch


async def test_a_first_fetch_owed_waits_for_the_month(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """With the month's automatic budget spent, first fetches owed are not sent anyway."""
    freezer.move_to(JUNE_FIRST_NOON)
    assert await async_setup_component(hass, "homeassistant", {})
    # Counts saved earlier this month: all but what the manual reserve keeps.
    hass_storage[storage_key(API_KEY)] = {
        "version": 1,
        "key": storage_key(API_KEY),
        "data": {"month_start": "2026-06-01T00:00:00+00:00", "used": 975},
    }
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    sent = len(sim.request_log)
    await advance(hass, freezer, timedelta(minutes=10))
    await advance(hass, freezer, timedelta(minutes=10))
    assert len(sim.request_log) == sent
    assert config_entry.runtime_data.scheduler.first_fetch


async def test_two_entries_starting_together_earn_no_429(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Both entries' start-up bursts share one minute on one key: no 429, both load."""
    freezer.move_to(JUNE_FIRST_NOON)
    assert await async_setup_component(hass, "homeassistant", {})
    token = sim.issue_tokens(user_id=NEIGHBOUR_USER)
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Neighbour",
        unique_id=str(token["enl_uid"]),
        data=entry_data(token),
        options={CONF_SYSTEMS: [NEIGHBOUR_SYSTEM]},
    )
    config_entry.add_to_hass(hass)
    second.add_to_hass(hass)
    # As at Home Assistant's start: the integration sets up both entries at once.
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    for _ in range(6):
        await advance(hass, freezer, timedelta(seconds=30))
    log = [(entry["time"], entry["endpoint"], entry["status"]) for entry in sim.request_log]
    statuses = [status for _, _, status in log]
    assert 429 not in statuses, log
    assert len(statuses) > 10  # more than one minute's worth: some had to wait
    assert config_entry.state is ConfigEntryState.LOADED, log
    assert second.state is ConfigEntryState.LOADED, log
    times = sorted(entry["time"] for entry in sim.request_log)
    assert all(sum(1 for t in times if start <= t < start + 60) <= 10 for start in times)


async def test_counts_saved_within_seconds_of_a_request(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A request counts on disk a few seconds after it left, not only after a whole run."""
    freezer.move_to(JUNE_FIRST_NOON)
    assert await async_setup_component(hass, "homeassistant", {})
    await setup_entry(hass, config_entry)
    await advance(hass, freezer, timedelta(minutes=1))
    saved = hass_storage[storage_key(API_KEY)]["data"]["used"]
    client = config_entry.runtime_data.client
    # Requests outside any scheduler run (a crash could follow any of them).
    await client.summary(SYSTEM_ID)
    await client.summary(SYSTEM_ID)
    await advance(hass, freezer, timedelta(seconds=5))
    assert hass_storage[storage_key(API_KEY)]["data"]["used"] == saved + 2
