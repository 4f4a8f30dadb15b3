"""Counting requests: persistence, shared keys, month rollover, plan limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json

from budget_fakes import NOON, MemoryStore, count, home
import pytest

from custom_components.enphase_enlighten.budget import (
    PlanLimits,
    PlannerRegistry,
    RequestPlanner,
    Reserve,
    TaskKind,
    quota_month,
    storage_key,
)


def test_plan_limits() -> None:
    assert PlanLimits.for_plan("watt") == PlanLimits(10, 1000)
    assert PlanLimits.for_plan("kilowatt") == PlanLimits(50, 50_000)
    assert PlanLimits.for_plan("watt", per_month=500) == PlanLimits(10, 500)
    assert PlanLimits.for_plan("custom", per_minute=5, per_month=200) == PlanLimits(5, 200)
    with pytest.raises(ValueError, match="explicit"):
        PlanLimits.for_plan("custom", per_minute=5)
    with pytest.raises(ValueError, match="positive"):
        PlanLimits.for_plan("custom", per_minute=0, per_month=10)


def test_quota_month_is_utc_calendar_month() -> None:
    assert quota_month(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    # An aware local time is judged by its UTC instant.
    local = datetime(2026, 7, 1, 1, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("America/Los_Angeles")
    )
    assert quota_month(local)[0] == datetime(2026, 7, 1, tzinfo=UTC)


def test_every_request_counts_success_or_failure(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    count(planner, NOON, 3, status=200)
    count(planner, NOON, 1, status=500)
    count(planner, NOON, 1, status=429)
    count(planner, NOON, 1, status=None)
    assert planner.used(NOON) == 6
    assert planner.endpoint_counts == {"summary": 6}


async def test_counts_survive_a_restart(watt: PlanLimits) -> None:
    store = MemoryStore()
    planner = RequestPlanner(watt, store)
    await planner.async_load()
    count(planner, NOON, 7)
    planner.set_systems("e", [home(1)])
    planner.record_done(planner.due(NOON)[0], NOON)
    assert planner.dirty
    await planner.async_save()
    assert not planner.dirty
    await planner.async_save()  # nothing new: no write
    assert store.saves == 1
    json.dumps(store.data)  # plain JSON for Home Assistant's Store

    restarted = RequestPlanner(watt, store)
    await restarted.async_load()
    assert restarted.used(NOON) == 7
    # Requests counted before the load finished are kept, not overwritten.
    early = RequestPlanner(watt, store)
    count(early, NOON, 2)
    await early.async_load()
    assert early.used(NOON) == 9


async def test_storage_never_holds_the_key() -> None:
    api_key = "secret-api-key-123"
    key = storage_key(api_key)
    assert api_key not in key
    assert key == storage_key(api_key)
    assert key != storage_key("another-key")
    stores: dict[str, MemoryStore] = {}
    registry = PlannerRegistry(lambda k: stores.setdefault(k, MemoryStore()))
    planner = await registry.async_acquire(api_key, "entry1", PlanLimits.for_plan("watt"))
    count(planner, NOON, 2)
    await registry.async_release(api_key, "entry1")
    assert list(stores) == [key]
    assert api_key not in json.dumps(stores[key].data)


async def test_two_entries_with_one_key_share_counts() -> None:
    stores: dict[str, MemoryStore] = {}
    registry = PlannerRegistry(lambda k: stores.setdefault(k, MemoryStore()))
    watt = PlanLimits.for_plan("watt")
    first = await registry.async_acquire("key-a", "entry1", watt)
    second = await registry.async_acquire("key-a", "entry2", PlanLimits(10, 800))
    other = await registry.async_acquire("key-b", "entry3", watt)
    assert first is second
    assert other is not first
    # Entries disagreeing on the plan: the smaller limits win.
    assert first.limits == PlanLimits(10, 800)
    first.set_systems("entry1", [home(1)])
    second.set_systems("entry2", [home(2)])
    count(first, NOON, 3)
    count(second, NOON, 4)
    assert first.used(NOON) == 7
    assert other.used(NOON) == 0
    # Both entries' systems are planned against the one quota.
    owners = {task.owner for task, _ in first.next_due(NOON)}
    assert owners == {"entry1", "entry2"}
    assert all(task.owner == "entry2" for task, _ in first.next_due(NOON, "entry2"))

    await registry.async_release("key-a", "entry1")
    assert first.owners == ["entry2"]
    await registry.async_release("key-a", "entry2")
    await registry.async_release("key-a", "entry2")  # unknown: no-op
    # A restart (new registry, same storage) sees the shared count.
    registry2 = PlannerRegistry(lambda k: stores.setdefault(k, MemoryStore()))
    again = await registry2.async_acquire("key-a", "entry1", watt)
    assert again.used(NOON) == 7


def test_month_rollover_resets_counts(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    end_of_june = datetime(2026, 6, 30, 23, 59, 30, tzinfo=UTC)
    count(planner, end_of_june, 5)
    assert planner.used(end_of_june) == 5
    july = datetime(2026, 7, 1, 0, 0, 30, tzinfo=UTC)
    assert planner.used(july) == 0
    count(planner, july, 2)
    assert planner.used(july) == 2
    assert planner.endpoint_counts == {"summary": 2}
    # A late record from June does not count in July.
    count(planner, end_of_june, 1)
    assert planner.used(july) == 2


async def test_old_month_in_storage_is_ignored(watt: PlanLimits) -> None:
    june = RequestPlanner(watt)
    count(june, NOON, 40)
    store = MemoryStore(june.to_dict())
    july = datetime(2026, 7, 2, tzinfo=UTC)
    planner = RequestPlanner(watt, store)
    count(planner, july, 1)
    await planner.async_load()
    assert planner.used(july) == 1
    # And a fresh planner loading June's data rolls over on first use in July.
    fresh = RequestPlanner(watt, store)
    await fresh.async_load()
    assert fresh.used(july) == 0


async def test_garbage_in_storage_is_ignored(watt: PlanLimits) -> None:
    planner = RequestPlanner(
        watt, MemoryStore({"used": "x", "blocked_until": 5, "last_done": {"a": 1}})
    )
    await planner.async_load()
    assert planner.used(NOON) == 0
    planner2 = RequestPlanner(watt, MemoryStore(["not", "a", "mapping"]))
    await planner2.async_load()
    assert planner2.used(NOON) == 0
    no_store = RequestPlanner(watt)
    await no_store.async_load()
    await no_store.async_save()


async def test_slow_tasks_are_not_rerun_after_a_restart(watt: PlanLimits) -> None:
    store = MemoryStore()
    planner = RequestPlanner(watt, store)
    planner.set_systems("e", [home(1)])
    for task in planner.due(NOON):
        planner.record_done(task, NOON)
    await planner.async_save()
    restarted = RequestPlanner(watt, store)
    await restarted.async_load()
    restarted.set_systems("e", [home(1)])
    later = NOON + timedelta(hours=1)
    due = {task.kind for task in restarted.due(later)}
    assert TaskKind.DEVICES not in due
    assert TaskKind.SYSTEMS not in due
    assert TaskKind.EVENT_TYPES not in due
    assert TaskKind.SUMMARY in due  # summaries are not persisted: a restart refreshes them


def test_reserve_defaults() -> None:
    watt = PlanLimits.for_plan("watt")
    assert Reserve().manual_for(watt) == 30
    assert Reserve(manual=0).manual_for(watt) == 0
    assert Reserve(manual=-3).manual_for(watt) == 0
