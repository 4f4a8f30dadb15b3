"""The last answer of each fetch with its time, saved so a reload or restart starts from it."""

from __future__ import annotations

from dataclasses import dataclass
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

if TYPE_CHECKING:
    from datetime import datetime

    from homeassistant.core import HomeAssistant

_LOGGER = logging.getLogger(__name__)

HELD_STORAGE_VERSION = 1
# Answers are written at most this long after they arrive (and when Home Assistant stops):
# a crash loses only the last few, which the next start then fetches again.
HELD_SAVE_DELAY = 10

HELD_DATA: HassKey[dict[str, HeldData]] = HassKey(f"{DOMAIN}_held_data")


@dataclass(frozen=True, slots=True)
class HeldAnswer:
    """One fetch's answer as Enphase sent it, and when it arrived."""

    fetched_at: datetime
    data: Any


class HeldData:
    """An entry's last answers, one per fetch (keyed by the coordinator), kept in .storage.

    Kept in memory across reloads of the entry (one instance per entry), so a reload reads
    what the delayed save has not written yet. Answers hold serial numbers and addresses as
    Enphase sent them: they stay in .storage, never in a log.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Create the entry's held data; nothing is read before ``async_load``."""
        self.store = Store[dict[str, Any]](
            hass, HELD_STORAGE_VERSION, f"{DOMAIN}.held.{entry_id}", private=True
        )
        self._answers: dict[str, dict[str, Any]] | None = None

    async def async_load(self) -> None:
        """Read the saved answers once; a damaged store is dropped with a warning."""
        if self._answers is not None:
            return
        saved = await self.store.async_load()
        answers = saved.get("answers") if isinstance(saved, dict) else None
        if saved is not None and not isinstance(answers, dict):
            _LOGGER.warning("Ignoring the saved Enphase answers: the store is not readable")
        self._answers = answers if isinstance(answers, dict) else {}

    def get(self, key: str) -> HeldAnswer | None:
        """Return the held answer of a fetch, None when there is none or it is unreadable."""
        item = (self._answers or {}).get(key)
        if not isinstance(item, dict) or "data" not in item:
            return None
        fetched_at = dt_util.parse_datetime(str(item.get("fetched_at")))
        if fetched_at is None or fetched_at.tzinfo is None:
            return None
        # A clock set back since the save: the answer is no newer than now.
        return HeldAnswer(min(fetched_at, dt_util.utcnow()), item["data"])

    @callback
    def hold(self, key: str, fetched_at: datetime, data: Any) -> None:
        """Keep a fetch's answer (JSON as Enphase sent it) and save it soon."""
        if self._answers is None:
            self._answers = {}
        self._answers[key] = {"fetched_at": fetched_at.isoformat(), "data": data}
        self.store.async_delay_save(self._to_save, HELD_SAVE_DELAY)

    @callback
    def forget(self, key: str) -> None:
        """Drop a fetch's answer (its system is gone)."""
        if self._answers is not None and self._answers.pop(key, None) is not None:
            self.store.async_delay_save(self._to_save, HELD_SAVE_DELAY)

    def _to_save(self) -> dict[str, Any]:
        # A copy: the save is written in the executor while new answers may arrive.
        return {"answers": dict(self._answers or {})}


def held_data(hass: HomeAssistant, entry_id: str) -> HeldData:
    """Return the entry's held data (one instance per entry, kept across reloads)."""
    every = hass.data.setdefault(HELD_DATA, {})
    if (held := every.get(entry_id)) is None:
        held = every[entry_id] = HeldData(hass, entry_id)
    return held


async def async_forget_held(hass: HomeAssistant, entry_id: str) -> None:
    """Remove a deleted entry's held answers."""
    held = hass.data.setdefault(HELD_DATA, {}).pop(entry_id, None)
    await (held or HeldData(hass, entry_id)).store.async_remove()
