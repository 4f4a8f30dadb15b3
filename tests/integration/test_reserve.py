"""The request reserve in Home Assistant: set in the options, applied on reload, shared by key."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.budget import Reserve
from custom_components.enphase_enlighten.const import (
    CONF_RESERVE_MANUAL,
    CONF_RESERVE_OTHER,
    CONF_SYSTEMS,
    DOMAIN,
)
from custom_components.enphase_enlighten.diagnostics import async_get_config_entry_diagnostics

from .conftest import entry_data, save_options, setup_entry
from .test_coordinator import advance
from .test_entry_budget import (
    JUNE_FIRST_NOON,
    NEIGHBOUR_SYSTEM,
    NEIGHBOUR_USER,
    PROJECTED,
    run_until,
)

if TYPE_CHECKING:
    from simulator import Simulator

pytestmark = pytest.mark.usefixtures("setup_credentials")


@pytest.fixture
def setup_time() -> str:
    """Set the entry up at noon in California on the first day of a quota month."""
    return JUNE_FIRST_NOON.isoformat()


def _automatic(sim: Simulator, start: int) -> int:
    """Requests to the Enphase API from log position ``start`` on."""
    return sum(1 for entry in sim.request_log[start:] if entry["path"].startswith("/api/v4/"))


async def test_reserve_from_options_after_reload(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """The options flow sets the reserve; the reloaded entry's planner keeps it."""
    planner = loaded.runtime_data.budget.planner
    assert planner.reserve == Reserve()
    assert planner.reserve.manual_for(planner.limits) == 30
    projected = int(hass.states.get(PROJECTED).state)
    # This minute's requests went to the setup; the options flow reads the systems.
    await advance(hass, freezer, timedelta(minutes=1))

    result = await hass.config_entries.options.async_init(loaded.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_SYSTEMS: [str(system_id) for system_id in sim.system_ids],
            "reserve": {CONF_RESERVE_OTHER: 400, CONF_RESERVE_MANUAL: 100},
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded.state is ConfigEntryState.LOADED
    planner = loaded.runtime_data.budget.planner
    assert planner.reserve == Reserve(other=400, manual=100)
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded)
    assert diagnostics["budget"]["reserve"] == {"other": 400, "manual": 100}
    # The plan now stops short of the reserve.
    now = dt_util.utcnow()
    assert planner.projected_month_end(now) <= 1000 - 400 - 100 + planner.used(now)
    assert int(hass.states.get(PROJECTED).state) < projected - 400


async def test_two_entries_keep_the_larger_reserve(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Two entries on one key: the shared planner keeps the larger reserve, whichever came first."""
    # Each (re)load below waits for a fresh minute of requests.
    await advance(hass, freezer, timedelta(minutes=1))
    await save_options(
        hass, loaded, {**loaded.options, CONF_RESERVE_OTHER: 100, CONF_RESERVE_MANUAL: 10}
    )
    assert loaded.state is ConfigEntryState.LOADED
    assert loaded.runtime_data.budget.planner.reserve == Reserve(other=100, manual=10)
    await advance(hass, freezer, timedelta(minutes=1))
    token = sim.issue_tokens(user_id=NEIGHBOUR_USER)
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Neighbour",
        unique_id=str(token["enl_uid"]),
        data=entry_data(token),
        options={CONF_SYSTEMS: [NEIGHBOUR_SYSTEM], CONF_RESERVE_OTHER: 50},
    )
    await setup_entry(hass, second)
    planner = loaded.runtime_data.budget.planner
    assert second.runtime_data.budget.planner is planner
    # Other programs: 100 (first) over 50; manual: the second's default 30 over 10.
    assert planner.reserve == Reserve(other=100, manual=30)
    for entry in (loaded, second):
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        assert diagnostics["budget"]["reserve"] == {"other": 100, "manual": 30}
    # The second entry leaves: the first one's own reserve is back.
    assert await hass.config_entries.async_unload(second.entry_id)
    await hass.async_block_till_done()
    assert planner.reserve == Reserve(other=100, manual=10)


async def test_large_reserve_means_fewer_automatic_requests(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A simulated day with 700 requests a month kept for other programs polls far less."""
    start = len(sim.request_log)
    day_one_end = JUNE_FIRST_NOON + timedelta(days=1)
    await run_until(hass, freezer, loaded, day_one_end)
    without_reserve = _automatic(sim, start)

    start = len(sim.request_log)
    await save_options(hass, loaded, {**loaded.options, CONF_RESERVE_OTHER: 700})
    assert loaded.runtime_data.budget.planner.reserve == Reserve(other=700)
    await run_until(hass, freezer, loaded, day_one_end + timedelta(days=1))
    # The reload's own start-up requests are in this day's count.
    with_reserve = _automatic(sim, start)

    assert without_reserve >= 25
    assert with_reserve <= without_reserve / 2
    assert all(entry["status"] == 200 for entry in sim.request_log)
