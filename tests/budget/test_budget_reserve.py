"""The reserve entries keep for other programs and manual refreshes, and requests counted without an entry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from budget_fakes import NOON, MemoryStore, Record, count, home

from custom_components.enphase_enlighten.budget import (
    PlanLimits,
    PlannerRegistry,
    RequestPlanner,
    Reserve,
    storage_key,
)


def _registry(stores: dict[str, MemoryStore]) -> PlannerRegistry:
    return PlannerRegistry(lambda key: stores.setdefault(key, MemoryStore()))


async def test_two_entries_keep_the_larger_reserve(watt: PlanLimits) -> None:
    """The key's planner keeps the largest reserve of its entries, not the first one's."""
    registry = _registry({})
    planner = await registry.async_acquire("key", "a", watt, reserve=Reserve(other=100, manual=10))
    assert planner.reserve == Reserve(other=100, manual=10)
    assert await registry.async_acquire("key", "b", watt, reserve=Reserve(other=50, manual=80))
    assert planner.reserve == Reserve(other=100, manual=80)
    # The default manual reserve (3% of 1,000) counts as 30 against an explicit one.
    await registry.async_acquire("key", "c", watt, reserve=Reserve(other=0))
    assert planner.reserve == Reserve(other=100, manual=80)
    # An entry leaving takes its reserve with it.
    await registry.async_release("key", "a")
    assert planner.reserve == Reserve(other=50, manual=80)
    await registry.async_release("key", "b")
    assert planner.reserve == Reserve(other=0)
    assert planner.reserve.manual_for(watt) == 30


async def test_reserve_changed_on_reload(watt: PlanLimits) -> None:
    """A reload (release, then acquire with new options) applies the entry's new reserve."""
    registry = _registry({})
    planner = await registry.async_acquire("key", "a", watt, reserve=Reserve(other=500))
    await registry.async_release("key", "a")
    planner = await registry.async_acquire("key", "a", watt, reserve=Reserve(other=0, manual=5))
    assert planner.reserve == Reserve(other=0, manual=5)


async def test_larger_reserve_plans_fewer_requests(watt: PlanLimits) -> None:
    """A reserve acquired by a second entry slows the shared plan at once."""
    registry = _registry({})
    planner = await registry.async_acquire("key", "a", watt)
    planner.set_systems("a", [home()])
    before = planner.daylight_interval(NOON)
    alarms_before = planner.alarm_interval(NOON)
    await registry.async_acquire("key", "b", watt, reserve=Reserve(other=600))
    later = NOON + timedelta(minutes=15)
    assert planner.daylight_interval(later) > before
    assert planner.alarm_interval(later) > alarms_before
    assert planner.projected_month_end(later) <= 1000 - 600


async def test_requests_without_an_entry_are_saved() -> None:
    """A config flow's requests go into the key's saved count when no entry uses the key."""
    stores: dict[str, MemoryStore] = {}
    registry = _registry(stores)
    records = [Record("systems", 200, NOON.timestamp()), Record("systems", 401, NOON.timestamp())]
    assert await registry.async_record_requests("key", records) is None
    saved = stores[storage_key("key")].data
    assert saved["used"] == 2
    assert saved["by_endpoint"] == {"systems": 2}
    assert "key" not in str({k: v for k, v in saved.items() if k != "by_endpoint"})
    # Added to, not replaced.
    await registry.async_record_requests("key", [Record("search", 200, NOON.timestamp())])
    assert stores[storage_key("key")].data["used"] == 3
    # The entry set up afterwards starts from that count.
    planner = await registry.async_acquire("key", "a", PlanLimits.for_plan("watt"))
    assert planner.used(NOON) == 3


async def test_requests_with_an_entry_go_to_its_planner(watt: PlanLimits) -> None:
    """With the key's planner active, it counts them (per minute too) and saves them."""
    stores: dict[str, MemoryStore] = {}
    registry = _registry(stores)
    planner = await registry.async_acquire("key", "a", watt)
    count(planner, NOON, 2)
    records = [Record("retrieve_system_id", 404, NOON.timestamp())] * 3
    assert await registry.async_record_requests("key", records) is planner
    assert planner.used(NOON) == 5
    assert planner.minute_room(NOON) == 5
    assert stores[storage_key("key")].data["used"] == 5


async def test_flow_counts_and_setup_do_not_interleave(watt: PlanLimits) -> None:
    """A setup loading the count while a flow adds to it loses neither."""
    store = MemoryStore(RequestPlanner(watt).to_dict())
    gate = asyncio.Event()

    class SlowStore(MemoryStore):
        async def async_load(self) -> object:
            await gate.wait()
            return store.data

        async def async_save(self, data: object) -> None:
            store.data = data

    registry = PlannerRegistry(lambda key: SlowStore())
    acquire = asyncio.create_task(registry.async_acquire("key", "a", watt))
    record = asyncio.create_task(
        registry.async_record_requests("key", [Record("systems", 200, NOON.timestamp())])
    )
    await asyncio.sleep(0)
    gate.set()
    planner = await acquire
    assert await record is planner
    assert planner.used(NOON) == 1
