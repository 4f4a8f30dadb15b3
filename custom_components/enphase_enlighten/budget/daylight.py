"""Daylight at a system (from its place or its time zone), and what the planner knows of it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
import math
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .limits import CELLULAR_UPLOAD_INTERVAL, UPLOAD_INTERVAL

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
    # The time zone Enphase gave when it was unknown here and another replaced it
    # (``with_fallback_zone``); None when ``timezone`` is the system's own.
    reported_timezone: str | None = None

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


def known_timezone(timezone: str | None) -> bool:
    """Whether ``timezone`` names a time zone this machine knows (not obsolete, not made up)."""
    if not timezone:
        return False
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def with_fallback_zone(
    profile: SystemProfile,
    timezone: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> SystemProfile:
    """Return the profile, or, if its time zone is unknown, one in the fallback's place.

    A system whose time zone cannot be read would otherwise get UTC's daylight: most of
    its polls at local night. The fallback (Home Assistant's home) is the best guess left.
    """
    if known_timezone(profile.timezone):
        return profile
    return replace(
        profile,
        timezone=timezone,
        latitude=latitude,
        longitude=longitude,
        reported_timezone=profile.timezone or "",
    )


@dataclass(slots=True)
class SummaryState:
    """What the planner knows of one polled system: its profile, its uploads so far."""

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
        """Whether the system has a battery (the night is then worth watching)."""
        return self.profile.has_battery
