"""When the planner fetches telemetry (hourly energy): timed by the sun on Watt, by interval above."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from budget_fakes import home

from custom_components.enphase_enlighten.budget import (
    PlanLimits,
    RequestPlanner,
    SolarDaylight,
    Task,
    TaskKind,
)

JUNE = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)  # local midnight in California
NOVEMBER = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
SUN = SolarDaylight(38.4, -122.8)


def telemetry_planner(limits: PlanLimits, cost: int) -> tuple[RequestPlanner, Task]:
    planner = RequestPlanner(limits)
    planner.set_systems("e", [home(1, daylight=SUN, telemetry=True)])
    task = Task(TaskKind.TELEMETRY, "e", 1)
    planner.set_cost(task, cost)
    return planner, task


def telemetry_when(planner: RequestPlanner, now: datetime) -> datetime:
    return next(when for task, when in planner.next_due(now) if task.kind is TaskKind.TELEMETRY)


def month_of_rounds(planner: RequestPlanner, task: Task, start: datetime) -> list[datetime]:
    """Run the telemetry task whenever it is due, for 30 days; return when it ran."""
    planner.record_done(task, start)
    rounds = []
    now = start
    while now < start + timedelta(days=30):
        now = max(telemetry_when(planner, now), now + timedelta(minutes=1))
        if now >= start + timedelta(days=30):
            break
        planner.record_done(task, now)
        rounds.append(now)
    return rounds


def daylight_waits(rounds: list[datetime], start: datetime) -> list[timedelta]:
    """For every hour that ends in daylight, how long until the next round after its end."""
    waits = []
    for day in range(1, 29):
        local = (start + timedelta(days=day)).astimezone(SUN_ZONE).date()
        rise, sett = SUN.sun_times(local)
        hour_end = rise.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        while hour_end - timedelta(hours=1) < sett:
            after = next(r for r in rounds if r > hour_end)
            waits.append(after - hour_end)
            hour_end += timedelta(hours=1)
    return waits


SUN_ZONE = home(1).zone()


def test_watt_rounds_follow_the_sun_and_end_after_sunset(watt: PlanLimits) -> None:
    # One request a round (a home with production only): about three rounds a day fit.
    planner, task = telemetry_planner(watt, 1)
    rounds = month_of_rounds(planner, task, JUNE)
    per_day = len(rounds) / 30
    assert 2 <= per_day <= 3.2
    # Every day's last round comes with the first upload after the hour holding sunset.
    day = date(2026, 6, 10)
    _, sett = SUN.sun_times(day)
    last = max(r for r in rounds if r.astimezone(SUN_ZONE).date() == day)
    assert sett < last <= sett + timedelta(hours=1, minutes=20)
    # No round at night: the hours after sunset wait for the next day's rounds.
    for moment in rounds:
        rise, sett = SUN.sun_times(moment.astimezone(SUN_ZONE).date())
        assert rise < moment <= sett + timedelta(hours=1, minutes=20)
    # Spread over the daylight: no daylight hour waits longer than the daylight over two
    # (a day with two rounds), far less than a fixed interval's worst.
    assert max(daylight_waits(rounds, JUNE)) <= timedelta(hours=8)


def test_watt_rounds_days_apart_come_at_dusk_and_spend_their_share(watt: PlanLimits) -> None:
    # Five requests a round (meters and a battery): a round every two days or so.
    planner, task = telemetry_planner(watt, 5)
    interval = planner.telemetry_interval(NOVEMBER)
    assert interval > timedelta(days=1)
    rounds = month_of_rounds(planner, task, NOVEMBER)
    expected = timedelta(days=30) / interval
    assert abs(len(rounds) - expected) <= 1.5
    for moment in rounds:
        _, sett = SUN.sun_times(moment.astimezone(SUN_ZONE).date())
        assert sett < moment <= sett + timedelta(hours=1, minutes=20)


def test_a_round_just_run_stands_for_the_slot_near_it(watt: PlanLimits) -> None:
    planner, task = telemetry_planner(watt, 1)
    day = date(2026, 6, 10)
    _, sett = SUN.sun_times(day)
    # The day's last slot, found from a round at sunset.
    planner.record_done(task, sett)
    final = telemetry_when(planner, sett)
    assert sett < final <= sett + timedelta(hours=1, minutes=20)
    # A catch-up minutes before that slot stands for it: the next round is tomorrow.
    planner.record_done(task, final - timedelta(minutes=5))
    nxt = telemetry_when(planner, final)
    assert nxt.astimezone(SUN_ZONE).date() == day + timedelta(days=1)
    # A round two hours before it does not: the slot has the hours since.
    planner.record_done(task, final - timedelta(hours=2))
    assert telemetry_when(planner, final - timedelta(hours=2)) == final
    # A slot missed while Home Assistant was off is due at once.
    assert telemetry_when(planner, sett + timedelta(days=2)) <= sett + timedelta(days=2)


def test_plans_with_room_fetch_at_their_interval_day_and_night() -> None:
    planner, task = telemetry_planner(PlanLimits.for_plan("kilowatt"), 6)
    interval = planner.telemetry_interval(JUNE)
    assert interval < timedelta(hours=1)
    planner.record_done(task, JUNE)  # local midnight
    assert telemetry_when(planner, JUNE) == JUNE + interval


def test_a_first_fetch_and_a_catch_up_run_now(watt: PlanLimits) -> None:
    planner, task = telemetry_planner(watt, 1)
    noon = JUNE + timedelta(days=3, hours=12)
    assert telemetry_when(planner, noon) == noon
    planner.record_done(task, noon)
    assert telemetry_when(planner, noon) > noon
    planner.request_soon(task)
    assert telemetry_when(planner, noon) == noon


def test_a_catch_up_asked_for_within_its_run_stays_due(watt: PlanLimits) -> None:
    planner, task = telemetry_planner(watt, 6)
    noon = JUNE + timedelta(days=3, hours=12)
    # The back-fill's fetch is behind: it asks for another before its run is recorded.
    planner.request_soon(task)
    planner.record_done(task, noon)
    assert telemetry_when(planner, noon) == noon
    # The next run is not behind: done, it waits for its slot again.
    planner.record_done(task, noon + timedelta(minutes=1))
    assert telemetry_when(planner, noon + timedelta(minutes=1)) > noon + timedelta(minutes=1)
    # A failed catch-up retries after its back-off, and a success after it does not repeat.
    planner.request_soon(task)
    planner.record_failure(task, noon + timedelta(minutes=2))
    assert telemetry_when(planner, noon + timedelta(minutes=2)) > noon + timedelta(minutes=2)
    planner.record_done(task, noon + timedelta(minutes=5))
    assert telemetry_when(planner, noon + timedelta(minutes=5)) > noon + timedelta(minutes=5)
