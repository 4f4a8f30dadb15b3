"""Plan limits and the reserve, the quota month, and the timings the planner plans with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import hashlib
import math

from ..const import DOMAIN, PLANS

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
# Telemetry (hourly energy statistics): its share of the month, and its interval's bounds.
# 7.5% keeps a Watt home's production staleness within 1.25x of summaries alone (measured in
# benchmarks/energy.py); a plan with room gives telemetry 15% of what summaries cannot use.
TELEMETRY_SHARE = 0.075
TELEMETRY_SURPLUS_SHARE = 0.15
# When rounds are scarce (a day or more apart at most a few a day) they are timed by the sun:
# the day's last comes with the first upload after the hour of sunset, the others spread
# over the daylight so that no daylight hour waits longer than this for its round.
TELEMETRY_LAG_TARGET = timedelta(hours=5, minutes=45)
# The share telemetry may take to reach that lag; when even this cannot reach it, telemetry
# keeps TELEMETRY_SHARE. On Watt a home with production only needs 6% in November (two
# rounds a day) and 9.3% in June (three), where it would cost 1.27x production staleness,
# over the 1.25x limit: June keeps 7.5% (benchmarks/energy.py, its share sweep).
TELEMETRY_LAG_SHARE = 0.09
# Rounds this often or more are not timed by the sun: they run at their interval.
TELEMETRY_TIMED_BELOW = timedelta(hours=2)
MIN_TELEMETRY_INTERVAL = timedelta(minutes=15)
MAX_TELEMETRY_INTERVAL = timedelta(days=7)
# The inventory (devices, systems list) changes rarely and alarms name the failing devices,
# so on a tight plan it is read about weekly and its requests go to the alarms: alarms that
# change no status are seen only by the alarms read (benchmarks/README.md, the sweep).
ALARM_SHARE = 0.09
INVENTORY_SHARE = 0.01
INVERTERS_SHARE = 0.04
# What summaries cannot use (capped by the uploads) goes this much to alarms and microinverters.
ALARM_SURPLUS_SHARE = 0.8
# A plan that cannot poll each system at least this often in daylight is not "fresh".
FRESH_LIMIT = timedelta(hours=2)
RETRY_MIN = timedelta(minutes=2)
# A task failing again and again (a 500 "unable to fetch data") waits twice as long each
# time, up to this: a summary is what a user looks at, the rest can wait hours.
RETRY_MAX = timedelta(hours=6)
SUMMARY_RETRY_MAX = timedelta(hours=1)
BACKOFF_MIN = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
# A per-minute 429 never pauses longer than this, whatever its period_end says (clock skew).
MINUTE_BLOCK_MAX = timedelta(minutes=2)
# Clocks differ (Home Assistant's and Enphase's): a monthly pause lasts this long past our own
# month's end, and one whose period_end already passed by our clock lasts this long from now.
MONTH_MARGIN = timedelta(minutes=10)


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
