"""The planner's state, and saving it: counts, pause and slow tasks' last runs survive restarts."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from .limits import BACKOFF_MIN, FRESH_LIMIT, BlockPeriod, PlanLimits, Reserve
from .tasks import TaskKind

if TYPE_CHECKING:
    from .daylight import SummaryState

STORAGE_VERSION = 1


class UsageStore(Protocol):
    """Async persistence for the counts (Home Assistant's ``Store`` fits as is)."""

    async def async_load(self) -> Any:
        """Return the saved data, or None."""

    async def async_save(self, data: Any) -> None:
        """Save the data."""


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


class PlannerState:
    """What a request planner knows, loaded from and saved to its store."""

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
        self._systems: dict[int, SummaryState] = {}
        self._sun_cache: dict[tuple[int, date], tuple[datetime, datetime]] = {}
        self._interval_cache: tuple[tuple[int, int, int, int], timedelta] | None = None
        self._interval: timedelta | None = None
        self._stream_cache: tuple[tuple[datetime, int], tuple[timedelta, timedelta]] | None = None
        self._dirty = False

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
            # A failed task's retry time, so set-up retries (which reload this) wait for it.
            "retry_at": {key: value.isoformat() for key, value in self._retry_at.items()},
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
        retry_at = data.get("retry_at")
        if isinstance(retry_at, Mapping):
            for key, value in retry_at.items():
                if (when := _parse(value)) is not None:
                    self._retry_at[str(key)] = max(when, self._retry_at.get(str(key), when))
