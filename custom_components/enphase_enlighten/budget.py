"""Request budget: count API requests per key and plan which Enphase data to fetch next, and when."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
import hashlib
import math
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .const import DOMAIN, PLANS

STORAGE_VERSION = 1

# Gateways upload every 15 minutes on broadband and every few hours on cellular (NOTES.md).
UPLOAD_INTERVAL = timedelta(minutes=15)
CELLULAR_UPLOAD_INTERVAL = timedelta(hours=3)
# Poll this long after an expected upload so that the upload has landed in the cloud.
UPLOAD_LAG = timedelta(seconds=60)
# Without a battery nothing changes at night: the next poll comes after sunrise (this interval
# is the fallback when the sun does not rise, and the cost model's allowance for dusk polls).
NIGHT_INTERVAL = timedelta(hours=12)
# With a battery the night is worth watching, at this multiple of the daylight interval. The
# summary only carries the batteries' ratings, not their state, so a night poll buys status.
BATTERY_NIGHT_FACTOR = 12.0
MAX_SUMMARY_INTERVAL = timedelta(hours=12)
# A zone spans about 15 degrees of longitude (an hour of sun) and many latitudes: when the
# budget allows polling near every upload, daylight guessed from a zone is widened this much.
TIMEZONE_MARGIN = timedelta(minutes=30)
DAILY = timedelta(days=1)
MAX_INVENTORY_INTERVAL = timedelta(days=7)
EVENT_TYPES_INTERVAL = timedelta(days=30)
MIN_ALARM_INTERVAL = timedelta(minutes=15)
MAX_ALARM_INTERVAL = timedelta(days=1)
# Shares of the automatic budget. Summaries are what a user looks at, so they get the rest.
ALARM_SHARE = 0.04
INVENTORY_SHARE = 0.05
INVERTERS_SHARE = 0.04
# What summaries cannot use (capped by the uploads) goes this much to alarms and microinverters.
ALARM_SURPLUS_SHARE = 0.8
# A plan that cannot poll each system at least this often in daylight is not "fresh".
FRESH_LIMIT = timedelta(hours=2)
RETRY_MIN = timedelta(minutes=2)
BACKOFF_MIN = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

# Time zones south of the equator, for the timezone-only daylight guess.
_SOUTHERN_PREFIXES = (
    "Australia/",
    "Antarctica/",
    "Africa/Johannesburg",
    "Africa/Maputo",
    "Africa/Harare",
    "Africa/Windhoek",
    "America/Argentina/",
    "America/Buenos_Aires",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Montevideo",
    "America/Asuncion",
    "America/La_Paz",
    "America/Lima",
    "Pacific/Auckland",
    "Pacific/Fiji",
    "Pacific/Chatham",
    "Indian/Mauritius",
    "Indian/Reunion",
    "Brazil/",
    "Chile/",
    "NZ",
)


def quota_month(now: datetime) -> tuple[datetime, datetime]:
    """Return the start and end of the Enphase quota month holding ``now``.

    Enphase does not document its quota month; calendar months in UTC are assumed here and
    only here, so a different answer changes one function.
    """
    now = now.astimezone(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def storage_key(api_key: str) -> str:
    """Return the storage key for an API key's counts; the key itself is never stored."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:24]
    return f"{DOMAIN}.budget.{digest}"


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """Requests an application (API key) may make per minute and per month."""

    per_minute: int
    per_month: int

    @classmethod
    def for_plan(
        cls, plan: str, *, per_minute: int | None = None, per_month: int | None = None
    ) -> PlanLimits:
        """Limits of a named plan; explicit numbers win (they are required for "custom")."""
        default = PLANS.get(plan)
        minute = per_minute if per_minute is not None else default[0] if default else None
        month = per_month if per_month is not None else default[1] if default else None
        if minute is None or month is None:
            raise ValueError(f"Plan {plan!r} needs explicit limits")
        if minute < 1 or month < 1:
            raise ValueError("Plan limits must be positive")
        return cls(minute, month)


@dataclass(frozen=True, slots=True)
class Reserve:
    """Requests per month the automatic polling leaves alone.

    ``other`` is for the user's other uses of the same API key and is never touched.
    ``manual`` is for refreshes a user asks for; what of it is unused is released pro rata as
    the month runs out, so an unused reserve is not wasted.
    """

    other: int = 0
    manual: int | None = None  # None: 3% of the monthly quota

    def manual_for(self, limits: PlanLimits) -> int:
        """Return the requests reserved for manual refreshes under these limits."""
        if self.manual is not None:
            return max(0, self.manual)
        return max(1, math.ceil(limits.per_month * 0.03))


class UsageStore(Protocol):
    """Async persistence for the counts (Home Assistant's ``Store`` fits as is)."""

    async def async_load(self) -> Any:
        """Return the saved data, or None."""

    async def async_save(self, data: Any) -> None:
        """Save the data."""


class RequestRecordLike(Protocol):
    """What the budget reads from the API client's ``RequestRecord``."""

    @property
    def endpoint(self) -> str:
        """Endpoint name."""

    @property
    def status(self) -> int | None:
        """HTTP status, None without a response."""

    @property
    def started_at(self) -> float:
        """Epoch seconds."""


class SummaryLike(Protocol):
    """What the budget reads from the API client's ``Summary``."""

    @property
    def last_report_at(self) -> datetime | None:
        """When the gateway last reported."""

    @property
    def status(self) -> str | None:
        """System status."""

    @property
    def battery_capacity_wh(self) -> int | None:
        """Battery capacity, if any."""


class DaylightProvider(Protocol):
    """Sunrise and sunset (aware datetimes) of one local date of a system."""

    def sun_times(self, day: date) -> tuple[datetime, datetime]:
        """Return (sunrise, sunset); equal values mean no daylight that day."""


@dataclass(frozen=True, slots=True)
class SolarDaylight:
    """Sunrise and sunset from NOAA's solar equations for a place."""

    latitude: float
    longitude: float
    # Widens the day on both sides when the place is only a guess.
    margin: timedelta = timedelta(0)

    def sun_times(self, day: date) -> tuple[datetime, datetime]:
        """Return (sunrise, sunset) in UTC for the solar day nearest ``day`` at this place."""
        gamma = 2 * math.pi / 365 * (day.timetuple().tm_yday - 1)
        eqtime = 229.18 * (
            0.000075
            + 0.001868 * math.cos(gamma)
            - 0.032077 * math.sin(gamma)
            - 0.014615 * math.cos(2 * gamma)
            - 0.040849 * math.sin(2 * gamma)
        )
        decl = (
            0.006918
            - 0.399912 * math.cos(gamma)
            + 0.070257 * math.sin(gamma)
            - 0.006758 * math.cos(2 * gamma)
            + 0.000907 * math.sin(2 * gamma)
            - 0.002697 * math.cos(3 * gamma)
            + 0.00148 * math.sin(3 * gamma)
        )
        lat = math.radians(self.latitude)
        cos_ha = math.cos(math.radians(90.833)) / (math.cos(lat) * math.cos(decl)) - math.tan(
            lat
        ) * math.tan(decl)
        noon = 720 - 4 * self.longitude - eqtime
        base = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if cos_ha >= 1:  # polar night
            at = base + timedelta(minutes=noon)
            return at, at
        half = 720.0 if cos_ha <= -1 else math.degrees(math.acos(cos_ha)) * 4
        half = min(720.0, half + self.margin.total_seconds() / 60)
        return base + timedelta(minutes=noon - half), base + timedelta(minutes=noon + half)


def timezone_daylight(timezone: str | None) -> SolarDaylight:
    """Guess daylight from a time zone alone: its standard meridian at 40 degrees N or S."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    probe = datetime(2026, 1, 15, 12, tzinfo=zone)
    offset = (probe.utcoffset() or timedelta()) - (probe.dst() or timedelta())
    longitude = max(-180.0, min(180.0, offset.total_seconds() / 3600 * 15))
    southern = bool(timezone) and str(timezone).startswith(_SOUTHERN_PREFIXES)
    return SolarDaylight(-40.0 if southern else 40.0, longitude)


@dataclass(frozen=True, slots=True)
class SystemProfile:
    """What the planner knows about one Enphase system before polling it."""

    system_id: int
    timezone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    has_battery: bool = False
    cellular: bool = False
    # Per-microinverter data (inverters_summary) is fetched only when something uses it.
    inverters: bool = False
    # An injected source wins (e.g. Home Assistant's sun for the home's own system).
    daylight: DaylightProvider | None = None

    @property
    def daylight_is_guess(self) -> bool:
        """Whether daylight comes from the time zone alone."""
        return self.daylight is None and (self.latitude is None or self.longitude is None)

    def daylight_provider(self) -> DaylightProvider:
        """Return the best daylight source available for this system."""
        if self.daylight is not None:
            return self.daylight
        if self.latitude is not None and self.longitude is not None:
            return SolarDaylight(self.latitude, self.longitude)
        return timezone_daylight(self.timezone)

    def zone(self) -> ZoneInfo:
        """Return the system's time zone (UTC when unknown)."""
        try:
            return ZoneInfo(self.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


class TaskKind(StrEnum):
    """A kind of fetch the planner schedules, in order of value."""

    SUMMARY = "summary"
    ALARMS = "alarms"
    INVERTERS = "inverters_summary"
    DEVICES = "devices"
    SYSTEMS = "systems"
    EVENT_TYPES = "event_types"


_PRIORITY = {kind: index for index, kind in enumerate(TaskKind)}


@dataclass(frozen=True, slots=True)
class Task:
    """One fetch: a kind, the entry (owner) it is for and, for per-system kinds, the system."""

    kind: TaskKind
    owner: str
    system_id: int | None = None

    @property
    def key(self) -> str:
        """Stable text key, used in storage."""
        return f"{self.kind}:{self.owner}:{'' if self.system_id is None else self.system_id}"


class BlockPeriod(StrEnum):
    """Why automatic polling is paused."""

    MINUTE = "minute"
    MONTH = "month"
    BACKOFF = "backoff"


class RefreshRefusal(StrEnum):
    """Why a manual refresh is refused (usable as a translation key)."""

    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    BACKING_OFF = "backing_off"
    MINUTE_LIMIT = "minute_limit"
    BUDGET = "budget"


@dataclass(frozen=True, slots=True)
class RefreshDecision:
    """Answer to "may the user refresh now?"."""

    allowed: bool
    reason: RefreshRefusal | None = None
    retry_at: datetime | None = None

    def __bool__(self) -> bool:
        """Truthy when allowed."""
        return self.allowed


@dataclass(frozen=True, slots=True)
class BudgetStats:
    """Numbers for diagnostic sensors."""

    used: int
    quota: int
    remaining: int
    projected_month_end: int
    month_end: datetime
    next_summary_at: datetime | None
    daylight_interval: timedelta
    blocked_until: datetime | None
    block_period: BlockPeriod | None


@dataclass(frozen=True, slots=True)
class FreshnessVerdict:
    """Whether the plan can keep the selected systems reasonably fresh."""

    ok: bool
    systems: int
    daylight_interval: timedelta
    limit: timedelta
    max_systems: int


@dataclass(slots=True)
class _SummaryState:
    profile: SystemProfile
    last_poll: datetime | None = None
    last_report_at: datetime | None = None
    status: str | None = None
    deltas: deque[float] = field(default_factory=lambda: deque(maxlen=6))
    misses: int = 0
    memo: tuple[tuple[Any, ...], datetime] | None = None

    @property
    def cadence(self) -> timedelta:
        """Expected time between uploads.

        Broadband gateways upload every 15 minutes. Cellular ones upload every few hours:
        the shortest gap seen between distinct reports is their cadence (gaps between our
        polls are multiples of it, so the minimum converges on it).
        """
        if not self.profile.cellular:
            return UPLOAD_INTERVAL
        if self.deltas:
            return max(UPLOAD_INTERVAL, timedelta(seconds=min(self.deltas)))
        return CELLULAR_UPLOAD_INTERVAL

    @property
    def has_battery(self) -> bool:
        return self.profile.has_battery


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class RequestPlanner:
    """Counts one API key's requests and plans every entry's fetches within its plan.

    One instance per API key, shared by every config entry using that key (``owner`` is the
    entry id). Feed it the client's request records, the summaries it fetched and the rate
    limits it hit; ask it what is due. All times are aware datetimes passed in: no clock here.
    """

    def __init__(
        self,
        limits: PlanLimits,
        store: UsageStore | None = None,
        *,
        reserve: Reserve | None = None,
        fresh_limit: timedelta = FRESH_LIMIT,
    ) -> None:
        """Create a planner; call ``async_load`` before use when a store is given."""
        self.limits = limits
        self.reserve = reserve or Reserve()
        self.fresh_limit = fresh_limit
        self._store = store
        self._month_start: datetime | None = None
        self._used = 0
        self._unaccounted = 0
        self._by_endpoint: dict[str, int] = {}
        self._window: deque[float] = deque()
        self._blocked_until: datetime | None = None
        self._block_period: BlockPeriod | None = None
        self._backoff = BACKOFF_MIN
        self._last_done: dict[str, datetime] = {}
        self._retry_at: dict[str, datetime] = {}
        self._urgent: set[str] = set()
        # Requests a task's next run makes, when more than one (an alarms fetch over weeks).
        self._costs: dict[str, int] = {}
        self._owners: dict[str, list[int]] = {}
        self._systems: dict[int, _SummaryState] = {}
        self._sun_cache: dict[tuple[int, date], tuple[datetime, datetime]] = {}
        self._interval_cache: tuple[tuple[int, int, int, int], timedelta] | None = None
        self._interval: timedelta | None = None
        self._stream_cache: tuple[tuple[datetime, int], tuple[timedelta, timedelta]] | None = None
        self._dirty = False

    # ---- persistence -------------------------------------------------------------------

    async def async_load(self) -> None:
        """Load persisted counts (no-op without a store)."""
        if self._store is None:
            return
        data = await self._store.async_load()
        if isinstance(data, Mapping):
            self.from_dict(data)

    async def async_save(self) -> None:
        """Persist counts if they changed since the last save."""
        if self._store is None or not self._dirty:
            return
        self._dirty = False
        await self._store.async_save(self.to_dict())

    @property
    def dirty(self) -> bool:
        """True when there are unsaved changes."""
        return self._dirty

    def to_dict(self) -> dict[str, Any]:
        """Return the state to save: counts, pause, when slow tasks last ran (no key or token)."""
        return {
            "version": STORAGE_VERSION,
            "month_start": _iso(self._month_start),
            "used": self._used,
            "unaccounted": self._unaccounted,
            "by_endpoint": dict(self._by_endpoint),
            "blocked_until": _iso(self._blocked_until),
            "block_period": self._block_period,
            # The sliding minute, so a setup right after a config flow (or a reload) counts
            # the requests just made: an alarms fetch over weeks would otherwise earn a 429.
            "minute": list(self._window),
            "last_done": {
                key: value.isoformat()
                for key, value in self._last_done.items()
                if not key.startswith(TaskKind.SUMMARY)
            },
        }

    def from_dict(self, data: Mapping[str, Any]) -> None:
        """Restore state saved by ``to_dict``; counts already made in memory are kept."""
        month_start = _parse(data.get("month_start"))
        used = data.get("used")
        if month_start is not None and isinstance(used, int):
            if self._month_start is None or month_start == self._month_start:
                self._month_start = month_start
                self._used += used
                unaccounted = data.get("unaccounted")
                if isinstance(unaccounted, int):
                    self._unaccounted = max(self._unaccounted, unaccounted)
                by_endpoint = data.get("by_endpoint")
                if isinstance(by_endpoint, Mapping):
                    for name, count in by_endpoint.items():
                        if isinstance(count, int):
                            self._by_endpoint[str(name)] = self._by_endpoint.get(name, 0) + count
            elif month_start > self._month_start:
                self._month_start = month_start
                self._used = used
        blocked = _parse(data.get("blocked_until"))
        period = data.get("block_period")
        if (
            blocked is not None
            and isinstance(period, str)
            and period in BlockPeriod.__members__.values()
            and (self._blocked_until is None or blocked > self._blocked_until)
        ):
            self._blocked_until = blocked
            self._block_period = BlockPeriod(period)
        minute = data.get("minute")
        if isinstance(minute, list):
            saved = [float(stamp) for stamp in minute if isinstance(stamp, int | float)]
            self._window = deque(sorted([*self._window, *saved]))
        last_done = data.get("last_done")
        if isinstance(last_done, Mapping):
            for key, value in last_done.items():
                when = _parse(value)
                if when is not None:
                    self._last_done[str(key)] = max(when, self._last_done.get(str(key), when))

    # ---- counting ----------------------------------------------------------------------

    def _roll(self, now: datetime) -> None:
        start, _ = quota_month(now)
        if self._month_start is None or start > self._month_start:
            if self._month_start is not None:
                self._used = 0
                self._unaccounted = 0
                self._by_endpoint.clear()
                self._dirty = True
            self._month_start = start
        if self._blocked_until is not None and self._blocked_until <= now:
            self._blocked_until = None
            self._block_period = None
            self._dirty = True

    def record_request(self, record: RequestRecordLike) -> None:
        """Count one request reported by the API client (success or failure alike)."""
        when = datetime.fromtimestamp(record.started_at, UTC)
        self._roll(when)
        if when >= (self._month_start or when):
            self._used += 1
            self._by_endpoint[record.endpoint] = self._by_endpoint.get(record.endpoint, 0) + 1
        self._window.append(record.started_at)
        self._dirty = True
        if record.status is not None and record.status < 400 and self._block_period is None:
            self._backoff = BACKOFF_MIN

    def used(self, now: datetime) -> int:
        """Return the requests counted in the quota month holding ``now``."""
        self._roll(now)
        return self._used

    def minute_room(self, now: datetime) -> int:
        """Return the requests still allowed in the sliding minute ending at ``now``."""
        horizon = now.timestamp() - 60
        while self._window and self._window[0] <= horizon:
            self._window.popleft()
        return max(0, self.limits.per_minute - len(self._window))

    def _minute_free_at(self, now: datetime, needed: int) -> datetime:
        """Earliest time at which ``needed`` more requests fit in the sliding minute."""
        self.minute_room(now)
        excess = len(self._window) + needed - self.limits.per_minute
        if excess <= 0:
            return now
        if excess > len(self._window):  # more than a minute's worth: after a full minute
            return now + MINUTE
        return datetime.fromtimestamp(self._window[excess - 1] + 60, UTC)

    def minute_free_at(self, now: datetime, task: Task) -> datetime:
        """Earliest time at which the task's next run fits in the sliding minute."""
        return self._minute_free_at(now, self.cost(task))

    def record_rate_limit(
        self,
        now: datetime,
        *,
        period: str | None,
        period_end: datetime | None = None,
        limit: int | None = None,
    ) -> None:
        """React to a 429 from Enphase.

        minute: pause until ``period_end``. month: pause everything until ``period_end`` (see
        ``month_exhausted`` for the repair issue). No period: the key is busier than our
        count says (another user of the key, most likely), so back off exponentially and
        halve the quota we still plan to spend; each such 429 halves it again.
        """
        self._roll(now)
        if period == BlockPeriod.MINUTE:
            until = period_end if period_end and period_end > now else now + MINUTE
            self._block(until, BlockPeriod.MINUTE)
        elif period == BlockPeriod.MONTH:
            until = period_end if period_end and period_end > now else quota_month(now)[1]
            self._block(until, BlockPeriod.MONTH)
            if limit is not None and limit > self._used + self._unaccounted:
                self._unaccounted = limit - self._used
        else:
            remaining = self._plannable_total(now) - self._used - self._unaccounted
            self._unaccounted += max(1, remaining // 2)
            self._block(now + self._backoff, BlockPeriod.BACKOFF)
            self._backoff = min(BACKOFF_MAX, self._backoff * 2)
        self._dirty = True

    def _block(self, until: datetime, period: BlockPeriod) -> None:
        if (
            self._block_period == BlockPeriod.MONTH
            and self._blocked_until
            and (self._blocked_until >= until)
        ):
            return
        self._blocked_until = until
        self._block_period = period

    def blocked_until(self, now: datetime) -> datetime | None:
        """When automatic polling may resume, or None if it is not paused."""
        self._roll(now)
        return self._blocked_until

    def month_exhausted(self, now: datetime) -> datetime | None:
        """Return the end of a monthly 429 pause (raise a repair issue while set), else None."""
        self._roll(now)
        return self._blocked_until if self._block_period == BlockPeriod.MONTH else None

    # ---- systems -----------------------------------------------------------------------

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
                self._systems[profile.system_id] = _SummaryState(profile)
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
            for owner, ids in self._owners.items():
                if system_id in ids:
                    self._urgent.add(Task(TaskKind.ALARMS, owner, system_id).key)
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

    def set_cost(self, task: Task, requests: int) -> None:
        """Declare how many requests the task's next run makes (1 unless told)."""
        if requests > 1:
            self._costs[task.key] = requests
        else:
            self._costs.pop(task.key, None)

    def cost(self, task: Task) -> int:
        """Return the room in the minute the task's next run needs.

        A run costing more than the plan's whole minute still runs, alone in its minute.
        """
        return min(self._costs.get(task.key, 1), self.limits.per_minute)

    def record_done(self, task: Task, now: datetime) -> None:
        """Note that a task ran successfully; its next run counts from ``now``."""
        self._last_done[task.key] = now
        self._retry_at.pop(task.key, None)
        self._urgent.discard(task.key)
        if task.kind == TaskKind.SUMMARY and task.system_id in self._systems:
            self._systems[task.system_id].last_poll = now
        if task.kind != TaskKind.SUMMARY:
            self._dirty = True

    def record_failure(self, task: Task, now: datetime) -> None:
        """Note that a task failed (not a 429): retry later, not at once."""
        last = self._last_done.get(task.key)
        step = RETRY_MIN if last is None else max(RETRY_MIN, min(now - last, timedelta(hours=1)))
        self._retry_at[task.key] = now + step
        if task.kind == TaskKind.SUMMARY and task.system_id in self._systems:
            self._systems[task.system_id].last_poll = now

    # ---- daylight ----------------------------------------------------------------------

    def _sun(self, state: _SummaryState, day: date) -> tuple[datetime, datetime]:
        key = (state.profile.system_id, day)
        cached = self._sun_cache.get(key)
        if cached is None:
            if len(self._sun_cache) > 4096:
                self._sun_cache.clear()
            cached = state.profile.daylight_provider().sun_times(day)
            self._sun_cache[key] = cached
        return cached

    def _days_around(self, state: _SummaryState, when: datetime) -> list[tuple[datetime, datetime]]:
        local = when.astimezone(state.profile.zone()).date()
        return [self._day(state, local + timedelta(days=offset)) for offset in (-1, 0, 1)]

    def _day(self, state: _SummaryState, day: date) -> tuple[datetime, datetime]:
        """Return the daylight window used for scheduling (widened when only guessed)."""
        rise, sett = self._sun(state, day)
        if (
            state.profile.daylight_is_guess
            and sett > rise
            and self._interval is not None
            and self._interval <= 2 * UPLOAD_INTERVAL
        ):
            return rise - TIMEZONE_MARGIN, sett + TIMEZONE_MARGIN
        return rise, sett

    def is_daylight(self, system_id: int, when: datetime) -> bool:
        """Whether ``when`` is in daylight at the system."""
        state = self._systems.get(system_id)
        return state is not None and self._in_daylight(state, when)

    def _in_daylight(self, state: _SummaryState, when: datetime) -> bool:
        return self._daylight_period(state, when) is not None

    def _daylight_period(
        self, state: _SummaryState, when: datetime
    ) -> tuple[datetime, datetime] | None:
        """Return the (sunrise, sunset) holding ``when``, or None at night."""
        for rise, sett in self._days_around(state, when):
            if rise <= when < sett:
                return rise, sett
        return None

    def _next_sunrise(self, state: _SummaryState, when: datetime) -> datetime:
        local = when.astimezone(state.profile.zone()).date()
        for offset in range(-1, 3):
            rise, sett = self._day(state, local + timedelta(days=offset))
            if rise > when and sett > rise:
                return rise
        return when + NIGHT_INTERVAL

    def _daylight_between(self, state: _SummaryState, start: datetime, end: datetime) -> float:
        """Seconds of daylight at the system between two instants."""
        if end <= start:
            return 0.0
        zone = state.profile.zone()
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        total = 0.0
        while day <= last:
            rise, sett = self._sun(state, day)
            lo, hi = max(rise, start), min(sett, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    # ---- the plan ----------------------------------------------------------------------

    def _plannable_total(self, now: datetime) -> int:
        """Return the request count automatic polling may reach by the end of this month."""
        start, end = quota_month(now)
        left = max(0.0, (end - now) / (end - start))
        manual_kept = math.ceil(self.reserve.manual_for(self.limits) * left)
        return max(0, self.limits.per_month - self.reserve.other - manual_kept)

    def _month_plannable(self) -> int:
        return max(
            0, self.limits.per_month - self.reserve.other - self.reserve.manual_for(self.limits)
        )

    def alarm_interval(self, now: datetime) -> timedelta:
        """Return the planned time between alarm polls of one system."""
        return self._stream_intervals(now)[0]

    def inverters_interval(self, now: datetime) -> timedelta:
        """Return the planned time between microinverter polls of a system that wants them."""
        return self._stream_intervals(now)[1]

    def _inverter_systems(self) -> int:
        return sum(1 for state in self._systems.values() if state.profile.inverters)

    def _stream_intervals(self, now: datetime) -> tuple[timedelta, timedelta]:
        """Return the alarm and microinverter intervals (cached per month and systems)."""
        start, end = quota_month(now)
        key = (start, hash((self.limits, self.reserve, self._systems_key())))
        if self._stream_cache is not None and self._stream_cache[0] == key:
            return self._stream_cache[1]
        month = end - start
        systems = max(1, len(self._systems))
        inverter_systems = self._inverter_systems()
        plannable = self._month_plannable()
        # A plan with room to spare after polling every upload spends most of the rest on
        # alarms and microinverters, one share per system and stream.
        best_summaries = self._summary_cost(
            UPLOAD_INTERVAL.total_seconds(), self._spans(start, end)
        )
        inventory = (len(self._systems) + len(self._owners)) * (
            month / self.inventory_interval(now)
        ) + len(self._owners)
        surplus = (plannable - best_summaries - inventory) * ALARM_SURPLUS_SHARE
        per_stream = surplus / (systems + inverter_systems)
        alarm_budget = max(1.0, plannable * ALARM_SHARE / systems, per_stream)
        alarms = min(MAX_ALARM_INTERVAL, max(MIN_ALARM_INTERVAL, month / alarm_budget))
        inverter_budget = max(
            1.0, plannable * INVERTERS_SHARE / max(1, inverter_systems), per_stream
        )
        inverters = min(MAX_ALARM_INTERVAL, max(UPLOAD_INTERVAL, month / inverter_budget))
        self._stream_cache = (key, (alarms, inverters))
        return alarms, inverters

    def _systems_key(self) -> tuple[Any, ...]:
        return tuple(
            sorted(
                (owner, tuple((i, self._systems[i].profile.inverters) for i in ids))
                for owner, ids in self._owners.items()
            )
        )

    def inventory_interval(self, now: datetime) -> timedelta:
        """Return the planned time between device inventory (and systems list) polls."""
        start, end = quota_month(now)
        per_interval = len(self._systems) + len(self._owners)
        share = max(1.0, self._month_plannable() * INVENTORY_SHARE)
        needed = (end - start) * max(1, per_interval) / share
        return min(MAX_INVENTORY_INTERVAL, max(DAILY, needed))

    def _overhead(self, now: datetime, end: datetime) -> float:
        """Return the requests other than summaries expected between now and ``end``."""
        span = end - now
        alarm_requests = sum(
            self._costs.get(Task(TaskKind.ALARMS, owner, system_id).key, 1)
            for owner, ids in self._owners.items()
            for system_id in ids
        )
        alarms = alarm_requests * (span / self.alarm_interval(now))
        inverters = self._inverter_systems() * (span / self.inverters_interval(now))
        inventory = (len(self._systems) + len(self._owners)) * (span / self.inventory_interval(now))
        return alarms + inverters + inventory + len(self._owners) * (span / EVENT_TYPES_INTERVAL)

    def _summary_cost(
        self, interval: float, spans: Sequence[tuple[_SummaryState, float, float]]
    ) -> float:
        """Summaries needed over daylight/night seconds per system at a daylight interval."""
        cost = 0.0
        for state, day, night in spans:
            cadence = state.cadence.total_seconds()
            cost += day / max(interval, cadence)
            if state.has_battery:
                cost += night / max(interval * BATTERY_NIGHT_FACTOR, cadence)
            else:
                cost += night / max(NIGHT_INTERVAL.total_seconds(), cadence)
        return cost

    def _spans(self, start: datetime, end: datetime) -> list[tuple[_SummaryState, float, float]]:
        spans = []
        for state in self._systems.values():
            day = self._daylight_between(state, start, end)
            spans.append((state, day, max(0.0, (end - start).total_seconds() - day)))
        return spans

    def _solve_interval(
        self, budget: float, spans: Sequence[tuple[_SummaryState, float, float]]
    ) -> timedelta:
        """Return the shortest daylight interval whose summaries fit in ``budget`` requests."""
        # Below the upload interval only battery nights get faster (daylight is capped).
        low = UPLOAD_INTERVAL.total_seconds() / BATTERY_NIGHT_FACTOR
        high = MAX_SUMMARY_INTERVAL.total_seconds()
        if not spans or self._summary_cost(low, spans) <= budget:
            return timedelta(seconds=low)
        if self._summary_cost(high, spans) > budget:
            return MAX_SUMMARY_INTERVAL
        for _ in range(40):
            mid = (low + high) / 2
            if self._summary_cost(mid, spans) <= budget:
                high = mid
            else:
                low = mid
        return timedelta(seconds=high)

    def daylight_interval(self, now: datetime) -> timedelta:
        """Return the daylight summary interval the remaining budget allows from ``now``.

        Re-solved every 15 minutes or when the spendable count moves by 1% of the plan,
        which keeps the planner cheap yet self-correcting.
        """
        self._roll(now)
        spendable = self._plannable_total(now) - self._used - self._unaccounted
        key = (
            int(now.timestamp() // UPLOAD_INTERVAL.total_seconds()),
            spendable * 100 // max(1, self.limits.per_month),
            hash(self._systems_key()),
            hash(frozenset(self._costs.items())),
        )
        if self._interval_cache is not None and self._interval_cache[0] == key:
            return self._interval_cache[1]
        _, end = quota_month(now)
        budget = spendable - self._overhead(now, end)
        interval = self._solve_interval(budget, self._spans(now, end))
        self._interval_cache = (key, interval)
        self._interval = interval
        return interval

    def _summary_when(self, state: _SummaryState, now: datetime, interval: timedelta) -> datetime:
        last = state.last_poll
        if last is None:
            return now
        key = (last, state.last_report_at, state.misses, interval, state.cadence, state.has_battery)
        if state.memo is not None and state.memo[0] == key:
            return state.memo[1]
        when = self._plan_summary(state, last, interval)
        state.memo = (key, when)
        return when

    def _plan_summary(self, state: _SummaryState, last: datetime, interval: timedelta) -> datetime:
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
                tasks.append((task, self._summary_when(state, now, interval)))
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
        result.sort(key=lambda item: (item[1], _PRIORITY[item[0].kind], item[0].system_id or 0))
        return result

    def _periodic(self, task: Task, now: datetime, interval: timedelta) -> tuple[Task, datetime]:
        last = self._last_done.get(task.key)
        if last is None or task.key in self._urgent:
            return task, now
        return task, last + interval

    def due(self, now: datetime, owner: str | None = None) -> list[Task]:
        """Tasks to run now, most valuable first, within the per-minute limit."""
        # A new month first, or last month's count would leave no room at its start.
        self._roll(now)
        room = self.minute_room(now)
        room = min(room, self._plannable_total(now) - self._used - self._unaccounted)
        ready = [task for task, when in self.next_due(now, owner) if when <= now]
        ready.sort(key=lambda task: (_PRIORITY[task.kind], task.system_id or 0))
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

    # ---- what a user sees ----------------------------------------------------------------

    def can_refresh(self, now: datetime, requests: int = 1) -> RefreshDecision:
        """Whether a manual refresh costing ``requests`` may run now, and if not, why."""
        self._roll(now)
        if self._blocked_until is not None:
            reason = {
                BlockPeriod.MONTH: RefreshRefusal.QUOTA_EXHAUSTED,
                BlockPeriod.MINUTE: RefreshRefusal.RATE_LIMITED,
                BlockPeriod.BACKOFF: RefreshRefusal.BACKING_OFF,
            }[self._block_period or BlockPeriod.BACKOFF]
            return RefreshDecision(False, reason, self._blocked_until)
        if self.minute_room(now) < requests:
            return RefreshDecision(
                False, RefreshRefusal.MINUTE_LIMIT, self._minute_free_at(now, requests)
            )
        limit = self.limits.per_month - self.reserve.other
        if self._used + self._unaccounted + requests > limit:
            return RefreshDecision(False, RefreshRefusal.BUDGET, quota_month(now)[1])
        return RefreshDecision(True)

    def projected_month_end(self, now: datetime) -> int:
        """Return the requests this month will have used at its end if the plan holds."""
        self._roll(now)
        _, end = quota_month(now)
        interval = self.daylight_interval(now)
        planned = self._overhead(now, end) + self._summary_cost(
            interval.total_seconds(), self._spans(now, end)
        )
        cap = max(self._used, self._plannable_total(now) - self._unaccounted)
        return min(cap, self._used + math.ceil(planned))

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

    def freshness(self, now: datetime) -> FreshnessVerdict:
        """Whether the plan keeps the selected systems fresh over a whole month (repair issue)."""
        start, end = quota_month(now)
        spans = self._spans(start, end)
        budget = self._month_plannable() - self._overhead(start, end)
        interval = self._solve_interval(budget, spans)
        systems = len(self._systems)
        ok = interval <= self.fresh_limit
        if systems == 0:
            max_systems = 0
        elif ok:
            max_systems = max(systems, math.floor(systems * self.fresh_limit / interval))
        else:
            max_systems = math.floor(systems * self.fresh_limit / interval)
        return FreshnessVerdict(ok, systems, interval, self.fresh_limit, max_systems)

    @property
    def endpoint_counts(self) -> dict[str, int]:
        """Requests this month per endpoint (for diagnostics)."""
        return dict(self._by_endpoint)


class PlannerRegistry:
    """Hands every entry with the same API key the same planner (the quota is per key)."""

    def __init__(self, store_factory: Callable[[str], UsageStore]) -> None:
        """``store_factory`` gets ``storage_key(api_key)`` and returns that key's store."""
        self._store_factory = store_factory
        self._planners: dict[str, RequestPlanner] = {}
        # Each entry's own reserve; the planner keeps the largest (see ``_combined_reserve``).
        self._reserves: dict[str, dict[str, Reserve]] = {}
        # Loading a key's counts and adding a flow's requests to them must not interleave.
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def async_acquire(
        self, api_key: str, owner: str, limits: PlanLimits, *, reserve: Reserve | None = None
    ) -> RequestPlanner:
        """Return the planner for this key, loaded on first use; ``owner`` is the entry id."""
        key = storage_key(api_key)
        async with self._lock(key):
            planner = self._planners.get(key)
            if planner is None:
                planner = RequestPlanner(limits, self._store_factory(key))
                await planner.async_load()
                self._planners[key] = planner
            else:
                # Entries may disagree on the plan; the smaller limits are the safe ones.
                planner.limits = PlanLimits(
                    min(planner.limits.per_minute, limits.per_minute),
                    min(planner.limits.per_month, limits.per_month),
                )
        planner._owners.setdefault(owner, [])  # noqa: SLF001
        reserves = self._reserves.setdefault(key, {})
        reserves[owner] = reserve or Reserve()
        planner.reserve = _combined_reserve(reserves.values(), planner.limits)
        return planner

    async def async_release(self, api_key: str, owner: str) -> None:
        """Drop an entry; the planner is saved and forgotten when its last entry leaves."""
        key = storage_key(api_key)
        planner = self._planners.get(key)
        if planner is None:
            return
        planner.remove_owner(owner)
        reserves = self._reserves.get(key, {})
        reserves.pop(owner, None)
        if reserves:
            planner.reserve = _combined_reserve(reserves.values(), planner.limits)
        await planner.async_save()
        if not planner.owners:
            del self._planners[key]
            self._reserves.pop(key, None)

    async def async_record_requests(
        self, api_key: str, records: Iterable[RequestRecordLike]
    ) -> RequestPlanner | None:
        """Count requests made outside any entry (a config flow) in the key's saved count.

        The key's planner counts them when an entry uses it (and is returned); otherwise the
        saved counts are loaded, added to and saved again.
        """
        key = storage_key(api_key)
        async with self._lock(key):
            planner = self._planners.get(key)
            active = planner is not None
            if planner is None:
                planner = RequestPlanner(PlanLimits(1, 1), self._store_factory(key))
                await planner.async_load()
            for record in records:
                planner.record_request(record)
            await planner.async_save()
        return planner if active else None


def _combined_reserve(reserves: Iterable[Reserve], limits: PlanLimits) -> Reserve:
    """Return the largest of the entries' reserves: one key, one quota, the safest choice."""
    every = list(reserves) or [Reserve()]
    other = max(reserve.other for reserve in every)
    if all(reserve.manual is None for reserve in every):
        # Every entry keeps the default, which follows the (possibly changed) limits.
        return Reserve(other=other)
    return Reserve(other=other, manual=max(reserve.manual_for(limits) for reserve in every))
