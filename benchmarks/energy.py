"""Energy benchmark: a simulated month of hourly statistics, summary-only against imported telemetry.

For each case the month runs twice through the real planner and client against the
simulator: once as before this feature (summaries only: the lifetime energy sensor is the
only energy, and Home Assistant's statistics put each poll's energy in the hour it landed
in), once with the telemetry task importing every channel's final hours. Both are compared
with the simulator's ground truth, hour by hour.

    .venv/bin/python -m benchmarks.quota --only energy [--month 2026-06]
"""

# ruff: noqa: T201 - a command-line benchmark prints its table
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
import statistics
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.test_utils import TestServer

from custom_components.enphase_enlighten.api import (
    EnphaseClient,
    EnphaseError,
    EnphaseRateLimitError,
    RequestRecord,
)
from custom_components.enphase_enlighten.api.telemetry import calls_needed
from custom_components.enphase_enlighten.budget import (
    PlanLimits,
    RequestPlanner,
    SolarDaylight,
    SystemProfile,
    Task,
    TaskKind,
    intervals,
    quota_month,
)
from custom_components.enphase_enlighten.energy import GROUPS, REREAD
from custom_components.enphase_enlighten.lifetime import LifetimeEnergy
from custom_components.enphase_enlighten.statistics import (
    CHANNELS,
    CONSUMPTION,
    HOUR,
    final_hours,
)
from simulator import Simulator, create_app

from .quota import API_KEY, OWNER, Case, Site, build_scenario, daylight_uploads, staleness

if TYPE_CHECKING:
    from collections.abc import Sequence

    from custom_components.enphase_enlighten.api import EnergyInterval

_LA = ("America/Los_Angeles", 38.40, -122.82)
ENERGY_CASES = (
    Case("1 home, production only, Watt", "watt", (Site(503, *_LA, consumption_meter=False),)),
    Case("1 home + meters, Watt", "watt", (Site(504, *_LA),)),
    Case("home + meters + battery, Watt", "watt", (Site(501, *_LA, battery=True),)),
    Case("home + meters + battery, Kilowatt", "kilowatt", (Site(502, *_LA, battery=True),)),
)
LIVE_MAX_AGE = timedelta(days=1)
SAMPLE = timedelta(minutes=15)


@dataclass
class EnergyRun:
    """What one month run saw."""

    used: int = 0
    rate_limited: int = 0
    summaries: list[tuple[float, float]] = field(default_factory=list)
    lifetime: list[tuple[float, float]] = field(default_factory=list)
    imported: dict[str, dict[datetime, int]] = field(default_factory=dict)
    exact_at: dict[str, dict[datetime, float]] = field(default_factory=dict)
    live: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    stale_mean: float = math.nan


@dataclass
class EnergyResult:
    """One case's figures."""

    case: str
    baseline: EnergyRun
    imported: EnergyRun
    errors: dict[str, tuple[float, float, float, float]]  # summary mean/max, imported mean/max
    lag_mean: float
    lag_daylight_max: float  # every channel's hours with production
    lag_daylight_mean: float
    lag_production_max: float  # the production channel's alone
    live: dict[str, tuple[float, float]]  # mean age (s), share unknown
    stale_ratio: float


class _Importer:
    """The energy coordinator's fetch, without Home Assistant: hours kept in memory."""

    def __init__(
        self,
        client: EnphaseClient,
        system_id: int,
        start: datetime,
        limits: PlanLimits,
        channels: Sequence[str],
    ):
        self.client = client
        self.system_id = system_id
        self.backfill = start
        self.channels = tuple(channels)
        self.groups = {
            group: wanted
            for group, group_channels in GROUPS.items()
            if (wanted := tuple(c for c in group_channels if c in self.channels))
        }
        # latest_telemetry only where it has something the summary lacks (as the coordinator).
        self.latest = any(c in self.channels for c in (CONSUMPTION, "battery_charge"))
        self.round = len(self.groups) + int(self.latest)
        self.max_calls = max(self.round, limits.per_minute // 2)
        self.run = EnergyRun(
            imported={c: {} for c in self.channels}, exact_at={c: {} for c in self.channels}
        )

    async def fetch(self, now: datetime, truth: dict[str, dict[datetime, int]]) -> bool:
        """Import what is final; return whether history remains (behind)."""
        starts = {}
        for channel in self.channels:
            hours = self.run.imported[channel]
            starts[channel] = (max(hours) + HOUR - REREAD) if hours else self.backfill
        calls = [0]

        def count() -> None:
            calls[0] += 1

        groups = sorted(self.groups.items(), key=lambda item: min(starts[c] for c in item[1]))
        behind = False
        budget = self.max_calls - int(self.latest)
        for index, (group, channels) in enumerate(groups):
            start = min(starts[c] for c in channels)
            remaining = budget - calls[0]
            left = max(1, remaining // (len(groups) - index)) if remaining > 0 else 0
            if left <= 0:
                behind = True
                continue
            stop = now
            if calls_needed(start, now) > left:
                stop = start + (timedelta(days=7) - HOUR) * left
                behind = True
            found = await self._group(group, start, stop, count)
            for channel in channels:
                intervals, reported = found[channel]
                for hour, wh in final_hours(intervals, reported, starts[channel], stop).items():
                    self.run.imported[channel][hour] = wh
                    exact = truth[channel].get(hour) == wh
                    if exact:
                        self.run.exact_at[channel].setdefault(hour, now.timestamp())
                    else:
                        self.run.exact_at[channel].pop(hour, None)
        if not self.latest:
            return behind
        latest = await self.client.latest_telemetry(self.system_id)
        consumption = latest.meter_power("consumption")
        if consumption is not None and consumption[1] is not None:
            self.run.live.setdefault(CONSUMPTION, []).append(
                (now.timestamp(), consumption[1].timestamp())
            )
        return behind

    async def _group(
        self, group: str, start: datetime, end: datetime, count: object
    ) -> dict[str, tuple[tuple[EnergyInterval, ...], datetime | None]]:
        sid = self.system_id
        if group == "telemetry_battery":
            battery = await self.client.battery_telemetry(sid, start, end, on_call=count)  # type: ignore[arg-type]
            if (soc := battery.latest_soc) is not None:
                self.run.live.setdefault("soc", []).append((end.timestamp(), soc[0].timestamp()))
            return {
                "battery_charge": (battery.channel("charge").intervals, battery.reported_until),
                "battery_discharge": (
                    battery.channel("discharge").intervals,
                    battery.reported_until,
                ),
            }
        method = {
            "telemetry_production_micro": self.client.production_micro,
            "telemetry_consumption_meter": self.client.consumption_meter,
            "energy_import_telemetry": self.client.energy_import,
            "energy_export_telemetry": self.client.energy_export,
        }[group]
        series = await method(sid, start, end, on_call=count)  # type: ignore[arg-type]
        (channel,) = GROUPS[group]
        return {channel: (series.intervals, series.reported_until)}


async def _month(case: Case, month_start: datetime, *, telemetry: bool) -> EnergyRun:
    """Run the planner for a month; with ``telemetry`` its telemetry task imports hours."""
    _, month_end = quota_month(month_start)
    limits = PlanLimits.for_plan(case.plan)
    sim = Simulator(
        build_scenario(case), auto_approve=True, start=month_start, speed=0.0,
        token_lifetime=90 * 86400,
    )  # fmt: skip
    sim.set_plan(api_key=API_KEY, plan=case.plan)
    token = str(sim.issue_tokens()["access_token"])
    (site,) = case.sites
    planner = RequestPlanner(limits)
    planner.set_systems(
        OWNER,
        [
            SystemProfile(
                site.system_id,
                timezone=site.timezone,
                has_battery=site.battery,
                daylight=SolarDaylight(site.lat, site.lon),
                telemetry=telemetry,
            )
        ],
    )
    truth = {
        channel: sim.hourly_truth(site.system_id, channel, month_start, month_end)
        for channel in sim.truth_channels(site.system_id)
        if channel in CHANNELS
    }
    rate_limited = [0]

    def on_request(record: RequestRecord) -> None:
        if record.status == 429:
            rate_limited[0] += 1
        planner.record_request(record)

    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    base_url = str(server.make_url("")).rstrip("/")

    async def token_provider() -> str:
        return token

    async with aiohttp.ClientSession() as session:
        client = EnphaseClient(
            session, token_provider, API_KEY, base_url=base_url, on_request=on_request,
            now=sim.clock.time,
        )  # fmt: skip
        importer = _Importer(client, site.system_id, month_start, limits, tuple(truth))
        planner.set_cost(Task(TaskKind.TELEMETRY, OWNER, site.system_id), importer.max_calls)
        run = importer.run
        energy = LifetimeEnergy()
        now = month_start
        while now < month_end:
            sim.clock.set(now, speed=0.0)
            for task in planner.due(now):
                try:
                    if task.kind is TaskKind.SUMMARY:
                        summary = await client.summary(site.system_id)
                        report = summary.last_report_at.timestamp() if summary.last_report_at else 0
                        run.summaries.append((now.timestamp(), report))
                        planner.record_summary(site.system_id, summary, now)
                        if (value := energy.update(summary, now)) is not None:
                            run.lifetime.append((now.timestamp(), value))
                    elif task.kind is TaskKind.TELEMETRY:
                        behind = await importer.fetch(now, truth)
                        if behind:
                            planner.request_soon(task)
                        # What the coordinator's requests_needed says: a back-fill fills the
                        # minute, a round is one call per endpoint and latest_telemetry.
                        planner.set_cost(task, importer.max_calls if behind else importer.round)
                    elif task.kind is TaskKind.ALARMS:
                        await client.alarms(site.system_id, now - timedelta(days=2))
                    elif task.kind is TaskKind.DEVICES:
                        await client.devices(site.system_id)
                    elif task.kind is TaskKind.SYSTEMS:
                        await client.all_systems()
                    elif task.kind is TaskKind.EVENT_TYPES:
                        await client.event_types()
                except EnphaseRateLimitError as err:
                    planner.record_rate_limit(
                        now, period=err.period, period_end=err.period_end, limit=err.limit
                    )
                except EnphaseError:
                    planner.record_failure(task, now)
                else:
                    planner.record_done(task, now)
            wakeup = planner.next_wakeup(now) or month_end
            now = max(min(wakeup, month_end), now + timedelta(seconds=1))
        sim.clock.set(month_end - timedelta(seconds=1), speed=0.0)
        run.used = sim.usage_for(API_KEY).month_count
    await server.close()
    run.rate_limited = rate_limited[0]
    uploads = daylight_uploads(sim, site.system_id, month_start.timestamp(), month_end.timestamp())
    run.stale_mean = statistics.fmean(staleness(uploads, run.summaries, month_end.timestamp()))
    _TRUTH[case.name] = (sim, truth)
    return run


_TRUTH: dict[str, tuple[Simulator, dict[str, dict[datetime, int]]]] = {}


def _summary_hours(
    lifetime: Sequence[tuple[float, float]], hours: Sequence[datetime]
) -> dict[datetime, int]:
    """Hourly energy as Home Assistant's statistics make it of the lifetime sensor's states."""
    result = {}
    index = 0
    value_before = lifetime[0][1] if lifetime else 0.0
    for hour in hours:
        end = (hour + HOUR).timestamp()
        value = value_before
        while index < len(lifetime) and lifetime[index][0] < end:
            value = lifetime[index][1]
            index += 1
        result[hour] = round(value - value_before)
        value_before = value
    return result


async def run_energy(month_start: datetime) -> list[EnergyResult]:
    """Run every energy case: summary-only, then with the imported statistics."""
    results = []
    for case in ENERGY_CASES:
        baseline = await _month(case, month_start, telemetry=False)
        imported = await _month(case, month_start, telemetry=True)
        results.append(_result(case, baseline, imported, month_start))
    return results


async def run_share_sweep(
    month_start: datetime, shares: Sequence[float]
) -> list[tuple[float, EnergyResult]]:
    """Run the Watt cases with telemetry held at each share of the month (the split's curve)."""
    results = []
    for case in ENERGY_CASES:
        if case.plan != "watt":
            continue
        baseline = await _month(case, month_start, telemetry=False)
        for share in shares:
            saved = (intervals.TELEMETRY_SHARE, intervals.TELEMETRY_LAG_SHARE)
            intervals.TELEMETRY_SHARE, intervals.TELEMETRY_LAG_SHARE = share, 0.0
            try:
                imported = await _month(case, month_start, telemetry=True)
            finally:
                intervals.TELEMETRY_SHARE, intervals.TELEMETRY_LAG_SHARE = saved
            results.append((share, _result(case, baseline, imported, month_start)))
    return results


def _result(
    case: Case, baseline: EnergyRun, imported: EnergyRun, month_start: datetime
) -> EnergyResult:
    """Compare a month's imported hours and live values with the truth and the baseline."""
    _, truth = _TRUTH[case.name]
    _, month_end = quota_month(month_start)
    errors = {}
    lags: list[float] = []
    daylight_lags: list[float] = []
    production_lags: list[float] = []
    sunny = {hour for hour, wh in truth["production"].items() if wh > 0}
    # The history lag: how long after its end each hour became exact (never: the month's end).
    for channel in truth:
        for hour in truth[channel]:
            at = imported.exact_at[channel].get(hour)
            lag = (at if at is not None else month_end.timestamp()) - (hour + HOUR).timestamp()
            if hour + HOUR <= month_end - timedelta(days=3):
                lags.append(lag)
                if hour in sunny:
                    daylight_lags.append(lag)
                    if channel == "production":
                        production_lags.append(lag)
    worst = max(lags)
    for channel in truth:
        hours = sorted(truth[channel])
        # The error columns: the hours older than the worst lag (the lag is its own column).
        settled = [h for h in hours if (h + HOUR).timestamp() <= month_end.timestamp() - worst]
        if channel == "production":
            summary = _summary_hours(baseline.lifetime, hours)
            summary_errors = [abs(summary[h] - truth[channel][h]) for h in settled]
        else:
            summary_errors = [truth[channel][h] for h in settled]  # no sensor: all missing
        got = imported.imported[channel]
        imported_errors = [abs(got.get(h, 0) - truth[channel][h]) for h in settled]
        errors[channel] = (
            statistics.fmean(summary_errors), max(summary_errors),
            statistics.fmean(imported_errors), max(imported_errors),
        )  # fmt: skip
    live = {}
    samples = []
    t = month_start + timedelta(days=1)
    while t < month_end:
        samples.append(t.timestamp())
        t += SAMPLE
    for key in (CONSUMPTION, "soc"):
        if key not in imported.live:
            continue
        seen = sorted(imported.live[key])
        ages, unknown, j, current = [], 0, 0, None
        for sample in samples:
            while j < len(seen) and seen[j][0] <= sample:
                current = seen[j][1]
                j += 1
            if current is None or sample - current > LIVE_MAX_AGE.total_seconds():
                unknown += 1
            else:
                ages.append(sample - current)
        live[key] = (statistics.fmean(ages) if ages else math.nan, unknown / len(samples))
    return EnergyResult(
        case=case.name,
        baseline=baseline,
        imported=imported,
        errors=errors,
        lag_mean=statistics.fmean(lags),
        lag_daylight_max=max(daylight_lags),
        lag_daylight_mean=statistics.fmean(daylight_lags),
        lag_production_max=max(production_lags),
        live=live,
        stale_ratio=imported.stale_mean / baseline.stale_mean,
    )


def print_energy(results: Sequence[EnergyResult], month: str) -> list[str]:
    """Print the energy columns; return the targets missed."""
    failures = []
    print(
        f"\nEnergy statistics, {month} (hourly |error| in Wh: mean / worst, of the hours older than the worst history lag)"
    )
    for result in results:
        print(f"\n{result.case}")
        print(f"  {'channel':<18} {'summary-only':>18} {'imported':>14}")
        for channel, (s_mean, s_max, i_mean, i_max) in result.errors.items():
            print(f"  {channel:<18} {s_mean:>8.0f} / {s_max:<8.0f} {i_mean:>6.1f} / {i_max:<6.0f}")
            if i_max > 0:
                failures.append(f"{result.case}: {channel} imported hours off by up to {i_max} Wh")
        print(
            f"  history lag: mean {result.lag_mean / 3600:.1f} h; daylight hours (every channel)"
            f" mean {result.lag_daylight_mean / 3600:.1f} h, worst"
            f" {result.lag_daylight_max / 3600:.1f} h; production alone worst"
            f" {result.lag_production_max / 3600:.1f} h"
        )
        for key, (age, unknown) in result.live.items():
            print(f"  live {key}: mean age {age / 60:.0f} min, unknown {unknown:.0%} of the time")
        base, imp = result.baseline, result.imported
        print(
            f"  production staleness: {base.stale_mean / 60:.1f} min summary-only,"
            f" {imp.stale_mean / 60:.1f} min with statistics ({result.stale_ratio:.2f}x)"
        )
        print(
            f"  requests: {base.used} / {imp.used} used, 429s {base.rate_limited} /"
            f" {imp.rate_limited}"
        )
        quota = PlanLimits.for_plan("watt" if "Watt" in result.case else "kilowatt").per_month
        if imp.rate_limited:
            failures.append(f"{result.case}: {imp.rate_limited} 429s with statistics")
        if imp.used > quota:
            failures.append(f"{result.case}: over quota with statistics")
        if result.stale_ratio > 1.25:
            failures.append(f"{result.case}: production staleness {result.stale_ratio:.2f}x")
        limit = 6 if "Watt" in result.case else 1
        if result.lag_daylight_max > limit * 3600:
            failures.append(
                f"{result.case}: daylight history lag {result.lag_daylight_max / 3600:.1f} h"
                f" > {limit} h"
            )
    return failures


def print_share_sweep(results: Sequence[tuple[float, EnergyResult]], month: str) -> None:
    """Print how the telemetry share trades history lag against production staleness."""
    print(f"\nTelemetry share sweep, {month} (Watt; telemetry held at each share of the month)")
    print(
        f"  {'case':<34} {'share':>6} {'lag mean':>9} {'daylight mean':>14}"
        f" {'daylight worst':>15} {'staleness':>10} {'requests':>9}"
    )
    for share, result in results:
        print(
            f"  {result.case:<34} {share:>6.0%} {result.lag_mean / 3600:>8.1f}h"
            f" {result.lag_daylight_mean / 3600:>13.1f}h {result.lag_daylight_max / 3600:>14.1f}h"
            f" {result.stale_ratio:>9.2f}x {result.imported.used:>9}"
        )
