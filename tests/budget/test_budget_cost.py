"""Tasks that cost more than one request: the minute, the month and the plan count them all."""

from __future__ import annotations

from datetime import timedelta

from budget_fakes import NOON, MemoryStore, count, home

from custom_components.enphase_enlighten.budget import (
    PlanLimits,
    RequestPlanner,
    Task,
    TaskKind,
)

ALARMS = Task(TaskKind.ALARMS, "e", 1)
SUMMARY = Task(TaskKind.SUMMARY, "e", 1)


def planner_with_home(limits: PlanLimits) -> RequestPlanner:
    planner = RequestPlanner(limits)
    planner.set_systems("e", [home(1)])
    return planner


def test_cost_defaults_to_one_and_is_capped_by_the_minute(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    assert planner.cost(ALARMS) == 1
    planner.set_cost(ALARMS, 4)
    assert planner.cost(ALARMS) == 4
    # A run costing more than the whole minute still runs, alone in its minute.
    planner.set_cost(ALARMS, 40)
    assert planner.cost(ALARMS) == watt.per_minute
    planner.set_cost(ALARMS, 1)
    assert planner.cost(ALARMS) == 1


def test_due_counts_the_cost_against_the_minute(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    planner.set_cost(ALARMS, 4)
    # Everything is due at first start and fits: summary 1 + alarms 4 + three more.
    due = planner.due(NOON)
    assert due[:2] == [SUMMARY, ALARMS]
    assert len(due) == 5
    # Alarms costing 8: summary 1 + alarms 8 + devices 1 fill the minute of 10.
    planner.set_cost(ALARMS, 8)
    assert planner.due(NOON) == [SUMMARY, ALARMS, Task(TaskKind.DEVICES, "e", 1)]
    planner.set_cost(ALARMS, 4)
    # With 6 of the minute's 10 requests spent, the summary fits, the alarms (4) do not,
    # and nothing cheaper overtakes them.
    count(planner, NOON, 6)
    assert planner.due(NOON) == [SUMMARY]
    assert planner.may_run(ALARMS, NOON)
    count(planner, NOON, 1)
    assert planner.due(NOON) == [SUMMARY]
    assert not planner.may_run(ALARMS, NOON)
    assert planner.may_run(ALARMS, NOON + timedelta(minutes=1))


def test_next_wakeup_waits_for_room_for_the_whole_cost(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    planner.set_cost(ALARMS, 4)
    for task in planner.due(NOON):
        if task != ALARMS:
            planner.record_done(task, NOON)
    count(planner, NOON, 7)
    # The alarms are due now but need 4 of the minute: the wake-up is when 4 are free.
    assert planner.next_wakeup(NOON, "e") == NOON + timedelta(minutes=1)


def test_month_plan_counts_the_cost(watt: PlanLimits) -> None:
    cheap = planner_with_home(watt)
    costly = planner_with_home(watt)
    costly.set_cost(ALARMS, 3)
    assert costly.projected_month_end(NOON) >= cheap.projected_month_end(NOON)
    # Alarm polls costing three requests leave less for summaries: a longer interval.
    assert costly.daylight_interval(NOON) > cheap.daylight_interval(NOON)
    # The interval follows the cost when it drops back (not a stale cache).
    costly.set_cost(ALARMS, 1)
    assert costly.daylight_interval(NOON) == cheap.daylight_interval(NOON)


def test_month_budget_refuses_a_cost_that_does_not_fit() -> None:
    planner = planner_with_home(PlanLimits(per_minute=50, per_month=100))
    planner.set_cost(ALARMS, 4)
    plannable = planner._plannable_total(NOON)
    count(planner, NOON - timedelta(hours=2), plannable - 2)
    assert ALARMS not in planner.due(NOON)
    assert not planner.may_run(ALARMS, NOON)


def test_costs_forgotten_with_their_owner(watt: PlanLimits) -> None:
    planner = planner_with_home(watt)
    planner.set_cost(ALARMS, 4)
    planner.set_cost(Task(TaskKind.ALARMS, "other", 2), 3)
    planner.remove_owner("e")
    assert planner.cost(ALARMS) == 1
    assert planner.cost(Task(TaskKind.ALARMS, "other", 2)) == 3


async def test_sliding_minute_survives_a_new_planner(watt: PlanLimits) -> None:
    """A config flow's requests (or a reload's) still count in the minute of the next setup."""
    store = MemoryStore()
    planner = RequestPlanner(watt, store)
    count(planner, NOON, 6)
    await planner.async_save()
    again = RequestPlanner(watt, store)
    await again.async_load()
    assert again.minute_room(NOON) == watt.per_minute - 6
    assert again.minute_free_at(NOON, ALARMS) == NOON
    again.set_cost(ALARMS, 5)
    assert again.minute_free_at(NOON, ALARMS) == NOON + timedelta(minutes=1)
    assert again.minute_room(NOON + timedelta(minutes=1)) == watt.per_minute
    # Not a list: ignored.
    broken = RequestPlanner(watt, MemoryStore({**store.data, "minute": "x"}))
    await broken.async_load()
    assert broken.minute_room(NOON) == watt.per_minute
