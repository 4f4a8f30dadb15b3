"""Saved open alarms and events across restarts, and what changed between two reads of them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .api import Alarm, EnphaseError, Event
from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

# Open events are read with the alarms, every few hours when a plan polls alarms at least
# hourly, else once this long: an alarm's own events come with it, events without an alarm are rarely
# urgent, and on the free plan every request is taken from the summaries (read daily, or
# whenever an alarm changes, they cost the summaries 5-10% of their freshness on Watt; see
# benchmarks/alarms.py).
EVENTS_INTERVAL = timedelta(days=7)
EVENTS_EVERY_READ = timedelta(hours=1)
# On such a generous plan, the events every this long: with every alarms read (every 15
# minutes on Kilowatt) they would double the alarms' cost and overrun the quota.
EVENTS_GENEROUS_INTERVAL = timedelta(hours=6)
# The open alarms and events followed per system and the last reads, kept across restarts.
ALARMS_STORAGE_VERSION = 1
# Changes kept for an event entity that is not there to fire them (disabled).
MAX_PENDING_CHANGES = 50

_LOGGER = logging.getLogger(__name__)

ALARM_MEMORIES: HassKey[dict[str, AlarmMemory]] = HassKey(f"{DOMAIN}_alarm_memories")


class ChangeKind(StrEnum):
    """What the event entity fires, and the device triggers listen to."""

    ALARM_RAISED = "alarm_raised"
    ALARM_CLEARED = "alarm_cleared"
    EVENT_OPENED = "event_opened"
    EVENT_CLOSED = "event_closed"


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """An alarm raised or cleared, or an event opened or closed, noticed at one read."""

    kind: ChangeKind
    noticed_at: datetime
    alarm: Alarm | None = None
    event: Event | None = None


@dataclass(slots=True)
class SavedAlarms:
    """What an earlier run saved of one system: open alarms and events, and when read."""

    fetched_at: datetime
    alarms: list[Alarm]
    events_fetched_at: datetime | None = None
    events: list[Event] | None = None


class AlarmMemory:
    """The open alarms and events an entry follows and its last reads, saved across restarts.

    One small store per entry, shared by its systems' alarm coordinators. Alarms and events
    are kept as Enphase sent them (their serial numbers stay in .storage, never in a log).
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

    async def async_restore(self, system_id: int) -> SavedAlarms | None:
        """Return what was saved of one system, or None when nothing readable was."""
        saved = (await self.async_load()).get(str(system_id))
        if not isinstance(saved, dict):
            return None
        fetched_at = saved_time(saved.get("fetched_at"))
        if fetched_at is None:
            return None
        try:
            alarms = Alarm.list_from_response(
                {"alarms": saved.get("open") or []}, system_id=system_id
            )
        except EnphaseError:
            return None
        restored = SavedAlarms(fetched_at, alarms)
        events_at = saved_time(saved.get("events_fetched_at"))
        if events_at is not None and isinstance(saved.get("events") or [], list):
            try:
                restored.events = Event.list_from_response(
                    {"events": saved.get("events") or []}, system_id=system_id
                )
            except EnphaseError:
                return restored
            restored.events_fetched_at = events_at
        return restored

    async def async_save(self, system_id: int, saved: SavedAlarms) -> None:
        """Save one system's open alarms and events and the times of the reads that found them."""
        systems = await self.async_load()
        entry: dict[str, Any] = {
            "fetched_at": saved.fetched_at.isoformat(),
            "open": [dict(alarm.raw) for alarm in saved.alarms if not alarm.cleared],
        }
        if saved.events is not None and saved.events_fetched_at is not None:
            entry["events_fetched_at"] = saved.events_fetched_at.isoformat()
            entry["events"] = [dict(event.raw) for event in saved.events]
        systems[str(system_id)] = entry
        await self.store.async_save({"systems": systems})


def saved_time(value: Any) -> datetime | None:
    """Read a time saved as ISO 8601 text; one without a time zone is no use (None)."""
    moment = dt_util.parse_datetime(value) if isinstance(value, str) else None
    return moment if moment is not None and moment.tzinfo is not None else None


def _readable(system_id: str, saved: Any) -> bool:
    """Whether one system's saved alarms can be used; say why not when they cannot.

    Its saved events are optional: ``AlarmMemory.async_restore`` drops ones it cannot read.
    """
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


def events_interval(alarm_interval: timedelta) -> timedelta:
    """Return how often the open events are read, for a plan reading alarms this often."""
    return EVENTS_GENEROUS_INTERVAL if alarm_interval <= EVENTS_EVERY_READ else EVENTS_INTERVAL


def alarm_memory(hass: HomeAssistant, entry: ConfigEntry[Any]) -> AlarmMemory:
    """Return the entry's alarm memory (one per loaded entry)."""
    memories = hass.data.setdefault(ALARM_MEMORIES, {})
    if (memory := memories.get(entry.entry_id)) is None:
        memory = memories[entry.entry_id] = AlarmMemory(hass, entry.entry_id)
    return memory


def _changes[ItemT](
    known: Mapping[str, ItemT],
    current: Mapping[str, ItemT],
    opened: Callable[[ItemT], AlarmChange],
    closed: Callable[[ItemT], AlarmChange],
) -> list[AlarmChange]:
    """Return what ``current`` holds and ``known`` did not, then what ``known`` lost."""
    changes = [opened(item) for item_id, item in current.items() if item_id not in known]
    changes.extend(closed(item) for item_id, item in known.items() if item_id not in current)
    return changes


def alarm_changes(
    known: Mapping[str, Alarm], found: Iterable[Alarm], now: datetime
) -> list[AlarmChange]:
    """Return the alarms raised since ``known`` was read, then those cleared since.

    Cleared means gone from the open alarms: open_alarms returns every open one whatever its
    age, so an alarm it no longer lists has ended.
    """
    return _changes(
        known,
        {alarm.id: alarm for alarm in found if not alarm.cleared},
        lambda alarm: AlarmChange(ChangeKind.ALARM_RAISED, now, alarm=alarm),
        lambda alarm: AlarmChange(ChangeKind.ALARM_CLEARED, now, alarm=alarm),
    )


def event_changes(
    known: Mapping[str, Event], found: Iterable[Event], now: datetime
) -> list[AlarmChange]:
    """Return the events opened since ``known`` was read, then those closed since."""
    return _changes(
        known,
        {event.id: event for event in found if event.is_open},
        lambda event: AlarmChange(ChangeKind.EVENT_OPENED, now, event=event),
        lambda event: AlarmChange(ChangeKind.EVENT_CLOSED, now, event=event),
    )


async def async_forget_alarms(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the alarms a deleted entry saved."""
    await AlarmMemory(hass, entry_id).store.async_remove()
