"""Quota benchmark, fault scenario: a Watt month of server errors, 429s, bad answers and a restart.

Two entries (one home each) on one Watt key start together, are answered with plain 429s
(no period, as search, devices and alarms answer) at start-up, get a malformed summary every
few hours, a whole day of 500s ("unable to fetch data") on devices, and Home Assistant
restarts at the month change with its clock five minutes ahead of Enphase's. The planner is
wired as the integration wires it: requests counted when sent, each entry's run holding its
room first, failures and 429s reported. Printed: the 429s our own pace earned (injected
ones aside), the days without a summary in daylight, and the quota spent on failed requests.

    .venv/bin/python -m benchmarks.quota --only faults
"""

# ruff: noqa: T201 - a command-line benchmark prints its table
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import time
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.test_utils import TestServer

from custom_components.enphase_enlighten.api import (
    EnphaseClient,
    EnphaseError,
    EnphaseRateLimitError,
    EnphaseResponseError,
    EnphaseServerError,
)
from custom_components.enphase_enlighten.budget import (
    PlanLimits,
    RequestPlanner,
    SolarDaylight,
    SystemProfile,
    Task,
    TaskKind,
    quota_month,
)
from simulator import Simulator, create_app

from .quota import _US, API_KEY, Case, Site, build_scenario, daylight_uploads

if TYPE_CHECKING:
    from collections.abc import Callable

    from custom_components.enphase_enlighten.budget import UsageStore

CASE = Case("2 entries, 1 Watt key, faults", "watt", (Site(501, *_US[0]), Site(502, *_US[1])))
OWNERS = {"entry-a": 501, "entry-b": 502}
STARTUP_429S = 6
MALFORMED_EVERY = timedelta(hours=6)
# The eighth day of the month, UTC: the devices are read weekly on Watt, this day among them.
DEVICES_DOWN = (timedelta(days=7), timedelta(days=8))
SKEW = timedelta(minutes=5)  # Home Assistant's clock ahead of Enphase's after the restart
RESTART_BEFORE_MONTH_END = timedelta(minutes=3)  # by Enphase's clock: 00:02 by ours
AFTER_MONTH = timedelta(days=1, hours=6)  # the next month's first day, to its sunset
DAYLIGHT_SLACK = 1800.0  # a summary up to 30 minutes after the day's last upload counts
TARGET_FAILED_SHARE = 0.02


class _MemoryStore:
    """The planner's store across the restart (Home Assistant's Store in the integration)."""

    def __init__(self) -> None:
        self.data: object = None

    async def async_load(self) -> object:
        return self.data

    async def async_save(self, data: object) -> None:
        self.data = data


@dataclass
class FaultLog:
    """What the fault run saw."""

    summaries: dict[int, list[float]] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    devices_tasks_hit: set[Task] = field(default_factory=set)

    def fail(self, kind: str) -> None:
        """Count one failed request of this kind."""
        self.failed[kind] = self.failed.get(kind, 0) + 1


@dataclass
class FaultResult:
    """The fault scenario's figures."""

    quota: int
    earned_429s: int
    injected_429s: int
    days: int
    days_without_summary: int
    failed: dict[str, int]
    beyond_first: int
    july_summaries: int
    seconds: float

    @property
    def failed_total(self) -> int:
        """Requests whose fetch failed."""
        return sum(self.failed.values())

    @property
    def beyond_share(self) -> float:
        """Share of the quota spent on failed requests beyond each fault's first."""
        return self.beyond_first / self.quota


def _profiles(owner: str) -> list[SystemProfile]:
    site = next(site for site in CASE.sites if site.system_id == OWNERS[owner])
    return [
        SystemProfile(
            site.system_id,
            timezone=site.timezone,
            daylight=SolarDaylight(site.lat, site.lon),
        )
    ]


async def _planner(limits: PlanLimits, store: UsageStore) -> RequestPlanner:
    planner = RequestPlanner(limits, store)
    await planner.async_load()
    for owner in OWNERS:
        planner.set_systems(owner, _profiles(owner))
    return planner


async def _execute(
    client: EnphaseClient, planner: RequestPlanner, task: Task, now: datetime, log: FaultLog
) -> None:
    system_id = task.system_id or 0
    try:
        if task.kind is TaskKind.SUMMARY:
            summary = await client.summary(system_id)
            planner.record_summary(system_id, summary, now)
            log.summaries.setdefault(system_id, []).append(now.timestamp())
        elif task.kind is TaskKind.ALARMS:
            await client.alarms(system_id, now - timedelta(days=2))
        elif task.kind is TaskKind.DEVICES:
            await client.devices(system_id)
        elif task.kind is TaskKind.INVERTERS:
            await client.inverters_summary(site_id=system_id)
        elif task.kind is TaskKind.SYSTEMS:
            await client.all_systems()
        else:
            await client.event_types()
    except EnphaseRateLimitError as err:
        log.fail("429")
        planner.record_rate_limit(
            now, period=err.period, period_end=err.period_end, limit=err.limit
        )
    except EnphaseError as err:
        if isinstance(err, EnphaseServerError) and task.kind is TaskKind.DEVICES:
            log.fail("devices 500")
            log.devices_tasks_hit.add(task)
        elif isinstance(err, EnphaseResponseError) and task.kind is TaskKind.SUMMARY:
            log.fail("malformed summary")
        else:
            log.fail(f"other ({type(err).__name__})")
        planner.record_failure(task, now)
    else:
        planner.record_done(task, now)


def _client(
    session: aiohttp.ClientSession,
    base_url: str,
    token: str,
    planner: RequestPlanner,
    clock: Callable[[], float],
) -> EnphaseClient:
    async def token_provider() -> str:
        return token

    return EnphaseClient(
        session,
        token_provider,
        API_KEY,
        base_url=base_url,
        on_request=planner.record_request,
        on_send=planner.record_sent,
        now=clock,
    )


async def run_faults(month_start: datetime) -> FaultResult:
    """Simulate the fault month and the next month's first day."""
    began = time.monotonic()
    _, month_end = quota_month(month_start)
    limits = PlanLimits.for_plan(CASE.plan)
    sim = Simulator(
        build_scenario(CASE),
        auto_approve=True,
        start=month_start,
        speed=0.0,
        token_lifetime=90 * 86400,
    )
    sim.set_plan(api_key=API_KEY, plan=CASE.plan)
    token = str(sim.issue_tokens()["access_token"])
    store = _MemoryStore()
    log = FaultLog()
    # World events, by Enphase's (the simulator's) clock.
    events: list[tuple[datetime, str]] = [(month_start, "startup 429s")]
    at = month_start + MALFORMED_EVERY / 2
    while at < month_end + AFTER_MONTH:
        events.append((at, "malformed"))
        at += MALFORMED_EVERY
    events.append((month_start + DEVICES_DOWN[0], "devices down"))
    events.append((month_start + DEVICES_DOWN[1], "devices up"))
    restart_at = month_end - RESTART_BEFORE_MONTH_END
    events.append((restart_at, "restart"))
    events.sort()

    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    base_url = str(server.make_url("")).rstrip("/")
    skew = timedelta(0)
    async with aiohttp.ClientSession() as session:
        planner = await _planner(limits, store)
        client = _client(session, base_url, token, planner, sim.clock.time)
        sim_now = month_start
        end = month_end + AFTER_MONTH
        index = 0
        while sim_now < end:
            sim.clock.set(sim_now, speed=0.0)
            while index < len(events) and events[index][0] <= sim_now:
                kind = events[index][1]
                index += 1
                if kind == "startup 429s":
                    sim.fail_next(STARTUP_429S, 429)
                elif kind == "malformed":
                    sim.fail_next(1, 200, endpoint="summary", malformed=True)
                elif kind == "devices down":
                    sim.fail_next(10**9, 500, endpoint="devices")
                elif kind == "devices up":
                    sim.faults[:] = [f for f in sim.faults if f.endpoint != "devices"]
                else:  # restart: state saved, a new planner, Home Assistant's clock ahead
                    await planner.async_save()
                    skew = SKEW
                    planner = await _planner(limits, store)
                    offset = skew.total_seconds()
                    client = _client(
                        session,
                        base_url,
                        token,
                        planner,
                        lambda offset=offset: sim.clock.time() + offset,
                    )
            now = sim_now + skew
            # One scheduler per entry: each holds its tasks' room before sending.
            for owner in OWNERS:
                tasks = planner.due(now, owner)
                if not tasks:
                    continue
                with planner.hold(now, sum(planner.cost(task) for task in tasks)):
                    await asyncio.gather(
                        *(_execute(client, planner, task, now, log) for task in tasks)
                    )
            wakeup = planner.next_wakeup(now) or end + skew
            next_event = events[index][0] if index < len(events) else end
            sim_now = max(min(wakeup - skew, next_event, end), sim_now + timedelta(seconds=1))
    await server.close()

    earned = sum(
        1 for entry in sim.request_log if entry["status"] == 429 and not entry.get("fault")
    )
    injected = sum(1 for entry in sim.request_log if entry["status"] == 429 and entry.get("fault"))
    days = without = 0
    for site in CASE.sites:
        fetched = log.summaries.get(site.system_id, [])
        uploads = daylight_uploads(sim, site.system_id, month_start.timestamp(), end.timestamp())
        by_day: dict[int, list[float]] = {}
        for upload in uploads:
            by_day.setdefault(int((upload - 43200) // 86400), []).append(upload)
        for day_uploads in by_day.values():
            if day_uploads[-1] + DAYLIGHT_SLACK > end.timestamp():
                continue  # the run ended before this day's daylight did
            days += 1
            first, last = day_uploads[0], day_uploads[-1] + DAYLIGHT_SLACK
            if not any(first <= t - skew_at(t, restart_at) <= last for t in fetched):
                without += 1
    # Each fault's first failure is unavoidable: one per malformed answer and start-up 429,
    # one per devices task hit by the day of 500s. The rest was spent retrying.
    unavoidable = (
        log.failed.get("malformed summary", 0)
        + log.failed.get("429", 0)
        + len(log.devices_tasks_hit)
    )
    july = sum(
        1
        for fetched in log.summaries.values()
        for t in fetched
        if t >= (month_end + SKEW).timestamp()
    )
    return FaultResult(
        quota=limits.per_month,
        earned_429s=earned,
        injected_429s=injected,
        days=days,
        days_without_summary=without,
        failed=dict(log.failed),
        beyond_first=sum(log.failed.values()) - unavoidable,
        july_summaries=july,
        seconds=time.monotonic() - began,
    )


def skew_at(stamp: float, restart_at: datetime) -> float:
    """Seconds Home Assistant's clock was ahead of Enphase's when it read ``stamp``."""
    return SKEW.total_seconds() if stamp >= (restart_at + SKEW).timestamp() else 0.0


def print_faults(result: FaultResult, month: str) -> list[str]:
    """Print the fault scenario's figures; return the targets it missed."""
    quota = result.quota
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(result.failed.items()))
    print(
        f"\nFault scenario ({CASE.name}, {month} and the next month's first day): plain 429s"
        f" at start-up, a malformed summary every {MALFORMED_EVERY.total_seconds() / 3600:.0f}"
        " h, a day of 500s on devices, a restart at the month change with the clock"
        f" {SKEW.total_seconds() / 60:.0f} min ahead."
    )
    print(
        f"  429s earned by our own pace (injected ones aside): {result.earned_429s}"
        f" ({result.injected_429s} injected)"
    )
    print(
        f"  days without a daylight summary: {result.days_without_summary}"
        f" (of {result.days} system-days); summaries in the new month: {result.july_summaries}"
    )
    print(
        f"  requests on failed fetches: {result.failed_total}"
        f" ({result.failed_total / quota:.1%} of the quota): {kinds}"
    )
    print(
        "  share of the month's quota spent on failed requests beyond each fault's first"
        f" (retries into a fault): {result.beyond_first} ({result.beyond_share:.1%};"
        f" target <= {TARGET_FAILED_SHARE:.0%})"
    )
    print(f"  ({result.seconds:.0f} s wall clock)")
    missed = []
    if result.earned_429s:
        missed.append(f"faults: {result.earned_429s} 429s earned by our pace")
    if result.days_without_summary:
        missed.append(f"faults: {result.days_without_summary} days without a daylight summary")
    if result.beyond_share > TARGET_FAILED_SHARE:
        missed.append(f"faults: {result.beyond_share:.1%} of the quota on failed requests")
    if not result.july_summaries:
        missed.append("faults: no summary in the new month")
    return missed
