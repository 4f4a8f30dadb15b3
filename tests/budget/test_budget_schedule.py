"""What the planner fetches and when: daylight, uploads, cellular, batteries, slow tasks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from budget_fakes import LA, MIDNIGHT, NOON, Summary, count, home

from custom_components.enphase_enlighten.budget import (
    UPLOAD_LAG,
    PlanLimits,
    RequestPlanner,
    SolarDaylight,
    SystemProfile,
    Task,
    TaskKind,
    known_timezone,
    timezone_daylight,
    with_fallback_zone,
)


def first_round(planner: RequestPlanner, now: datetime, report: datetime) -> None:
    """Run everything due once, as a coordinator would."""
    for task in planner.due(now):
        count(planner, now, endpoint=task.kind.value)
        if task.kind is TaskKind.SUMMARY and task.system_id is not None:
            planner.record_summary(task.system_id, Summary(report), now)
        planner.record_done(task, now)


def summary_when(planner: RequestPlanner, now: datetime, system_id: int = 1) -> datetime:
    return next(
        when
        for task, when in planner.next_due(now)
        if task.kind is TaskKind.SUMMARY and task.system_id == system_id
    )


def test_everything_is_due_on_first_start(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    kinds = [task.kind for task in planner.due(NOON)]
    assert kinds == [
        TaskKind.SUMMARY,
        TaskKind.ALARMS,
        TaskKind.DEVICES,
        TaskKind.SYSTEMS,
        TaskKind.EVENT_TYPES,
    ]
    assert Task(TaskKind.SYSTEMS, "e").key == "systems:e:"


def test_daylight_polls_land_just_after_the_next_uploads(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    report = NOON - timedelta(minutes=4, seconds=30)  # uploads at :55:30, :10:30, ...
    first_round(planner, NOON, report)
    when = summary_when(planner, NOON)
    assert when > NOON
    # Aligned on the upload grid, just after an upload: never on a fixed clock.
    offset = (when - UPLOAD_LAG - report) % timedelta(minutes=15)
    assert offset == timedelta(0)
    # One home on Watt: about every half hour in daylight.
    # Half the month left and its whole budget: polls every 15-30 minutes.
    assert timedelta(minutes=10) <= when - NOON <= timedelta(minutes=31)
    assert planner.is_daylight(1, NOON)
    assert not planner.is_daylight(99, NOON)


def test_night_polls_are_rare_without_a_battery(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    first_round(planner, MIDNIGHT, MIDNIGHT - timedelta(minutes=3))
    assert not planner.is_daylight(1, MIDNIGHT)
    when = summary_when(planner, MIDNIGHT)
    # Next poll comes with the first upload after sunrise (about 05:50 local in June).
    sunrise = SolarDaylight(38.4, -122.8).sun_times(date(2026, 6, 15))[0]
    assert sunrise - timedelta(minutes=15) <= when <= sunrise + timedelta(minutes=30)
    assert when - MIDNIGHT > timedelta(hours=5)


def test_night_polls_continue_with_a_battery(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1, has_battery=True)])
    first_round(planner, MIDNIGHT, MIDNIGHT - timedelta(minutes=3))
    when = summary_when(planner, MIDNIGHT)
    # A real night poll, before sunrise, a few hours apart on Watt.
    assert when < SolarDaylight(38.4, -122.8).sun_times(date(2026, 6, 15))[0]
    assert timedelta(hours=1) <= when - MIDNIGHT <= timedelta(hours=4)


def test_a_battery_is_learned_from_the_summary(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    for task in planner.due(MIDNIGHT):
        if task.kind is TaskKind.SUMMARY:
            planner.record_summary(1, Summary(MIDNIGHT, battery_capacity_wh=10_000), MIDNIGHT)
        planner.record_done(task, MIDNIGHT)
    assert summary_when(planner, MIDNIGHT) - MIDNIGHT <= timedelta(hours=4)


def test_cellular_gateway_is_polled_after_its_uploads(watt: PlanLimits) -> None:
    planner = RequestPlanner(PlanLimits.for_plan("kilowatt"))
    planner.set_systems("e", [home(1, cellular=True)])
    first = NOON - timedelta(hours=1)
    report = first - timedelta(minutes=10)
    first_round(planner, first, report)
    # Until learned, the default cadence (3 h) applies.
    when = summary_when(planner, first)
    assert when == report + timedelta(hours=3) + UPLOAD_LAG
    # Reports 6 h apart: the cadence is learned and polls follow it.
    later = report + timedelta(hours=6)
    planner.record_summary(1, Summary(later), when)
    planner.record_done(Task(TaskKind.SUMMARY, "e", 1), when)
    assert summary_when(planner, when) == later + timedelta(hours=6) + UPLOAD_LAG


def test_broadband_polls_not_more_often_than_uploads() -> None:
    planner = RequestPlanner(PlanLimits.for_plan("partner"))
    planner.set_systems("e", [home(1)])
    report = NOON - timedelta(minutes=1)
    first_round(planner, NOON, report)
    assert summary_when(planner, NOON) == report + timedelta(minutes=15) + UPLOAD_LAG


def test_a_silent_gateway_is_polled_less(watt: PlanLimits) -> None:
    planner = RequestPlanner(PlanLimits.for_plan("kilowatt"))
    planner.set_systems("e", [home(1)])
    report = NOON - timedelta(minutes=1)
    first_round(planner, NOON, report)
    now = summary_when(planner, NOON)
    gaps = []
    for _ in range(4):
        planner.record_summary(1, Summary(report), now)  # no new upload
        planner.record_done(Task(TaskKind.SUMMARY, "e", 1), now)
        nxt = summary_when(planner, now)
        gaps.append(nxt - now)
        now = nxt
    assert gaps == sorted(gaps)
    assert gaps[-1] >= timedelta(hours=2)
    # Back to normal as soon as it reports again.
    planner.record_summary(1, Summary(now - timedelta(minutes=1)), now)
    planner.record_done(Task(TaskKind.SUMMARY, "e", 1), now)
    assert summary_when(planner, now) - now <= timedelta(minutes=16)


def test_slow_tasks_run_weekly_on_watt_daily_on_bigger_plans(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    first_round(planner, NOON, NOON)
    due = dict(planner.next_due(NOON))
    # The inventory's 1% of Watt: devices and the systems list about weekly.
    assert timedelta(days=5) <= due[Task(TaskKind.DEVICES, "e", 1)] - NOON <= timedelta(days=7)
    assert timedelta(days=5) <= due[Task(TaskKind.SYSTEMS, "e")] - NOON <= timedelta(days=7)
    assert due[Task(TaskKind.EVENT_TYPES, "e")] - NOON >= timedelta(days=28)
    # Alarms: as often as 9% of the plan allows (what the inventory left), within [15 min, 1 day].
    alarms = due[Task(TaskKind.ALARMS, "e", 1)] - NOON
    assert timedelta(hours=6) <= alarms <= timedelta(hours=9)
    # A bigger plan polls alarms far more often, and the inventory daily.
    big = RequestPlanner(PlanLimits.for_plan("kilowatt"))
    big.set_systems("e", [home(1)])
    first_round(big, NOON, NOON)
    big_due = dict(big.next_due(NOON))
    assert big_due[Task(TaskKind.ALARMS, "e", 1)] - NOON <= timedelta(minutes=30)
    assert big_due[Task(TaskKind.DEVICES, "e", 1)] - NOON == timedelta(days=1)


def test_a_status_change_fetches_alarms_at_once(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    first_round(planner, NOON, NOON)
    later = NOON + timedelta(minutes=30)
    planner.record_summary(1, Summary(later, status="micro"), later)
    assert Task(TaskKind.ALARMS, "e", 1) in planner.due(later)
    planner.record_done(Task(TaskKind.ALARMS, "e", 1), later)
    assert Task(TaskKind.ALARMS, "e", 1) not in planner.due(later)
    planner.record_summary(12345, Summary(later), later)  # unknown system: ignored


def test_failed_task_is_retried_later_not_at_once(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    task = Task(TaskKind.DEVICES, "e", 1)
    planner.record_failure(task, NOON)
    assert dict(planner.next_due(NOON))[task] == NOON + timedelta(minutes=2)
    planner.record_done(task, NOON)
    planner.record_failure(task, NOON + timedelta(minutes=30))
    # A retry never comes before the task's normal schedule.
    retry = dict(planner.next_due(NOON + timedelta(minutes=30)))[task]
    assert retry >= NOON + timedelta(hours=23)
    summary = Task(TaskKind.SUMMARY, "e", 1)
    planner.record_failure(summary, NOON)
    assert summary not in planner.due(NOON + timedelta(minutes=1))


def test_systems_can_be_replaced_and_removed(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1), home(2)])
    planner.set_systems("e", [home(2, has_battery=True)])
    assert {task.system_id for task, _ in planner.next_due(NOON)} == {2, None}
    planner.remove_owner("e")
    assert planner.next_due(NOON) == []
    assert planner.next_wakeup(NOON) is None
    assert planner.next_summary_at(NOON) is None


def test_daylight_sources() -> None:
    sebastopol = SolarDaylight(38.4, -122.8)
    rise, sett = sebastopol.sun_times(date(2026, 6, 21))
    assert (
        datetime(2026, 6, 21, 12, 40, tzinfo=UTC)
        <= rise
        <= datetime(2026, 6, 21, 13, 0, tzinfo=UTC)
    )
    assert timedelta(hours=14, minutes=30) <= sett - rise <= timedelta(hours=15)
    winter = sebastopol.sun_times(date(2026, 12, 21))
    assert timedelta(hours=9) <= winter[1] - winter[0] <= timedelta(hours=10)
    # Polar night and day.
    night = SolarDaylight(78.0, 15.0).sun_times(date(2026, 12, 21))
    assert night[0] == night[1]
    day = SolarDaylight(78.0, 15.0).sun_times(date(2026, 6, 21))
    assert day[1] - day[0] == timedelta(hours=24)
    # Timezone only: the zone's standard meridian, hemisphere from its name.
    guess = timezone_daylight(LA)
    assert guess.longitude == -120.0
    assert guess.latitude == 40.0
    assert timezone_daylight("Australia/Sydney").latitude == -40.0
    assert timezone_daylight("Australia/Sydney").longitude == 150.0
    assert timezone_daylight("Not/AZone") == SolarDaylight(40.0, 0.0)
    assert timezone_daylight(None) == SolarDaylight(40.0, 0.0)


def test_profile_picks_the_best_daylight_source() -> None:
    class Fixed:
        def sun_times(self, day: date) -> tuple[datetime, datetime]:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(hours=6), start + timedelta(hours=18)

    injected = SystemProfile(1, timezone=LA, latitude=1.0, longitude=2.0, daylight=Fixed())
    assert isinstance(injected.daylight_provider(), Fixed)
    assert SystemProfile(1, latitude=1.0, longitude=2.0).daylight_provider() == SolarDaylight(
        1.0, 2.0
    )
    assert SystemProfile(1, timezone=LA).daylight_provider() == timezone_daylight(LA)
    assert str(SystemProfile(1, timezone="Bad/Zone").zone()) == "UTC"
    planner = RequestPlanner(PlanLimits.for_plan("watt"))
    planner.set_systems("e", [SystemProfile(1, daylight=Fixed())])
    assert planner.is_daylight(1, datetime(2026, 6, 15, 12, tzinfo=UTC))
    assert not planner.is_daylight(1, datetime(2026, 6, 15, 20, tzinfo=UTC))


def test_the_last_poll_of_the_day_comes_after_sunset(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    sunset = SolarDaylight(38.4, -122.8).sun_times(date(2026, 6, 15))[1]
    before = sunset - timedelta(minutes=10)
    report = before - timedelta(minutes=2)
    first_round(planner, before, report)
    when = summary_when(planner, before)
    # The first upload after sunset carries the day's last production.
    assert sunset < when <= sunset + timedelta(minutes=15) + UPLOAD_LAG
    assert (when - UPLOAD_LAG - report) % timedelta(minutes=15) == timedelta(0)


def test_guessed_daylight_is_widened_only_on_rich_plans() -> None:
    guess = SystemProfile(1, timezone=LA)  # no location: daylight from the zone
    rise = timezone_daylight(LA).sun_times(date(2026, 6, 15))[0]
    early = rise - timedelta(minutes=20)
    rich = RequestPlanner(PlanLimits.for_plan("kilowatt"))
    rich.set_systems("e", [guess])
    rich.daylight_interval(early)
    assert rich.is_daylight(1, early)
    poor = RequestPlanner(PlanLimits.for_plan("watt"))
    poor.set_systems("e", [SystemProfile(i, timezone=LA) for i in range(1, 4)])
    poor.daylight_interval(early)
    assert not poor.is_daylight(1, early)


def test_battery_nights_get_the_surplus_of_a_rich_plan() -> None:
    planner = RequestPlanner(PlanLimits.for_plan("kilowatt"))
    planner.set_systems("e", [home(1, has_battery=True)])
    first_round(planner, MIDNIGHT, MIDNIGHT - timedelta(minutes=3))
    assert summary_when(planner, MIDNIGHT) - MIDNIGHT <= timedelta(minutes=30)


def test_polar_night_falls_back_to_the_night_interval(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems(
        "e", [SystemProfile(1, timezone="Arctic/Longyearbyen", latitude=78.2, longitude=15.6)]
    )
    winter = datetime(2026, 12, 15, 12, tzinfo=UTC)
    first_round(planner, winter, winter - timedelta(minutes=5))
    assert not planner.is_daylight(1, winter)
    assert summary_when(planner, winter) - winter >= timedelta(hours=11)


def test_microinverters_are_polled_only_when_wanted(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1), home(2, inverters=True)])
    due = planner.due(NOON)
    assert Task(TaskKind.INVERTERS, "e", 2) in due
    assert Task(TaskKind.INVERTERS, "e", 1) not in due
    first_round(planner, NOON, NOON)
    # Watt: a 4% share for one system, at most daily.
    assert timedelta(hours=12) <= planner.inverters_interval(NOON) <= timedelta(days=1)
    rich = RequestPlanner(PlanLimits.for_plan("kilowatt"))
    rich.set_systems("e", [home(1, inverters=True)])
    assert rich.inverters_interval(NOON) == timedelta(minutes=15)
    assert rich.alarm_interval(NOON) == timedelta(minutes=15)


def test_no_poll_in_a_long_winter_night_without_a_battery(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    sunrise, sunset = SolarDaylight(38.4, -122.8).sun_times(date(2026, 12, 16))
    dusk = SolarDaylight(38.4, -122.8).sun_times(date(2026, 12, 15))[1] + timedelta(minutes=20)
    first_round(planner, dusk, dusk - timedelta(minutes=4))
    when = summary_when(planner, dusk)
    assert sunrise < when <= sunrise + timedelta(minutes=31)
    assert sunset > when


def test_one_task_at_a_time_for_coordinators_per_kind(watt: PlanLimits) -> None:
    planner = RequestPlanner(watt)
    planner.set_systems("e", [home(1)])
    summary = Task(TaskKind.SUMMARY, "e", 1)
    assert planner.when_due(summary, NOON) == NOON
    assert planner.may_run(summary, NOON)
    first_round(planner, NOON, NOON - timedelta(minutes=2))
    later = planner.when_due(summary, NOON)
    assert later is not None
    assert later > NOON
    assert not planner.may_run(summary, NOON)
    assert planner.may_run(summary, later)
    assert planner.when_due(Task(TaskKind.SUMMARY, "e", 99), NOON) is None
    assert not planner.may_run(Task(TaskKind.SUMMARY, "other", 1), NOON)
    count(planner, later, 10)  # the minute is full
    assert not planner.may_run(summary, later)


def test_unknown_timezone_falls_back() -> None:
    """An unknown zone takes the fallback's zone and place; a known one is kept as is."""
    known = SystemProfile(1, timezone=LA)
    assert with_fallback_zone(known, "Europe/Paris", 48.9, 2.3) is known
    for unknown in ("US/Pacific-New", "Not/AZone", "", None):
        profile = with_fallback_zone(SystemProfile(1, timezone=unknown), "Europe/Paris", 48.9, 2.3)
        assert str(profile.zone()) == "Europe/Paris"
        assert profile.daylight_provider() == SolarDaylight(48.9, 2.3)
        assert profile.reported_timezone == (unknown or "")
    assert not known_timezone("US/Pacific-New")
    assert known_timezone(LA)
