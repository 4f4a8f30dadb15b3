"""The site telemetry endpoints: interval energy, battery, latest power, daily series; windows walked."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, timedelta
import math
from typing import TYPE_CHECKING, Any

from .const import (
    ENDPOINT_BATTERY_LIFETIME,
    ENDPOINT_BATTERY_TELEMETRY,
    ENDPOINT_CONSUMPTION_LIFETIME,
    ENDPOINT_CONSUMPTION_METER,
    ENDPOINT_ENERGY_LIFETIME,
    ENDPOINT_EXPORT_LIFETIME,
    ENDPOINT_EXPORT_TELEMETRY,
    ENDPOINT_IMPORT_LIFETIME,
    ENDPOINT_IMPORT_TELEMETRY,
    ENDPOINT_LATEST_TELEMETRY,
    ENDPOINT_PRODUCTION_METER,
    ENDPOINT_PRODUCTION_MICRO,
    MAX_TELEMETRY_CALLS,
    TELEMETRY_DAY,
    TELEMETRY_LOOKBACK_MONTHS,
    TELEMETRY_WEEK,
)
from .errors import EnphaseWindowError
from .models.parse import as_datetime
from .models.telemetry import (
    FIVE_MINUTES,
    QUARTER,
    BatteryTelemetry,
    LatestTelemetry,
    LifetimeSeries,
    TelemetrySeries,
)
from .transport import EnphaseTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable


def months_before(moment: datetime, months: int) -> datetime:
    """Go back whole calendar months, clamping the day (31 May - 3 months = 28/29 Feb)."""
    years_back, month_index = divmod(moment.month - 1 - months, 12)
    year = moment.year + years_back
    month = month_index + 1
    day = min(moment.day, monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def calls_needed(start: datetime, end: datetime) -> int:
    """Return the calls an interval window takes at most: one a day, or one a week."""
    span = end - start
    if span <= TELEMETRY_DAY:
        return 1
    return math.ceil(span / (TELEMETRY_WEEK - timedelta(hours=1)))


class TelemetryTransport(EnphaseTransport):
    """The telemetry methods of ``EnphaseClient``.

    An interval window is walked in calls of a day or a week (``start_at`` and
    ``granularity``, as the Swagger file describes them), each starting where the last one
    ended, and refused before any request when its start is more than 2 years back or in the
    future. Intervals come back ending in (start, end].
    """

    async def production_micro(
        self,
        system_id: int,
        start: datetime,
        end: datetime | None = None,
        *,
        on_call: Callable[[], None] | None = None,
    ) -> TelemetrySeries:
        """Microinverter production, Wh per 5 minutes (``telemetry/production_micro``)."""
        return await self._energy(
            ENDPOINT_PRODUCTION_MICRO, "telemetry/production_micro", "enwh", FIVE_MINUTES,
            system_id, start, end, on_call,
        )  # fmt: skip

    async def production_meter(
        self,
        system_id: int,
        start: datetime,
        end: datetime | None = None,
        *,
        on_call: Callable[[], None] | None = None,
    ) -> TelemetrySeries:
        """Production meter, Wh per 15 minutes (``telemetry/production_meter``)."""
        return await self._energy(
            ENDPOINT_PRODUCTION_METER, "telemetry/production_meter", "wh_del", QUARTER,
            system_id, start, end, on_call,
        )  # fmt: skip

    async def consumption_meter(
        self,
        system_id: int,
        start: datetime,
        end: datetime | None = None,
        *,
        on_call: Callable[[], None] | None = None,
    ) -> TelemetrySeries:
        """Consumption meter, Wh per 15 minutes (``telemetry/consumption_meter``)."""
        return await self._energy(
            ENDPOINT_CONSUMPTION_METER, "telemetry/consumption_meter", "enwh", QUARTER,
            system_id, start, end, on_call,
        )  # fmt: skip

    async def energy_import(
        self,
        system_id: int,
        start: datetime,
        end: datetime | None = None,
        *,
        on_call: Callable[[], None] | None = None,
    ) -> TelemetrySeries:
        """Energy bought from the grid, Wh per 15 minutes (``energy_import_telemetry``)."""
        return await self._energy(
            ENDPOINT_IMPORT_TELEMETRY, "energy_import_telemetry", "wh_imported", QUARTER,
            system_id, start, end, on_call,
        )  # fmt: skip

    async def energy_export(
        self,
        system_id: int,
        start: datetime,
        end: datetime | None = None,
        *,
        on_call: Callable[[], None] | None = None,
    ) -> TelemetrySeries:
        """Energy sold to the grid, Wh per 15 minutes (``energy_export_telemetry``)."""
        return await self._energy(
            ENDPOINT_EXPORT_TELEMETRY, "energy_export_telemetry", "wh_exported", QUARTER,
            system_id, start, end, on_call,
        )  # fmt: skip

    async def battery_telemetry(
        self,
        system_id: int,
        start: datetime,
        end: datetime | None = None,
        *,
        on_call: Callable[[], None] | None = None,
    ) -> BatteryTelemetry:
        """Battery charge, discharge and state of charge per 15 minutes (``telemetry/battery``)."""
        path = f"/systems/{int(system_id)}/telemetry/battery"
        result: BatteryTelemetry | None = None
        window_start, window_end = self._telemetry_window(start, end)
        async for data in self._walk(
            ENDPOINT_BATTERY_TELEMETRY, path, window_start, window_end, on_call
        ):
            part = BatteryTelemetry.from_dict(data, system_id=system_id)
            result = part if result is None else result.merged(part)
        if result is None:
            result = BatteryTelemetry(system_id=system_id)
        return result.between(window_start, window_end)

    async def latest_telemetry(self, system_id: int) -> LatestTelemetry:
        """Fetch the last reported power per meter phase and battery (``latest_telemetry``)."""
        data = await self._request(
            ENDPOINT_LATEST_TELEMETRY, "GET", f"/systems/{int(system_id)}/latest_telemetry"
        )
        return LatestTelemetry.from_dict(data, system_id=system_id)

    async def energy_lifetime(
        self,
        system_id: int,
        start_date: date | None = None,
        end_date: date | None = None,
        *,
        production: str | None = None,
    ) -> LifetimeSeries:
        """Daily production Wh (``energy_lifetime``); ``production="all"`` adds micro and meter."""
        return await self._lifetime(
            ENDPOINT_ENERGY_LIFETIME, "energy_lifetime",
            ("production", "micro_production", "meter_production"),
            system_id, start_date, end_date, {"production": production},
        )  # fmt: skip

    async def consumption_lifetime(
        self, system_id: int, start_date: date | None = None, end_date: date | None = None
    ) -> LifetimeSeries:
        """Daily consumption Wh (``consumption_lifetime``)."""
        return await self._lifetime(
            ENDPOINT_CONSUMPTION_LIFETIME, "consumption_lifetime", ("consumption",),
            system_id, start_date, end_date,
        )  # fmt: skip

    async def battery_lifetime(
        self, system_id: int, start_date: date | None = None, end_date: date | None = None
    ) -> LifetimeSeries:
        """Daily battery charge and discharge Wh (``battery_lifetime``)."""
        return await self._lifetime(
            ENDPOINT_BATTERY_LIFETIME, "battery_lifetime", ("charge", "discharge"),
            system_id, start_date, end_date,
        )  # fmt: skip

    async def energy_import_lifetime(
        self, system_id: int, start_date: date | None = None, end_date: date | None = None
    ) -> LifetimeSeries:
        """Daily grid import Wh (``energy_import_lifetime``)."""
        return await self._lifetime(
            ENDPOINT_IMPORT_LIFETIME, "energy_import_lifetime", ("import",),
            system_id, start_date, end_date,
        )  # fmt: skip

    async def energy_export_lifetime(
        self, system_id: int, start_date: date | None = None, end_date: date | None = None
    ) -> LifetimeSeries:
        """Daily grid export Wh (``energy_export_lifetime``)."""
        return await self._lifetime(
            ENDPOINT_EXPORT_LIFETIME, "energy_export_lifetime", ("export",),
            system_id, start_date, end_date,
        )  # fmt: skip

    async def _lifetime(
        self,
        endpoint: str,
        path: str,
        fields: tuple[str, ...],
        system_id: int,
        start_date: date | None,
        end_date: date | None,
        extra: dict[str, Any] | None = None,
    ) -> LifetimeSeries:
        if start_date is not None and end_date is not None and end_date < start_date:
            raise EnphaseWindowError(
                f"Lifetime series end ({end_date.isoformat()}) before they start"
                f" ({start_date.isoformat()})"
            )
        data = await self._request(
            endpoint,
            "GET",
            f"/systems/{int(system_id)}/{path}",
            params={
                "start_date": start_date.isoformat() if start_date else None,
                "end_date": end_date.isoformat() if end_date else None,
                **(extra or {}),
            },
        )
        return LifetimeSeries.from_dict(data, system_id=system_id, fields=fields)

    async def _energy(
        self,
        endpoint: str,
        path: str,
        field_name: str,
        seconds: int,
        system_id: int,
        start: datetime,
        end: datetime | None,
        on_call: Callable[[], None] | None,
    ) -> TelemetrySeries:
        url = f"/systems/{int(system_id)}/{path}"
        result: TelemetrySeries | None = None
        window_start, window_end = self._telemetry_window(start, end)
        async for data in self._walk(endpoint, url, window_start, window_end, on_call):
            part = TelemetrySeries.from_dict(
                data, system_id=system_id, field_name=field_name, seconds=seconds
            )
            result = part if result is None else result.merged(part)
        if result is None:
            result = TelemetrySeries(system_id=system_id, seconds=seconds)
        return result.between(window_start, window_end)

    def _telemetry_window(self, start: datetime, end: datetime | None) -> tuple[datetime, datetime]:
        """Check a telemetry window against Enphase's limits before any request is sent."""
        now = datetime.fromtimestamp(self._now(), UTC)
        if start.tzinfo is None or (end is not None and end.tzinfo is None):
            raise EnphaseWindowError("Telemetry windows need timezone-aware datetimes")
        end = now if end is None else min(end, now)
        if start > now:
            raise EnphaseWindowError(f"Telemetry window starts in the future ({start.isoformat()})")
        if end < start:
            raise EnphaseWindowError(
                f"Telemetry window ends ({end.isoformat()}) before it starts ({start.isoformat()})"
            )
        earliest = months_before(now, TELEMETRY_LOOKBACK_MONTHS)
        if start < earliest:
            raise EnphaseWindowError(
                f"Telemetry windows cannot start more than {TELEMETRY_LOOKBACK_MONTHS // 12}"
                f" years back (start {start.isoformat()} is before {earliest.isoformat()})"
            )
        calls = calls_needed(start, end)
        if calls > MAX_TELEMETRY_CALLS:
            raise EnphaseWindowError(
                f"Telemetry window needs {calls} calls, more than {MAX_TELEMETRY_CALLS}"
            )
        return start, end

    async def _walk(
        self,
        endpoint: str,
        path: str,
        start: datetime,
        end: datetime,
        on_call: Callable[[], None] | None = None,
    ) -> AsyncIterator[Any]:
        """Yield each call's body, a day or a week per call, until ``end`` is covered."""
        cursor = math.floor(start.timestamp())
        last = math.floor(end.timestamp())
        for _ in range(MAX_TELEMETRY_CALLS):
            remaining = last - cursor
            day = remaining <= TELEMETRY_DAY.total_seconds()
            if on_call is not None:
                on_call()
            data = await self._request(
                endpoint,
                "GET",
                path,
                params={"start_at": cursor, "granularity": "day" if day else "week"},
            )
            yield data
            # A day or a week in the system's timezone: at least 23 or 167 hours.
            covered = (
                TELEMETRY_DAY if day else TELEMETRY_WEEK - timedelta(hours=1)
            ).total_seconds()
            reached = as_datetime(data.get("end_at")) if isinstance(data, dict) else None
            step = cursor + int(covered)
            if reached is not None and cursor < reached.timestamp() <= cursor + 8 * 86400:
                step = max(step, math.floor(reached.timestamp()))
            intervals = data.get("intervals") if isinstance(data, dict) else None
            if step >= last or not intervals:
                # An empty answer: nothing was reported after this start, nor later.
                return
            cursor = step
