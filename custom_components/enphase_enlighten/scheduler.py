"""Runs an entry's coordinators when the planner says their tasks are due, one timer per entry."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .budget import Task, TaskKind
from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from homeassistant.config_entries import ConfigEntry

    from .coordinator import EnphaseCoordinator
    from .entry_budget import EntryBudget

# A first fetch that failed without a planner retry time (a 429) is tried again this soon at
# the earliest: its entities wait for it. A failure waits for the planner's backoff.
FIRST_FETCH_RETRY = timedelta(minutes=2)
# Never wake the scheduler more often than this (a safety net against a busy loop).
MIN_WAKEUP = timedelta(seconds=1)


class EnphaseScheduler:
    """Runs an entry's coordinators when the planner says their task is due.

    One timer per entry, set to the planner's next wake-up: the planner orders the tasks
    by value and keeps them within the per-minute limit, which per-coordinator timers
    could not do when many systems are due at once.
    """

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], budget: EntryBudget):
        """Create the scheduler; nothing runs before ``async_run``."""
        self.hass = hass
        self.entry = entry
        self.budget = budget
        self.coordinators: dict[Task, EnphaseCoordinator[Any]] = {}
        # Tasks whose first fetch is still owed: their entities wait for it, so they run
        # even when the planner (which remembers the last run before a restart) says later.
        self.first_fetch: dict[Task, datetime] = {}
        self._unsub: CALLBACK_TYPE | None = None
        self._running = False
        self.next_run: datetime | None = None

    @callback
    def add(self, coordinator: EnphaseCoordinator[Any], *, first_fetch: bool = True) -> None:
        """Run this coordinator's task from now on; ``first_fetch``: at the next chance."""
        self.coordinators[coordinator.task] = coordinator
        if first_fetch:
            self.first_fetch[coordinator.task] = dt_util.utcnow()

    @callback
    def remove_system(self, system_id: int) -> None:
        """Stop running a system's tasks."""
        for task in [task for task in self.coordinators if task.system_id == system_id]:
            del self.coordinators[task]
            self.first_fetch.pop(task, None)

    def _owed_at(self, task: Task) -> datetime:
        """When a first fetch still owed may be tried: as planned, or after its backoff."""
        when = self.first_fetch[task]
        retry = self.budget.planner.retry_at(task)
        return when if retry is None else max(when, retry)

    def _tasks(self, now: datetime) -> list[Task]:
        planner = self.budget.planner
        tasks = []
        for task in planner.due(now, self.budget.owner):
            if task in self.coordinators:
                tasks.append(task)
            else:
                # Nothing runs it here (a system going away): not due again at once.
                planner.record_done(task, now)
        if planner.blocked_until(now) is not None:
            return tasks
        # The month too: a first fetch owed is no reason to spend what the plan has not got.
        room = min(planner.minute_room(now), planner.month_room(now))
        room -= sum(planner.cost(task) for task in tasks)
        owed = sorted(
            (task for task in self.first_fetch if self._owed_at(task) <= now and task not in tasks),
            key=lambda task: (list(TaskKind).index(task.kind), task.system_id or 0),
        )
        for task in owed:
            # In order: a costly task is not overtaken for good by cheaper ones.
            if (cost := planner.cost(task)) > room:
                break
            tasks.append(task)
            room -= cost
        return tasks

    async def async_run(self) -> None:
        """Run every task that is due now, then sleep until the next one is."""
        if self._running:
            return
        self._running = True
        try:
            now = dt_util.utcnow()
            planner = self.budget.planner
            for task, coordinator in list(self.coordinators.items()):
                await coordinator.async_prepare()
                planner.set_cost(task, coordinator.requests_needed(now))
            tasks = self._tasks(now)
            coordinators = [self.coordinators[task] for task in tasks]
            # The room is taken before the first request leaves: another entry on the key,
            # running at the same moment, sees only what is left.
            with planner.hold(now, sum(planner.cost(task) for task in tasks)):
                await asyncio.gather(*(coordinator.async_refresh() for coordinator in coordinators))
            after = dt_util.utcnow()
            for task, coordinator in zip(tasks, coordinators, strict=True):
                # What the next fetch costs (a restored alarm window is one week again).
                planner.set_cost(task, coordinator.requests_needed(after))
                if coordinator.fetched:
                    self.first_fetch.pop(task, None)
                elif task in self.first_fetch:
                    retry = planner.retry_at(task)
                    self.first_fetch[task] = retry or now + FIRST_FETCH_RETRY
        finally:
            self._running = False
        await self.budget.async_changed()
        self._schedule()

    @callback
    def _schedule(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        now = dt_util.utcnow()
        planner = self.budget.planner
        wakeup = planner.next_wakeup(now, self.budget.owner)
        if self.first_fetch and planner.month_room(now) > 0:
            owed_at = min(self._owed_at(task) for task in self.first_fetch)
            owed = max(owed_at, planner.blocked_until(now) or now)
            # Not before the minute has room for one of them: no wake-ups every second.
            owed = max(owed, min(planner.minute_free_at(now, task) for task in self.first_fetch))
            wakeup = owed if wakeup is None else min(wakeup, owed)
        if wakeup is None:
            self.next_run = None
            return
        self.next_run = max(wakeup, now + MIN_WAKEUP)
        self._unsub = async_track_point_in_utc_time(self.hass, self._fire, self.next_run)

    @callback
    def start(self, then: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run the first fetches in the background: set-up does not wait for Enphase.

        ``then`` runs after them (the telemetry, which needs the hardware they fetched).
        """

        async def _async_first() -> None:
            await self.async_run()
            if then is not None:
                await then()

        self.entry.async_create_background_task(
            self.hass, _async_first(), f"{DOMAIN} first fetches"
        )

    @callback
    def _fire(self, _now: datetime) -> None:
        self._unsub = None
        self.entry.async_create_task(self.hass, self.async_run(), f"{DOMAIN} scheduled fetch")

    @callback
    def async_stop(self) -> None:
        """Stop the timer (on unload)."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
