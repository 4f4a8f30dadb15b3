"""The request planner: which task of which entry runs next, and when, within the plan."""

from __future__ import annotations

from datetime import datetime, timedelta
import math
from typing import TYPE_CHECKING

from .counters import current_reservation
from .daylight import SummaryState, SystemProfile
from .intervals import IntervalPlanner
from .limits import (
    BATTERY_NIGHT_FACTOR,
    DAILY,
    EVENT_TYPES_INTERVAL,
    MAX_SUMMARY_INTERVAL,
    NIGHT_INTERVAL,
    RETRY_MAX,
    RETRY_MIN,
    SUMMARY_RETRY_MAX,
    UPLOAD_LAG,
    BudgetStats,
    RefreshDecision,
    RefreshRefusal,
    quota_month,
)
from .tasks import PRIORITY, SummaryLike, Task, TaskKind

if TYPE_CHECKING:
    from collections.abc import Iterable


class RequestPlanner(IntervalPlanner):
    """Counts one API key's requests and plans every entry's fetches within its plan.

    One instance per API key, shared by every config entry using that key (``owner`` is the
    entry id). Feed it the client's request records, the summaries it fetched and the rate
    limits it hit; ask it what is due. All times are aware datetimes passed in: no clock here.
    """

    @property
    def system_count(self) -> int:
        """Return how many systems share this planner's quota."""
        return len(self._systems)

    def set_systems(self, owner: str, profiles: Iterable[SystemProfile]) -> None:
        """Declare the systems an entry (owner) polls; replaces its earlier list."""
        ids: list[int] = []
        for profile in profiles:
            ids.append(profile.system_id)
            state = self._systems.get(profile.system_id)
            if state is None:
                self._systems[profile.system_id] = SummaryState(profile)
            else:
                state.profile = profile
        self._owners[owner] = ids
        self._forget_unowned()

    def remove_owner(self, owner: str) -> None:
        """Forget an entry's systems (on unload); counts stay."""
        self._owners.pop(owner, None)
        prefix = f":{owner}:"
        self._costs = {key: cost for key, cost in self._costs.items() if prefix not in key}
        self._forget_unowned()

    def _forget_unowned(self) -> None:
        owned = {system_id for ids in self._owners.values() for system_id in ids}
        for system_id in list(self._systems):
            if system_id not in owned:
                del self._systems[system_id]

    @property
    def owners(self) -> list[str]:
        """Entries using this planner."""
        return list(self._owners)

    def record_summary(self, system_id: int, summary: SummaryLike, now: datetime) -> None:
        """Learn from a fetched summary: upload cadence, status changes, a battery."""
        state = self._systems.get(system_id)
        if state is None:
            return
        report = summary.last_report_at
        if report is not None:
            if state.last_report_at is not None and report > state.last_report_at:
                state.deltas.append((report - state.last_report_at).total_seconds())
            if state.last_report_at is not None and report <= state.last_report_at:
                if now - report >= state.cadence + UPLOAD_LAG:
                    state.misses += 1
            else:
                state.misses = 0
            state.last_report_at = report
        if (
            state.status is not None
            and summary.status is not None
            and summary.status != state.status
        ):
            # A status change is the cheapest hint that an alarm was raised or cleared.
            self.mark_urgent(TaskKind.ALARMS, system_id)
        state.status = summary.status
        if summary.battery_capacity_wh and not state.profile.has_battery:
            state.profile = SystemProfile(
                **{
                    name: getattr(state.profile, name)
                    for name in SystemProfile.__dataclass_fields__
                    if name != "has_battery"
                },
                has_battery=True,
            )
        state.last_poll = now

    def last_status(self, system_id: int) -> str | None:
        """Return the status the last summary of a system gave, None if none yet."""
        state = self._systems.get(system_id)
        return state.status if state is not None else None

    def mark_urgent(self, kind: TaskKind, system_id: int) -> None:
        """Make a system's task of this kind due now (for every entry polling the system).

        It still runs only when the minute and the month have room for it (``due``).
        """
        for owner, ids in self._owners.items():
            if system_id in ids:
                self._urgent.add(Task(kind, owner, system_id).key)

    def record_done(self, task: Task, now: datetime) -> None:
        """Note that a task ran successfully; its next run counts from ``now``."""
        self._last_done[task.key] = now
        if self._retry_at.pop(task.key, None) is not None:
            self._dirty = True
        self._failures.pop(task.key, None)
        # A run that asked to go on (request_soon, a back-fill not finished) stays due.
        if task.key in self._again:
            self._again.discard(task.key)
        else:
            self._urgent.discard(task.key)
        if (reservation := current_reservation()) is not None:
            reservation.done += 1
        if task.kind == TaskKind.SUMMARY and task.system_id in self._systems:
            self._systems[task.system_id].last_poll = now
        if task.kind != TaskKind.SUMMARY:
            self._dirty = True

    def request_soon(self, task: Task) -> None:
        """Run a periodic task again at the next chance (a telemetry catch-up not finished).

        Called from within the task's own run: its ``record_done`` keeps it due.
        """
        self._urgent.add(task.key)
        self._again.add(task.key)

    def record_restored(self, task: Task, fetched_at: datetime) -> None:
        """Note a task's answer kept from an earlier run: it ran at ``fetched_at``.

        Unlike ``record_done``, a pending retry stays: a failure since then still counts.
        """
        last = self._last_done.get(task.key)
        self._last_done[task.key] = fetched_at if last is None else max(last, fetched_at)
        state = self._systems.get(task.system_id) if task.system_id is not None else None
        if task.kind == TaskKind.SUMMARY and state is not None:
            state.last_poll = (
                fetched_at if state.last_poll is None else max(state.last_poll, fetched_at)
            )

    def next_upload_at(self, system_id: int) -> datetime | None:
        """When the system's gateway can next upload (its last report plus its cadence)."""
        state = self._systems.get(system_id)
        if state is None or state.last_report_at is None:
            return None
        return state.last_report_at + state.cadence

    def record_failure(self, task: Task, now: datetime) -> None:
        """Note that a task failed (not a 429): retry later, twice as late at each failure.

        From ``RETRY_MIN`` up to ``RETRY_MAX`` (``SUMMARY_RETRY_MAX`` for summaries): a
        server answering 500 all day costs about ten requests, not one every few minutes.
        """
        failures = self._failures.get(task.key, 0) + 1
        self._failures[task.key] = failures
        self._again.discard(task.key)
        cap = SUMMARY_RETRY_MAX if task.kind == TaskKind.SUMMARY else RETRY_MAX
        self._retry_at[task.key] = now + min(cap, RETRY_MIN * 2 ** min(failures - 1, 16))
        self._dirty = True
        if task.kind == TaskKind.SUMMARY and task.system_id in self._systems:
            self._systems[task.system_id].last_poll = now
        if (reservation := current_reservation()) is not None:
            reservation.failed += 1

    def retry_at(self, task: Task) -> datetime | None:
        """Return when a failed task may be tried again, None when it has not failed."""
        return self._retry_at.get(task.key)

    def may_spend(
        self, now: datetime, requests: int = 1, task: Task | None = None
    ) -> RefreshDecision:
        """Whether ``requests`` may be sent now (for ``task``, if given), and if not, when.

        For set-up and the like, outside the schedule: a pause, the minute, the month, and
        the task's own backoff after failures all say wait. ``retry_at`` says until when.
        """
        retry = self._retry_at.get(task.key) if task is not None else None
        if retry is not None and retry > now:
            return RefreshDecision(False, RefreshRefusal.BACKING_OFF, retry)
        return self.can_refresh(now, requests)

    def _summary_when(self, state: SummaryState, now: datetime, interval: timedelta) -> datetime:
        last = state.last_poll
        if last is None:
            return now
        key = (last, state.last_report_at, state.misses, interval, state.cadence, state.has_battery)
        if state.memo is not None and state.memo[0] == key:
            return state.memo[1]
        when = self._plan_summary(state, last, interval)
        state.memo = (key, when)
        return when

    def _plan_summary(self, state: SummaryState, last: datetime, interval: timedelta) -> datetime:
        cadence = state.cadence
        if self._in_daylight(state, last):
            step = max(interval, cadence)
        elif state.has_battery:
            step = max(interval * BATTERY_NIGHT_FACTOR, cadence)
        else:
            step = max(NIGHT_INTERVAL, cadence)
        if state.misses:
            # No upload where one was expected: the gateway is late or offline.
            step = min(MAX_SUMMARY_INTERVAL, max(step, cadence) * 2 ** min(state.misses, 4))
        target = last + step
        period = self._daylight_period(state, last)
        report = state.last_report_at
        edge: datetime | None = None
        if period is None:
            # The first poll of the morning comes with the first upload holding production;
            # without a battery nothing before it is worth a request, however long the night.
            sunrise = self._next_sunrise(state, last)
            if sunrise + cadence < target or (
                not state.has_battery and not state.misses and sunrise - last <= DAILY
            ):
                edge = sunrise + cadence
        elif target > period[1] and not state.misses:
            # The day's last poll comes with the first upload after sunset: it carries the
            # final production, which would otherwise wait for the morning.
            edge = period[1]
        if report is None:
            return target if edge is None else edge
        if edge is not None:
            slots = math.ceil((edge - report) / cadence)
            when = report + cadence * slots + UPLOAD_LAG
            while when <= last + cadence / 2:
                when += cadence
            return when
        slots = round((target - UPLOAD_LAG - report) / cadence)
        when = report + cadence * slots + UPLOAD_LAG
        while when <= last + cadence / 2:
            when += cadence
        return when

    def next_due(self, now: datetime, owner: str | None = None) -> list[tuple[Task, datetime]]:
        """Every task (of one owner, or all) with when it should run, soonest first.

        Times at or before ``now`` mean "run now". While paused by a 429, nothing is due before
        the pause ends. Run due tasks through ``due`` to respect the per-minute limit.
        """
        self._roll(now)
        interval = self.daylight_interval(now)
        alarm_interval = self.alarm_interval(now)
        inventory_interval = self.inventory_interval(now)
        floor = self._blocked_until if self._blocked_until and self._blocked_until > now else None
        spent = self._used + self._unaccounted >= self._plannable_total(now)
        if spent:
            # Re-check hourly: the manual reserve is released as the month runs out.
            floor = max(floor or now, now + timedelta(hours=1))
        result: list[tuple[Task, datetime]] = []
        for task_owner, ids in self._owners.items():
            if owner is not None and task_owner != owner:
                continue
            tasks: list[tuple[Task, datetime]] = []
            for system_id in ids:
                state = self._systems[system_id]
                task = Task(TaskKind.SUMMARY, task_owner, system_id)
                urgent = task.key in self._urgent
                tasks.append((task, now if urgent else self._summary_when(state, now, interval)))
                tasks.append(
                    self._periodic(
                        Task(TaskKind.ALARMS, task_owner, system_id), now, alarm_interval
                    )
                )
                tasks.append(
                    self._periodic(
                        Task(TaskKind.DEVICES, task_owner, system_id), now, inventory_interval
                    )
                )
                if state.profile.inverters:
                    tasks.append(
                        self._periodic(
                            Task(TaskKind.INVERTERS, task_owner, system_id),
                            now,
                            self.inverters_interval(now),
                        )
                    )
                if state.profile.telemetry:
                    task = Task(TaskKind.TELEMETRY, task_owner, system_id)
                    last = self._last_done.get(task.key)
                    if last is None or task.key in self._urgent:
                        tasks.append((task, now))
                    else:
                        tasks.append((task, self.telemetry_when(state, last, now)))
            tasks.append(
                self._periodic(Task(TaskKind.SYSTEMS, task_owner), now, inventory_interval)
            )
            tasks.append(
                self._periodic(Task(TaskKind.EVENT_TYPES, task_owner), now, EVENT_TYPES_INTERVAL)
            )
            for task, planned in tasks:
                when = planned
                retry = self._retry_at.get(task.key)
                if retry is not None:
                    when = max(when, retry)
                if floor is not None:
                    when = max(when, floor)
                result.append((task, when))
        result.sort(key=lambda item: (item[1], PRIORITY[item[0].kind], item[0].system_id or 0))
        return result

    def _periodic(self, task: Task, now: datetime, interval: timedelta) -> tuple[Task, datetime]:
        last = self._last_done.get(task.key)
        if last is None or task.key in self._urgent:
            return task, now
        # A last run in the future (a clock set back, an edited store) counts as now.
        return task, min(last, now) + interval

    def due(self, now: datetime, owner: str | None = None) -> list[Task]:
        """Tasks to run now, most valuable first, within the per-minute limit."""
        # A new month first, or last month's count would leave no room at its start.
        self._roll(now)
        room = self.minute_room(now)
        room = min(room, self._plannable_total(now) - self._used - self._unaccounted)
        ready = [task for task, when in self.next_due(now, owner) if when <= now]
        ready.sort(key=lambda task: (PRIORITY[task.kind], task.system_id or 0))
        chosen: list[Task] = []
        for task in ready:
            # In order of value: a costly task is not overtaken for good by cheaper ones.
            if (cost := self.cost(task)) > room:
                break
            chosen.append(task)
            room -= cost
        return chosen

    def when_due(self, task: Task, now: datetime) -> datetime | None:
        """Return when one task should next run (for a coordinator per kind), None if unknown."""
        for candidate, when in self.next_due(now, task.owner):
            if candidate == task:
                return when
        return None

    def may_run(self, task: Task, now: datetime) -> bool:
        """Whether one task may run now: due, the minute has room and the month has budget."""
        when = self.when_due(task, now)
        return (
            when is not None
            and when <= now
            and self.minute_room(now) >= self.cost(task)
            and self._used + self._unaccounted + self.cost(task) <= self._plannable_total(now)
        )

    def next_wakeup(self, now: datetime, owner: str | None = None) -> datetime | None:
        """When the owner's coordinator should next run (per-minute limit included)."""
        schedule = self.next_due(now, owner)
        if not schedule:
            return None
        task, when = schedule[0]
        when = max(now, when)
        return max(when, self._minute_free_at(when, self.cost(task))) if when <= now else when

    def next_summary_at(self, now: datetime, system_id: int | None = None) -> datetime | None:
        """When the next summary update is planned (for one system, or any)."""
        times = [
            when
            for task, when in self.next_due(now)
            if task.kind == TaskKind.SUMMARY and (system_id is None or task.system_id == system_id)
        ]
        return max(now, min(times)) if times else None

    def stats(self, now: datetime, system_id: int | None = None) -> BudgetStats:
        """Numbers for the diagnostic sensors."""
        self._roll(now)
        _, end = quota_month(now)
        return BudgetStats(
            used=self._used,
            quota=self.limits.per_month,
            remaining=max(0, self.limits.per_month - self._used - self._unaccounted),
            projected_month_end=self.projected_month_end(now),
            month_end=end,
            next_summary_at=self.next_summary_at(now, system_id),
            daylight_interval=self.daylight_interval(now),
            blocked_until=self._blocked_until,
            block_period=self._block_period,
        )
