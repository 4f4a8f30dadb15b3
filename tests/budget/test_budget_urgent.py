"""Urgent tasks: an alarms read or a summary made due at once, once, for every entry."""

from __future__ import annotations

from datetime import datetime, timedelta

from budget_fakes import MIDNIGHT, NOON, Summary, count, home

from custom_components.enphase_enlighten.budget import PlanLimits, RequestPlanner, Task, TaskKind


def run_all(planner: RequestPlanner, now: datetime) -> None:
    """Run everything due, as the scheduler would."""
    for task in planner.due(now):
        count(planner, now, endpoint=task.kind.value)
        if task.kind is TaskKind.SUMMARY and task.system_id is not None:
            planner.record_summary(task.system_id, Summary(now), now)
        planner.record_done(task, now)


def test_urgent_alarms_for_every_entry_of_the_system(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("a", [home(1)])
    planner.set_systems("b", [home(1), home(2)])
    run_all(planner, NOON)
    later = NOON + timedelta(minutes=5)
    assert not any(task.kind is TaskKind.ALARMS for task in planner.due(later))
    planner.mark_urgent(TaskKind.ALARMS, 1)
    alarms = {task for task in planner.due(later) if task.kind is TaskKind.ALARMS}
    assert alarms == {Task(TaskKind.ALARMS, "a", 1), Task(TaskKind.ALARMS, "b", 1)}
    planner.mark_urgent(TaskKind.ALARMS, 99)  # a system no entry polls: nothing
    assert {t for t in planner.due(later) if t.kind is TaskKind.ALARMS} == alarms


def test_urgent_summary_at_night_once(watt: PlanLimits) -> None:
    """At night (no battery) the summary waits for sunrise, unless made urgent."""
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    run_all(planner, MIDNIGHT)
    task = Task(TaskKind.SUMMARY, "e", 1)
    later = MIDNIGHT + timedelta(minutes=10)
    assert dict(planner.next_due(later))[task] > later + timedelta(hours=3)
    planner.mark_urgent(TaskKind.SUMMARY, 1)
    assert dict(planner.next_due(later))[task] == later
    assert task in planner.due(later)
    planner.record_done(task, later)
    assert dict(planner.next_due(later))[task] > later + timedelta(hours=3)
