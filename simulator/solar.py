"""Deterministic PV production: daylight from a solar elevation model, days split in local time."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime, time as dtime, timedelta
from functools import lru_cache
import math
from zoneinfo import ZoneInfo

INTERVAL = 300  # microinverter interval length, seconds
_DERATE = 0.8  # inverter, wiring, soiling and temperature losses, so yields look residential


def _mix(*values: int) -> float:
    """Hash integers to a float in [0, 1): cheap, stable across runs and processes."""
    x = 0x9E3779B97F4A7C15
    for value in values:
        x ^= value & 0xFFFFFFFFFFFFFFFF
        x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return (x & 0xFFFFFFFF) / 0x100000000


def _declination(day_of_year: int) -> float:
    return math.radians(23.44) * math.sin(2 * math.pi * (284 + day_of_year) / 365)


def sin_elevation(lat: float, lon: float, epoch: float) -> float:
    """Sine of the sun's elevation at ``epoch`` seen from ``lat``/``lon`` (degrees)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    doy = moment.timetuple().tm_yday
    b = 2 * math.pi * (doy - 81) / 364
    eot_min = 9.87 * math.sin(2 * b) - 7.53 * math.cos(b) - 1.5 * math.sin(b)
    utc_hours = moment.hour + moment.minute / 60 + moment.second / 3600
    solar_hours = utc_hours + lon / 15 + eot_min / 60
    hour_angle = math.radians(15 * (solar_hours - 12))
    phi = math.radians(lat)
    delta = _declination(doy)
    return math.sin(phi) * math.sin(delta) + math.cos(phi) * math.cos(delta) * math.cos(hour_angle)


def clear_sky_hours(lat: float, day_of_year: int) -> float:
    """Closed-form daily integral of sin(elevation) in hours (peak-sun-hours at 1 kW/m2)."""
    phi = math.radians(lat)
    delta = _declination(day_of_year)
    cos_ws = -math.tan(phi) * math.tan(delta)
    if cos_ws >= 1:
        return 0.0
    ws = math.pi if cos_ws <= -1 else math.acos(cos_ws)
    return (24 / math.pi) * (
        math.cos(phi) * math.cos(delta) * math.sin(ws) + ws * math.sin(phi) * math.sin(delta)
    )


def weather(seed: int, day: date) -> float:
    """Fraction of clear-sky yield on ``day``: mostly sunny, some cloudy days."""
    u = _mix(seed, day.toordinal())
    return 1.0 - 0.7 * u**2


def local_day_bounds(tz: str, day: date) -> tuple[int, int]:
    """Epoch seconds of local midnight starting ``day`` and of the next one."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, dtime(0), zone).timestamp()
    end = datetime.combine(day + timedelta(days=1), dtime(0), zone).timestamp()
    return int(start), int(end)


def local_date(tz: str, epoch: float) -> date:
    """Return the local calendar date at ``epoch`` in ``tz``."""
    return datetime.fromtimestamp(epoch, ZoneInfo(tz)).date()


@lru_cache(maxsize=65536)
def daily_energy_wh(seed: int, lat: float, size_w: int, day_ordinal: int) -> int:
    """Whole-day production in Wh; the value every split of that day must sum to."""
    day = date.fromordinal(day_ordinal)
    hours = clear_sky_hours(lat, day.timetuple().tm_yday)
    return round(size_w * _DERATE * hours * weather(seed, day))


@lru_cache(maxsize=4096)
def day_shape(
    seed: int, lat: float, lon: float, tz: str, day_ordinal: int
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Interval end times of a local day and the cumulative share of its energy at each.

    The shape is numeric (sun elevation with a little deterministic cloud noise) and is
    normalised to 1 at the end of the day, so ``daily_energy_wh * share`` is exactly the
    day's total at local midnight, whatever the shape and daylight saving do.
    """
    day = date.fromordinal(day_ordinal)
    start, end = local_day_bounds(tz, day)
    ends: list[int] = []
    weights: list[float] = []
    for t in range(start + INTERVAL, end + 1, INTERVAL):
        s = sin_elevation(lat, lon, t - INTERVAL / 2)
        w = s**1.25 * (0.8 + 0.2 * _mix(seed, t)) if s > 0 else 0.0
        ends.append(t)
        weights.append(w)
    total = sum(weights)
    cumulative: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        cumulative.append(acc / total if total > 0 else 0.0)
    if cumulative:
        cumulative[-1] = 1.0 if total > 0 else 0.0
    return tuple(ends), tuple(cumulative)


class ProductionModel:
    """Production of one system: energy and power at any interval boundary."""

    def __init__(
        self, *, seed: int, lat: float, lon: float, tz: str, size_w: int, operational_at: int
    ) -> None:
        """Describe a system by position, timezone, size and first production day."""
        self.seed = seed
        self.lat = lat
        self.lon = lon
        self.tz = tz
        self.first_day = local_date(tz, operational_at)
        # (first local day ordinal, size in W): a size change applies from the next local
        # day on, so energy already produced never changes and lifetime never steps back.
        self._sizes: list[tuple[int, int]] = [(self.first_day.toordinal(), size_w)]
        self._cumulative: dict[int, int] = {}

    @property
    def size_w(self) -> int:
        """The size production follows today (changes apply from the next local day)."""
        return self._sizes[-1][1]

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        """(first local day ordinal, size in W) of every size the system has had."""
        return tuple(self._sizes)

    def resize(self, size_w: int, now: float) -> None:
        """Produce as a ``size_w`` system from the local day after ``now`` on."""
        start = max(local_date(self.tz, now).toordinal() + 1, self.first_day.toordinal())
        self._sizes = [s for s in self._sizes if s[0] < start] + [(start, size_w)]
        self._cumulative = {k: v for k, v in self._cumulative.items() if k <= start}

    def _size_on(self, ordinal: int) -> int:
        size = self._sizes[0][1]
        for first, value in self._sizes:
            if first <= ordinal:
                size = value
        return size

    def day_total(self, day: date) -> int:
        """Wh produced over the whole local ``day`` (0 before the system was operational)."""
        if day < self.first_day:
            return 0
        ordinal = day.toordinal()
        return daily_energy_wh(self.seed, self.lat, self._size_on(ordinal), ordinal)

    def energy_before(self, day: date) -> int:
        """Wh produced from the first day up to the end of the day before ``day``."""
        if day <= self.first_day:
            return 0
        key = day.toordinal()
        cached = self._cumulative.get(key)
        if cached is not None:
            return cached
        # Walk back to the nearest cached day so repeated calls stay cheap.
        known = [k for k in self._cumulative if k < key]
        base_ord = max(known) if known else self.first_day.toordinal()
        total = self._cumulative.get(base_ord, 0)
        for ordinal in range(base_ord, key):
            total += self.day_total(date.fromordinal(ordinal))
        self._cumulative[key] = total
        return total

    def _shape(self, day: date) -> tuple[tuple[int, ...], tuple[float, ...]]:
        return day_shape(self.seed, self.lat, self.lon, self.tz, day.toordinal())

    def energy_on_day_until(self, day: date, epoch: float) -> int:
        """Wh produced on local ``day`` by intervals ending at or before ``epoch``."""
        if day < self.first_day:
            return 0
        ends, cumulative = self._shape(day)
        index = bisect_right(ends, epoch) - 1
        if index < 0:
            return 0
        return round(self.day_total(day) * cumulative[index])

    def interval_power(self, interval_end: int) -> int:
        """Mean W over the 5-minute interval ending at ``interval_end``."""
        day = local_date(self.tz, interval_end - 1)
        if day < self.first_day:
            return 0
        ends, cumulative = self._shape(day)
        index = bisect_right(ends, interval_end) - 1
        if index < 0:
            return 0
        share = cumulative[index] - (cumulative[index - 1] if index > 0 else 0.0)
        return round(self.day_total(day) * share * 3600 / INTERVAL)

    def last_energy_interval(self, cutoff: int) -> int | None:
        """End of the last interval at or before ``cutoff`` that produced energy."""
        day = local_date(self.tz, cutoff - 1)
        for _ in range(3):
            if day < self.first_day:
                return None
            ends, cumulative = self._shape(day)
            index = bisect_right(ends, cutoff) - 1
            while index >= 0:
                previous = cumulative[index - 1] if index > 0 else 0.0
                if cumulative[index] > previous:
                    return ends[index]
                index -= 1
            day -= timedelta(days=1)
        return None
