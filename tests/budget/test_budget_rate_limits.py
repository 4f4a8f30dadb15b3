"""429 handling, the per-minute window and manual refreshes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from budget_fakes import NOON, MemoryStore, count, home

from custom_components.enphase_enlighten.budget import (
    BlockPeriod,
    PlanLimits,
    RefreshRefusal,
    RequestPlanner,
    Reserve,
    quota_month,
)
from custom_components.enphase_enlighten.budget.limits import MONTH_MARGIN


def planner_with_home(limits: PlanLimits, **kwargs: object) -> RequestPlanner:
    planner = RequestPlanner(limits, **kwargs)  # type: ignore[arg-type]
    planner.set_systems("e", [home(1)])
    return planner


def test_minute_429_waits_until_period_end(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    end = NOON + timedelta(seconds=42)
    planner.record_rate_limit(NOON, period="minute", period_end=end, limit=10)
    assert planner.blocked_until(NOON) == end
    assert all(when >= end for _, when in planner.next_due(NOON))
    assert planner.due(NOON) == []
    assert planner.next_wakeup(NOON) == end
    decision = planner.can_refresh(NOON)
    assert not decision
    assert decision.reason is RefreshRefusal.RATE_LIMITED
    assert decision.retry_at == end
    # After the period everything is due again.
    assert planner.blocked_until(end) is None
    assert planner.due(end)
    assert planner.month_exhausted(end) is None


def test_minute_429_without_end_waits_a_minute(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    planner.record_rate_limit(NOON, period="minute")
    assert planner.blocked_until(NOON) == NOON + timedelta(minutes=1)
    # A period_end already past is no use either.
    planner.record_rate_limit(NOON, period="minute", period_end=NOON - timedelta(seconds=5))
    assert planner.blocked_until(NOON) == NOON + timedelta(minutes=1)


async def test_month_429_stops_everything_until_period_end(watt: PlanLimits) -> None:
    store = MemoryStore()
    planner = planner_with_home(watt, store=store)
    count(planner, NOON, 100)
    _, month_end = quota_month(NOON)
    planner.record_rate_limit(NOON, period="month", period_end=month_end, limit=1000)
    assert planner.month_exhausted(NOON) == month_end
    assert all(when >= month_end for _, when in planner.next_due(NOON))
    assert planner.can_refresh(NOON).reason is RefreshRefusal.QUOTA_EXHAUSTED
    # The key's real use was 1000: remaining is re-learned from the limit.
    assert planner.stats(NOON).remaining == 0
    # A minute 429 later does not shorten the month pause.
    planner.record_rate_limit(NOON, period="minute", period_end=NOON + timedelta(minutes=1))
    assert planner.month_exhausted(NOON) == month_end
    # The pause survives a restart.
    await planner.async_save()
    restarted = planner_with_home(watt, store=store)
    await restarted.async_load()
    assert restarted.month_exhausted(NOON + timedelta(days=1)) == month_end
    # And ends with the month.
    july = month_end + timedelta(minutes=1)
    assert restarted.month_exhausted(july) is None
    assert restarted.used(july) == 0
    assert restarted.due(july)


def test_month_429_without_end_waits_for_month_end(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    planner.record_rate_limit(NOON, period="month")
    # Our month's end, and a margin for Enphase's clock.
    assert planner.month_exhausted(NOON) == quota_month(NOON)[1] + MONTH_MARGIN


def test_sliding_minute_window(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(i) for i in range(1, 13)])
    # 12 systems: first poll wants 12 summaries and more; only 10 fit in a minute.
    due = planner.due(NOON)
    assert len(due) == 10
    for second, task in enumerate(due):
        count(planner, NOON + timedelta(seconds=second))
        planner.record_done(task, NOON + timedelta(seconds=second))
    assert planner.minute_room(NOON + timedelta(seconds=30)) == 0
    assert planner.due(NOON + timedelta(seconds=30)) == []
    # The oldest request leaves the window 60 s after it started.
    assert planner.next_wakeup(NOON + timedelta(seconds=30)) == NOON + timedelta(seconds=60)
    assert planner.minute_room(NOON + timedelta(seconds=61)) == 2
    assert len(planner.due(NOON + timedelta(seconds=61))) == 2


def test_manual_refresh_allowed_then_refused(watt: PlanLimits) -> None:
    planner = planner_with_home(watt, reserve=Reserve(other=100, manual=30))
    decision = planner.can_refresh(NOON, requests=2)
    assert decision.allowed
    assert decision.reason is None
    # The per-minute limit applies to manual refreshes too.
    count(planner, NOON, 9)
    refused = planner.can_refresh(NOON, requests=2)
    assert refused.reason is RefreshRefusal.MINUTE_LIMIT
    assert refused.retry_at == NOON + timedelta(minutes=1)
    # Manual refreshes may use their reserve but never the other uses' reserve.
    later = NOON + timedelta(minutes=5)
    count(planner, later, 1000 - 100 - 9 - 1)
    last_minute = later + timedelta(minutes=5)
    assert planner.can_refresh(last_minute).allowed
    count(planner, last_minute, 1)
    refused = planner.can_refresh(last_minute + timedelta(minutes=5))
    assert refused.reason is RefreshRefusal.BUDGET
    assert refused.retry_at == quota_month(NOON)[1]


def test_automatic_polling_leaves_the_reserve(watt: PlanLimits) -> None:
    planner = planner_with_home(watt, reserve=Reserve(other=200, manual=50))
    now = NOON
    # Automatic polling stops below quota - other - the manual reserve still ahead.
    count(planner, now, 780)
    assert planner.due(now + timedelta(minutes=1)) == []
    assert planner.can_refresh(now + timedelta(minutes=1)).allowed
    # The unused manual reserve is released as the month runs out.
    near_end = quota_month(NOON)[1] - timedelta(hours=3)
    assert planner.due(near_end)
    assert planner.stats(near_end).block_period is None


def test_block_period_values() -> None:
    assert [p.value for p in BlockPeriod] == ["minute", "month", "backoff"]
    assert datetime(2026, 1, 1, tzinfo=UTC)


def test_due_never_overshoots_the_monthly_plan(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt, reserve=Reserve(manual=0))
    planner.set_systems("e", [home(i) for i in range(1, 6)])
    count(planner, NOON - timedelta(hours=1), 998)
    assert len(planner.due(NOON)) == 2
    count(planner, NOON - timedelta(hours=1), 2)
    assert planner.due(NOON) == []
    assert planner.next_wakeup(NOON) == NOON + timedelta(hours=1)  # re-checked hourly


def test_a_refresh_bigger_than_a_minute_is_refused(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    decision = planner.can_refresh(NOON, requests=11)
    assert decision.reason is RefreshRefusal.MINUTE_LIMIT
    assert decision.retry_at == NOON + timedelta(minutes=1)


async def test_naive_timestamps_in_storage_are_utc(watt: PlanLimits) -> None:
    from budget_fakes import MemoryStore as Store

    data = {
        "month_start": "2026-06-01T00:00:00",
        "used": 12,
        "blocked_until": "2026-06-15T19:01:30",
        "block_period": "minute",
    }
    planner = RequestPlanner(watt, Store(data))
    await planner.async_load()
    assert planner.used(NOON) == 12
    assert planner.blocked_until(NOON) == datetime(2026, 6, 15, 19, 1, 30, tzinfo=UTC)
