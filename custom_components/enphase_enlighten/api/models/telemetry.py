"""Models of the site telemetry endpoints: interval energy, battery, latest power, daily series."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

from ..errors import EnphaseResponseError
from .parse import (
    as_date,
    as_datetime,
    as_int,
    as_mapping,
    as_str,
    empty_raw,
    require_mapping,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# Interval lengths: microinverters report every 5 minutes, meters and batteries every 15.
FIVE_MINUTES = 300
QUARTER = 900
# The gateway's last upload carries the intervals that ended a minute or more before it.
UPLOAD_MARGIN = 60


def _flat_items(value: Any, what: str) -> list[Mapping[str, Any]]:
    """Return interval objects, flattening nested lists (import/export nest one level deeper)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise EnphaseResponseError(f"Malformed response from the Enphase API: {what} is not a list")
    items: list[Mapping[str, Any]] = []
    for item in value:
        if isinstance(item, list):
            items.extend(_flat_items(item, what))
        else:
            items.append(require_mapping(item, f"an interval of {what}"))
    return items


def _meta_report(data: Mapping[str, Any]) -> datetime | None:
    meta = as_mapping(data.get("meta"))
    return as_datetime(meta.get("last_report_at")) if meta is not None else None


def _percent(value: Any) -> int | None:
    """Read 97, 97.0, "97" or "97%" as 97; anything else (null, "n/a") as None."""
    if isinstance(value, str):
        value = value.strip().removesuffix("%").strip()
    number = as_int(value)
    return number if number is not None and 0 <= number <= 100 else None


@dataclass(frozen=True, slots=True)
class EnergyInterval:
    """One interval of a telemetry series: Wh over ``seconds`` ending at ``end_at``."""

    end_at: datetime
    wh: int
    seconds: int
    devices_reporting: int | None = None
    power_w: int | None = None

    @property
    def start_at(self) -> datetime:
        """When the interval began (``end_at`` is its end: 00:00 belongs to the day before)."""
        return self.end_at - timedelta(seconds=self.seconds)


@dataclass(frozen=True, slots=True)
class TelemetrySeries:
    """An energy telemetry answer (production, consumption, import or export), Wh per interval.

    Intervals after the gateway's last upload come back as zeros: ``reported_until`` says
    where the reported data ends, so zeros after it are "not reported yet", not no energy.
    """

    system_id: int
    seconds: int
    intervals: tuple[EnergyInterval, ...] = ()
    total_devices: int | None = None
    last_report_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(
        cls, data: Any, *, system_id: int, field_name: str, seconds: int = QUARTER
    ) -> Self:
        """Build from one telemetry response; ``field_name`` holds the Wh (enwh, wh_del, ...)."""
        data = require_mapping(data, "the telemetry")
        intervals: list[EnergyInterval] = []
        for item in _flat_items(data.get("intervals"), "intervals"):
            end = as_datetime(item.get("end_at"))
            if end is None:
                continue
            wh = as_int(item.get(field_name))
            intervals.append(
                EnergyInterval(
                    end_at=end,
                    wh=max(0, wh) if wh is not None else 0,
                    seconds=seconds,
                    devices_reporting=as_int(item.get("devices_reporting")),
                    power_w=as_int(item.get("powr")),
                )
            )
        intervals.sort(key=lambda interval: interval.end_at)
        return cls(
            system_id=as_int(data.get("system_id")) or system_id,
            seconds=seconds,
            intervals=tuple(intervals),
            total_devices=as_int(data.get("total_devices")),
            last_report_at=_meta_report(data),
            raw=data,
        )

    @property
    def reported_until(self) -> datetime | None:
        """End of the last interval the gateway has reported, None if unknown."""
        return _reported_until(self.seconds, self.last_report_at, self.intervals)

    def merged(self, other: TelemetrySeries) -> TelemetrySeries:
        """Return this series followed by ``other`` (a later window); ``other`` wins on overlaps."""
        by_end = {interval.end_at: interval for interval in self.intervals}
        by_end.update({interval.end_at: interval for interval in other.intervals})
        reports = [r for r in (self.last_report_at, other.last_report_at) if r is not None]
        return TelemetrySeries(
            system_id=self.system_id,
            seconds=self.seconds,
            intervals=tuple(by_end[end] for end in sorted(by_end)),
            total_devices=other.total_devices
            if other.total_devices is not None
            else self.total_devices,
            last_report_at=max(reports) if reports else None,
            raw=other.raw,
        )

    def between(self, start: datetime, end: datetime) -> TelemetrySeries:
        """Only the intervals ending in (start, end]."""
        return TelemetrySeries(
            system_id=self.system_id,
            seconds=self.seconds,
            intervals=tuple(i for i in self.intervals if start < i.end_at <= end),
            total_devices=self.total_devices,
            last_report_at=self.last_report_at,
            raw=self.raw,
        )


def _reported_until(
    seconds: int, last_report_at: datetime | None, intervals: Iterable[Any]
) -> datetime | None:
    if last_report_at is not None:
        epoch = int(last_report_at.timestamp()) - UPLOAD_MARGIN
        return datetime.fromtimestamp(epoch // seconds * seconds, UTC)
    reporting = [i.end_at for i in intervals if (i.devices_reporting or 0) > 0]
    return max(reporting) if reporting else None


@dataclass(frozen=True, slots=True)
class BatteryInterval:
    """A 15-minute battery interval: Wh charged and discharged, state of charge at its end."""

    end_at: datetime
    charge_wh: int
    discharge_wh: int
    soc_percent: int | None
    devices_reporting: int | None
    seconds: int = QUARTER


@dataclass(frozen=True, slots=True)
class BatteryTelemetry:
    """``telemetry/battery``: charge, discharge and state of charge per 15 minutes."""

    system_id: int
    intervals: tuple[BatteryInterval, ...] = ()
    last_reported_soc: int | None = None
    total_devices: int | None = None
    last_report_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int) -> Self:
        """Build from the response; ``last_reported_aggregate_soc`` is a string like "97%"."""
        data = require_mapping(data, "the battery telemetry")
        intervals: list[BatteryInterval] = []
        for item in _flat_items(data.get("intervals"), "intervals"):
            end = as_datetime(item.get("end_at"))
            if end is None:
                continue
            charge = as_mapping(item.get("charge")) or {}
            discharge = as_mapping(item.get("discharge")) or {}
            soc = as_mapping(item.get("soc")) or {}
            counts = [
                as_int(part.get("devices_reporting"))
                for part in (charge, discharge, soc)
                if part.get("devices_reporting") is not None
            ]
            intervals.append(
                BatteryInterval(
                    end_at=end,
                    charge_wh=max(0, as_int(charge.get("enwh")) or 0),
                    discharge_wh=max(0, as_int(discharge.get("enwh")) or 0),
                    soc_percent=_percent(soc.get("percent")),
                    devices_reporting=max((c for c in counts if c is not None), default=None),
                )
            )
        intervals.sort(key=lambda interval: interval.end_at)
        return cls(
            system_id=as_int(data.get("system_id")) or system_id,
            intervals=tuple(intervals),
            last_reported_soc=_percent(data.get("last_reported_aggregate_soc")),
            total_devices=as_int(data.get("total_devices")),
            last_report_at=_meta_report(data),
            raw=data,
        )

    @property
    def reported_until(self) -> datetime | None:
        """End of the last interval the batteries have reported, None if unknown."""
        return _reported_until(QUARTER, self.last_report_at, self.intervals)

    @property
    def latest_soc(self) -> tuple[datetime, int] | None:
        """The last reported interval's state of charge and when it ended."""
        for interval in reversed(self.intervals):
            if (interval.devices_reporting or 0) > 0 and interval.soc_percent is not None:
                return interval.end_at, interval.soc_percent
        return None

    def current_soc(self, reported_at: datetime | None) -> tuple[datetime, int] | None:
        """Return the state of charge at the gateway's last report (``reported_at``), and when.

        Every answer carries ``last_reported_aggregate_soc``, without a time: a window weeks
        back (a back-fill) still says what the batteries held at the last upload, which the
        summary's ``last_report_at`` dates. Without either, or when the window's last
        reported interval is newer, that interval's.
        """
        latest = self.latest_soc
        if self.last_reported_soc is None or reported_at is None:
            return latest
        if latest is not None and latest[0] >= reported_at:
            return latest
        return reported_at, self.last_reported_soc

    def channel(self, name: str) -> TelemetrySeries:
        """Return the ``charge`` or ``discharge`` energy as a plain series."""
        if name not in ("charge", "discharge"):
            raise ValueError(f"no battery energy channel {name!r}")
        return TelemetrySeries(
            system_id=self.system_id,
            seconds=QUARTER,
            intervals=tuple(
                EnergyInterval(
                    end_at=i.end_at,
                    wh=i.charge_wh if name == "charge" else i.discharge_wh,
                    seconds=QUARTER,
                    devices_reporting=i.devices_reporting,
                )
                for i in self.intervals
            ),
            total_devices=self.total_devices,
            last_report_at=self.last_report_at,
            raw=self.raw,
        )

    def merged(self, other: BatteryTelemetry) -> BatteryTelemetry:
        """Return this answer followed by ``other`` (a later window); ``other`` wins on overlaps."""
        by_end = {interval.end_at: interval for interval in self.intervals}
        by_end.update({interval.end_at: interval for interval in other.intervals})
        reports = [r for r in (self.last_report_at, other.last_report_at) if r is not None]
        return BatteryTelemetry(
            system_id=self.system_id,
            intervals=tuple(by_end[end] for end in sorted(by_end)),
            last_reported_soc=other.last_reported_soc
            if other.last_reported_soc is not None
            else self.last_reported_soc,
            total_devices=other.total_devices
            if other.total_devices is not None
            else self.total_devices,
            last_report_at=max(reports) if reports else None,
            raw=other.raw,
        )

    def between(self, start: datetime, end: datetime) -> BatteryTelemetry:
        """Only the intervals ending in (start, end]."""
        return BatteryTelemetry(
            system_id=self.system_id,
            intervals=tuple(i for i in self.intervals if start < i.end_at <= end),
            last_reported_soc=self.last_reported_soc,
            total_devices=self.total_devices,
            last_report_at=self.last_report_at,
            raw=self.raw,
        )


@dataclass(frozen=True, slots=True)
class ChannelPower:
    """One meter channel or battery in ``latest_telemetry``: power in W, when it reported."""

    name: str | None
    channel: int | None
    power_w: int | None
    last_report_at: datetime | None
    operational_mode: str | None = None


@dataclass(frozen=True, slots=True)
class LatestTelemetry:
    """``latest_telemetry``: the last power per meter phase and per battery (W).

    Phases without a meter are ``null``; every value is ``null`` once a device has been
    silent for over 7 days. Battery power is positive when charging.
    """

    system_id: int
    meters: tuple[ChannelPower, ...] = ()
    batteries: tuple[ChannelPower, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int) -> Self:
        """Build from the response's ``devices`` object."""
        data = require_mapping(data, "the latest telemetry")
        devices = as_mapping(data.get("devices")) or {}

        def read(key: str) -> tuple[ChannelPower, ...]:
            value = devices.get(key)
            items = value if isinstance(value, list) else []
            return tuple(
                ChannelPower(
                    name=as_str(item.get("name")),
                    channel=as_int(item.get("channel")),
                    power_w=as_int(item.get("power")),
                    last_report_at=as_datetime(item.get("last_report_at")),
                    operational_mode=as_str(item.get("operational_mode")),
                )
                for item in (require_mapping(i, f"an item of {key}") for i in items)
            )

        return cls(
            system_id=as_int(data.get("system_id")) or system_id,
            meters=read("meters"),
            batteries=read("encharges"),
            raw=data,
        )

    def meter_power(self, name: str) -> tuple[int, datetime | None] | None:
        """Sum of a meter's reporting phases ("production" or "consumption"), None if none."""
        phases = [m for m in self.meters if m.name == name and m.power_w is not None]
        if not phases:
            return None
        reports = [m.last_report_at for m in phases if m.last_report_at is not None]
        return sum(m.power_w or 0 for m in phases), max(reports) if reports else None

    @property
    def battery_power(self) -> tuple[int, datetime | None] | None:
        """Sum over the reporting batteries (positive: charging), None without any."""
        reporting = [b for b in self.batteries if b.power_w is not None]
        if not reporting:
            return None
        reports = [b.last_report_at for b in reporting if b.last_report_at is not None]
        return sum(b.power_w or 0 for b in reporting), max(reports) if reports else None


@dataclass(frozen=True, slots=True)
class LifetimeSeries:
    """A daily ``*_lifetime`` series: Wh per local day from ``start_date``, no gaps.

    Trailing zeros mean "not reported yet"; ``reported`` drops them.
    """

    system_id: int
    start_date: date | None
    series: Mapping[str, tuple[int, ...]]
    meter_start_date: date | None = None
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int, fields: Iterable[str]) -> Self:
        """Build from the response; ``fields`` name its lists (production, charge, ...)."""
        data = require_mapping(data, "the lifetime series")
        series: dict[str, tuple[int, ...]] = {}
        for name in fields:
            value = data.get(name)
            if isinstance(value, list):
                series[name] = tuple(max(0, as_int(item) or 0) for item in value)
        return cls(
            system_id=as_int(data.get("system_id")) or system_id,
            start_date=as_date(data.get("start_date")),
            series=series,
            meter_start_date=as_date(data.get("meter_start_date")),
            raw=data,
        )

    def days(self, name: str) -> dict[date, int]:
        """{local date: Wh} of one list, every day including trailing zeros."""
        values = self.series.get(name, ())
        if self.start_date is None:
            return {}
        return {self.start_date + timedelta(days=i): wh for i, wh in enumerate(values)}

    def reported(self, name: str) -> dict[date, int]:
        """{local date: Wh} without the trailing zeros (days not reported yet)."""
        days = self.days(name)
        ordered = sorted(days)
        while ordered and days[ordered[-1]] == 0:
            days.pop(ordered.pop())
        return days
