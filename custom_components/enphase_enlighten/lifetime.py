"""A system's lifetime energy from Enphase's counters: never back, no jump a system can't make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date, datetime

    from .api import Summary

# A rise is believed when the system could have produced it: its size (W) working at full
# power, with this margin, for the time since the total last rose plus the slack (uploads
# carry up to a few hours of intervals at once; a cellular gateway sends six).
RISE_MARGIN = 1.5
RISE_SLACK = timedelta(hours=1)
# Reads in a row (the first included) that must agree before an implausible jump, or a
# fall Enphase's midnight roll-up does not explain, is taken as real.
CONFIRM_READS = 3
# Falls smaller than this (Wh) are rounding, not a reset.
FALL_TOLERANCE = 1_000.0


class LifetimeEvent(StrEnum):
    """What a read did to the total, when it was not an ordinary rise."""

    HELD = "held"  # an implausible jump, not shown until confirmed
    JUMP_CONFIRMED = "jump_confirmed"  # the jump held back was seen again: now shown
    FALL = "fall"  # below the total, not explained by the midnight roll-up
    RESET = "reset"  # the fall confirmed: the total goes on from the new counter


@dataclass(slots=True)
class _Pending:
    """Reads that disagree with the total, waiting to be confirmed."""

    rising: bool
    raw: float
    at: datetime
    reads: int = 1


class LifetimeEnergy:
    """Total energy produced, from energy_lifetime + energy_today, that never steps back.

    energy_lifetime counts up to the end of the day before summary_date and energy_today
    counts summary_date. Around the system's local midnight Enphase does not move the two
    together, in either order:
    - energy_today restarts for the new date before energy_lifetime has taken in the day
      that ended: the plain sum drops. Seen as a new summary_date whose sum is below the
      highest total so far; the total holds until energy_lifetime catches up.
    - energy_lifetime takes in the day while summary_date and energy_today still show it:
      the plain sum counts the day twice. Seen as energy_lifetime growing within one
      summary_date (when it was not catching up), so only the part of energy_today beyond
      what energy_lifetime already took in is added.

    One glitched answer must not stick (the total would keep it for good): a rise larger
    than the system could produce since the total last rose is held back until the next
    reads confirm it. A fall that the roll-up does not explain and that the next reads
    confirm is a reset of Enphase's counter: the total goes on from there (``offset``),
    and ``event`` says so, for the sensor to report.
    """

    def __init__(
        self,
        value: float | None = None,
        summary_date: date | None = None,
        base_lifetime: int | None = None,
        lifetime_stale: bool = False,
        *,
        value_at: datetime | None = None,
        offset: float = 0.0,
    ) -> None:
        """Start from a restored state, or from nothing."""
        self.value = value
        self.summary_date = summary_date
        self.base_lifetime = base_lifetime
        self.lifetime_stale = lifetime_stale
        # When the total last rose, and what is added to Enphase's counter since a reset.
        self.value_at = value_at
        self.offset = offset
        # What the last read did, when it was not an ordinary rise; the read it was about.
        self.event: LifetimeEvent | None = None
        self.read: float | None = None
        self._pending: _Pending | None = None

    def update(
        self, summary: Summary, now: datetime | None = None, size_w: int | None = None
    ) -> float | None:
        """Take in a summary read at ``now`` from a system of ``size_w``; return the total (Wh)."""
        self.event = None
        lifetime = summary.energy_lifetime
        if lifetime is None:
            return self.value
        today = summary.energy_today or 0
        if summary.summary_date != self.summary_date or self.base_lifetime is None:
            self.summary_date = summary.summary_date
            self.base_lifetime = lifetime
            self.lifetime_stale = (
                self.value is not None and lifetime + today + self.offset < self.value
            )
        elif lifetime > self.base_lifetime and self.lifetime_stale:
            # energy_lifetime caught up with the day before; it now matches summary_date.
            self.base_lifetime = lifetime
            self.lifetime_stale = False
        already_counted = max(lifetime - self.base_lifetime, 0)
        raw = float(lifetime + max(today - already_counted, 0))
        self.read = raw
        candidate = raw + self.offset
        if self.value is None or now is None:
            self._raise(candidate, now)
        elif candidate > self.value:
            self._rise(raw, candidate, self.value, now, size_w)
        elif candidate < self.value - FALL_TOLERANCE and not self.lifetime_stale:
            self._fall(raw, self.value, now)
        else:
            self._pending = None
        return self.value

    def _raise(self, candidate: float, now: datetime | None) -> None:
        if self.value is None or candidate > self.value:
            self.value = candidate
            self.value_at = now
        self._pending = None

    def _allowed(self, since: datetime | None, now: datetime, size_w: int | None) -> float | None:
        """Return the most a system of ``size_w`` can add from ``since`` to ``now`` (Wh)."""
        if not size_w or size_w <= 0 or since is None:
            return None
        hours = (max(now - since, timedelta(0)) + RISE_SLACK).total_seconds() / 3600
        return size_w * RISE_MARGIN * hours

    def _rise(
        self, raw: float, candidate: float, value: float, now: datetime, size_w: int | None
    ) -> None:
        allowed = self._allowed(self.value_at, now, size_w)
        if allowed is None or candidate - value <= allowed:
            self._raise(candidate, now)
            return
        pending = self._pending
        if pending is not None and pending.rising:
            step = self._allowed(pending.at, now, size_w) or 0.0
            if pending.raw - FALL_TOLERANCE <= raw <= pending.raw + step:
                pending.reads += 1
                pending.raw, pending.at = raw, now
                if pending.reads >= CONFIRM_READS:
                    self._raise(candidate, now)
                    self.event = LifetimeEvent.JUMP_CONFIRMED
                    return
                self.event = LifetimeEvent.HELD
                return
        self._pending = _Pending(rising=True, raw=raw, at=now)
        self.event = LifetimeEvent.HELD

    def _fall(self, raw: float, value: float, now: datetime) -> None:
        pending = self._pending
        if pending is not None and not pending.rising and raw >= pending.raw - FALL_TOLERANCE:
            pending.reads += 1
            pending.raw, pending.at = raw, now
            if pending.reads >= CONFIRM_READS:
                # Enphase's counter restarted lower: go on from the total, adding what it
                # counts from now on, instead of holding the old maximum for good.
                self.offset = value - raw
                self._pending = None
                self.event = LifetimeEvent.RESET
                return
        else:
            self._pending = _Pending(rising=False, raw=raw, at=now)
        self.event = LifetimeEvent.FALL
