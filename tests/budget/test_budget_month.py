"""Whole-month behaviour: never over the quota or the minute limit, stats, repair verdicts."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
import random

from budget_fakes import NOON, Summary, count, home
import pytest

from custom_components.enphase_enlighten.budget import (
    PlanLimits,
    RequestPlanner,
    Reserve,
    SystemProfile,
    TaskKind,
    quota_month,
)

JUNE = datetime(2026, 6, 1, tzinfo=UTC)


def run_month(
    planner: RequestPlanner,
    start: datetime,
    *,
    seed: int,
    manual_per_day: float = 0.0,
    other_per_day: float = 0.0,
) -> dict[str, int]:
    """Drive the planner through a month like a coordinator would; check limits as we go."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not crypto
    _, end = quota_month(start)
    now = start
    window: deque[datetime] = deque()
    sent = 0
    kinds: dict[str, int] = {}

    def send(kind: str) -> None:
        nonlocal sent
        while window and window[0] <= now - timedelta(minutes=1):
            window.popleft()
        window.append(now)
        assert len(window) <= planner.limits.per_minute, "per-minute limit exceeded"
        count(planner, now, endpoint=kind)
        sent += 1
        kinds[kind] = kinds.get(kind, 0) + 1

    while now < end:
        for task in planner.due(now):
            send(task.kind.value)
            if task.kind is TaskKind.SUMMARY and task.system_id is not None:
                phase = (task.system_id * 7919 % 15) * 60
                report = (now.timestamp() - phase) // 900 * 900 + phase
                if rng.random() < 0.02:  # a late upload now and then
                    report -= 900
                planner.record_summary(
                    task.system_id, Summary(datetime.fromtimestamp(report, UTC)), now
                )
            if rng.random() < 0.01:
                planner.record_failure(task, now)
            else:
                planner.record_done(task, now)
        if manual_per_day and rng.random() < manual_per_day / 96:
            systems = len({t.system_id for t, _ in planner.next_due(now) if t.system_id})
            if planner.can_refresh(now, systems):
                for _ in range(systems):
                    send("summary")
        if other_per_day and rng.random() < other_per_day / 96:
            count(planner, now, endpoint="other")  # someone else's use, reported by nobody
        wakeup = planner.next_wakeup(now)
        step = now + timedelta(minutes=15) if wakeup is None else wakeup
        if manual_per_day or other_per_day:
            step = min(step, now + timedelta(minutes=15))
        now = max(step, now + timedelta(seconds=1))
    used = planner.used(end - timedelta(seconds=1))
    assert used <= planner.limits.per_month
    kinds["_used"] = used
    kinds["_sent"] = sent
    return kinds


@pytest.mark.parametrize(
    ("plan", "profiles", "seed"),
    [
        ("watt", [home(1)], 1),
        ("watt", [home(1), home(2), home(3)], 2),
        ("watt", [home(1, has_battery=True)], 3),
        ("watt", [home(i) for i in range(1, 31)], 4),
        ("watt", [home(1, cellular=True), SystemProfile(2, timezone="Australia/Sydney")], 5),
        ("kilowatt", [home(i) for i in range(1, 11)], 6),
    ],
)
def test_a_month_never_exceeds_the_quota(
    plan: str, profiles: list[SystemProfile], seed: int
) -> None:
    planner = RequestPlanner(PlanLimits.for_plan(plan))
    planner.set_systems("e", profiles)
    kinds = run_month(planner, JUNE, seed=seed, manual_per_day=2)
    limits = planner.limits
    if plan == "watt":
        # The budget is spent, not hoarded: at least 90% used by the month's end.
        assert kinds["_used"] >= 0.9 * limits.per_month
        assert kinds["summary"] > kinds.get("alarms", 0)


def test_a_month_starting_mid_month_with_heavy_manual_use(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt, reserve=Reserve(other=100))
    planner.set_systems("e", [home(1), home(2)])
    kinds = run_month(planner, NOON, seed=7, manual_per_day=20, other_per_day=3)
    # What this integration sent (automatic and manual) left the other uses' reserve alone.
    assert kinds["_sent"] <= watt.per_month - 100
    assert kinds["_used"] <= watt.per_month


def test_stats_for_diagnostic_sensors(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    count(planner, NOON, 400)
    stats = planner.stats(NOON)
    assert stats.used == 400
    assert stats.quota == 1000
    assert stats.remaining == 600
    assert stats.month_end == datetime(2026, 7, 1, tzinfo=UTC)
    assert 900 <= stats.projected_month_end <= 1000
    assert stats.next_summary_at == NOON  # never polled: now
    assert stats.blocked_until is None
    assert stats.block_period is None
    assert stats.daylight_interval >= timedelta(minutes=15)
    # A plan with room to spare projects less than the quota.
    big = RequestPlanner(PlanLimits.for_plan("kilowatt"))
    big.set_systems("e", [home(1)])
    assert big.stats(NOON).projected_month_end < 50_000 * 0.5


def test_freshness_verdicts(watt: PlanLimits) -> None:
    one = RequestPlanner(watt)
    one.set_systems("e", [home(1)])
    verdict = one.freshness(NOON)
    assert verdict.ok
    assert verdict.systems == 1
    assert verdict.daylight_interval < timedelta(hours=1)
    assert verdict.max_systems >= 2

    thirty = RequestPlanner(watt)
    thirty.set_systems("e", [home(i) for i in range(30)])
    verdict = thirty.freshness(NOON)
    assert not verdict.ok
    assert verdict.daylight_interval > verdict.limit
    assert 1 <= verdict.max_systems < 30

    kilowatt = RequestPlanner(PlanLimits.for_plan("kilowatt"))
    kilowatt.set_systems("e", [home(i) for i in range(30)])
    assert kilowatt.freshness(NOON).ok

    empty = RequestPlanner(watt)
    assert empty.freshness(NOON).max_systems == 0
    # The verdict judges the plan, not this month's spending so far.
    count(thirty, NOON, 0)
    count(one, NOON, 999)
    assert one.freshness(NOON).ok
