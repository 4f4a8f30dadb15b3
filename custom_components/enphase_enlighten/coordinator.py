"""Coordinators that poll the Enphase cloud for the selected systems, and the runtime data."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import ClientError, ClientResponseError
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    Alarm,
    Devices,
    EnphaseApiKeyMismatchError,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseError,
    EnphaseRateLimitError,
    EventType,
    MicroinverterSummary,
    RequestRecord,
    Summary,
    System,
)
from .const import CONF_REQUESTS_PER_MONTH, CONF_SYSTEMS, DOMAIN, PLANS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from homeassistant.helpers.config_entry_oauth2_flow import OAuth2Session

_LOGGER = logging.getLogger(__name__)

MONTH = timedelta(days=30)
# Share of the monthly quota left unplanned: restarts (each one refreshes everything),
# manual refreshes and the user's other uses of the same API key.
QUOTA_RESERVE = 0.1
# How far back active alarms are looked for: one request covers one week.
ALARM_WINDOW = timedelta(days=7)
# Backoff after a 429 that does not say when its period ends.
RATE_LIMIT_FALLBACK = timedelta(hours=1)
# A small margin after period_end so the first request lands in the new period.
RATE_LIMIT_SLACK = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class PollingIntervals:
    """How often each kind of data is fetched."""

    systems: timedelta
    event_types: timedelta
    summary: timedelta
    devices: timedelta
    alarms: timedelta
    inverters: timedelta

    def requests_per_month(self, system_count: int) -> float:
        """Return the requests these intervals spend in a 30-day month (one page each)."""
        per_system = sum(
            MONTH / interval
            for interval in (self.summary, self.devices, self.alarms, self.inverters)
        )
        return MONTH / self.systems + MONTH / self.event_types + per_system * system_count


@dataclass(frozen=True, slots=True)
class _SharedPoll:
    """A per-system poll that shares the quota: its weight and its useful fastest pace."""

    name: str
    weight: float
    fastest: timedelta


# Read at a fixed pace whatever the plan: names and event types change rarely.
_FIXED_POLLS = {"systems": timedelta(days=1), "event_types": timedelta(days=7)}
# The rest of the quota is split by weight. Polling faster than the gateway uploads (15
# minutes) gains nothing; the inventory changes rarely, so it never goes faster than daily.
_SHARED_POLLS = (
    _SharedPoll("summary", 50, timedelta(minutes=15)),
    _SharedPoll("alarms", 15, timedelta(minutes=15)),
    _SharedPoll("inverters", 15, timedelta(minutes=15)),
    _SharedPoll("devices", 10, timedelta(days=1)),
)


def compute_polling_intervals(requests_per_month: int, system_count: int) -> PollingIntervals:
    """Spread the monthly quota evenly over the polls so a 30-day month stays under it.

    The request budget planner (issue 5) replaces this function; everything else only
    reads the PollingIntervals it returns.

    The fixed polls are paid for first. Each shared poll then gets a part of what is
    left in proportion to its weight; one that would poll faster than useful is capped
    and its unused part goes to the others.
    """
    systems = max(system_count, 1)
    budget = requests_per_month * (1 - QUOTA_RESERVE)
    intervals: dict[str, timedelta] = dict(_FIXED_POLLS)
    budget = max(budget - sum(MONTH / interval for interval in _FIXED_POLLS.values()), 1.0)
    open_polls = list(_SHARED_POLLS)
    while open_polls:
        total_weight = sum(poll.weight for poll in open_polls)
        polls_per_month = {
            poll.name: budget * poll.weight / total_weight / systems for poll in open_polls
        }
        capped = [poll for poll in open_polls if MONTH / polls_per_month[poll.name] < poll.fastest]
        if not capped:
            for poll in open_polls:
                # Round up to whole seconds so the month never goes over.
                seconds = -(-MONTH.total_seconds() // polls_per_month[poll.name])
                intervals[poll.name] = timedelta(seconds=seconds)
            break
        for poll in capped:
            intervals[poll.name] = poll.fastest
            budget -= MONTH / poll.fastest * systems
            open_polls.remove(poll)
    return PollingIntervals(**intervals)


def requests_per_month(entry: ConfigEntry[Any]) -> int:
    """Return the entry's monthly quota (the Watt plan's if the entry does not say)."""
    value = entry.data.get(CONF_REQUESTS_PER_MONTH)
    return int(value) if value else PLANS["watt"][1]


def selected_system_ids(entry: ConfigEntry[Any]) -> list[int]:
    """Return the system ids selected in the entry's options."""
    return [int(system_id) for system_id in entry.options.get(CONF_SYSTEMS, [])]


def is_token_rejected(err: ClientResponseError) -> bool:
    """Tell whether a token endpoint error means the refresh token is no longer accepted."""
    return 400 <= err.status < 500 and err.status != 429


class EnphaseAuth:
    """Supplies valid access tokens to the client and refreshes them when Enphase says so."""

    def __init__(self, hass: HomeAssistant, session: OAuth2Session) -> None:
        """Wrap the entry's OAuth2 session."""
        self._hass = hass
        self._session = session
        self._refresh_lock = asyncio.Lock()

    @property
    def access_token(self) -> str:
        """Return the access token currently stored in the entry."""
        return str(self._session.token["access_token"])

    async def async_get_access_token(self) -> str:
        """Return a valid access token, refreshing it first when it has expired locally.

        Token endpoint failures become Home Assistant errors here, because the API client
        would otherwise see an aiohttp error and report a connection problem.
        """
        try:
            await self._session.async_ensure_token_valid()
        except ClientResponseError as err:
            if is_token_rejected(err):
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN, translation_key="refresh_token_rejected"
                ) from err
            raise UpdateFailed(
                translation_domain=DOMAIN, translation_key="token_refresh_failed"
            ) from err
        except (ClientError, TimeoutError) as err:
            raise UpdateFailed(
                translation_domain=DOMAIN, translation_key="token_refresh_failed"
            ) from err
        return self.access_token

    async def async_force_refresh(self, rejected_token: str) -> None:
        """Refresh the access token after Enphase rejected `rejected_token` as expired.

        Several coordinators can see the same rejection; only the first refreshes (refresh
        tokens rotate, so a second refresh with the old one would fail). The token is
        marked expired and the session's own locked refresh path does the work, so this
        never races with a routine refresh.
        """
        async with self._refresh_lock:
            if self.access_token != rejected_token:
                return
            entry = self._session.config_entry
            self._hass.config_entries.async_update_entry(
                entry, data={**entry.data, "token": {**entry.data["token"], "expires_at": 0}}
            )
            await self.async_get_access_token()


@dataclass
class RequestStats:
    """Counts the requests the client reports, for diagnostics."""

    total: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    last: list[RequestRecord] = field(default_factory=list)

    @callback
    def record(self, record: RequestRecord) -> None:
        """Count one request (the client's on_request callback)."""
        self.total += 1
        self.by_endpoint[record.endpoint] += 1
        self.by_status[str(record.status) if record.status is not None else "no_response"] += 1
        self.last = [*self.last[-19:], record]


class RateLimitGate:
    """Shared 429 state: once Enphase says the quota is spent, nobody asks until it resets."""

    def __init__(self) -> None:
        """Start open."""
        self.blocked_until: datetime | None = None
        self.period: str | None = None

    def blocked_for(self, now: datetime) -> timedelta | None:
        """Return how long requests must still wait, or None when they may go."""
        if self.blocked_until is None or now >= self.blocked_until:
            return None
        return self.blocked_until - now

    def block(self, err: EnphaseRateLimitError, now: datetime) -> timedelta:
        """Close the gate until the limit's period ends; log only when it first closes."""
        if err.period_end is not None and err.period_end > now:
            until = err.period_end + RATE_LIMIT_SLACK
        elif err.period == "minute":
            until = now + timedelta(minutes=1) + RATE_LIMIT_SLACK
        else:
            until = now + RATE_LIMIT_FALLBACK
        if self.blocked_until is None:
            # A per-minute limit is routine (many systems starting at once) and over in a
            # minute; the monthly quota, or a limit Enphase does not explain, is news.
            _LOGGER.log(
                logging.DEBUG if err.period == "minute" else logging.WARNING,
                "Enphase request limit reached (per %s); keeping the last data until %s",
                err.period or "unknown period",
                until.isoformat(),
            )
        self.blocked_until = until
        self.period = err.period
        return until - now

    def reopen(self) -> None:
        """Note a successful request after a limit; log the recovery once."""
        if self.blocked_until is not None:
            _LOGGER.log(
                logging.DEBUG if self.period == "minute" else logging.INFO,
                "Enphase request limit period over; polling again",
            )
            self.blocked_until = None
            self.period = None


class EnphaseCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """Base coordinator: token retry, error mapping, and 429s that keep the last data."""

    config_entry: EnphaseConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseConfigEntry,
        client: EnphaseClient,
        auth: EnphaseAuth,
        gate: RateLimitGate,
        *,
        name: str,
        interval: timedelta,
    ) -> None:
        """Set up a coordinator polling at `interval`."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=name,
            update_interval=interval,
        )
        self.client = client
        self.auth = auth
        self.gate = gate
        self.base_interval = interval
        self.last_success_at: datetime | None = None

    async def _async_fetch(self) -> DataT:
        """Fetch fresh data; subclasses call the client here."""
        raise NotImplementedError

    async def _async_call[ResultT](self, call: Callable[[], Awaitable[ResultT]]) -> ResultT:
        """Run one client call, retrying once after a token refresh when the token expired."""
        token = self.auth.access_token
        try:
            return await call()
        except EnphaseApiKeyMismatchError:
            raise
        except EnphaseAuthError:
            await self.auth.async_force_refresh(token)
        return await call()

    async def _async_update_data(self) -> DataT:
        """Fetch data, mapping client errors to what Home Assistant expects."""
        now = dt_util.utcnow()
        if (wait := self.gate.blocked_for(now)) is not None:
            # Another coordinator hit the limit: ask again when it resets, not before.
            self.update_interval = wait
            return self.data
        try:
            data = await self._async_fetch()
        except EnphaseRateLimitError as err:
            self.update_interval = self.gate.block(err, now)
            return self.data
        except EnphaseApiKeyMismatchError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="api_key_mismatch"
            ) from err
        except EnphaseAuthError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="authentication_failed"
            ) from err
        except EnphaseError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        self.gate.reopen()
        self.update_interval = self.base_interval
        self.last_success_at = now
        return data


class EnphaseSystemsCoordinator(EnphaseCoordinator[dict[int, System]]):
    """Details of the selected systems, from one search request; re-read about daily."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseConfigEntry,
        client: EnphaseClient,
        auth: EnphaseAuth,
        gate: RateLimitGate,
        interval: timedelta,
    ) -> None:
        """Set up the systems coordinator."""
        super().__init__(hass, entry, client, auth, gate, name="Enphase systems", interval=interval)
        self.system_ids = selected_system_ids(entry)

    async def _async_fetch(self) -> dict[int, System]:
        if not self.system_ids:
            return {}
        page = await self._async_call(lambda: self.client.search_systems(ids=self.system_ids))
        return {
            system.system_id: system
            for system in page.systems
            if system.system_id in self.system_ids
        }


class EnphaseEventTypesCoordinator(EnphaseCoordinator[dict[int, EventType]]):
    """Alarm and event type names; they change rarely, so this is read about weekly."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseConfigEntry,
        client: EnphaseClient,
        auth: EnphaseAuth,
        gate: RateLimitGate,
        interval: timedelta,
    ) -> None:
        """Set up the event types coordinator."""
        super().__init__(
            hass, entry, client, auth, gate, name="Enphase event types", interval=interval
        )

    async def _async_fetch(self) -> dict[int, EventType]:
        types = await self._async_call(self.client.event_types)
        return {event_type.event_type_id: event_type for event_type in types}


class EnphaseSystemCoordinator[DataT](EnphaseCoordinator[DataT]):
    """A coordinator for one system."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseConfigEntry,
        client: EnphaseClient,
        auth: EnphaseAuth,
        gate: RateLimitGate,
        system_id: int,
        *,
        what: str,
        interval: timedelta,
    ) -> None:
        """Set up a per-system coordinator."""
        super().__init__(
            hass,
            entry,
            client,
            auth,
            gate,
            name=f"Enphase system {system_id} {what}",
            interval=interval,
        )
        self.system_id = system_id


class EnphaseSummaryCoordinator(EnphaseSystemCoordinator[Summary | None]):
    """A system's summary: power, energy, status."""

    async def _async_fetch(self) -> Summary | None:
        return await self._async_call(lambda: self.client.summary(self.system_id))


class EnphaseDevicesCoordinator(EnphaseSystemCoordinator[Devices | None]):
    """A system's hardware inventory; removes devices Enphase no longer lists."""

    # Serial numbers known from elsewhere (the inverters summary), kept as well.
    other_serials: Callable[[], set[str]] = staticmethod(set)

    async def _async_fetch(self) -> Devices | None:
        return await self._async_call(lambda: self.client.devices(self.system_id))

    @callback
    def _async_refresh_finished(self) -> None:
        if self.last_update_success and self.data is not None:
            remove_stale_devices(
                self.hass,
                self.config_entry,
                self.system_id,
                set(self.data.by_serial()) | self.other_serials(),
            )


class EnphaseAlarmsCoordinator(EnphaseSystemCoordinator[list[Alarm] | None]):
    """A system's active alarms (those raised within the last week)."""

    async def _async_fetch(self) -> list[Alarm] | None:
        end = dt_util.utcnow()
        return await self._async_call(
            lambda: self.client.alarms(self.system_id, end - ALARM_WINDOW, end)
        )


class EnphaseInvertersCoordinator(EnphaseSystemCoordinator[dict[str, MicroinverterSummary] | None]):
    """Power and energy of each microinverter of a system, keyed by serial number."""

    async def _async_fetch(self) -> dict[str, MicroinverterSummary] | None:
        envoys = await self._async_call(
            lambda: self.client.inverters_summary(site_id=self.system_id)
        )
        micros: dict[str, MicroinverterSummary] = {}
        for envoy in envoys:
            for micro in envoy.micro_inverters:
                if micro.serial_number:
                    micros.setdefault(micro.serial_number, micro)
        return micros


@dataclass
class EnphaseSystemData:
    """The coordinators of one system."""

    system_id: int
    summary: EnphaseSummaryCoordinator
    devices: EnphaseDevicesCoordinator
    alarms: EnphaseAlarmsCoordinator
    inverters: EnphaseInvertersCoordinator

    @property
    def coordinators(self) -> tuple[EnphaseSystemCoordinator[Any], ...]:
        """Return every coordinator of the system."""
        return (self.summary, self.devices, self.alarms, self.inverters)


@dataclass
class EnphaseRuntimeData:
    """Everything a loaded entry needs, stored in entry.runtime_data."""

    client: EnphaseClient
    auth: EnphaseAuth
    gate: RateLimitGate
    stats: RequestStats
    intervals: PollingIntervals
    systems: EnphaseSystemsCoordinator
    event_types: EnphaseEventTypesCoordinator
    system_data: dict[int, EnphaseSystemData] = field(default_factory=dict)


type EnphaseConfigEntry = ConfigEntry[EnphaseRuntimeData]


def build_system_data(
    hass: HomeAssistant,
    entry: EnphaseConfigEntry,
    runtime: EnphaseRuntimeData,
    system_id: int,
) -> EnphaseSystemData:
    """Create the coordinators of one system."""
    args = (hass, entry, runtime.client, runtime.auth, runtime.gate, system_id)
    intervals = runtime.intervals
    devices = EnphaseDevicesCoordinator(*args, what="devices", interval=intervals.devices)
    inverters = EnphaseInvertersCoordinator(*args, what="inverters", interval=intervals.inverters)
    # A microinverter in the inverters summary is not stale even if the inventory
    # (fetched at another time) does not list it.
    devices.other_serials = lambda: set(inverters.data or ())
    return EnphaseSystemData(
        system_id=system_id,
        summary=EnphaseSummaryCoordinator(*args, what="summary", interval=intervals.summary),
        devices=devices,
        alarms=EnphaseAlarmsCoordinator(*args, what="alarms", interval=intervals.alarms),
        inverters=inverters,
    )


def system_identifier(system_id: int) -> tuple[str, str]:
    """Return the device registry identifier of a system."""
    return (DOMAIN, str(system_id))


@callback
def remove_stale_devices(
    hass: HomeAssistant, entry: EnphaseConfigEntry, system_id: int, serials: set[str]
) -> None:
    """Remove the hardware devices of a system that Enphase no longer lists."""
    registry = dr.async_get(hass)
    system_device = registry.async_get_device(identifiers={system_identifier(system_id)})
    if system_device is None:
        return
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if device.via_device_id != system_device.id:
            continue
        if not any(domain == DOMAIN and ident in serials for domain, ident in device.identifiers):
            registry.async_update_device(device.id, remove_config_entry_id=entry.entry_id)


@callback
def remove_system_device(hass: HomeAssistant, entry: EnphaseConfigEntry, system_id: int) -> None:
    """Remove a system and its hardware devices from the device registry."""
    registry = dr.async_get(hass)
    system_device = registry.async_get_device(identifiers={system_identifier(system_id)})
    if system_device is None:
        return
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if device.via_device_id == system_device.id:
            registry.async_update_device(device.id, remove_config_entry_id=entry.entry_id)
    registry.async_update_device(system_device.id, remove_config_entry_id=entry.entry_id)
