"""The energy coordinator: reads each system's telemetry when the planner says, imports its hours."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .api import (
    BatteryTelemetry,
    EnphaseForbiddenError,
    LatestTelemetry,
    TelemetrySeries,
)
from .api.const import (
    ENDPOINT_BATTERY_TELEMETRY,
    ENDPOINT_CONSUMPTION_METER,
    ENDPOINT_EXPORT_TELEMETRY,
    ENDPOINT_IMPORT_TELEMETRY,
    ENDPOINT_LATEST_TELEMETRY,
    ENDPOINT_PRODUCTION_MICRO,
    TELEMETRY_LOOKBACK_MONTHS,
    TELEMETRY_WEEK,
)
from .api.telemetry import calls_needed, months_before
from .budget import TaskKind
from .const import CONF_PLAN, DOMAIN, PLAN_KILOWATT, PLAN_MEGAWATT, PLAN_PARTNER, PLAN_WATT
from .coordinator import EnphaseSystemCoordinator
from .statistics import (
    BATTERY_CHARGE,
    BATTERY_DISCHARGE,
    CHANNEL_NAMES,
    CONSUMPTION,
    GRID_EXPORT,
    GRID_IMPORT,
    HOUR,
    PRODUCTION,
    async_first_imported,
    async_import_hours,
    async_last_imported,
    final_hours,
    hour_of,
    statistic_id,
    system_channels,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from .api import Devices, EnergyInterval, Summary

_LOGGER = logging.getLogger(__name__)

# Each call group (one endpoint) and the channels it fills, in the order they are fetched.
GROUPS: Final = {
    ENDPOINT_PRODUCTION_MICRO: (PRODUCTION,),
    ENDPOINT_CONSUMPTION_METER: (CONSUMPTION,),
    ENDPOINT_IMPORT_TELEMETRY: (GRID_IMPORT,),
    ENDPOINT_EXPORT_TELEMETRY: (GRID_EXPORT,),
    ENDPOINT_BATTERY_TELEMETRY: (BATTERY_CHARGE, BATTERY_DISCHARGE),
}
GROUP_OF: Final = {channel: group for group, channels in GROUPS.items() for channel in channels}
# The plan above each plan: what a refused endpoint needs, as far as the user can act on it.
NEXT_PLAN: Final = {
    PLAN_WATT: PLAN_KILOWATT,
    PLAN_KILOWATT: PLAN_MEGAWATT,
    PLAN_MEGAWATT: PLAN_PARTNER,
}

# Enphase's data can lag the gateway: every fetch re-reads this much before the last hour
# imported (free within one call) and corrects hours that later data changed.
REREAD: Final = timedelta(days=1)
# Where a first import starts on plans larger than Watt (Watt: the current month).
LARGE_PLAN_BACKFILL: Final = timedelta(days=90)

STORAGE_VERSION: Final = 1


def storage_key(entry_id: str) -> str:
    """Return the store key of an entry's refused telemetry endpoints."""
    return f"{DOMAIN}.{entry_id}.energy"


def refused_issue_key(endpoint: str) -> str:
    """Return the text of a refused endpoint's repair issue: one per endpoint, all translated."""
    if endpoint == ENDPOINT_PRODUCTION_MICRO:
        return "telemetry_refused_production"
    if endpoint == ENDPOINT_CONSUMPTION_METER:
        return "telemetry_refused_consumption"
    if endpoint == ENDPOINT_IMPORT_TELEMETRY:
        return "telemetry_refused_grid_import"
    if endpoint == ENDPOINT_EXPORT_TELEMETRY:
        return "telemetry_refused_grid_export"
    if endpoint == ENDPOINT_BATTERY_TELEMETRY:
        return "telemetry_refused_battery"
    return "telemetry_refused_live"


def refused_issue_id(entry_id: str, system_id: int, endpoint: str) -> str:
    """Return the repair issue id of an endpoint the plan refused for a system."""
    return f"telemetry_refused_{entry_id}_{system_id}_{endpoint}"


@dataclass(slots=True)
class EnergyData:
    """What the last telemetry fetch found: hours imported, live values, refused endpoints."""

    channels: tuple[str, ...] = ()
    imported_until: dict[str, datetime] = field(default_factory=dict)
    hours_written: int = 0
    requests: int = 0
    behind: bool = False
    soc: tuple[datetime, int] | None = None
    latest: LatestTelemetry | None = None
    latest_at: datetime | None = None
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did: requests made, hours written, whether history remains."""

    requests: int
    hours: int
    behind: bool
    # Whether the import moved on: hours written, or a reported stretch found empty.
    progress: bool = True


def _held_time(value: Any) -> datetime:
    """Read a time from a held answer; ValueError when it is not one (the answer is dropped)."""
    when = dt_util.parse_datetime(str(value))
    if when is None or when.tzinfo is None:
        raise ValueError(f"not a time: {value!r}")
    return when


def backfill_start(now: datetime, plan: str) -> datetime:
    """Return where a system's first import starts: on Watt the current local month."""
    if plan == PLAN_WATT:
        local = dt_util.as_local(now)
        return dt_util.start_of_local_day(local.replace(day=1)).astimezone(UTC)
    return hour_of(now - LARGE_PLAN_BACKFILL)


class EnphaseEnergyCoordinator(EnphaseSystemCoordinator[EnergyData | None]):
    """A system's telemetry: imports every channel's final hours as long-term statistics.

    Each fetch continues from the last imported hour of each statistic (the recorder's),
    re-reading a day before it; a first fetch back-fills the current month on Watt. A
    fetch makes at most half the plan's per-minute limit and asks the planner
    to continue soon while history remains. An endpoint the plan refuses (403) is switched
    off for the system, saved, and raised as a repair issue; it is tried again only once
    the plan changes.
    """

    kind = TaskKind.TELEMETRY

    # The system's hardware (devices, summary), set by runtime: it decides the channels.
    hardware: Callable[[], tuple[Devices | None, Summary | None]] = staticmethod(
        lambda: (None, None)
    )
    # The system's display name for the statistics.
    system_name: Callable[[], str | None] = staticmethod(lambda: None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set up the coordinator; the refused endpoints are read in ``async_prepare``."""
        super().__init__(*args, **kwargs)
        self.store = Store[dict[str, Any]](
            self.hass, STORAGE_VERSION, storage_key(self.config_entry.entry_id)
        )
        self.refused: dict[str, str] = {}
        self._prepared = False
        self._starts: dict[str, datetime] = {}
        # Per channel, the end of a back-fill stretch read whole and empty (a gap Enphase has
        # newer data than): the next fetch starts after it instead of reading it again.
        self._read_until: dict[str, datetime] = {}

    @property
    def plan(self) -> str:
        """The entry's plan name."""
        return str(self.config_entry.data.get(CONF_PLAN) or PLAN_WATT)

    async def async_prepare(self) -> None:
        """Read the endpoints refused under the current plan by an earlier run."""
        if self._prepared:
            return
        self._prepared = True
        saved = await self.store.async_load() or {}
        mine = saved.get(str(self.system_id))
        if isinstance(mine, dict) and mine.get("plan") == self.plan:
            self.refused = {str(k): str(v) for k, v in (mine.get("refused") or {}).items()}
        else:
            for endpoint in GROUPS:
                ir.async_delete_issue(
                    self.hass,
                    DOMAIN,
                    refused_issue_id(self.config_entry.entry_id, self.system_id, endpoint),
                )

    def channels(self) -> list[str]:
        """Return the channels to import: what the hardware measures, less refused endpoints."""
        return [
            channel
            for channel in system_channels(*self.hardware())
            if GROUP_OF[channel] not in self.refused
        ]

    def _max_calls(self) -> int:
        # Half the minute, but never less than one round (an endpoint each, the latest power):
        # summaries and the user's refreshes keep the rest.
        return max(len(GROUPS) + 1, self.budget.planner.limits.per_minute // 2)

    def requests_needed(self, now: datetime) -> int:
        """Return the requests of the next fetch (at most half the per-minute limit)."""
        needed = 0
        available = self.channels()
        for channels in GROUPS.values():
            wanted = [c for c in channels if c in available]
            if not wanted:
                continue
            start = min(self._starts.get(c, backfill_start(now, self.plan)) for c in wanted)
            needed += calls_needed(min(start, now), now)
        if self._wants_latest(available):
            needed += 1
        return max(1, min(needed, self._max_calls()))

    def _wants_latest(self, channels: list[str]) -> bool:
        """Whether live consumption or battery power exist (latest_telemetry has them)."""
        return ENDPOINT_LATEST_TELEMETRY not in self.refused and any(
            channel in channels for channel in (CONSUMPTION, BATTERY_CHARGE)
        )

    def _hold(self, data: EnergyData | None) -> Any:
        """Hold the live values and what was imported (the hours are in the recorder)."""
        if data is None:
            return None
        return {
            "channels": list(data.channels),
            "imported_until": {c: t.isoformat() for c, t in data.imported_until.items()},
            "soc": None if data.soc is None else [data.soc[0].isoformat(), data.soc[1]],
            "latest": None if data.latest is None else dict(data.latest.raw),
            "latest_at": None if data.latest_at is None else data.latest_at.isoformat(),
        }

    async def _async_restore(self, held: Any) -> EnergyData | None:
        # The endpoints refused under this plan come from their own store, not the answer.
        await self.async_prepare()
        if held is None:
            return None
        soc = held["soc"]
        latest = held["latest"]
        return EnergyData(
            channels=tuple(str(channel) for channel in held["channels"]),
            imported_until={
                str(channel): _held_time(when) for channel, when in held["imported_until"].items()
            },
            soc=None if soc is None else (_held_time(soc[0]), int(soc[1])),
            latest=None
            if latest is None
            else LatestTelemetry.from_dict(latest, system_id=self.system_id),
            latest_at=None if held["latest_at"] is None else _held_time(held["latest_at"]),
            refused=dict(self.refused),
        )

    async def _channel_start(self, channel: str, now: datetime) -> datetime:
        last = await async_last_imported(self.hass, statistic_id(self.system_id, channel))
        earliest = months_before(now, TELEMETRY_LOOKBACK_MONTHS) + timedelta(days=1)
        start = backfill_start(now, self.plan) if last is None else last.start + HOUR - REREAD
        if (skip := self._read_until.get(channel)) is not None and skip > start:
            start = skip
        return max(hour_of(earliest) + HOUR, min(start, hour_of(now)))

    async def _async_fetch(self) -> EnergyData | None:
        # Also when run outside the scheduler: refused endpoints must be known first.
        await self.async_prepare()
        now = dt_util.utcnow()
        channels = self.channels()
        starts = {channel: await self._channel_start(channel, now) for channel in channels}
        self._starts = dict(starts)
        latest = self._wants_latest(channels)
        report, data = await self.async_import(starts, now, self._max_calls() - int(latest))
        if report.behind and report.progress:
            # Go on at the next chance; a stretch the gateway has not uploaded yet (it is
            # offline) waits for the regular fetches instead of being asked every minute.
            self.budget.planner.request_soon(self.task)
        if latest:
            sid = self.system_id
            try:
                data.latest = await self._async_call(lambda: self.client.latest_telemetry(sid))
            except EnphaseForbiddenError:
                self._refuse(ENDPOINT_LATEST_TELEMETRY)
                await self._async_save_refused()
                data.refused = dict(self.refused)
            else:
                data.latest_at = now
                data.requests += 1
        return data

    async def async_history_plan(
        self, start: datetime, now: datetime
    ) -> tuple[dict[str, datetime], datetime, int]:
        """Return the starts, the end and the requests of importing history from ``start``.

        The end is the oldest hour already imported (now when nothing is yet); the hours
        between are read, those already there are left as they are.
        """
        earliest = hour_of(months_before(now, TELEMETRY_LOOKBACK_MONTHS)) + timedelta(days=1)
        start = max(hour_of(start), earliest)
        firsts = [
            await async_first_imported(self.hass, statistic_id(self.system_id, channel), now)
            for channel in self.channels()
        ]
        end = max((first for first in firsts if first is not None), default=hour_of(now))
        end = max(start, end)
        starts = dict.fromkeys(self.channels(), start)
        groups = {GROUP_OF[channel] for channel in starts}
        requests = len(groups) * calls_needed(start, end) if end > start else 0
        return starts, end, requests

    async def async_import(
        self,
        starts: dict[str, datetime],
        end: datetime,
        max_calls: int,
        *,
        history: bool = False,
    ) -> tuple[ImportReport, EnergyData]:
        """Import each channel's final hours from its start to ``end``, in ``max_calls``."""
        calls = [0]

        def count() -> None:
            calls[0] += 1

        previous = self.data or EnergyData()
        data = EnergyData(
            channels=tuple(starts),
            imported_until=dict(previous.imported_until),
            soc=previous.soc,
            latest=previous.latest,
            latest_at=previous.latest_at,
        )
        written = 0
        behind = False
        progress = False
        groups = [
            (group, [c for c in group_channels if c in starts])
            for group, group_channels in GROUPS.items()
        ]
        # The furthest behind first, so an endpoint left out of one fetch leads the next.
        groups = sorted(
            ((group, wanted) for group, wanted in groups if wanted),
            key=lambda item: min(starts[c] for c in item[1]),
        )
        for index, (group, wanted) in enumerate(groups):
            start = min(starts[c] for c in wanted)
            # A long back-fill shares the calls: every channel moves on in every fetch.
            remaining = max_calls - calls[0]
            left = max(1, remaining // (len(groups) - index)) if remaining > 0 else 0
            if left <= 0:
                behind = True
                continue
            stop = end
            if calls_needed(start, end) > left:
                stop = start + (TELEMETRY_WEEK - HOUR) * left
                behind = True
            try:
                found = await self._fetch_group(group, start, stop, count)
            except EnphaseForbiddenError:
                self._refuse(group)
                await self._async_save_refused()
                continue
            name = self.system_name() or f"Enphase {self.system_id}"
            for channel in wanted:
                intervals, reported, soc = found[channel]
                hours = final_hours(intervals, reported, starts[channel], stop)
                if stop < end and reported is not None and reported >= stop:
                    # Uploaded up to past this stretch: what it lacks will not come.
                    previous_skip = self._read_until.get(channel)
                    if previous_skip is None or stop > previous_skip:
                        self._read_until[channel] = stop
                        progress = True
                # Hours past the last imported one (a re-read rewrites the same hours).
                known = previous.imported_until.get(channel)
                if hours and (known is None or max(hours) + HOUR > known):
                    progress = True
                if soc is not None and not history:
                    data.soc = soc
                written += await async_import_hours(
                    self.hass,
                    self.system_id,
                    channel,
                    hours,
                    f"{name} {CHANNEL_NAMES[channel]}",
                )
                if hours:
                    until = max(hours) + HOUR
                    data.imported_until[channel] = max(
                        until, data.imported_until.get(channel, until)
                    )
        data.hours_written = written
        data.requests = calls[0]
        data.behind = behind
        data.refused = dict(self.refused)
        return ImportReport(calls[0], written, behind, progress), data

    async def _fetch_group(
        self,
        group: str,
        start: datetime,
        end: datetime,
        count: Callable[[], None],
    ) -> dict[str, tuple[tuple[EnergyInterval, ...], datetime | None, tuple[datetime, int] | None]]:
        client = self.client
        sid = self.system_id
        if group == ENDPOINT_BATTERY_TELEMETRY:
            battery: BatteryTelemetry = await self._async_call(
                lambda: client.battery_telemetry(sid, start, end, on_call=count)
            )
            reported = battery.reported_until
            _, summary = self.hardware()
            soc = battery.current_soc(summary.last_report_at if summary is not None else None)
            return {
                BATTERY_CHARGE: (battery.channel("charge").intervals, reported, soc),
                BATTERY_DISCHARGE: (battery.channel("discharge").intervals, reported, None),
            }
        method = {
            ENDPOINT_PRODUCTION_MICRO: client.production_micro,
            ENDPOINT_CONSUMPTION_METER: client.consumption_meter,
            ENDPOINT_IMPORT_TELEMETRY: client.energy_import,
            ENDPOINT_EXPORT_TELEMETRY: client.energy_export,
        }[group]
        series: TelemetrySeries = await self._async_call(
            lambda: method(sid, start, end, on_call=count)
        )
        reported = series.reported_until
        _, summary = self.hardware()
        if reported is None and summary is not None and summary.last_report_at is not None:
            # No meta in the answer: the summary says when the gateway last uploaded.
            reported = summary.last_report_at - timedelta(minutes=1)
        (channel,) = GROUPS[group]
        return {channel: (series.intervals, reported, None)}

    def _refuse(self, endpoint: str) -> None:
        needed = NEXT_PLAN.get(self.plan, PLAN_PARTNER)
        self.refused[endpoint] = needed
        _LOGGER.warning(
            "Enphase refused %s for system %s on the %s plan; it is switched off",
            endpoint,
            self.system_id,
            self.plan,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            refused_issue_id(self.config_entry.entry_id, self.system_id, endpoint),
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=refused_issue_key(endpoint),
            translation_placeholders={
                "entry": self.config_entry.title,
                "system_id": str(self.system_id),
                # Enphase's names of its plans, the same in every language.
                "plan": self.plan.capitalize(),
                "needed": needed.capitalize(),
            },
        )

    async def _async_save_refused(self) -> None:
        saved = await self.store.async_load() or {}
        saved[str(self.system_id)] = {"plan": self.plan, "refused": dict(self.refused)}
        await self.store.async_save(saved)


__all__ = ["ENDPOINT_LATEST_TELEMETRY", "EnergyData", "EnphaseEnergyCoordinator", "ImportReport"]
