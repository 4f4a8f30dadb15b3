"""Hourly energy statistics per system and channel, imported from telemetry into the recorder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    statistics_during_period,
)
from homeassistant.helpers.recorder import get_instance

from .compat import energy_statistic_metadata
from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Iterable

    from homeassistant.components.recorder.models import StatisticData
    from homeassistant.core import HomeAssistant

    from .api import Devices, EnergyInterval, Summary

_LOGGER = logging.getLogger(__name__)

PRODUCTION: Final = "production"
CONSUMPTION: Final = "consumption"
GRID_IMPORT: Final = "grid_import"
GRID_EXPORT: Final = "grid_export"
BATTERY_CHARGE: Final = "battery_charge"
BATTERY_DISCHARGE: Final = "battery_discharge"
CHANNELS: Final = (
    PRODUCTION,
    CONSUMPTION,
    GRID_IMPORT,
    GRID_EXPORT,
    BATTERY_CHARGE,
    BATTERY_DISCHARGE,
)
METER_CHANNELS: Final = (CONSUMPTION, GRID_IMPORT, GRID_EXPORT)
BATTERY_CHANNELS: Final = (BATTERY_CHARGE, BATTERY_DISCHARGE)

# The name each statistic shows in the Energy dashboard's pickers, after the system's name.
CHANNEL_NAMES: Final = {
    PRODUCTION: "solar production",
    CONSUMPTION: "consumption",
    GRID_IMPORT: "energy from the grid",
    GRID_EXPORT: "energy to the grid",
    BATTERY_CHARGE: "energy into the battery",
    BATTERY_DISCHARGE: "energy out of the battery",
}

HOUR: Final = timedelta(hours=1)
# How far back a base sum is looked for before the first hour written.
_BASE_LOOKBACK: Final = timedelta(days=7)


def statistic_id(system_id: int, channel: str) -> str:
    """Return the external statistic id of a system's channel: ``enphase_enlighten:<id>_<ch>``."""
    return f"{DOMAIN}:{int(system_id)}_{channel}"


def hour_of(moment: datetime) -> datetime:
    """Return the UTC hour holding ``moment`` (statistics hours are UTC-aligned)."""
    utc = moment.astimezone(UTC)
    return utc.replace(minute=0, second=0, microsecond=0)


def system_channels(devices: Devices | None, summary: Summary | None) -> list[str]:
    """Return the channels a system's hardware measures.

    Production always; consumption and the grid with a consumption meter (``config_type``
    Net or Total); battery charge and discharge with IQ or AC Batteries.
    """
    channels = [PRODUCTION]
    kinds = {device.kind for device in devices.devices} if devices is not None else set()
    meters = [d for d in devices.devices if d.kind == "meters"] if devices is not None else []
    if any((meter.config_type or "").lower() in ("net", "total") for meter in meters):
        channels.extend(METER_CHANNELS)
    battery = bool(kinds & {"encharges", "acbs"}) or bool(
        summary is not None and summary.battery_capacity_wh
    )
    if battery:
        channels.extend(BATTERY_CHANNELS)
    return channels


def final_hours(
    intervals: Iterable[EnergyInterval],
    reported_until: datetime | None,
    start: datetime,
    end: datetime,
) -> dict[datetime, int]:
    """Return Wh per UTC hour from ``start`` for each hour whose every interval is reported.

    An hour is final once it ends at or before ``reported_until`` (and ``end``): later
    zeros are "not reported yet" and are left for a later import. Hours without intervals
    up to there count zero.
    """
    if reported_until is None:
        return {}
    first = hour_of(start)
    if first < start:
        first += HOUR
    limit = hour_of(min(reported_until, end))
    hours: dict[datetime, int] = {}
    hour = first
    while hour < limit:
        hours[hour] = 0
        hour += HOUR
    for interval in intervals:
        key = hour_of(interval.start_at)
        if key in hours:
            hours[key] += interval.wh
    return hours


@dataclass(frozen=True, slots=True)
class LastImported:
    """The newest hour of a statistic and its sum."""

    start: datetime
    sum: float


async def async_last_imported(hass: HomeAssistant, stat_id: str) -> LastImported | None:
    """Return the newest imported hour of a statistic, None if it has none."""
    result = await get_instance(hass).async_add_executor_job(
        get_last_statistics, hass, 1, stat_id, True, {"sum"}
    )
    rows = result.get(stat_id) or []
    if not rows:
        return None
    row = rows[0]
    return LastImported(datetime.fromtimestamp(float(row["start"]), UTC), float(row["sum"] or 0))


async def _async_rows(hass: HomeAssistant, stat_id: str, start: datetime) -> dict[datetime, float]:
    result: dict[str, list[Any]] = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, None, {stat_id}, "hour", None, {"sum"}
    )
    return {
        datetime.fromtimestamp(float(row["start"]), UTC): float(row.get("sum") or 0)
        for row in result.get(stat_id, [])
    }


async def async_first_imported(
    hass: HomeAssistant, stat_id: str, before: datetime
) -> datetime | None:
    """Return the oldest hour of a statistic in the two years before ``before``."""
    rows = await _async_rows(hass, stat_id, before - timedelta(days=750))
    return min(rows) if rows else None


async def async_import_hours(
    hass: HomeAssistant, system_id: int, channel: str, hours: dict[datetime, int], name: str
) -> int:
    """Write the hours that differ from what the recorder holds; return how many were written.

    Idempotent: an hour already imported with the same Wh is not written again, an hour
    that later data changed is rewritten, and every later hour's sum moves with it, so
    nothing is counted twice. Hours older than the statistic's first (history imported on
    request) shift every later sum by their total.
    """
    if not hours:
        return 0
    stat_id = statistic_id(system_id, channel)
    ordered = sorted(hours)
    first, last = ordered[0], ordered[-1]
    existing = await _async_rows(hass, stat_id, first - _BASE_LOOKBACK)
    known = sorted(existing)

    def sum_before(moment: datetime) -> float:
        before = [start for start in known if start < moment]
        return existing[before[-1]] if before else 0.0

    changed: datetime | None = None
    for hour in ordered:
        if hour not in existing:
            changed = hour
            break
        if round(existing[hour] - sum_before(hour)) != hours[hour]:
            changed = hour
            break
    if changed is None:
        return 0
    base = sum_before(changed)
    rows: list[StatisticData] = []
    total = base
    for hour in ordered:
        if hour < changed:
            continue
        total += hours[hour]
        rows.append({"start": hour, "sum": total})
    # Later hours already imported keep their own Wh: their sums move by the difference.
    old_at_last = existing[last] if last in existing else sum_before(last)
    shift = total - old_at_last
    if shift:
        rows.extend(
            {"start": start, "sum": existing[start] + shift} for start in known if start > last
        )
    async_add_external_statistics(
        hass,
        energy_statistic_metadata(stat_id, name, DOMAIN),
        rows,
    )
    # The next import reads these rows: wait until the recorder has written them.
    await get_instance(hass).async_block_till_done()
    _LOGGER.debug("Imported %s hours of %s from %s", len(rows), stat_id, changed.isoformat())
    return len(rows)
