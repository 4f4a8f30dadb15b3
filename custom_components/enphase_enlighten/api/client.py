"""Async client for the twelve System Details endpoints of the Enphase Monitoring API v4.

Each endpoint is one method of ``EnphaseClient``, built on ``EnphaseTransport`` (one
request, its report and its errors). A new group of endpoints (telemetry) goes in its own
module as a subclass of ``EnphaseTransport`` that ``EnphaseClient`` then inherits.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import partial
import math
from typing import Any

from .const import (
    ENDPOINT_ALARMS,
    ENDPOINT_DEVICES,
    ENDPOINT_EVENT_TYPES,
    ENDPOINT_EVENTS,
    ENDPOINT_INVERTERS_SUMMARY,
    ENDPOINT_OPEN_ALARMS,
    ENDPOINT_OPEN_EVENTS,
    ENDPOINT_RETRIEVE_SYSTEM_ID,
    ENDPOINT_SEARCH,
    ENDPOINT_SUMMARY,
    ENDPOINT_SYSTEM,
    ENDPOINT_SYSTEMS,
    MAX_LOOKBACK_MONTHS,
    MAX_PAGE_SIZE,
    MAX_PAGES,
    MAX_WINDOW,
)
from .errors import (
    EnphaseResponseError,
    EnphaseWindowError,
)
from .models import (
    Alarm,
    Devices,
    EnvoyInvertersSummary,
    Event,
    EventType,
    MicroinverterSummary,
    Summary,
    System,
    SystemsPage,
)
from .models.parse import as_int, malformed
from .transport import (
    EnphaseTransport,
    RequestCallback,
    RequestRecord,
    TokenProvider,
    base_url_from_env,
)


def _months_before(moment: datetime, months: int) -> datetime:
    """Go back whole calendar months, clamping the day (31 May - 3 months = 28/29 Feb)."""
    years_back, month_index = divmod(moment.month - 1 - months, 12)
    year = moment.year + years_back
    month = month_index + 1
    day = min(moment.day, monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class EnphaseClient(EnphaseTransport):
    """Enphase Monitoring API v4 client: one method per endpoint, typed models and errors.

    The session is the caller's; the client never closes it. Every request, successful or
    not, is reported to `on_request` so a caller can count it against the plan's quota.
    The client never retries: what to do after an error (refresh, wait, give up) is the
    caller's decision, since every retry spends quota.

        client = EnphaseClient(session, get_token, api_key, on_request=budget.count)
        for system in await client.all_systems():
            summary = await client.summary(system.system_id)
    """

    async def systems(
        self, *, page: int = 1, size: int = 10, sort_by: str | None = None
    ) -> SystemsPage:
        """Fetch one page of the systems the user can access (GET /systems)."""
        data = await self._request(
            ENDPOINT_SYSTEMS,
            "GET",
            "/systems",
            params={"page": page, "size": size, "sort_by": sort_by},
        )
        with malformed(ENDPOINT_SYSTEMS):
            return SystemsPage.from_dict(data)

    async def all_systems(self) -> list[System]:
        """Fetch every system, walking all pages at the largest page size."""
        return await self._walk_systems(lambda page: self.systems(page=page, size=MAX_PAGE_SIZE))

    async def search_systems(
        self,
        *,
        ids: Sequence[int] | None = None,
        name: str | None = None,
        reference: str | None = None,
        other_reference: str | None = None,
        statuses: Sequence[str] | None = None,
        sort_by: str | None = None,
        page: int = 1,
        size: int = MAX_PAGE_SIZE,
    ) -> SystemsPage:
        """Search and filter systems (POST /systems/search); filters left None are not sent.

        An empty `ids` matches no system and costs no request: Enphase ignores empty
        values, so sending it would return every system instead.
        """
        criteria: dict[str, Any] = {}
        if ids is not None:
            if not ids:
                return SystemsPage(total=0, current_page=page, size=size, count=0, systems=[])
            criteria["ids"] = [int(system_id) for system_id in ids]
        if name is not None:
            criteria["name"] = name
        if reference is not None:
            criteria["reference"] = reference
        if other_reference is not None:
            criteria["other_reference"] = other_reference
        if statuses is not None:
            criteria["statuses"] = list(statuses)
        # Enphase answers 422 "system is missing" without the `system` object, even if empty.
        body: dict[str, Any] = {"system": criteria}
        if sort_by is not None:
            body["sort_by"] = sort_by
        data = await self._request(
            ENDPOINT_SEARCH,
            "POST",
            "/systems/search",
            params={"page": page, "size": size},
            json_body=body,
        )
        with malformed(ENDPOINT_SEARCH):
            return SystemsPage.from_dict(data)

    async def search_all_systems(
        self,
        *,
        ids: Sequence[int] | None = None,
        name: str | None = None,
        reference: str | None = None,
        other_reference: str | None = None,
        statuses: Sequence[str] | None = None,
        sort_by: str | None = None,
    ) -> list[System]:
        """Search systems and walk every page of the result at the largest page size."""
        return await self._walk_systems(
            lambda page: self.search_systems(
                ids=ids,
                name=name,
                reference=reference,
                other_reference=other_reference,
                statuses=statuses,
                sort_by=sort_by,
                page=page,
                size=MAX_PAGE_SIZE,
            )
        )

    async def _walk_systems(
        self, fetch_page: Callable[[int], Awaitable[SystemsPage]]
    ) -> list[System]:
        found: dict[int, System] = {}
        for page_number in range(1, MAX_PAGES + 1):
            page = await fetch_page(page_number)
            new = [item for item in page.systems if item.system_id not in found]
            for item in new:
                found[item.system_id] = item
            # A page adding nothing new also ends the walk: a server ignoring `page` would
            # otherwise repeat the first page forever.
            if not new or len(found) >= page.total or len(page.systems) < page.size:
                break
        return list(found.values())

    async def system(self, system_id: int) -> System:
        """Fetch one system (GET /systems/{system_id})."""
        data = await self._request(ENDPOINT_SYSTEM, "GET", f"/systems/{int(system_id)}")
        with malformed(ENDPOINT_SYSTEM):
            return System.from_dict(data)

    async def summary(self, system_id: int, *, summary_date: date | None = None) -> Summary:
        """Fetch a system's summary, for today (its local date) or for `summary_date`."""
        data = await self._request(
            ENDPOINT_SUMMARY,
            "GET",
            f"/systems/{int(system_id)}/summary",
            params={"summary_date": summary_date.isoformat() if summary_date is not None else None},
        )
        with malformed(ENDPOINT_SUMMARY):
            return Summary.from_dict(data, system_id=system_id)

    async def devices(self, system_id: int) -> Devices:
        """Fetch a system's active devices, every kind (GET /systems/{system_id}/devices)."""
        devices: Devices = await self._request(
            ENDPOINT_DEVICES,
            "GET",
            f"/systems/{int(system_id)}/devices",
            # A large inventory is decoded and parsed in the executor.
            parse=partial(_parse_devices, system_id),
        )
        return devices

    async def retrieve_system_id(self, serial_num: str) -> int:
        """Find the system id of a gateway (Envoy) by its serial number."""
        data = await self._request(
            ENDPOINT_RETRIEVE_SYSTEM_ID,
            "GET",
            "/systems/retrieve_system_id",
            params={"serial_num": serial_num},
        )

        def parse(body: Any) -> int:
            system_id = as_int(body.get("system_id")) if isinstance(body, Mapping) else None
            if system_id is None:
                raise EnphaseResponseError(
                    "Malformed response from the Enphase API: no system_id for the gateway"
                )
            return system_id

        return parse(data)

    async def events(
        self, system_id: int, start: datetime, end: datetime | None = None
    ) -> list[Event]:
        """Fetch a system's events between `start` and `end` (default now), a week per call."""
        result: list[Event] = []
        seen: set[tuple[Any, ...]] = set()
        for window_start, window_end in self._windows(start, end):
            data = await self._request(
                ENDPOINT_EVENTS,
                "GET",
                f"/systems/{int(system_id)}/events",
                params={"start_time": window_start, "end_time": window_end},
            )
            with malformed(ENDPOINT_EVENTS):
                events = Event.list_from_response(data, system_id=system_id)
            for event in events:
                # An event spanning two windows comes back from both calls.
                key = (
                    event.event_type_id,
                    event.serial_number,
                    event.status,
                    event.start_time,
                    event.end_time,
                )
                if key not in seen:
                    seen.add(key)
                    result.append(event)
        return result

    async def open_events(self, system_id: int) -> list[Event]:
        """Fetch every open event of a system, whatever its age, in one request."""
        data = await self._request(
            ENDPOINT_OPEN_EVENTS, "GET", f"/systems/{int(system_id)}/open_events"
        )
        return Event.list_from_response(data, system_id=system_id)

    async def open_alarms(self, system_id: int) -> list[Alarm]:
        """Fetch every open alarm of a system, whatever its age, in one request."""
        data = await self._request(
            ENDPOINT_OPEN_ALARMS, "GET", f"/systems/{int(system_id)}/open_alarms"
        )
        return Alarm.list_from_response(data, system_id=system_id)

    def window_count(self, start: datetime, end: datetime | None = None) -> int:
        """Return the requests a windowed events or alarms read makes (or raise, as it would)."""
        return len(self._windows(start, end))

    async def alarms(
        self,
        system_id: int,
        start: datetime,
        end: datetime | None = None,
        *,
        cleared: bool = False,
    ) -> list[Alarm]:
        """Fetch a system's active (or, with `cleared`, cleared) alarms, a week per call."""
        result: list[Alarm] = []
        seen: set[str] = set()
        for window_start, window_end in self._windows(start, end):
            data = await self._request(
                ENDPOINT_ALARMS,
                "GET",
                f"/systems/{int(system_id)}/alarms",
                params={
                    "start_time": window_start,
                    "end_time": window_end,
                    "cleared": "true" if cleared else "false",
                },
            )
            with malformed(ENDPOINT_ALARMS):
                alarms = Alarm.list_from_response(data, system_id=system_id, cleared=cleared)
            for alarm in alarms:
                if alarm.id not in seen:
                    seen.add(alarm.id)
                    result.append(alarm)
        return result

    def _windows(self, start: datetime, end: datetime | None) -> list[tuple[int, int]]:
        """Split [start, end] into epoch-second windows Enphase accepts, or raise."""
        now = datetime.fromtimestamp(self._now(), UTC)
        if start.tzinfo is None or (end is not None and end.tzinfo is None):
            raise EnphaseWindowError("Event and alarm windows need timezone-aware datetimes")
        if end is None:
            end = now
        if end < start:
            raise EnphaseWindowError(
                f"Event and alarm window ends ({end.isoformat()}) before it starts"
                f" ({start.isoformat()})"
            )
        earliest = _months_before(now, MAX_LOOKBACK_MONTHS)
        if start < earliest:
            raise EnphaseWindowError(
                f"Event and alarm windows cannot start more than {MAX_LOOKBACK_MONTHS} months"
                f" back (start {start.isoformat()} is before {earliest.isoformat()})"
            )
        first = math.floor(start.timestamp())
        last = math.floor(end.timestamp())
        step = int(MAX_WINDOW.total_seconds())
        windows = [(first, min(first + step, last))]
        while windows[-1][1] < last:
            window_start = windows[-1][1]
            windows.append((window_start, min(window_start + step, last)))
        return windows

    async def event_types(self, event_type_id: int | None = None) -> list[EventType]:
        """Fetch every event type, or only `event_type_id` (GET /systems/event_types)."""
        data = await self._request(
            ENDPOINT_EVENT_TYPES,
            "GET",
            "/systems/event_types",
            params={"event_type_id": event_type_id},
        )
        with malformed(ENDPOINT_EVENT_TYPES):
            return EventType.list_from_response(data)

    async def inverters_summary(
        self, *, site_id: int | None = None, envoy_serial_number: str | None = None
    ) -> list[EnvoyInvertersSummary]:
        """Fetch the microinverters of a system or a gateway, walking every page.

        Pages are merged per gateway, so each gateway appears once with all its
        microinverters.
        """
        merged: dict[str | int, EnvoyInvertersSummary] = {}
        micros_seen: set[str] = set()
        for page_number in range(1, MAX_PAGES + 1):
            data = await self._request(
                ENDPOINT_INVERTERS_SUMMARY,
                "GET",
                "/systems/inverters_summary_by_envoy_or_site",
                params={
                    "site_id": site_id,
                    "envoy_serial_number": envoy_serial_number,
                    "page": page_number,
                    "size": MAX_PAGE_SIZE,
                },
            )
            with malformed(ENDPOINT_INVERTERS_SUMMARY):
                envoys = EnvoyInvertersSummary.list_from_response(data)
            on_page = 0
            new_micros = 0
            for envoy in envoys:
                on_page += len(envoy.micro_inverters)
                fresh = tuple(
                    micro
                    for micro in envoy.micro_inverters
                    if micro.serial_number is None or micro.serial_number not in micros_seen
                )
                micros_seen.update(m.serial_number for m in fresh if m.serial_number is not None)
                new_micros += len(fresh)
                key: str | int = envoy.envoy_serial_number or len(merged)
                merged[key] = _merge_envoy(merged.get(key), envoy, fresh)
            if on_page < MAX_PAGE_SIZE or new_micros == 0:
                break
        return list(merged.values())


def _parse_devices(system_id: int, data: Any) -> Devices:
    with malformed(ENDPOINT_DEVICES):
        return Devices.from_dict(data, system_id=system_id)


def _merge_envoy(
    existing: EnvoyInvertersSummary | None,
    envoy: EnvoyInvertersSummary,
    fresh: tuple[MicroinverterSummary, ...],
) -> EnvoyInvertersSummary:
    if existing is None:
        if len(fresh) == len(envoy.micro_inverters):
            return envoy
        existing = EnvoyInvertersSummary(
            signal_strength=envoy.signal_strength, micro_inverters=(), raw=envoy.raw
        )
    micros = existing.micro_inverters + fresh
    raw = dict(existing.raw)
    raw["micro_inverters"] = [micro.raw for micro in micros]
    return EnvoyInvertersSummary(
        signal_strength=existing.signal_strength
        if existing.signal_strength is not None
        else envoy.signal_strength,
        micro_inverters=micros,
        raw=raw,
    )


__all__ = [
    "EnphaseClient",
    "RequestCallback",
    "RequestRecord",
    "TokenProvider",
    "base_url_from_env",
]
