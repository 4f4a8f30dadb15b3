"""Quota benchmark: a simulated month per scenario, the request planner against fixed polling.

Every strategy talks to the local simulator through the real API client over loopback; the
simulator's clock is stopped and moved from one planned instant to the next, so a month takes
seconds. Staleness is measured per gateway upload during daylight (the simulated system is
producing): the time from the upload until a summary returning it is fetched. "ideal" spends
the whole monthly quota on daylight summaries, split evenly between systems, each fetched
``UPLOAD_LAG`` after an upload, spread evenly over each day's daylight uploads.

    .venv/bin/python -m benchmarks.quota [--month 2026-06] [--seed 1] [--only NAME]
"""

# ruff: noqa: T201 - a command-line benchmark prints its table
from __future__ import annotations

import argparse
import asyncio
from bisect import bisect_left
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import math
import random
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiohttp.test_utils import TestServer

from custom_components.enphase_enlighten.api import (
    EnphaseClient,
    EnphaseError,
    EnphaseRateLimitError,
    RequestRecord,
    Summary,
)
from custom_components.enphase_enlighten.budget import (
    UPLOAD_LAG,
    PlanLimits,
    RequestPlanner,
    SolarDaylight,
    SystemProfile,
    Task,
    TaskKind,
    quota_month,
)
from simulator import Scenario, Simulator, create_app
from simulator.scenarios.small_home import build as small_home

from . import alarms as alarm_columns

if TYPE_CHECKING:
    from collections.abc import Sequence

API_KEY = "sim-api-key"
OWNER = "entry"


@dataclass(frozen=True, slots=True)
class Site:
    """One simulated system of a benchmark scenario."""

    system_id: int
    timezone: str
    lat: float
    lon: float
    battery: bool = False
    cellular: bool = False
    consumption_meter: bool = True


@dataclass(frozen=True, slots=True)
class Case:
    """A benchmark scenario: sites on one API key and its plan."""

    name: str
    plan: str
    sites: tuple[Site, ...]


_US = (
    ("America/Los_Angeles", 38.40, -122.82),
    ("America/Denver", 39.74, -104.99),
    ("America/Chicago", 41.88, -87.63),
    ("America/New_York", 40.71, -74.01),
    ("America/Phoenix", 33.45, -112.07),
)

CASES = (
    Case("1 home, Watt", "watt", (Site(101, *_US[0]),)),
    Case(
        "3 homes, 1 Watt key",
        "watt",
        (Site(201, *_US[0]), Site(202, *_US[1]), Site(203, *_US[3])),
    ),
    Case("home + battery, Watt", "watt", (Site(301, *_US[0], battery=True),)),
    Case(
        "10 systems, Kilowatt",
        "kilowatt",
        tuple(Site(401 + i, *_US[i % len(_US)]) for i in range(10)),
    ),
)


def build_scenario(case: Case) -> Scenario:
    """Clone small_home's system once per site, placed and equipped as the site says."""
    base = small_home()
    template = base.systems[0]
    systems = []
    for site in case.sites:
        system = copy.deepcopy(template)
        system.update(
            system_id=site.system_id,
            name=f"Site {site.system_id}",
            timezone=site.timezone,
            lat=site.lat,
            lon=site.lon,
            connection_type="cellular" if site.cellular else "ethernet",
            events=[],
            alarms=[],
        )
        if site.battery:
            system["battery"] = {"charge_w": 3840, "discharge_w": 3840, "capacity_wh": 10080}
        if not site.consumption_meter:
            devices = system["devices"]
            devices["meters"] = [m for m in devices["meters"] if m["name"] != "consumption"]
        systems.append(system)
    user = {
        "user_id": 1,
        "name": "Benchmark",
        "email": "bench@example.com",
        "company_id": "",
        "systems": [site.system_id for site in case.sites],
    }
    return Scenario(
        name="benchmark",
        description=case.name,
        users=[user],
        systems=systems,
        default_user_id=1,
    )


class Strategy(Protocol):
    """What the month loop needs from a polling strategy."""

    def due(self, now: datetime) -> list[Task]:
        """Tasks to run now."""

    def next_wakeup(self, now: datetime) -> datetime | None:
        """When to look again."""

    def done(self, task: Task, now: datetime) -> None:
        """Report a success."""

    def failed(self, task: Task, now: datetime, err: EnphaseError) -> None:
        """Report a failure."""

    def on_summary(self, system_id: int, summary: Summary, now: datetime) -> None:
        """Report a fetched summary."""

    def on_request(self, record: RequestRecord) -> None:
        """Report a request the client made."""


class PlannerStrategy:
    """The request planner, wired as the coordinators are meant to wire it."""

    def __init__(self, case: Case, limits: PlanLimits) -> None:
        """Declare the case's systems; the first one has Home Assistant's sun (its home)."""
        self.planner = RequestPlanner(limits)
        profiles = []
        for index, site in enumerate(case.sites):
            # HA knows its own location; other systems only by their time zone.
            daylight = SolarDaylight(site.lat, site.lon) if index == 0 else None
            profiles.append(
                SystemProfile(
                    site.system_id,
                    timezone=site.timezone,
                    has_battery=site.battery,
                    cellular=site.cellular,
                    daylight=daylight,
                )
            )
        self.planner.set_systems(OWNER, profiles)

    def due(self, now: datetime) -> list[Task]:
        """Tasks the planner says are due."""
        return self.planner.due(now)

    def next_wakeup(self, now: datetime) -> datetime | None:
        """Return the planner's next wake-up."""
        return self.planner.next_wakeup(now)

    def done(self, task: Task, now: datetime) -> None:
        """Report success."""
        self.planner.record_done(task, now)

    def failed(self, task: Task, now: datetime, err: EnphaseError) -> None:
        """Report a 429 with its period, or another failure."""
        if isinstance(err, EnphaseRateLimitError):
            self.planner.record_rate_limit(
                now, period=err.period, period_end=err.period_end, limit=err.limit
            )
        else:
            self.planner.record_failure(task, now)

    def on_summary(self, system_id: int, summary: Summary, now: datetime) -> None:
        """Let the planner learn from the summary."""
        self.planner.record_summary(system_id, summary, now)

    def on_request(self, record: RequestRecord) -> None:
        """Count the request."""
        self.planner.record_request(record)


@dataclass
class FixedStrategy:
    """Poll every kind at a fixed interval, whatever the sun, the uploads or a 429 say."""

    case: Case
    intervals: dict[TaskKind, timedelta]
    start: datetime
    last: dict[Task, datetime] = field(default_factory=dict)

    def _tasks(self) -> list[Task]:
        kinds = (TaskKind.SUMMARY, TaskKind.ALARMS, TaskKind.DEVICES)
        tasks = [Task(kind, OWNER, site.system_id) for site in self.case.sites for kind in kinds]
        tasks.extend((Task(TaskKind.SYSTEMS, OWNER), Task(TaskKind.EVENT_TYPES, OWNER)))
        return tasks

    def _when(self, task: Task) -> datetime:
        last = self.last.get(task)
        if last is not None:
            return last + self.intervals[task.kind]
        # Stagger the kinds by a minute so a start does not trip the per-minute limit.
        return self.start + timedelta(minutes=list(TaskKind).index(task.kind))

    def due(self, now: datetime) -> list[Task]:
        """Every task whose interval has run out."""
        return [task for task in self._tasks() if self._when(task) <= now]

    def next_wakeup(self, now: datetime) -> datetime | None:
        """Return the soonest next run."""
        return min(self._when(task) for task in self._tasks())

    def done(self, task: Task, now: datetime) -> None:
        """Schedule the next run."""
        self.last[task] = now

    def failed(self, task: Task, now: datetime, err: EnphaseError) -> None:
        """Naive: a failure waits for the next interval like a success."""
        self.last[task] = now

    def on_summary(self, system_id: int, summary: Summary, now: datetime) -> None:
        """Nothing to learn."""

    def on_request(self, record: RequestRecord) -> None:
        """Nothing to count."""


@dataclass
class Log:
    """What happened during one run."""

    summaries: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    alarm_fetches: dict[int, list[tuple[float, frozenset[str]]]] = field(default_factory=dict)
    devices: dict[int, dict[str, str | None]] = field(default_factory=dict)
    requests: int = 0
    rate_limited: int = 0


@dataclass
class Result:
    """One table row."""

    case: str
    strategy: str
    used: int
    quota: int
    rate_limited: int
    stale_mean: float
    stale_p95: float
    alarm_mean: float | None
    alarm_p95: float | None
    alarms_missed: int
    alarms_total: int
    alarms: alarm_columns.AlarmColumns | None = None
    ratio: float | None = None
    seconds: float = 0.0
    stale: list[float] = field(default_factory=list)
    runs: int = 1


def pooled(results: Sequence[Result], strategy: str) -> Result:
    """Return one row pooling several seeds' months: every sample counts, used is per month."""
    first = results[0]
    stale = [value for result in results for value in result.stale]
    columns = None
    if first.alarms is not None:
        columns = alarm_columns.AlarmColumns([], [], [], [], 0, 0)
        for result in results:
            if result.alarms is not None:
                columns.extend(result.alarms)
    detections = [*columns.status_day, *columns.status_night, *columns.silent] if columns else []
    return Result(
        case=first.case,
        strategy=strategy,
        used=round(statistics.fmean(result.used for result in results)),
        quota=first.quota,
        rate_limited=sum(result.rate_limited for result in results),
        stale_mean=statistics.fmean(stale) if stale else math.nan,
        stale_p95=p95(stale),
        alarm_mean=statistics.fmean(detections) if detections else None,
        alarm_p95=p95(detections) if detections else None,
        alarms_missed=sum(result.alarms_missed for result in results),
        alarms_total=sum(result.alarms_total for result in results),
        alarms=columns,
        seconds=sum(result.seconds for result in results),
        stale=stale,
        runs=len(results),
    )


def p95(values: Sequence[float]) -> float:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else math.nan


def daylight_uploads(sim: Simulator, system_id: int, start: float, end: float) -> list[float]:
    """Return a system's uploads in [start, end) whose data show production (daylight)."""
    system = sim.systems[system_id]
    period = system.upload_interval
    first = math.ceil((start - system.upload_phase) / period) * period + system.upload_phase
    uploads = []
    upload = first
    while upload < end:
        if system.model.interval_power(system.cutoff(upload)) > 0:
            uploads.append(float(upload))
        upload += period
    return uploads


def staleness(
    uploads: Sequence[float], fetches: Sequence[tuple[float, float]], end: float
) -> list[float]:
    """For each upload, seconds until a fetched summary first reports it (or the run's end)."""
    reports = [report for _, report in fetches]
    latencies = []
    for upload in uploads:
        index = bisect_left(reports, upload)
        latencies.append((fetches[index][0] if index < len(fetches) else end) - upload)
    return latencies


def ideal_fetches(
    uploads: Sequence[float], polls: float, zone_days: Sequence[int]
) -> list[tuple[float, float]]:
    """Return the fetches (time, report) of ``polls`` evenly spread over daylight uploads."""
    lag = UPLOAD_LAG.total_seconds()
    if polls >= len(uploads):
        return [(upload + lag, upload) for upload in uploads]
    # Share the polls between days by their daylight uploads, then spread each day's evenly,
    # always including the day's last daylight upload.
    days: dict[int, list[float]] = {}
    for upload, day in zip(uploads, zone_days, strict=True):
        days.setdefault(day, []).append(upload)
    fetches: list[tuple[float, float]] = []
    carried = 0.0
    for day_uploads in days.values():
        share = polls * len(day_uploads) / len(uploads) + carried
        count = max(1, min(len(day_uploads), round(share)))
        carried = share - count
        polled = sorted({math.ceil((j + 1) * len(day_uploads) / count) - 1 for j in range(count)})
        fetches.extend((day_uploads[index] + lag, day_uploads[index]) for index in polled)
    return fetches


async def run(case: Case, name: str, month_start: datetime, seed: int) -> Result:
    """Simulate one strategy over one month of one case."""
    began = time.monotonic()
    _, month_end = quota_month(month_start)
    limits = PlanLimits.for_plan(case.plan)
    sim = Simulator(
        build_scenario(case),
        auto_approve=True,
        start=month_start,
        speed=0.0,
        token_lifetime=90 * 86400,
    )
    sim.set_plan(api_key=API_KEY, plan=case.plan)
    token = str(sim.issue_tokens()["access_token"])

    strategy: Strategy
    if name in ("planner", alarm_columns.TODAY):
        strategy = PlannerStrategy(case, limits)
    else:
        daily = timedelta(days=1)
        if name == "fixed 5 min":
            summary = alarms = timedelta(minutes=5)
        else:  # even spread: the planner's alarm pace, summaries share the rest evenly
            probe = PlannerStrategy(case, limits).planner
            alarms = probe.alarm_interval(month_start)
            month = (month_end - month_start).total_seconds()
            systems = len(case.sites)
            overhead = systems * month / alarms.total_seconds() + (systems + 1) * month / 86400 + 1
            per_system = (limits.per_month - overhead) / systems
            summary = timedelta(seconds=math.ceil(month / per_system * 1.01))
        strategy = FixedStrategy(
            case,
            {
                TaskKind.SUMMARY: summary,
                TaskKind.ALARMS: alarms,
                TaskKind.DEVICES: daily,
                TaskKind.SYSTEMS: daily,
                TaskKind.EVENT_TYPES: timedelta(days=30),
            },
            month_start,
        )

    alarm_columns.prime(strategy, name, (site.system_id for site in case.sites))
    log = Log()

    def on_request(record: RequestRecord) -> None:
        log.requests += 1
        if record.status == 429:
            log.rate_limited += 1
        strategy.on_request(record)

    # World events: alarms raised at seeded random instants (benchmarks/alarms.py), cleared
    # after a few hours (status-changing) or two days (silent).
    rng = random.Random(f"{seed}:{case.name}")  # noqa: S311 - reproducible, not crypto
    planned = alarm_columns.plan_alarms(
        rng, (site.system_id for site in case.sites), month_start, month_end
    )
    raised: dict[str, alarm_columns.PlannedAlarm] = {}
    events: list[tuple[float, str, Any]] = [(alarm.at, "raise", alarm) for alarm in planned]

    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    base_url = str(server.make_url("")).rstrip("/")

    async def token_provider() -> str:
        return token

    async with aiohttp.ClientSession() as session:
        client = EnphaseClient(
            session,
            token_provider,
            API_KEY,
            base_url=base_url,
            on_request=on_request,
            now=sim.clock.time,
        )
        now = month_start
        event_index = 0
        while now < month_end:
            sim.clock.set(now, speed=0.0)
            while event_index < len(events) and events[event_index][0] <= now.timestamp():
                at, kind, payload = events[event_index]
                event_index += 1
                if kind == "raise":
                    alarm = sim.raise_alarm(payload.system_id, payload.event_type_id)
                    raised[alarm["id"]] = payload
                    events.append((at + payload.open_for, "clear", alarm["id"]))
                    events[event_index:] = sorted(events[event_index:], key=lambda e: e[0])
                else:
                    sim.clear_alarm(payload)
            for task in strategy.due(now):
                await execute(client, strategy, task, now, log, name)
            wakeup = strategy.next_wakeup(now) or month_end
            if event_index < len(events):
                wakeup = min(wakeup, datetime.fromtimestamp(events[event_index][0], UTC))
            now = max(min(wakeup, month_end), now + timedelta(seconds=1))
        # Read the simulator's own count inside the month (it rolls over at month_end).
        sim.clock.set(month_end - timedelta(seconds=1), speed=0.0)
        used = sim.usage_for(API_KEY).month_count
    await server.close()

    end = month_end.timestamp()
    stale: list[float] = []
    for site in case.sites:
        uploads = daylight_uploads(sim, site.system_id, month_start.timestamp(), end)
        uploads = alarm_columns.without_outages(sim, site.system_id, uploads)
        fetches = log.summaries.get(site.system_id, [])
        stale.extend(staleness(uploads, fetches, end))
    columns = alarm_columns.measure(sim, planned, raised, log.alarm_fetches)
    detections = [*columns.status_day, *columns.status_night, *columns.silent]
    return Result(
        case=case.name,
        strategy=name,
        used=used,
        quota=limits.per_month,
        rate_limited=log.rate_limited,
        stale_mean=statistics.fmean(stale) if stale else math.nan,
        stale_p95=p95(stale),
        alarm_mean=statistics.fmean(detections) if detections else None,
        alarm_p95=p95(detections) if detections else None,
        alarms_missed=columns.missed,
        alarms_total=len(raised),
        alarms=columns,
        seconds=time.monotonic() - began,
        stale=stale,
    )


async def execute(
    client: EnphaseClient, strategy: Strategy, task: Task, now: datetime, log: Log, name: str
) -> None:
    """Run one task through the real client and report the outcome."""
    system_id = task.system_id or 0
    try:
        if task.kind is TaskKind.SUMMARY:
            summary = await client.summary(system_id)
            report = summary.last_report_at.timestamp() if summary.last_report_at else 0.0
            log.summaries.setdefault(system_id, []).append((now.timestamp(), report))
            strategy.on_summary(system_id, summary, now)
        elif task.kind is TaskKind.ALARMS:
            fetches = log.alarm_fetches.get(system_id, [])
            ids = await alarm_columns.read_alarms(client, strategy, name, system_id, now, fetches)
            log.alarm_fetches.setdefault(system_id, []).append((now.timestamp(), ids))
        elif task.kind is TaskKind.DEVICES:
            devices = await client.devices(system_id)
            alarm_columns.learn_devices(strategy, name, log.devices, system_id, devices)
        elif task.kind is TaskKind.INVERTERS:
            await client.inverters_summary(site_id=system_id)
        elif task.kind is TaskKind.SYSTEMS:
            await client.all_systems()
        else:
            await client.event_types()
    except EnphaseError as err:
        strategy.failed(task, now, err)
    else:
        strategy.done(task, now)


def ideal_row(case: Case, month_start: datetime) -> Result:
    """Return the ideal: the whole quota on daylight summaries, upload-aligned, evenly spread."""
    _, month_end = quota_month(month_start)
    sim = Simulator(build_scenario(case), start=month_start, speed=0.0)
    limits = PlanLimits.for_plan(case.plan)
    stale: list[float] = []
    end = month_end.timestamp()
    for site in case.sites:
        uploads = daylight_uploads(sim, site.system_id, month_start.timestamp(), end)
        # Group uploads by local day: noon-to-noon UTC never splits a day in the Americas.
        days = [int((upload - 43200) // 86400) for upload in uploads]
        fetches = ideal_fetches(uploads, limits.per_month / len(case.sites), days)
        stale.extend(staleness(uploads, fetches, end))
    return Result(
        case=case.name,
        strategy="ideal",
        used=limits.per_month,
        quota=limits.per_month,
        rate_limited=0,
        stale_mean=statistics.fmean(stale),
        stale_p95=p95(stale),
        alarm_mean=None,
        alarm_p95=None,
        alarms_missed=0,
        alarms_total=0,
    )


def minutes(seconds: float | None) -> str:
    """Seconds as minutes, or hours past two hours."""
    if seconds is None or math.isnan(seconds):
        return "-"
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} m"


def print_table(rows: Sequence[Result], month: str, wall: float) -> None:
    """Print the one table."""
    header = (
        "scenario",
        "strategy",
        "used/quota",
        "429s",
        "stale mean",
        "stale p95",
        "alarm mean",
        "alarm p95",
        "alarms missed",
        *alarm_columns.HEADER,
        "vs ideal",
    )
    lines = [
        (
            row.case,
            row.strategy,
            f"{row.used}/{row.quota} ({row.used / row.quota:.0%})",
            str(row.rate_limited),
            minutes(row.stale_mean),
            minutes(row.stale_p95),
            minutes(row.alarm_mean),
            minutes(row.alarm_p95),
            f"{row.alarms_missed}/{row.alarms_total}" if row.alarms_total else "-",
            *alarm_columns.cells(row.alarms),
            f"{row.ratio:.2f}x" if row.ratio is not None else "-",
        )
        for row in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    print(
        f"Simulated month {month} (UTC calendar month). stale: for each daylight upload, the"
        " time until a summary holding it is fetched; vs ideal: stale mean / the ideal's."
    )
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    previous = None
    for line in lines:
        if previous is not None and line[0] != previous:
            print()
        previous = line[0]
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
    print(f"\n({wall:.0f} s wall clock)")


def sweep_settings(
    alarm: str | None, inventory: str | None
) -> list[tuple[str, float | None, float | None]]:
    """Return the sweep's (row label, alarm share, inventory share); empty without a sweep."""
    if not alarm and not inventory:
        return []
    alarms = [float(v) for v in alarm.split(",")] if alarm else [None]
    inventories = [float(v) for v in inventory.split(",")] if inventory else [None]
    settings = []
    for alarm_share in alarms:
        for inventory_share in inventories:
            parts = [
                f"a {alarm_share:.1%}" if alarm_share is not None else "",
                f"i {inventory_share:.1%}" if inventory_share is not None else "",
            ]
            label = "planner " + " ".join(part for part in parts if part)
            settings.append((label, alarm_share, inventory_share))
    return settings


def print_sweep(rows: Sequence[Result], labels: Sequence[str]) -> None:
    """Print each sweep row against its case's today's planner: the alarm targets' ratios."""
    print(
        "\nSweep: silent alarms' mean latency; stale: stale mean / today's planner's (target"
        " <= 1.05x on Watt); status day: daylight status-changing alarms' mean / the row's"
        " stale mean (target <= 1.5x)."
    )
    header = ("scenario", "setting", "used", "silent", "stale", "status day")
    lines = []
    for row in rows:
        if row.strategy not in (*labels, "planner"):
            continue
        today = next(
            (r for r in rows if r.case == row.case and r.strategy == alarm_columns.TODAY), None
        )
        columns = row.alarms
        day = alarm_columns.AlarmColumns.mean(columns.status_day) if columns else None
        lines.append(
            (
                row.case,
                row.strategy,
                f"{row.used}",
                alarm_columns.spread(columns.silent) if columns else "-",
                f"{row.stale_mean / today.stale_mean:.3f}x" if today else "-",
                f"{day / row.stale_mean:.2f}x" if day is not None else "-",
            )
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))


async def main(argv: Sequence[str] | None = None) -> int:
    """Run every case and strategy, print the table; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="2026-06", help="YYYY-MM, a 30-day month")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only", help='run only the cases whose name contains this ("faults": the fault run)'
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="months per strategy, seeds --seed and on, pooled (more alarms to average)",
    )
    parser.add_argument(
        "--strategies",
        default=f"planner,{alarm_columns.TODAY},even spread,fixed 5 min",
        help="comma-separated",
    )
    parser.add_argument(
        "--telemetry-shares",
        help="comma-separated shares of the month (e.g. 0.08,0.2): the energy run's Watt split sweep",
    )
    parser.add_argument(
        "--alarm-share",
        help="comma-separated alarm shares: one more planner row each (a sweep)",
    )
    parser.add_argument(
        "--inventory-share",
        help="comma-separated inventory shares, crossed with --alarm-share (default: the planner's)",
    )
    args = parser.parse_args(argv)
    seeds = range(args.seed, args.seed + max(1, args.seeds))
    sweep = sweep_settings(args.alarm_share, args.inventory_share)
    year, month = (int(part) for part in args.month.split("-"))
    month_start = datetime(year, month, 1, tzinfo=UTC)
    began = time.monotonic()
    rows: list[Result] = []
    failures: list[str] = []
    for case in CASES:
        if args.only and args.only.lower() not in case.name.lower():
            continue
        ideal = ideal_row(case, month_start)
        case_rows = [ideal]
        for name in args.strategies.split(","):
            with alarm_columns.planner_of(name.strip()):
                runs = [await run(case, name.strip(), month_start, seed) for seed in seeds]
            case_rows.append(pooled(runs, name.strip()))
        for label, alarm_share, inventory_share in sweep:
            with alarm_columns.planner_of(
                "planner", alarm_share=alarm_share, inventory_share=inventory_share
            ):
                runs = [await run(case, "planner", month_start, seed) for seed in seeds]
            case_rows.append(pooled(runs, label))
        for row in case_rows:
            row.ratio = row.stale_mean / ideal.stale_mean
        rows.extend(case_rows)
        planner = next((r for r in case_rows if r.strategy == "planner"), None)
        even = next((r for r in case_rows if r.strategy == "even spread"), None)
        today = next((r for r in case_rows if r.strategy == alarm_columns.TODAY), None)
        failures.extend(
            alarm_columns.missed_targets(
                case.name,
                (planner.stale_mean,) if planner else None,
                (today.stale_mean,) if today else None,
                planner.alarms if planner else None,
            )
        )
        if planner is not None:
            if planner.rate_limited:
                failures.append(f"{case.name}: {planner.rate_limited} 429s")
            if planner.used > planner.quota:
                failures.append(f"{case.name}: over quota")
            if planner.ratio is not None and planner.ratio > 1.25:
                failures.append(f"{case.name}: {planner.ratio:.2f}x ideal")
            if even is not None and planner.stale_mean >= even.stale_mean:
                failures.append(f"{case.name}: not fresher than even spread")
    if rows:
        print_table(rows, args.month, time.monotonic() - began)
        if sweep:
            print_sweep(rows, [label for label, _, _ in sweep])
    if not args.only or args.only.lower() in "faults":
        from .faults import print_faults, run_faults  # noqa: PLC0415 - it imports this module

        failures.extend(print_faults(await run_faults(month_start), args.month))
    if not args.only or args.only.lower() in "energy":
        from .energy import print_energy, run_energy  # noqa: PLC0415 - it imports this module

        failures.extend(print_energy(await run_energy(month_start), args.month))
        if args.telemetry_shares:
            from .energy import print_share_sweep, run_share_sweep  # noqa: PLC0415

            shares = [float(share) for share in args.telemetry_shares.split(",")]
            print_share_sweep(await run_share_sweep(month_start, shares), args.month)
    for failure in failures:
        print(f"TARGET MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
