"""The planner's state, and saving it: counts, pause and slow tasks' last runs survive restarts."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
import logging
import math
from typing import TYPE_CHECKING, Any, Protocol

from .limits import FRESH_LIMIT, BlockPeriod, PlanLimits, Reserve
from .tasks import TaskKind

if TYPE_CHECKING:
    from .daylight import SummaryState

_LOGGER = logging.getLogger(__name__)

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


def _count(value: Any) -> int | None:
    """Return a saved count, or None when it is not a count (text, negative, a flag)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return int(value)


def _stamp(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


class _Loader:
    """Reads saved state field by field, dropping (and logging once) what does not fit."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.dropped: list[str] = []

    def get[T](self, name: str, read: Callable[[Any], T | None]) -> T | None:
        if name not in self.data or self.data[name] is None:
            return None
        value = read(self.data[name])
        if value is None:
            self.dropped.append(name)
        return value

    def mapping[T](self, name: str, read: Callable[[Any], T | None]) -> dict[str, T]:
        raw = self.data.get(name)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.dropped.append(name)
            return {}
        result = {}
        for key, value in raw.items():
            parsed = read(value)
            if parsed is None or not isinstance(key, str):
                self.dropped.append(f"{name}.{key}")
            else:
                result[key] = parsed
        return result


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
        # 429s without a period since the last success, and when one last showed use we did
        # not make (see ``record_rate_limit``).
        self._plain_streak = 0
        self._evidence_at: datetime | None = None
        # Requests counted when sent, whose answer is still to come: (endpoint, started_at).
        self._sent: dict[tuple[str, float], int] = {}
        # Absurd pause ends already logged (once each).
        self._warned: set[str] = set()
        self._last_done: dict[str, datetime] = {}
        self._retry_at: dict[str, datetime] = {}
        # Failures in a row per task: each doubles the wait before the next try.
        self._failures: dict[str, int] = {}
        self._urgent: set[str] = set()
        # Urgent tasks whose current run asked for another (kept by their record_done).
        self._again: set[str] = set()
        # Requests a task's next run makes, when more than one (an alarms fetch over weeks).
        self._costs: dict[str, int] = {}
        self._owners: dict[str, list[int]] = {}
        self._systems: dict[int, SummaryState] = {}
        self._sun_cache: dict[tuple[int, date], tuple[datetime, datetime]] = {}
        self._interval_cache: tuple[tuple[int, int, int, int], timedelta] | None = None
        self._interval: timedelta | None = None
        self._stream_cache: tuple[tuple[datetime, int], tuple[timedelta, timedelta]] | None = None
        self._dirty = False
        self._save_scheduled = False

    async def async_load(self) -> None:
        """Load persisted counts (no-op without a store)."""
        if self._store is None:
            return
        data = await self._store.async_load()
        if data is None:
            return
        if not isinstance(data, Mapping):
            _LOGGER.warning("Saved Enphase request counts are unreadable; starting from zero")
            return
        self.from_dict(data)

    def schedule_save(self, delay: float) -> None:
        """Save within ``delay`` seconds, however many changes come meanwhile (debounced).

        One write per ``delay`` at most, and at least: a busy minute does not put it off.
        A store without delayed saves (a test's) is saved at the next ``async_save``.
        """
        delay_save = getattr(self._store, "async_delay_save", None)
        if delay_save is None or not self._dirty or self._save_scheduled:
            return
        self._save_scheduled = True
        delay_save(self._data_to_save, delay)

    def _data_to_save(self) -> dict[str, Any]:
        self._save_scheduled = False
        self._dirty = False
        return self.to_dict()

    async def async_save(self) -> None:
        """Persist counts if they changed since the last save."""
        if self._store is None or not self._dirty:
            return
        self._dirty = False
        # A save now replaces a delayed one (Home Assistant's Store writes the newest data).
        self._save_scheduled = False
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
            # Failing tasks wait across restarts (and Home Assistant's set-up retries) too.
            "retry_at": {key: value.isoformat() for key, value in self._retry_at.items()},
            "failures": dict(self._failures),
        }

    def from_dict(self, data: Mapping[str, Any]) -> None:
        """Restore state saved by ``to_dict``; counts already made in memory are kept.

        Saved data may be old or edited by hand: what does not fit is dropped with a warning
        and its default kept, never raised.
        """
        load = _Loader(data)
        month_start = load.get("month_start", _parse)
        used = load.get("used", _count)
        if month_start is not None and used is not None:
            if self._month_start is None or month_start == self._month_start:
                self._month_start = month_start
                self._used += used
                unaccounted = load.get("unaccounted", _count)
                if unaccounted is not None:
                    self._unaccounted = max(self._unaccounted, unaccounted)
                for name, count in load.mapping("by_endpoint", _count).items():
                    self._by_endpoint[name] = self._by_endpoint.get(name, 0) + count
            elif month_start > self._month_start:
                self._month_start = month_start
                self._used = used
        blocked = load.get("blocked_until", _parse)
        period = load.get(
            "block_period",
            lambda value: BlockPeriod(value) if value in BlockPeriod.__members__.values() else None,
        )
        if (
            blocked is not None
            and period is not None
            and (self._blocked_until is None or blocked > self._blocked_until)
        ):
            # An absurd end (a hand edit, an old bug) is capped at the first look (``_roll``).
            self._blocked_until = blocked
            self._block_period = period
        minute = load.get("minute", lambda value: value if isinstance(value, list) else None)
        if minute is not None:
            saved = [stamp for stamp in map(_stamp, minute) if stamp is not None]
            if len(saved) < len(minute):
                load.dropped.append("minute")
            self._window = deque(sorted([*self._window, *saved]))
        for key, when in load.mapping("last_done", _parse).items():
            self._last_done[key] = max(when, self._last_done.get(key, when))
        for key, when in load.mapping("retry_at", _parse).items():
            self._retry_at[key] = max(when, self._retry_at.get(key, when))
        for key, failures in load.mapping("failures", _count).items():
            self._failures[key] = max(failures, self._failures.get(key, 0))
        if load.dropped:
            _LOGGER.warning(
                "Ignored unreadable parts of the saved Enphase request counts: %s",
                ", ".join(sorted(set(load.dropped))),
            )
