"""Saved alarms across restarts, and the windows an alarms fetch reads (one request a week)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import logging
import math
from typing import TYPE_CHECKING, Any

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .api import Alarm
from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Iterable

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant


# How far back active alarms are looked for: one request covers one week. Enphase may date
# an alarm back to the start of its event, so every fetch reads at least the last week.
ALARM_WINDOW = timedelta(days=7)
# With nothing saved (first install, or saved state lost), or after a long stop, the fetch
# reads this far back: one request per week.
ALARM_FIRST_LOOKBACK = timedelta(weeks=4)
# Requests a month per system below which the first look at alarms covers one week, not
# four: an installer's 28 systems on the free plan would otherwise spend 112 of its 1,000
# requests on it.
ALARM_FIRST_LOOKBACK_MIN_QUOTA = 250
# How far back an alarm seen open is followed (one request per week-long group of them).
MAX_ALARM_LOOKBACK = timedelta(weeks=8)
ALARM_MARGIN = timedelta(minutes=1)
# The alarms followed per system and the last fetch, kept across restarts (per entry).
ALARMS_STORAGE_VERSION = 1

_LOGGER = logging.getLogger(__name__)

ALARM_MEMORIES: HassKey[dict[str, AlarmMemory]] = HassKey(f"{DOMAIN}_alarm_memories")


class AlarmMemory:
    """The open alarms an entry follows and its last alarm fetches, saved across restarts.

    One small store per entry, shared by its systems' alarm coordinators. Alarms are kept as
    Enphase sent them (their serial numbers stay in .storage, never in a log).
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Create the memory of one entry; nothing is read before ``async_load``."""
        self.store = Store[dict[str, Any]](
            hass, ALARMS_STORAGE_VERSION, f"{DOMAIN}.alarms.{entry_id}"
        )
        self.systems: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    async def async_load(self) -> dict[str, Any]:
        """Return the saved systems, read once; parts that cannot be read are dropped."""
        async with self._lock:
            if self.systems is None:
                try:
                    saved = await self.store.async_load()
                except (HomeAssistantError, ValueError) as err:
                    _LOGGER.warning("Saved alarms cannot be read (%s); starting afresh", err)
                    saved = None
                systems = saved.get("systems") if isinstance(saved, dict) else None
                self.systems = {
                    key: value
                    for key, value in (systems if isinstance(systems, dict) else {}).items()
                    if _readable(key, value)
                }
            return self.systems

    async def async_save(self, system_id: int, fetched_at: datetime, alarms: list[Alarm]) -> None:
        """Save one system's open alarms and the time of the fetch that found them."""
        systems = await self.async_load()
        systems[str(system_id)] = {
            "fetched_at": fetched_at.isoformat(),
            "open": [dict(alarm.raw) for alarm in alarms if not alarm.cleared],
        }
        await self.store.async_save({"systems": systems})


def saved_time(value: Any) -> datetime | None:
    """Read a time saved as ISO 8601 text; one without a time zone is no use (None)."""
    moment = dt_util.parse_datetime(value) if isinstance(value, str) else None
    return moment if moment is not None and moment.tzinfo is not None else None


def _readable(system_id: str, saved: Any) -> bool:
    """Whether one system's saved alarms can be used; say why not when they cannot."""
    try:
        ok = (
            system_id.isdigit()
            and isinstance(saved, dict)
            and saved_time(saved.get("fetched_at")) is not None
            and isinstance(saved.get("open") or [], list)
        )
        if ok:
            Alarm.list_from_response({"alarms": saved.get("open") or []}, system_id=int(system_id))
    except Exception:  # whatever a hand edit did, the rest is kept
        ok = False
    if not ok:
        _LOGGER.warning(
            "The saved alarms of system %s cannot be read; they are read again from Enphase",
            system_id,
        )
    return ok


def alarm_memory(hass: HomeAssistant, entry: ConfigEntry[Any]) -> AlarmMemory:
    """Return the entry's alarm memory (one per loaded entry)."""
    memories = hass.data.setdefault(ALARM_MEMORIES, {})
    if (memory := memories.get(entry.entry_id)) is None:
        memory = memories[entry.entry_id] = AlarmMemory(hass, entry.entry_id)
    return memory


type AlarmWindow = tuple[datetime, datetime, set[str]]


def read_windows(
    now: datetime,
    fetched_at: datetime | None,
    followed: Iterable[Alarm],
    per_system: float,
) -> tuple[datetime, list[AlarmWindow]]:
    """Return where the recent window starts, and the windows of older followed alarms.

    ``per_system`` is the plan's monthly requests per system (a tight plan looks back one
    week the first time, not four). Each older window spans at most a week (one request)
    around the start times of the followed alarms it checks.
    """
    first_look = (
        ALARM_FIRST_LOOKBACK if per_system >= ALARM_FIRST_LOOKBACK_MIN_QUOTA else ALARM_WINDOW
    )
    oldest = now - first_look
    start = oldest
    if fetched_at is not None:
        start = max(oldest, min(now - ALARM_WINDOW, fetched_at - ALARM_MARGIN))
    floor = now - MAX_ALARM_LOOKBACK
    open_starts = sorted(
        (alarm.alarm_start_time, alarm.id)
        for alarm in followed
        if alarm.alarm_start_time is not None
        and not alarm.cleared
        and floor + ALARM_MARGIN <= alarm.alarm_start_time < start
    )
    windows: list[AlarmWindow] = []
    for began, alarm_id in open_starts:
        if windows and began + ALARM_MARGIN - windows[-1][0] <= ALARM_WINDOW:
            windows[-1] = (windows[-1][0], began + ALARM_MARGIN, {*windows[-1][2], alarm_id})
        else:
            windows.append((began - ALARM_MARGIN, began + ALARM_MARGIN, {alarm_id}))
    return start, windows


def requests_needed(now: datetime, start: datetime, windows: list[AlarmWindow]) -> int:
    """Return the requests of a fetch: a week each, the recent window and the older ones."""
    return max(1, math.ceil((now - start) / ALARM_WINDOW)) + len(windows)


async def async_forget_alarms(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the alarms a deleted entry saved."""
    await AlarmMemory(hass, entry_id).store.async_remove()
