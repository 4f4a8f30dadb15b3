"""Faults: failed tasks back off, plain 429s, requests counted when sent, absurd pauses, bad stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
import logging
from typing import Any

from budget_fakes import NOON, MemoryStore, Record, count, home
import pytest

from custom_components.enphase_enlighten.budget import (
    BlockPeriod,
    PlanLimits,
    RefreshRefusal,
    RequestPlanner,
    Task,
    TaskKind,
    quota_month,
)
from custom_components.enphase_enlighten.budget.limits import MONTH_MARGIN

JULY = datetime(2026, 7, 1, tzinfo=UTC)


def planner_with_home(limits: PlanLimits, store: MemoryStore | None = None) -> RequestPlanner:
    planner = RequestPlanner(limits, store)
    planner.set_systems("e", [home(1)])
    return planner


def test_a_task_failing_all_day_backs_off_exponentially(watt: PlanLimits) -> None:
    """A devices endpoint answering 500 all day costs about ten requests, not 720."""
    planner = planner_with_home(watt)
    devices = Task(TaskKind.DEVICES, "e", 1)
    now = NOON
    tries: list[datetime] = []
    end = NOON + timedelta(days=1)
    while now < end:
        for task in planner.due(now):
            count(planner, now, endpoint=task.kind)
            if task == devices:
                tries.append(now)
                planner.record_failure(task, now)
            else:
                planner.record_done(task, now)
        now = max(planner.next_wakeup(now) or end, now + timedelta(seconds=1))
    assert 8 <= len(tries) <= 14
    gaps = [later - earlier for earlier, later in pairwise(tries)]
    assert gaps[0] == timedelta(minutes=2)
    assert gaps[1] == timedelta(minutes=4)
    assert max(gaps) == timedelta(hours=6)  # capped
    # A success starts over.
    planner.record_done(devices, now)
    planner.record_failure(devices, now)
    assert planner.retry_at(devices) == now + timedelta(minutes=2)


def test_summaries_back_off_to_an_hour_at_most(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    summary = Task(TaskKind.SUMMARY, "e", 1)
    for _ in range(10):
        planner.record_failure(summary, NOON)
    assert planner.retry_at(summary) == NOON + timedelta(hours=1)


async def test_may_spend_answers_set_up_and_the_backoff_survives_a_restart(
    watt: PlanLimits,
) -> None:
    """Set-up asks before spending: a failing task's backoff says when, across restarts."""
    store = MemoryStore()
    planner = planner_with_home(watt, store)
    systems = Task(TaskKind.SYSTEMS, "e")
    assert planner.may_spend(NOON, 1, systems)
    planner.record_failure(systems, NOON)
    planner.record_failure(systems, NOON)
    decision = planner.may_spend(NOON + timedelta(minutes=1), 1, systems)
    assert not decision
    assert decision.reason is RefreshRefusal.BACKING_OFF
    assert decision.retry_at == NOON + timedelta(minutes=4)
    # Other tasks and callers without a task are not held back by it.
    assert planner.may_spend(NOON, 1)
    await planner.async_save()
    restarted = planner_with_home(watt, store)
    await restarted.async_load()
    assert restarted.may_spend(NOON + timedelta(minutes=1), 1, systems).retry_at == (
        NOON + timedelta(minutes=4)
    )
    restarted.record_failure(systems, NOON + timedelta(minutes=4))  # the third in a row
    assert restarted.retry_at(systems) == NOON + timedelta(minutes=12)
    # The minute and the month say wait too.
    count(restarted, NOON + timedelta(minutes=20), 10)
    assert (
        restarted.may_spend(NOON + timedelta(minutes=20), 1, systems).reason
        is RefreshRefusal.MINUTE_LIMIT
    )


def test_plain_429_is_first_the_minute_then_evidence(watt: PlanLimits) -> None:
    """A 429 without a period waits a minute and costs the month nothing; repeated, a little."""
    planner = planner_with_home(watt)
    remaining = planner.stats(NOON).remaining
    count(planner, NOON, 6, status=429)  # the start-up burst, all refused
    planner.record_rate_limit(NOON, period=None)
    for _ in range(5):  # the burst's other answers: the same event
        planner.record_rate_limit(NOON, period=None)
    assert planner.blocked_until(NOON) == NOON + timedelta(minutes=1)
    assert planner.stats(NOON).block_period is BlockPeriod.MINUTE
    assert planner.can_refresh(NOON).reason is RefreshRefusal.RATE_LIMITED
    assert planner.stats(NOON).remaining == remaining - 6  # the requests made, nothing more
    # After the minute the tasks are tried again; a success ends the episode.
    later = NOON + timedelta(minutes=1)
    assert planner.due(later)
    count(planner, later, 1, status=200)
    planner.record_rate_limit(later + timedelta(minutes=5), period=None)
    assert planner.blocked_until(later + timedelta(minutes=5)) == later + timedelta(minutes=6)
    assert planner.stats(later).remaining == remaining - 7


def test_repeated_plain_429s_with_our_minute_empty_write_off_what_they_show(
    watt: PlanLimits,
) -> None:
    planner = planner_with_home(watt)
    remaining = planner.stats(NOON).remaining
    now = NOON
    count(planner, now, 1, status=429)
    planner.record_rate_limit(now, period=None)  # taken as the minute
    assert planner.stats(now).remaining == remaining - 1
    waits = []
    for _ in range(8):
        now = planner.blocked_until(now) or now
        count(planner, now, 1, status=429)  # the retry, alone in our minute
        planner.record_rate_limit(now, period=None)
        waits.append((planner.blocked_until(now) or now) - now)
    assert waits[:4] == [timedelta(minutes=m) for m in (2, 4, 8, 16)]
    assert waits[-1] == timedelta(hours=1)  # capped
    # Each refused minute showed nine requests of someone else's: written off, never half.
    shown = remaining - 9 - 8 * (watt.per_minute - 1)
    assert planner.stats(now).remaining == shown
    assert planner.stats(now).block_period is BlockPeriod.BACKOFF


def test_plain_429_after_our_own_full_minute_shows_nothing(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    remaining = planner.stats(NOON).remaining
    planner.record_rate_limit(NOON, period=None)
    later = NOON + timedelta(minutes=1)
    count(planner, later, 10, status=429)  # our own pace filled the minute
    planner.record_rate_limit(later, period=None)
    assert planner.stats(later).remaining == remaining - 10


def test_requests_join_the_minute_when_sent(watt: PlanLimits) -> None:
    """Counted at sending; the answer, reported later, is not counted twice."""
    planner = planner_with_home(watt)
    records = [Record("summary", None, NOON.timestamp() + i / 10) for i in range(4)]
    for record in records:
        planner.record_sent(record)
    assert planner.minute_room(NOON + timedelta(seconds=1)) == 6
    assert planner.used(NOON) == 4
    for record in records:
        planner.record_request(Record(record.endpoint, 200, record.started_at))
    assert planner.used(NOON) == 4
    assert planner.minute_room(NOON + timedelta(seconds=1)) == 6
    assert planner.endpoint_counts == {"summary": 4}
    # A request only reported after its answer (a config flow) still counts once.
    planner.record_request(Record("systems", 200, NOON.timestamp()))
    assert planner.used(NOON) == 5


def test_reservations_take_the_room_before_sending(watt: PlanLimits) -> None:
    """Thirty refreshes at once: ten get the minute's room, twenty are refused."""
    planner = planner_with_home(watt)
    reservations = [planner.reserve_refresh(NOON, 1) for _ in range(30)]
    granted = [reservation for reservation in reservations if reservation]
    assert len(granted) == 10
    refused = [reservation for reservation in reservations if not reservation]
    assert {r.decision.reason for r in refused} == {RefreshRefusal.MINUTE_LIMIT}
    assert planner.used(NOON) == 10
    # Sending inside a reservation uses its place, not another one.
    sent_at = NOON.timestamp() + 0.5
    with granted[0]:
        planner.record_sent(Record("summary", None, sent_at))
        planner.record_done(Task(TaskKind.SUMMARY, "e", 1), NOON)
    assert granted[0].done == 1
    assert planner.used(NOON) == 10
    # Unsent reservations are given back on leaving.
    for reservation in granted[1:]:
        with reservation:
            pass
    assert planner.used(NOON) == 1
    assert planner.minute_room(NOON + timedelta(seconds=1)) == 9
    planner.record_request(Record("summary", 200, sent_at))
    assert planner.used(NOON) == 1


def test_two_entries_starting_together_share_the_minute(watt: PlanLimits) -> None:
    """The first entry's run holds its tasks' room; the second sees only what is left."""
    planner = RequestPlanner(watt)
    planner.set_systems("a", [home(1), home(2)])
    planner.set_systems("b", [home(3), home(4)])
    first = planner.due(NOON, "a")
    hold = planner.hold(NOON, sum(planner.cost(task) for task in first))
    second = planner.due(NOON, "b")
    assert len(first) + len(second) <= watt.per_minute
    with hold:
        pass


def test_month_429_just_after_our_month_change_blocks_minutes_not_a_month(
    watt: PlanLimits,
) -> None:
    """Home Assistant's clock 5 minutes ahead: Enphase's June ended by its clock, not ours."""
    planner = planner_with_home(watt)
    count(planner, JULY - timedelta(days=1), 990)
    now = JULY + timedelta(minutes=2)
    planner.record_rate_limit(
        now, period="month", period_end=JULY - timedelta(minutes=3), limit=1000
    )
    assert planner.month_exhausted(now) == now + MONTH_MARGIN
    # June's count says nothing of July's.
    assert planner.stats(now).remaining == 1000
    later = now + MONTH_MARGIN
    assert planner.blocked_until(later) is None
    assert planner.due(later)


def test_a_spent_month_waits_for_enphase_clock_at_the_month_change(watt: PlanLimits) -> None:
    """Our month turned; Enphase's may not have yet: a spent month's end waits a margin."""
    spent = planner_with_home(watt)
    count(spent, JULY - timedelta(hours=2), 995)
    now = JULY + timedelta(minutes=2)
    assert spent.due(now) == []
    assert spent.blocked_until(now) == JULY + MONTH_MARGIN
    assert spent.due(JULY + MONTH_MARGIN)
    # Not spent: the new month starts at once.
    fresh = planner_with_home(watt)
    count(fresh, JULY - timedelta(hours=2), 900)
    assert fresh.due(now)


def test_a_new_month_clears_a_monthly_block(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    june = JULY - timedelta(hours=1)
    planner.record_rate_limit(june, period="month", period_end=JULY, limit=1000)
    assert planner.month_exhausted(june) == JULY
    # A block from an earlier version ending with the next month is cut at our month change.
    planner._blocked_until = datetime(2026, 8, 1, tzinfo=UTC)
    assert planner.blocked_until(JULY + timedelta(minutes=1)) == JULY + MONTH_MARGIN
    assert planner.blocked_until(JULY + MONTH_MARGIN) is None


def test_absurd_pause_ends_are_capped_and_logged_once(
    watt: PlanLimits, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    planner = planner_with_home(watt)
    far = datetime(2099, 1, 1, tzinfo=UTC)
    planner.record_rate_limit(NOON, period="month", period_end=far, limit=5)
    assert planner.month_exhausted(NOON) == quota_month(NOON)[1] + MONTH_MARGIN
    planner.record_rate_limit(NOON, period="month", period_end=far, limit=5)
    assert caplog.text.count("cannot be right") == 1
    # A per-minute 429 hours away (clock skew): a couple of minutes at most.
    other = planner_with_home(watt)
    other.record_rate_limit(NOON, period="minute", period_end=NOON + timedelta(hours=5))
    assert other.blocked_until(NOON) == NOON + timedelta(minutes=2)


@pytest.mark.parametrize(
    "data",
    [
        "garbage",
        ["a", "list"],
        {"month_start": "not a date", "used": 12},
        {"month_start": "2026-06-01T00:00:00", "used": "12", "unaccounted": "a lot"},
        {
            "month_start": "2026-06-01T00:00:00+00:00",
            "used": -4,
            "by_endpoint": ["summary"],
            "minute": [1e309, "x", None],
            "blocked_until": "2099-01-01T00:00:00",
            "block_period": "forever",
            "last_done": {"devices:e:1": 7, "systems:e:": "2026-06-15T18:00:00"},
            "retry_at": "soon",
            "failures": {"devices:e:1": "many"},
        },
        {
            "month_start": "2026-06-01",
            "used": True,
            "blocked_until": "2099-01-01T00:00:00",
            "block_period": "month",
            "minute": [NOON.timestamp() + 86400],
            "last_done": {"devices:e:1": "2099-01-01T00:00:00+00:00"},
        },
    ],
)
async def test_bad_saved_counts_load_with_defaults(
    watt: PlanLimits, data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Old or hand-edited counts never stop the planner: bad parts dropped, with a warning."""
    caplog.set_level(logging.WARNING)
    planner = planner_with_home(watt, MemoryStore(data))
    await planner.async_load()
    assert "Enphase request counts" in caplog.text or "cannot be right" in caplog.text
    assert 0 <= planner.used(NOON) <= 1
    # Polling goes on: nothing is paused beyond our own month, the minute is free.
    blocked = planner.blocked_until(NOON)
    assert blocked is None or blocked <= quota_month(NOON)[1] + MONTH_MARGIN
    assert planner.minute_room(NOON) == watt.per_minute
    assert any(when <= quota_month(NOON)[1] + MONTH_MARGIN for _, when in planner.next_due(NOON))
    await planner.async_save()
