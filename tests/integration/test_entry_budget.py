"""The request budget in Home Assistant: counts, day and night, manual refresh, repair issues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.api import RequestRecord
from custom_components.enphase_enlighten.budget import PlanLimits, storage_key
from custom_components.enphase_enlighten.const import CONF_SYSTEMS, DOMAIN
from custom_components.enphase_enlighten.coordinator import EVENT_TYPES_STORAGE_KEY
from custom_components.enphase_enlighten.entry_budget import PLANNERS
from custom_components.enphase_enlighten.held import HELD_DATA
from custom_components.enphase_enlighten.messages import format_duration
from custom_components.enphase_enlighten.options import plan_limits

from .conftest import API_KEY, entry_data, save_options, setup_entry, until_new_upload
from .test_coordinator import advance

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
NEIGHBOUR_USER = 9000001
NEIGHBOUR_SYSTEM = 698906018
POWER = "sensor.sunny_cottage_current_power"
USED = "sensor.enphase_api_usage_requests_used_this_month"
REMAINING = "sensor.enphase_api_usage_requests_remaining_this_month"
PROJECTED = "sensor.enphase_api_usage_projected_requests_at_month_end"
NEXT_SUMMARY = "sensor.enphase_api_usage_next_summary_update"
# Noon in California on the first of June: a fresh quota month.
JUNE_FIRST_NOON = datetime(2026, 6, 1, 19, tzinfo=UTC)
# Daylight at the small home (Sebastopol, CA) on 1-2 June, in UTC, with a margin.
SUNSET = datetime(2026, 6, 2, 3, 40, tzinfo=UTC)
SUNRISE = datetime(2026, 6, 2, 12, 40, tzinfo=UTC)


def _summaries(sim: Simulator, start: datetime, end: datetime) -> int:
    return sum(
        1
        for entry in sim.request_log
        if entry["endpoint"] == "summary" and start.timestamp() <= entry["time"] < end.timestamp()
    )


async def run_until(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry, end: datetime
) -> None:
    """Let Home Assistant run, waking only when the scheduler does, until ``end``."""
    scheduler = entry.runtime_data.scheduler
    while (now := dt_util.utcnow()) < end:
        wake = scheduler.next_run
        target = end if wake is None or wake > end else wake
        await advance(hass, freezer, max(target - now, timedelta(seconds=1)))


@pytest.fixture
def setup_time() -> str:
    """Set the entry up at noon in California on the first day of a quota month."""
    return JUNE_FIRST_NOON.isoformat()


async def test_sensors_show_the_budget(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Used, remaining, projected month-end use and the next summary update."""
    # The first alarms read: the open alarms and the open events, two of the seven requests.
    assert hass.states.get(USED).state == "7"
    assert hass.states.get(REMAINING).state == "993"
    projected = int(hass.states.get(PROJECTED).state)
    # A whole month ahead: the plan spends the quota, less the manual refresh reserve.
    assert 900 <= projected <= 1000
    next_summary = datetime.fromisoformat(hass.states.get(NEXT_SUMMARY).state)
    assert dt_util.utcnow() < next_summary <= dt_util.utcnow() + timedelta(hours=1)
    assert loaded.runtime_data.scheduler.next_run == next_summary
    await advance(hass, freezer, next_summary - dt_util.utcnow())
    assert hass.states.get(USED).state == "8"
    assert hass.states.get(REMAINING).state == "992"
    assert datetime.fromisoformat(hass.states.get(NEXT_SUMMARY).state) > next_summary


async def test_counts_survive_reload_and_restart(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The count is saved (without the key) and goes on after a reload or a restart."""
    planner = loaded.runtime_data.budget.planner
    now = dt_util.utcnow()
    assert planner.used(now) == 7
    stored = hass_storage[storage_key(API_KEY)]
    assert stored["data"]["used"] == 7
    assert API_KEY not in str(stored)

    # Reload in the next minute, as a user would some time after the setup.
    await advance(hass, freezer, timedelta(minutes=1))
    now = dt_util.utcnow()
    assert await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Everything is fresh: the held answers, the saved alarms and event types stand in for
    # the fetches, and the count goes on where it was.
    assert loaded.runtime_data.budget.planner.used(now) == 7
    assert len(sim.request_log) == 7
    assert EVENT_TYPES_STORAGE_KEY in hass_storage

    # A restart twenty minutes later: nothing in memory, the same storage; the summary is
    # due again (a new upload), and counted on top of the saved count.
    await advance(hass, freezer, timedelta(minutes=20))
    requests = len(sim.request_log)
    now = dt_util.utcnow()
    assert await hass.config_entries.async_unload(loaded.entry_id)
    await hass.async_block_till_done()
    assert not hass.data[PLANNERS]._planners
    assert hass_storage[storage_key(API_KEY)]["data"]["used"] == requests
    del hass.data[PLANNERS]
    hass.data.pop(HELD_DATA)
    assert await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded.runtime_data.budget.planner.used(now) == len(sim.request_log)
    assert [entry["endpoint"] for entry in sim.request_log[requests:]] in ([], ["summary"])
    assert hass.states.get(USED).state == str(len(sim.request_log))


async def test_two_entries_one_key_share_the_count(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Two accounts on one application (API key) share one planner and one count."""
    token = sim.issue_tokens(user_id=NEIGHBOUR_USER)
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Neighbour",
        unique_id=str(token["enl_uid"]),
        data=entry_data(token),
        options={CONF_SYSTEMS: [NEIGHBOUR_SYSTEM]},
    )
    await setup_entry(hass, second)
    first_budget = loaded.runtime_data.budget
    second_budget = second.runtime_data.budget
    assert first_budget.planner is second_budget.planner
    planner = first_budget.planner
    assert sorted(planner.owners) == sorted([loaded.entry_id, second.entry_id])
    # Every request of both entries, in one count (the neighbour's entry found the event
    # types saved by the first).
    used = len(sim.request_log)
    assert used > 6
    assert sum(1 for e in sim.request_log if e["endpoint"] == "event_types") == 1
    assert planner.used(dt_util.utcnow()) == used
    assert hass.states.get(USED).state == str(used)
    assert hass.states.get("sensor.neighbour_api_usage_requests_used_this_month").state == str(used)
    assert [key for key in hass_storage if key.startswith(f"{DOMAIN}.budget")] == [
        storage_key(API_KEY)
    ]
    # Unloading one entry keeps the planner (and its count) for the other.
    assert await hass.config_entries.async_unload(second.entry_id)
    await hass.async_block_till_done()
    assert planner.owners == [loaded.entry_id]
    assert planner.used(dt_util.utcnow()) == used


async def test_day_and_night(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A day in June: summaries follow the uploads in daylight, hardly any at night.

    The old even split fetched a summary every 83 minutes day and night (17 a day) and 30
    requests a day in all; the planner spends about as much, on daylight only.
    """
    end = JUNE_FIRST_NOON + timedelta(days=1)
    await run_until(hass, freezer, loaded, end)
    night = _summaries(sim, SUNSET, SUNRISE)
    day = _summaries(sim, JUNE_FIRST_NOON, SUNSET) + _summaries(sim, SUNRISE, end)
    total = sum(1 for entry in sim.request_log if entry["time"] < end.timestamp())
    assert night <= 1
    assert day >= 20
    # Within the day's share of the month (the start-up fetches included).
    assert total <= 45
    assert all(entry["status"] == 200 for entry in sim.request_log)


@pytest.mark.parametrize("sim_scenario", ["battery_ev_home"])
async def test_cellular_gateway_cadence(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A cellular gateway uploads every few hours: its summary is fetched about as often."""
    end = JUNE_FIRST_NOON + timedelta(days=1)
    await run_until(hass, freezer, loaded, end)
    summaries = _summaries(sim, JUNE_FIRST_NOON, end)
    assert 2 <= summaries <= 10


async def test_manual_refresh_served_within_budget(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """update_entity fetches when the budget allows, and says why not when it does not."""
    assert await async_setup_component(hass, "homeassistant", {})
    await advance(hass, freezer, timedelta(minutes=1))
    until_new_upload(freezer, loaded, SYSTEM_ID)
    requests = len(sim.request_log)
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": POWER}, blocking=True
    )
    assert len(sim.request_log) == requests + 1
    assert sim.request_log[-1]["endpoint"] == "summary"
    assert hass.states.get(USED).state == "8"

    # Someone else used this minute's requests (the planner counts what the client saw)
    # when a new upload can exist.
    until_new_upload(freezer, loaded, SYSTEM_ID)
    planner = loaded.runtime_data.budget.planner
    for _ in range(10):
        planner.record_request(
            RequestRecord("summary", "GET", 200, dt_util.utcnow().timestamp(), 0.1)
        )
    await advance(hass, freezer, timedelta(seconds=15))
    requests = len(sim.request_log)
    caplog.set_level(logging.WARNING)
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": POWER}, blocking=True
    )
    assert len(sim.request_log) == requests
    assert "would exceed the plan's requests per minute" in caplog.text
    assert "Traceback" not in caplog.text
    coordinator = loaded.runtime_data.system_data[SYSTEM_ID].summary
    with pytest.raises(HomeAssistantError) as refused:
        await coordinator.async_manual_refresh()
    assert refused.value.translation_key == "refresh_minute_limit"
    assert "retry_at" in refused.value.translation_placeholders

    await advance(hass, freezer, timedelta(seconds=50))
    until_new_upload(freezer, loaded, SYSTEM_ID)
    requests = len(sim.request_log)
    assert await coordinator.async_manual_refresh()
    await hass.async_block_till_done()
    assert len(sim.request_log) == requests + 1


@pytest.mark.parametrize("sim_scenario", ["installer_28"])
async def test_plan_too_small_issue(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """28 systems on Watt cannot be kept fresh: a repair issue says so and what to do."""
    freezer.move_to(JUNE_FIRST_NOON)
    await setup_entry(hass, config_entry)
    issue_id = f"plan_too_small_{config_entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "plan_too_small"
    placeholders = issue.translation_placeholders
    assert placeholders["systems"] == "28"
    assert 0 < int(placeholders["max_systems"]) < 28
    assert placeholders["interval"].endswith(("h", "min"))
    assert placeholders["limit"] == "2 h"
    # Fewer systems in the options: the entry reloads and the issue goes.
    keep = int(placeholders["max_systems"])
    await save_options(hass, config_entry, {CONF_SYSTEMS: list(sim.system_ids)[:keep]})
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_setup_waits_while_rate_limited(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After a monthly 429, a reload asks nothing until the quota resets.

    With the answers held it loads and shows them; with none held it waits (set-up retry).
    """
    planner = loaded.runtime_data.budget.planner
    until = datetime(2026, 7, 1, tzinfo=UTC)
    planner.record_rate_limit(dt_util.utcnow(), period="month", period_end=until, limit=1000)
    requests = len(sim.request_log)
    await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(sim.request_log) == requests
    assert loaded.state.name == "LOADED"
    assert hass.states.get(POWER).state not in ("unavailable", "unknown")
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"quota_exhausted_{loaded.entry_id}")

    assert await hass.config_entries.async_unload(loaded.entry_id)
    await hass.data.pop(HELD_DATA)[loaded.entry_id].store.async_remove()
    await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(sim.request_log) == requests
    assert loaded.state.name == "SETUP_RETRY"


async def test_inverters_only_while_their_sensors_are_enabled(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """Disabling every microinverter power and energy sensor stops the inverters summary."""
    for entity in er.async_entries_for_config_entry(entity_registry, loaded.entry_id):
        if entity.unique_id.endswith(("_micro_power", "_micro_lifetime_energy")):
            entity_registry.async_update_entity(
                entity.entity_id, disabled_by=er.RegistryEntryDisabler.USER
            )
    await advance(hass, freezer, timedelta(minutes=1))
    assert await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done()
    start = len(sim.request_log)
    await run_until(hass, freezer, loaded, JUNE_FIRST_NOON + timedelta(days=3))
    endpoints = [entry["endpoint"] for entry in sim.request_log[start:]]
    assert "summary" in endpoints
    assert "open_alarms" in endpoints
    assert "inverters_summary" not in endpoints


def test_plan_limits_and_message_durations() -> None:
    """Limits come from the entry's plan (Watt when unusable); durations read naturally."""
    assert plan_limits(MockConfigEntry(domain=DOMAIN, data={"plan": "kilowatt"})) == PlanLimits(
        50, 50_000
    )
    custom = {"plan": "custom", "requests_per_minute": 5, "requests_per_month": 500}
    assert plan_limits(MockConfigEntry(domain=DOMAIN, data=custom)) == PlanLimits(5, 500)
    assert plan_limits(MockConfigEntry(domain=DOMAIN, data={"plan": "custom"})) == PlanLimits(
        10, 1_000
    )
    assert format_duration(timedelta(minutes=45)) == "45 min"
    assert format_duration(timedelta(hours=3)) == "3 h"
    assert format_duration(timedelta(hours=3, minutes=5)) == "3 h 05 min"


@pytest.mark.parametrize(("age", "fetched"), [(timedelta(days=1), 0), (timedelta(days=40), 1)])
async def test_event_types_kept_until_old(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    age: timedelta,
    fetched: int,
) -> None:
    """Saved event types are used until the planner finds them old (30 days)."""
    freezer.move_to(JUNE_FIRST_NOON)
    hass_storage[EVENT_TYPES_STORAGE_KEY] = {
        "version": 1,
        "key": EVENT_TYPES_STORAGE_KEY,
        "data": {
            "fetched_at": (JUNE_FIRST_NOON - age).isoformat(),
            "event_types": [{"event_type_id": 28, "event_name": "Saved name"}],
        },
    }
    await setup_entry(hass, config_entry)
    assert sum(1 for e in sim.request_log if e["endpoint"] == "event_types") == fetched
    names = {t.event_name for t in config_entry.runtime_data.event_types.data.values()}
    assert ("Saved name" in names) is (fetched == 0)


async def test_open_alarm_followed_after_its_first_week(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An alarm still open after a week stays active (the window reaches back to it)."""
    alarm = sim.raise_alarm(SYSTEM_ID)
    coordinator = loaded.runtime_data.system_data[SYSTEM_ID].alarms
    await coordinator.async_refresh()
    assert [a.id for a in coordinator.data] == [alarm["id"]]
    await run_until(hass, freezer, loaded, JUNE_FIRST_NOON + timedelta(days=10))
    assert [a.id for a in coordinator.data] == [alarm["id"]]
    assert coordinator.last_success_at > JUNE_FIRST_NOON + timedelta(days=8)
    sim.clear_alarm(alarm["id"])
    await coordinator.async_refresh()
    assert coordinator.data == []
