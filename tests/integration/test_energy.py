"""Lifetime energy never steps backwards, around local midnight and across restarts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.enphase_enlighten.api import Summary
from custom_components.enphase_enlighten.lifetime import LifetimeEnergy, LifetimeEvent

from .conftest import setup_entry

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
LIFETIME = "sensor.sunny_cottage_lifetime_energy"
# Local midnight in Sebastopol, California (PDT, UTC-7), between the 21st and the 22nd.
MIDNIGHT = "2026-06-22T07:00:00+00:00"


def _wh(hass: HomeAssistant) -> float:
    # The state is in kWh (suggested unit); compare in Wh.
    return float(hass.states.get(LIFETIME).state) * 1000


@pytest.mark.parametrize("lag_hours", [0, 3])
async def test_lifetime_never_decreases_across_midnight(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    lag_hours: int,
) -> None:
    """Poll every 15 minutes from 22:00 to 04:00 local, with and without the roll-up lag.

    With a lag, energy_today restarts at midnight while energy_lifetime still misses the
    day that ended: the plain sum drops by a whole day's production. The sensor holds,
    and follows the plain sum again once energy_lifetime catches up.
    """
    freezer.move_to("2026-06-22T05:00:00+00:00")
    await setup_entry(hass, config_entry)
    sim.update_system(SYSTEM_ID, {"lifetime_lag": lag_hours * 3600})
    summary = config_entry.runtime_data.system_data[SYSTEM_ID].summary
    values: list[float] = []
    sums: list[int] = []
    for _ in range(6 * 4):
        freezer.tick(timedelta(minutes=15))
        await summary.async_refresh()
        await hass.async_block_till_done()
        data = summary.data
        assert data is not None
        assert data.energy_lifetime is not None
        sums.append(data.energy_lifetime + (data.energy_today or 0))
        values.append(_wh(hass))
    assert values == sorted(values)
    if lag_hours:
        assert min(sums) < max(sums[: sums.index(min(sums))]), "the plain sum never dropped"
    assert values[-1] == pytest.approx(sums[-1])


async def test_lifetime_restored_after_restart_in_the_lag_window(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A restart between midnight and the roll-up keeps the total of the day before."""
    freezer.move_to("2026-06-22T06:30:00+00:00")
    sim.update_system(SYSTEM_ID, {"lifetime_lag": 3 * 3600})
    await setup_entry(hass, config_entry)
    before = _wh(hass)
    freezer.move_to("2026-06-22T08:00:00+00:00")
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # At night the held summary stands until sunrise: fetch the lagging one now.
    await config_entry.runtime_data.system_data[SYSTEM_ID].summary.async_refresh()
    await hass.async_block_till_done()
    summary = config_entry.runtime_data.system_data[SYSTEM_ID].summary.data
    assert summary is not None
    assert summary.energy_lifetime + (summary.energy_today or 0) < before
    assert _wh(hass) == pytest.approx(before)


async def test_lifetime_restored_from_storage(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Stored data from before a restart that is above what Enphase says now wins."""
    freezer.move_to("2026-06-21T19:00:00+00:00")
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(LIFETIME, "99999"),
                {
                    "native_value": 99_999_000.0,
                    "native_unit_of_measurement": "Wh",
                    "summary_date": "2026-06-21",
                    "base_lifetime": 1,
                    "lifetime_stale": False,
                },
            )
        ],
    )
    await setup_entry(hass, config_entry)
    assert _wh(hass) == pytest.approx(99_999_000.0)


def _summary(day: str, lifetime: int | None, today: int | None) -> Summary:
    return Summary(
        system_id=1,
        energy_lifetime=lifetime,
        energy_today=today,
        summary_date=date.fromisoformat(day),
    )


def test_lifetime_rolled_up_before_the_date_changes() -> None:
    """energy_lifetime takes in the day while summary_date still shows it: no double count."""
    energy = LifetimeEnergy()
    assert energy.update(_summary("2026-06-21", 1000, 500)) == 1500
    # The roll-up ran first: lifetime includes today's 500, today still says 500.
    assert energy.update(_summary("2026-06-21", 1500, 500)) == 1500
    assert energy.update(_summary("2026-06-21", 1500, 520)) == 1520
    assert energy.update(_summary("2026-06-22", 1520, 0)) == 1520
    assert energy.update(_summary("2026-06-22", 1520, 100)) == 1620


def test_lifetime_rolled_up_after_the_date_changes() -> None:
    """energy_today restarts before energy_lifetime takes in the day: hold, then follow."""
    energy = LifetimeEnergy()
    assert energy.update(_summary("2026-06-21", 1000, 500)) == 1500
    assert energy.update(_summary("2026-06-22", 1000, 0)) == 1500
    assert energy.update(_summary("2026-06-22", 1000, 20)) == 1500
    assert energy.update(_summary("2026-06-22", 1500, 30)) == 1530
    assert energy.update(_summary("2026-06-22", 1500, 80)) == 1580


def test_lifetime_placeholders_and_gaps() -> None:
    """No energy_lifetime (a -1 placeholder) keeps the value; no energy_today counts as 0."""
    energy = LifetimeEnergy()
    assert energy.update(_summary("2026-06-21", None, 5)) is None
    assert energy.update(_summary("2026-06-21", 1000, None)) == 1000
    assert energy.update(_summary("2026-06-21", None, 5)) == 1000


async def _refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Fetch the summary now (a minute apart: before the scheduler's own next fetch)."""
    await entry.runtime_data.system_data[SYSTEM_ID].summary.async_refresh()
    await hass.async_block_till_done()


def _glitched(entry: MockConfigEntry, **changes: int) -> dict[str, object]:
    """The last summary Enphase sent, with some fields changed."""
    summary = entry.runtime_data.system_data[SYSTEM_ID].summary.data
    assert summary is not None
    return {**summary.raw, **changes}


async def test_one_glitched_lifetime_is_not_kept(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """energy_lifetime x1000 in one answer: held back, logged, gone at the next read."""
    before = _wh(hass)
    summary = loaded.runtime_data.system_data[SYSTEM_ID].summary.data
    assert summary is not None
    assert summary.energy_lifetime
    sim.fail_next(
        1,
        200,
        body=_glitched(loaded, energy_lifetime=summary.energy_lifetime * 1000),
        endpoint="summary",
    )
    freezer.tick(timedelta(minutes=1))
    await _refresh(hass, loaded)
    assert _wh(hass) == pytest.approx(before)
    assert "more than the system can have produced" in caplog.text
    freezer.tick(timedelta(minutes=1))
    await _refresh(hass, loaded)
    assert before <= _wh(hass) < before + 10_000
    # A restart does not bring the glitch back.
    assert await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done()
    assert before <= _wh(hass) < before + 10_000


async def test_confirmed_jump_is_shown(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """The same jump in three reads in a row is Enphase's real total: shown."""
    summary = loaded.runtime_data.system_data[SYSTEM_ID].summary.data
    assert summary is not None
    assert summary.energy_lifetime
    jumped = summary.energy_lifetime + 50_000_000
    sim.fail_next(3, 200, body=_glitched(loaded, energy_lifetime=jumped), endpoint="summary")
    for _ in range(2):
        freezer.tick(timedelta(minutes=1))
        await _refresh(hass, loaded)
        assert _wh(hass) < jumped
    freezer.tick(timedelta(minutes=1))
    await _refresh(hass, loaded)
    # (energy_lifetime grew within one summary date: today's energy counts as in it.)
    assert _wh(hass) == pytest.approx(jumped)


async def test_confirmed_reset_is_reported(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Enphase's counter back at a low value for good: a repair says so, the total goes on."""
    before = _wh(hass)
    sim.fail_next(
        1, 200, body=_glitched(loaded, energy_lifetime=1_000, energy_today=0), endpoint="summary"
    )
    freezer.tick(timedelta(minutes=1))
    await _refresh(hass, loaded)
    # One low read may be a glitch: nothing reported yet.
    assert _wh(hass) == pytest.approx(before)
    assert not issue_registry.issues
    sim.fail_next(
        2, 200, body=_glitched(loaded, energy_lifetime=1_000, energy_today=500), endpoint="summary"
    )
    for _ in range(2):
        freezer.tick(timedelta(minutes=1))
        await _refresh(hass, loaded)
    assert _wh(hass) == pytest.approx(before)
    (issue,) = issue_registry.issues.values()
    assert issue.translation_key == "lifetime_energy_reset"
    assert issue.translation_placeholders["entity"] == LIFETIME
    # What Enphase counts from now on is added to the total shown.
    sim.fail_next(
        1,
        200,
        body=_glitched(loaded, energy_lifetime=1_000, energy_today=2_500),
        endpoint="summary",
    )
    freezer.tick(timedelta(minutes=1))
    await _refresh(hass, loaded)
    assert _wh(hass) == pytest.approx(before + 2_000)


def _read(energy: LifetimeEnergy, minutes: int, lifetime: int, today: int = 0) -> float | None:
    at = datetime(2026, 6, 21, 12, tzinfo=UTC) + timedelta(minutes=minutes)
    return energy.update(_summary("2026-06-21", lifetime, today), at, 5_000)


def test_implausible_rise_held_until_confirmed() -> None:
    """A 5 kW system cannot add 1 MWh in 15 minutes: held; a normal read clears it."""
    energy = LifetimeEnergy()
    assert _read(energy, 0, 1_000_000) == 1_000_000
    assert _read(energy, 15, 1_000_000_000) == 1_000_000
    assert energy.event is LifetimeEvent.HELD
    assert _read(energy, 30, 1_000_000, 1_000) == 1_001_000
    assert energy.event is None
    # A rise the system can make (5 kW for two hours) is shown at once.
    assert _read(energy, 150, 1_000_000, 11_000) == 1_011_000
    # The same jump three times in a row is believed.
    for minutes in (165, 180):
        assert _read(energy, minutes, 2_000_000) == 1_011_000
    assert _read(energy, 195, 2_000_000) == 2_000_000
    assert energy.event is LifetimeEvent.JUMP_CONFIRMED


def test_rise_without_size_or_time_is_shown() -> None:
    """Without the system's size nothing can be judged: as before, the highest read wins."""
    energy = LifetimeEnergy()
    at = datetime(2026, 6, 21, 12, tzinfo=UTC)
    assert energy.update(_summary("2026-06-21", 1_000, 0), at, None) == 1_000
    assert energy.update(_summary("2026-06-21", 1_000_000, 0), at, None) == 1_000_000


def test_fall_confirmed_is_a_reset() -> None:
    """Three low reads in a row: a reset, and the total goes on from where it was."""
    energy = LifetimeEnergy()
    assert _read(energy, 0, 1_000_000) == 1_000_000
    assert _read(energy, 15, 10_000) == 1_000_000
    assert energy.event is LifetimeEvent.FALL
    assert _read(energy, 30, 1_000_000, 200) == 1_000_200
    assert energy.event is None
    for minutes in (45, 60):
        assert _read(energy, minutes, 10_000) == 1_000_200
    assert _read(energy, 75, 10_000, 100) == 1_000_200
    assert energy.event is LifetimeEvent.RESET
    assert _read(energy, 90, 10_000, 400) == 1_000_500
