"""Held answers: a reload or restart starts from the last answers and fetches only what is due."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.alarms import ALARM_MEMORIES
from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.entry_budget import PLANNERS
from custom_components.enphase_enlighten.held import HELD_DATA, HELD_SAVE_DELAY

from .test_coordinator import advance

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
POWER = "sensor.sunny_cottage_current_power"
LIFETIME = "sensor.sunny_cottage_lifetime_energy"
LAST_REPORT = "sensor.sunny_cottage_last_report"
HELD_KEY = f"{DOMAIN}.held"


def states(hass: HomeAssistant) -> dict[str, str]:
    """The integration's entity states by entity id."""
    return {
        state.entity_id: state.state
        for state in hass.states.async_all()
        if state.entity_id.startswith(("sensor.sunny_cottage", "binary_sensor.sunny_cottage"))
    }


async def restart(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    off: timedelta = timedelta(0),
) -> None:
    """Stop (Home Assistant's final write), stay off for ``off``, start from storage alone."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    freezer.tick(off)
    for key in (PLANNERS, ALARM_MEMORIES, HELD_DATA):
        hass.data.pop(key, None)
    assert await hass.config_entries.async_setup(entry.entry_id)


async def test_reload_of_a_fresh_entry_sends_nothing(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A reload minutes after the first fetches asks Enphase nothing, the token included."""
    await advance(hass, freezer, timedelta(minutes=2))
    before = states(hass)
    summary = loaded.runtime_data.system_data[SYSTEM_ID].summary
    fetched_at = summary.last_success_at
    requests = len(sim.request_log)

    assert await hass.config_entries.async_reload(loaded.entry_id)
    # Entities exist at once with the held values, before any background fetch could run.
    assert loaded.state is ConfigEntryState.LOADED
    assert states(hass) == before
    await hass.async_block_till_done(wait_background_tasks=True)

    assert sim.request_log[requests:] == []
    assert states(hass) == before
    summary = loaded.runtime_data.system_data[SYSTEM_ID].summary
    # The held answer keeps its time: the planner and the entities judge its age by it.
    assert summary.last_success_at == fetched_at
    assert hass.states.get(POWER).state not in ("unknown", "unavailable")


async def test_restart_after_minutes_sends_only_what_is_due(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Twenty minutes later a restart fetches the summary (a new upload), nothing else."""
    # Written soon after the answers came (a crash loses at most the last few seconds).
    await advance(hass, freezer, timedelta(seconds=HELD_SAVE_DELAY + 1))
    held = hass_storage[f"{HELD_KEY}.{loaded.entry_id}"]["data"]["answers"]
    assert set(held) == {
        "systems",
        f"summary:{SYSTEM_ID}",
        f"devices:{SYSTEM_ID}",
        f"inverters_summary:{SYSTEM_ID}",
    }
    # No key or token in the held answers.
    assert loaded.data["token"]["access_token"] not in str(held)
    assert loaded.data["api_key"] not in str(held)
    lifetime = hass.states.get(LIFETIME).state
    report = hass.states.get(LAST_REPORT)

    requests = len(sim.request_log)
    await restart(hass, loaded, freezer, timedelta(minutes=20))
    # Before the summary's fetch has run: the held values, with their own report time.
    assert hass.states.get(LIFETIME).state == lifetime
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [entry["endpoint"] for entry in sim.request_log[requests:]] == ["summary"]
    assert hass.states.get(LAST_REPORT).state > report.state

    # And a restart right after that asks nothing at all.
    requests = len(sim.request_log)
    await restart(hass, loaded, freezer, timedelta(minutes=1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sim.request_log[requests:] == []
    assert loaded.state is ConfigEntryState.LOADED


async def test_unreadable_held_answers_are_fetched_again(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A hand-edited store loses nothing: unreadable answers are dropped and fetched again."""
    await advance(hass, freezer, timedelta(minutes=2))
    assert await hass.config_entries.async_unload(loaded.entry_id)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    answers = hass_storage[f"{HELD_KEY}.{loaded.entry_id}"]["data"]["answers"]
    answers[f"summary:{SYSTEM_ID}"] = {"fetched_at": "yesterday", "data": {}}
    answers[f"devices:{SYSTEM_ID}"]["data"] = {"devices": "not a list"}
    for key in (PLANNERS, ALARM_MEMORIES, HELD_DATA):
        hass.data.pop(key, None)
    requests = len(sim.request_log)
    assert await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sorted(entry["endpoint"] for entry in sim.request_log[requests:]) == [
        "devices",
        "summary",
    ]
    assert hass.states.get(POWER).state not in ("unknown", "unavailable")

    # A store that is not ours at all: everything is fetched, nothing crashes.
    assert await hass.config_entries.async_unload(loaded.entry_id)
    await hass.async_block_till_done()
    hass_storage[f"{HELD_KEY}.{loaded.entry_id}"]["data"] = ["garbage"]
    for key in (PLANNERS, ALARM_MEMORIES, HELD_DATA):
        hass.data.pop(key, None)
    await advance(hass, freezer, timedelta(minutes=1))
    assert await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded.state is ConfigEntryState.LOADED


async def test_removed_entry_forgets_its_held_answers(
    hass: HomeAssistant, loaded: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """Deleting the entry deletes its held answers."""
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    assert f"{HELD_KEY}.{loaded.entry_id}" in hass_storage
    assert await hass.config_entries.async_remove(loaded.entry_id)
    await hass.async_block_till_done()
    assert f"{HELD_KEY}.{loaded.entry_id}" not in hass_storage
