"""The simulated clock: follows time.time() by default, or runs from a chosen instant at a speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import time


class SimClock:
    """A clock that tests and benchmarks can set, speed up and advance.

    By default it reads ``time.time()`` on every call, so freezegun (Home Assistant's
    ``freezer``) moves it too. After :meth:`set` it runs from the chosen instant at
    ``speed`` times real time; the real-time base is still ``time.time()``.
    """

    def __init__(self, start: datetime | float | None = None, speed: float = 1.0) -> None:
        """Follow real time, or start at ``start`` running at ``speed``."""
        self._anchor_sim: float | None = None
        self._anchor_real = 0.0
        self._speed = 1.0
        if start is not None or speed != 1.0:
            self.set(start if start is not None else time.time(), speed=speed)

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    @property
    def follows_real_time(self) -> bool:
        """True while the clock is plain ``time.time()``."""
        return self._anchor_sim is None

    def time(self) -> float:
        """Return the simulated time as epoch seconds."""
        real = time.time()
        if self._anchor_sim is None:
            return real
        return self._anchor_sim + (real - self._anchor_real) * self._speed

    def now(self) -> datetime:
        """Return the simulated time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def set(self, when: datetime | float, *, speed: float | None = None) -> None:
        """Jump to ``when`` (aware datetime or epoch seconds) and run from there."""
        if isinstance(when, datetime):
            if when.tzinfo is None:
                raise ValueError("clock.set needs a timezone-aware datetime")
            when = when.timestamp()
        if speed is not None:
            if speed < 0:
                raise ValueError("speed must be >= 0")
            self._speed = float(speed)
        self._anchor_sim = float(when)
        self._anchor_real = time.time()

    def set_speed(self, speed: float) -> None:
        """Change the speed from the current simulated instant on."""
        self.set(self.time(), speed=speed)

    def advance(self, delta: timedelta | float) -> None:
        """Move the clock forward by ``delta`` (timedelta or seconds)."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if self._anchor_sim is None:
            self.set(time.time() + seconds, speed=self._speed)
        else:
            self._anchor_sim += seconds

    def reset(self) -> None:
        """Follow real time (``time.time()``) again."""
        self._anchor_sim = None
        self._speed = 1.0

    def as_dict(self) -> dict[str, object]:
        """Describe the clock for the control API."""
        now = self.time()
        return {
            "now": datetime.fromtimestamp(now, UTC).isoformat(),
            "epoch": now,
            "speed": self._speed,
            "follows_real_time": self.follows_real_time,
        }
