"""Coordinators that fetch Enphase data when the request budget says so, and the runtime data."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import logging
import math
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import ClientError, ClientResponseError
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

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
from .budget import (
    STORAGE_VERSION,
    BlockPeriod,
    BudgetStats,
    FreshnessVerdict,
    PlanLimits,
    PlannerRegistry,
    RefreshDecision,
    RequestPlanner,
    Reserve,
    SystemProfile,
    Task,
    TaskKind,
    quota_month,
    storage_key,
)
from .const import (
    CONF_API_KEY,
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    CONF_RESERVE_MANUAL,
    CONF_RESERVE_OTHER,
    CONF_SYSTEMS,
    DOMAIN,
    PLAN_WATT,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from homeassistant.helpers.config_entry_oauth2_flow import OAuth2Session

_LOGGER = logging.getLogger(__name__)

# How far back active alarms are looked for: one request covers one week. Enphase may date
# an alarm back to the start of its event, so every fetch reads at least the last week.
ALARM_WINDOW = timedelta(days=7)
# With nothing saved (first install, or saved state lost), or after a long stop, the fetch
# reads this far back: one request per week.
ALARM_FIRST_LOOKBACK = timedelta(weeks=4)
# Requests a month per system below which the first look at alarms covers one week, not
# four: an installer's 28 systems on the free plan would otherwise spend 112 of its 1,000
# requests on it.
ALARM_FIRST_LOOKBACK_MIN_QUOTA = 250
# How far back an alarm seen open is followed (one request per week-long group of them).
MAX_ALARM_LOOKBACK = timedelta(weeks=8)
ALARM_MARGIN = timedelta(minutes=1)
# The alarms followed per system and the last fetch, kept across restarts (per entry).
ALARMS_STORAGE_VERSION = 1
# A first fetch that failed (not a 429) is tried again this soon: its entities wait for it.
FIRST_FETCH_RETRY = timedelta(minutes=2)
# Never wake the scheduler more often than this (a safety net against a busy loop).
MIN_WAKEUP = timedelta(seconds=1)
# The event type names, shared by every entry (they are Enphase's, not an account's).
EVENT_TYPES_STORAGE_KEY = f"{DOMAIN}.event_types"
EVENT_TYPES_STORAGE_VERSION = 1

PLANNERS: HassKey[PlannerRegistry] = HassKey(f"{DOMAIN}_planners")
ALARM_MEMORIES: HassKey[dict[str, AlarmMemory]] = HassKey(f"{DOMAIN}_alarm_memories")

# Microinverter sensors: the inverters summary is fetched only while one of them is enabled.
MICRO_SENSOR_KEYS = ("micro_power", "micro_lifetime_energy")


def plan_limits(entry: ConfigEntry[Any]) -> PlanLimits:
    """Return the entry's plan limits (the Watt plan's if the entry does not say)."""
    try:
        return PlanLimits.for_plan(
            str(entry.data.get(CONF_PLAN) or PLAN_WATT),
            per_minute=entry.data.get(CONF_REQUESTS_PER_MINUTE) or None,
            per_month=entry.data.get(CONF_REQUESTS_PER_MONTH) or None,
        )
    except ValueError:
        return PlanLimits.for_plan(PLAN_WATT)


def plan_reserve(entry: ConfigEntry[Any], limits: PlanLimits) -> Reserve:
    """Return the entry's reserve (options), or the default one if it no longer fits the plan.

    A plan changed to a smaller one since the options were set could leave no request for
    automatic polling at all; the default reserve keeps the entry working until the options
    are set again.
    """
    other = int(entry.options.get(CONF_RESERVE_OTHER) or 0)
    manual = entry.options.get(CONF_RESERVE_MANUAL)
    reserve = Reserve(other=other, manual=None if manual is None else int(manual))
    if other < 0 or other + reserve.manual_for(limits) >= limits.per_month:
        _LOGGER.warning(
            "The request reserve of %s does not fit its plan's %s requests a month; "
            "using the default until it is set again in the entry's options",
            entry.title,
            limits.per_month,
        )
        return Reserve()
    return reserve


def budget_signal(api_key: str) -> str:
    """Return the dispatcher signal of an API key's budget sensors (every entry on the key)."""
    return f"{DOMAIN}_budget_{storage_key(api_key)}"


async def async_count_flow_requests(
    hass: HomeAssistant, api_key: str, records: list[RequestRecord]
) -> None:
    """Add requests a config or options flow made to the API key's monthly count."""
    if not records:
        return
    planner = await planner_registry(hass).async_record_requests(api_key, records)
    if planner is not None:
        # Entries on this key show the new count at once.
        async_dispatcher_send(hass, budget_signal(api_key))


def planner_registry(hass: HomeAssistant) -> PlannerRegistry:
    """Return the registry handing out one request planner per API key."""
    if (registry := hass.data.get(PLANNERS)) is None:
        registry = hass.data[PLANNERS] = PlannerRegistry(
            lambda key: Store[dict[str, Any]](hass, STORAGE_VERSION, key)
        )
    return registry


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


def format_time(when: datetime) -> str:
    """Return a time for a message, in Home Assistant's time zone."""
    return dt_util.as_local(when).strftime("%Y-%m-%d %H:%M")


def refresh_refused(decision: RefreshDecision, now: datetime) -> HomeAssistantError:
    """Return the planner's refusal of a manual refresh as the error a user reads."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=f"refresh_{decision.reason}",
        translation_placeholders={"retry_at": format_time(decision.retry_at or now)},
    )


def format_duration(span: timedelta) -> str:
    """Return a duration for a message, in hours and minutes."""
    minutes = max(1, round(span.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


class EntryBudget:
    """An entry's view of the request planner its API key shares with other entries.

    It logs rate limits once, keeps the repair issues in step with the planner, saves the
    counts and tells the budget sensors when the numbers moved.
    """

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], planner: RequestPlanner):
        """Wrap the planner for one entry (the planner's owner is the entry id)."""
        self.hass = hass
        self.entry = entry
        self.planner = planner
        self.owner = entry.entry_id
        # Every entry on the same key listens to the same signal: the counts are the key's.
        self.signal = budget_signal(entry.data[CONF_API_KEY])
        self._logged_block: BlockPeriod | None = None
        self._freshness: tuple[tuple[Any, ...], FreshnessVerdict] | None = None
        # The entry's systems, as last told to the planner.
        self.systems: tuple[int, ...] = ()

    @property
    def quota_issue_id(self) -> str:
        """Return the repair issue id of a spent monthly quota."""
        return f"quota_exhausted_{self.owner}"

    @property
    def freshness_issue_id(self) -> str:
        """Return the repair issue id of a plan too small for the selected systems."""
        return f"plan_too_small_{self.owner}"

    @callback
    def rate_limited(self, err: EnphaseRateLimitError, now: datetime) -> None:
        """Tell the planner about a 429; log when polling first pauses."""
        self.planner.record_rate_limit(
            now, period=err.period, period_end=err.period_end, limit=err.limit
        )
        until = self.planner.blocked_until(now)
        if self._logged_block is None and until is not None:
            self._logged_block = (
                BlockPeriod.MINUTE if err.period == BlockPeriod.MINUTE else BlockPeriod.MONTH
            )
            # A per-minute limit is routine and over in a minute; the monthly quota, or a
            # limit Enphase does not explain, is news.
            _LOGGER.log(
                logging.DEBUG if err.period == BlockPeriod.MINUTE else logging.WARNING,
                "Enphase request limit reached (per %s); keeping the last data until %s",
                err.period or "unknown period",
                until.isoformat(),
            )

    @callback
    def async_check_resumed(self, now: datetime) -> None:
        """Log once when polling resumes after a rate limit."""
        if self._logged_block is not None and self.planner.blocked_until(now) is None:
            _LOGGER.log(
                logging.DEBUG if self._logged_block == BlockPeriod.MINUTE else logging.INFO,
                "Enphase request limit period over; polling again",
            )
            self._logged_block = None

    def stats(self, now: datetime) -> BudgetStats:
        """Return the key's numbers, with this entry's next summary update."""
        stats = self.planner.stats(now)
        summaries = [
            when
            for task, when in self.planner.next_due(now, self.owner)
            if task.kind == TaskKind.SUMMARY
        ]
        next_summary = max(now, min(summaries)) if summaries else None
        return BudgetStats(
            used=stats.used,
            quota=stats.quota,
            remaining=stats.remaining,
            projected_month_end=stats.projected_month_end,
            month_end=stats.month_end,
            next_summary_at=next_summary,
            daylight_interval=stats.daylight_interval,
            blocked_until=stats.blocked_until,
            block_period=stats.block_period,
        )

    def freshness(self, now: datetime) -> FreshnessVerdict:
        """Return the planner's freshness verdict (solved again when its inputs change)."""
        planner = self.planner
        key = (
            quota_month(now)[0],
            planner.limits,
            planner.reserve,
            len(planner.owners),
            self.systems,
        )
        if self._freshness is None or self._freshness[0] != key:
            self._freshness = (key, self.planner.freshness(now))
        return self._freshness[1]

    @callback
    def async_update_issues(self, now: datetime) -> None:
        """Raise or clear the repair issues: a spent monthly quota, a plan too small."""
        resume = self.planner.month_exhausted(now)
        if resume is not None:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.quota_issue_id,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="quota_exhausted",
                translation_placeholders={
                    "entry": self.entry.title,
                    "quota": str(self.planner.limits.per_month),
                    "resume_at": format_time(resume),
                },
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, self.quota_issue_id)
        verdict = self.freshness(now)
        if not verdict.ok and self.systems:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.freshness_issue_id,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="plan_too_small",
                translation_placeholders={
                    "entry": self.entry.title,
                    "quota": str(self.planner.limits.per_month),
                    "systems": str(verdict.systems),
                    "max_systems": str(verdict.max_systems),
                    "interval": format_duration(verdict.daylight_interval),
                    "limit": format_duration(verdict.limit),
                },
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, self.freshness_issue_id)

    async def async_changed(self) -> None:
        """Save the counts, update the repair issues and tell the budget sensors."""
        now = dt_util.utcnow()
        self.async_check_resumed(now)
        self.async_update_issues(now)
        async_dispatcher_send(self.hass, self.signal)
        await self.planner.async_save()


class EnphaseCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """Base coordinator: one planner task, token retry, error mapping, 429s keep the data.

    Coordinators never poll on their own (no update interval): the entry's scheduler runs
    them when the planner says their task is due, and a user may ask for a refresh within
    the budget (see ``async_manual_refresh``).
    """

    config_entry: EnphaseConfigEntry
    kind: ClassVar[TaskKind]

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseConfigEntry,
        client: EnphaseClient,
        auth: EnphaseAuth,
        budget: EntryBudget,
        *,
        name: str,
        system_id: int | None = None,
    ) -> None:
        """Set up a coordinator for one planner task."""
        super().__init__(hass, _LOGGER, config_entry=entry, name=name, update_interval=None)
        self.client = client
        self.auth = auth
        self.budget = budget
        self.task = Task(self.kind, entry.entry_id, system_id)
        self.last_success_at: datetime | None = None
        # Whether a fetch has succeeded since setup (entities of new data wait for one).
        self.fetched = False

    async def _async_fetch(self) -> DataT:
        """Fetch fresh data; subclasses call the client here."""
        raise NotImplementedError

    def _learn(self, data: DataT, now: datetime) -> None:
        """Tell the planner what the data says (the summary does)."""

    def requests_needed(self, now: datetime) -> int:
        """Return the requests the next fetch will make (the planner counts them)."""
        return 1

    async def async_prepare(self) -> None:
        """Restore what an earlier run saved, before the first fetch (the alarms do)."""

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

    async def async_manual_refresh(self) -> None:
        """Refresh because a user asked, if the budget allows; say why not otherwise."""
        now = dt_util.utcnow()
        decision = self.budget.planner.can_refresh(now, self.requests_needed(now))
        if not decision:
            raise refresh_refused(decision, now)
        await self.async_request_refresh()
        await self.budget.async_changed()

    async def _async_update_data(self) -> DataT:
        """Fetch data, tell the planner how it went, map client errors for Home Assistant."""
        now = dt_util.utcnow()
        planner = self.budget.planner
        try:
            data = await self._async_fetch()
        except EnphaseRateLimitError as err:
            self.budget.rate_limited(err, now)
            return self.data
        except EnphaseApiKeyMismatchError as err:
            planner.record_failure(self.task, now)
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="api_key_mismatch"
            ) from err
        except EnphaseAuthError as err:
            planner.record_failure(self.task, now)
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="authentication_failed"
            ) from err
        except EnphaseError as err:
            planner.record_failure(self.task, now)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        except (ConfigEntryAuthFailed, UpdateFailed):
            # The token could not be renewed: no request was made for this task.
            planner.record_failure(self.task, now)
            raise
        self._learn(data, now)
        planner.record_done(self.task, now)
        self.budget.async_check_resumed(now)
        self.last_success_at = now
        self.fetched = True
        return data


class EnphaseSystemsCoordinator(EnphaseCoordinator[dict[int, System]]):
    """Details of the selected systems, from one search request; re-read about daily."""

    kind = TaskKind.SYSTEMS

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseConfigEntry,
        client: EnphaseClient,
        auth: EnphaseAuth,
        budget: EntryBudget,
    ) -> None:
        """Set up the systems coordinator."""
        super().__init__(hass, entry, client, auth, budget, name="Enphase systems")
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
    """Alarm and event type names; they change rarely, so they are kept across restarts."""

    kind = TaskKind.EVENT_TYPES

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseConfigEntry,
        client: EnphaseClient,
        auth: EnphaseAuth,
        budget: EntryBudget,
    ) -> None:
        """Set up the event types coordinator."""
        super().__init__(hass, entry, client, auth, budget, name="Enphase event types")
        self.store = Store[dict[str, Any]](
            hass, EVENT_TYPES_STORAGE_VERSION, EVENT_TYPES_STORAGE_KEY
        )

    async def async_load_cached(self) -> bool:
        """Start from the event types saved by an earlier run; return whether there were any.

        Their age counts as this entry's last fetch, so a new entry on the same machine
        does not fetch them again until the planner finds them old.
        """
        saved = await self.store.async_load()
        if not isinstance(saved, dict):
            return False
        fetched_at = dt_util.parse_datetime(str(saved.get("fetched_at")))
        try:
            types = EventType.list_from_response(saved.get("event_types"))
        except EnphaseError:
            return False
        if fetched_at is None or not types:
            return False
        self.async_set_updated_data({event_type.event_type_id: event_type for event_type in types})
        planner = self.budget.planner
        now = dt_util.utcnow()
        if (when := planner.when_due(self.task, now)) is None or when <= now:
            planner.record_done(self.task, min(fetched_at, now))
        return True

    async def _async_fetch(self) -> dict[int, EventType]:
        types = await self._async_call(self.client.event_types)
        await self.store.async_save(
            {
                "fetched_at": dt_util.utcnow().isoformat(),
                "event_types": [dict(event_type.raw) for event_type in types],
            }
        )
        return {event_type.event_type_id: event_type for event_type in types}


class EnphaseSystemCoordinator[DataT](EnphaseCoordinator[DataT]):
    """A coordinator for one system."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseConfigEntry,
        client: EnphaseClient,
        auth: EnphaseAuth,
        budget: EntryBudget,
        system_id: int,
        *,
        what: str,
    ) -> None:
        """Set up a per-system coordinator."""
        super().__init__(
            hass,
            entry,
            client,
            auth,
            budget,
            name=f"Enphase system {system_id} {what}",
            system_id=system_id,
        )
        self.system_id = system_id


class EnphaseSummaryCoordinator(EnphaseSystemCoordinator[Summary | None]):
    """A system's summary: power, energy, status."""

    kind = TaskKind.SUMMARY

    async def _async_fetch(self) -> Summary | None:
        return await self._async_call(lambda: self.client.summary(self.system_id))

    def _learn(self, data: Summary | None, now: datetime) -> None:
        if data is not None:
            self.budget.planner.record_summary(self.system_id, data, now)


class EnphaseDevicesCoordinator(EnphaseSystemCoordinator[Devices | None]):
    """A system's hardware inventory; removes devices Enphase no longer lists."""

    kind = TaskKind.DEVICES

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


class AlarmMemory:
    """The open alarms an entry follows and its last alarm fetches, saved across restarts.

    One small store per entry, shared by its systems' alarm coordinators. Alarms are kept as
    Enphase sent them (their serial numbers stay in .storage, never in a log).
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Create the memory of one entry; nothing is read before ``async_load``."""
        self.store = Store[dict[str, Any]](
            hass, ALARMS_STORAGE_VERSION, f"{DOMAIN}.alarms.{entry_id}"
        )
        self.systems: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    async def async_load(self) -> dict[str, Any]:
        """Return the saved systems, read once."""
        async with self._lock:
            if self.systems is None:
                saved = await self.store.async_load()
                systems = saved.get("systems") if isinstance(saved, dict) else None
                self.systems = systems if isinstance(systems, dict) else {}
            return self.systems

    async def async_save(self, system_id: int, fetched_at: datetime, alarms: list[Alarm]) -> None:
        """Save one system's open alarms and the time of the fetch that found them."""
        systems = await self.async_load()
        systems[str(system_id)] = {
            "fetched_at": fetched_at.isoformat(),
            "open": [dict(alarm.raw) for alarm in alarms if not alarm.cleared],
        }
        await self.store.async_save({"systems": systems})


def alarm_memory(hass: HomeAssistant, entry: ConfigEntry[Any]) -> AlarmMemory:
    """Return the entry's alarm memory (one per loaded entry)."""
    memories = hass.data.setdefault(ALARM_MEMORIES, {})
    if (memory := memories.get(entry.entry_id)) is None:
        memory = memories[entry.entry_id] = AlarmMemory(hass, entry.entry_id)
    return memory


class EnphaseAlarmsCoordinator(EnphaseSystemCoordinator[list[Alarm] | None]):
    """A system's active alarms: raised within the last week, or seen open before.

    The open alarms and the time of the last fetch are saved, so after a restart the fetch
    covers the time Home Assistant was off (at least a week, at most four) and checks the
    alarms followed before, instead of reading a whole month again.
    """

    kind = TaskKind.ALARMS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set up the coordinator; the saved state is read in ``async_prepare``."""
        super().__init__(*args, **kwargs)
        self.memory = alarm_memory(self.hass, self.config_entry)
        # The last successful fetch, saved; None until one is known.
        self.fetched_at: datetime | None = None
        # Ids of the open alarms an earlier run saved (not news for the event entity);
        # None when nothing was saved (the first install).
        self.restored_ids: frozenset[str] | None = None
        self._prepared = False

    async def async_prepare(self) -> None:
        """Start from the open alarms saved by an earlier run, and its last fetch time."""
        if self._prepared:
            return
        self._prepared = True
        saved = (await self.memory.async_load()).get(str(self.system_id))
        if not isinstance(saved, dict):
            return
        fetched_at = dt_util.parse_datetime(str(saved.get("fetched_at")))
        try:
            alarms = Alarm.list_from_response(
                {"alarms": saved.get("open") or []}, system_id=self.system_id
            )
        except EnphaseError:
            return
        if fetched_at is None:
            return
        self.fetched_at = fetched_at
        self.restored_ids = frozenset(alarm.id for alarm in alarms)
        if self.data is None:
            self.async_set_updated_data(alarms)

    def _windows(self, now: datetime) -> tuple[datetime, list[tuple[datetime, datetime, set[str]]]]:
        """Return where the recent window starts, and the windows of older followed alarms.

        Each older window spans at most a week (one request) around the start times of
        the followed alarms it checks.
        """
        planner = self.budget.planner
        per_system = planner.limits.per_month / max(1, planner.system_count)
        first_look = (
            ALARM_FIRST_LOOKBACK if per_system >= ALARM_FIRST_LOOKBACK_MIN_QUOTA else ALARM_WINDOW
        )
        oldest = now - first_look
        start = oldest
        if self.fetched_at is not None:
            start = max(oldest, min(now - ALARM_WINDOW, self.fetched_at - ALARM_MARGIN))
        floor = now - MAX_ALARM_LOOKBACK
        followed = sorted(
            (alarm.alarm_start_time, alarm.id)
            for alarm in self.data or ()
            if alarm.alarm_start_time is not None
            and not alarm.cleared
            and floor + ALARM_MARGIN <= alarm.alarm_start_time < start
        )
        windows: list[tuple[datetime, datetime, set[str]]] = []
        for began, alarm_id in followed:
            if windows and began + ALARM_MARGIN - windows[-1][0] <= ALARM_WINDOW:
                windows[-1] = (windows[-1][0], began + ALARM_MARGIN, {*windows[-1][2], alarm_id})
            else:
                windows.append((began - ALARM_MARGIN, began + ALARM_MARGIN, {alarm_id}))
        return start, windows

    def requests_needed(self, now: datetime) -> int:
        """Return the requests of the next fetch: a week each, recent and older windows."""
        start, windows = self._windows(now)
        return max(1, math.ceil((now - start) / ALARM_WINDOW)) + len(windows)

    async def _async_fetch(self) -> list[Alarm] | None:
        now = dt_util.utcnow()
        start, windows = self._windows(now)
        alarms = await self._async_call(partial(self.client.alarms, self.system_id, start, now))
        found = {alarm.id for alarm in alarms}
        for window_start, window_end, ids in windows:
            # Enphase may list an open alarm in every window it overlaps: then the recent
            # window already showed it, and its own window is not needed.
            if ids <= found:
                continue
            for alarm in await self._async_call(
                partial(self.client.alarms, self.system_id, window_start, window_end)
            ):
                if alarm.id not in found:
                    found.add(alarm.id)
                    alarms.append(alarm)
        self.fetched_at = now
        await self.memory.async_save(self.system_id, now, alarms)
        return alarms


class EnphaseInvertersCoordinator(EnphaseSystemCoordinator[dict[str, MicroinverterSummary] | None]):
    """Power and energy of each microinverter of a system, keyed by serial number."""

    kind = TaskKind.INVERTERS

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


class EnphaseScheduler:
    """Runs an entry's coordinators when the planner says their task is due.

    One timer per entry, set to the planner's next wake-up: the planner orders the tasks
    by value and keeps them within the per-minute limit, which per-coordinator timers
    could not do when many systems are due at once.
    """

    def __init__(self, hass: HomeAssistant, entry: EnphaseConfigEntry, budget: EntryBudget):
        """Create the scheduler; nothing runs before ``async_run``."""
        self.hass = hass
        self.entry = entry
        self.budget = budget
        self.coordinators: dict[Task, EnphaseCoordinator[Any]] = {}
        # Tasks whose first fetch is still owed: their entities wait for it, so they run
        # even when the planner (which remembers the last run before a restart) says later.
        self.first_fetch: dict[Task, datetime] = {}
        self._unsub: CALLBACK_TYPE | None = None
        self._running = False
        self.next_run: datetime | None = None

    @callback
    def add(self, coordinator: EnphaseCoordinator[Any], *, first_fetch: bool = True) -> None:
        """Run this coordinator's task from now on; ``first_fetch``: at the next chance."""
        self.coordinators[coordinator.task] = coordinator
        if first_fetch:
            self.first_fetch[coordinator.task] = dt_util.utcnow()

    @callback
    def remove_system(self, system_id: int) -> None:
        """Stop running a system's tasks."""
        for task in [task for task in self.coordinators if task.system_id == system_id]:
            del self.coordinators[task]
            self.first_fetch.pop(task, None)

    def _tasks(self, now: datetime) -> list[Task]:
        planner = self.budget.planner
        tasks = []
        for task in planner.due(now, self.budget.owner):
            if task in self.coordinators:
                tasks.append(task)
            else:
                # Nothing runs it here (a system going away): not due again at once.
                planner.record_done(task, now)
        if planner.blocked_until(now) is not None:
            return tasks
        room = planner.minute_room(now) - sum(planner.cost(task) for task in tasks)
        owed = sorted(
            (task for task, when in self.first_fetch.items() if when <= now and task not in tasks),
            key=lambda task: (list(TaskKind).index(task.kind), task.system_id or 0),
        )
        for task in owed:
            # In order: a costly task is not overtaken for good by cheaper ones.
            if (cost := planner.cost(task)) > room:
                break
            tasks.append(task)
            room -= cost
        return tasks

    async def async_run(self) -> None:
        """Run every task that is due now, then sleep until the next one is."""
        if self._running:
            return
        self._running = True
        try:
            now = dt_util.utcnow()
            planner = self.budget.planner
            for task, coordinator in list(self.coordinators.items()):
                await coordinator.async_prepare()
                planner.set_cost(task, coordinator.requests_needed(now))
            tasks = self._tasks(now)
            coordinators = [self.coordinators[task] for task in tasks]
            await asyncio.gather(*(coordinator.async_refresh() for coordinator in coordinators))
            after = dt_util.utcnow()
            for task, coordinator in zip(tasks, coordinators, strict=True):
                # What the next fetch costs (a restored alarm window is one week again).
                planner.set_cost(task, coordinator.requests_needed(after))
                if coordinator.fetched:
                    self.first_fetch.pop(task, None)
                elif task in self.first_fetch:
                    self.first_fetch[task] = now + FIRST_FETCH_RETRY
        finally:
            self._running = False
        await self.budget.async_changed()
        self._schedule()

    @callback
    def _schedule(self) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        now = dt_util.utcnow()
        planner = self.budget.planner
        wakeup = planner.next_wakeup(now, self.budget.owner)
        if self.first_fetch:
            owed = max(min(self.first_fetch.values()), planner.blocked_until(now) or now)
            # Not before the minute has room for one of them: no wake-ups every second.
            owed = max(owed, min(planner.minute_free_at(now, task) for task in self.first_fetch))
            wakeup = owed if wakeup is None else min(wakeup, owed)
        if wakeup is None:
            self.next_run = None
            return
        self.next_run = max(wakeup, now + MIN_WAKEUP)
        self._unsub = async_track_point_in_utc_time(self.hass, self._fire, self.next_run)

    @callback
    def _fire(self, _now: datetime) -> None:
        self._unsub = None
        self.entry.async_create_task(self.hass, self.async_run(), f"{DOMAIN} scheduled fetch")

    @callback
    def async_stop(self) -> None:
        """Stop the timer (on unload)."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None


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
    stats: RequestStats
    budget: EntryBudget
    scheduler: EnphaseScheduler
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
    args = (hass, entry, runtime.client, runtime.auth, runtime.budget, system_id)
    devices = EnphaseDevicesCoordinator(*args, what="devices")
    inverters = EnphaseInvertersCoordinator(*args, what="inverters")
    # A microinverter in the inverters summary is not stale even if the inventory
    # (fetched at another time) does not list it.
    devices.other_serials = lambda: set(inverters.data or ())
    return EnphaseSystemData(
        system_id=system_id,
        summary=EnphaseSummaryCoordinator(*args, what="summary"),
        devices=devices,
        alarms=EnphaseAlarmsCoordinator(*args, what="alarms"),
        inverters=inverters,
    )


def wants_inverters(hass: HomeAssistant, entry: ConfigEntry[Any], system_id: int) -> bool:
    """Whether a system's microinverter sensors are in use (or not created yet)."""
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    system_device = devices.async_get_device(identifiers={system_identifier(system_id)})
    found = False
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        if not entity.unique_id.endswith(MICRO_SENSOR_KEYS) or entity.device_id is None:
            continue
        device = devices.async_get(entity.device_id)
        if device is None or system_device is None or device.via_device_id != system_device.id:
            continue
        found = True
        if entity.disabled_by is None:
            return True
    return not found


def system_profile(
    hass: HomeAssistant, entry: ConfigEntry[Any], system_id: int, system: System | None
) -> SystemProfile:
    """Describe a system to the planner: its time zone, sun, gateway link and battery."""
    timezone = system.timezone if system is not None else None
    connection = (system.connection_type or "").lower() if system is not None else ""
    # Home Assistant's location is the system's only when they share a time zone.
    here = timezone is not None and timezone == hass.config.time_zone
    battery = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{system_id}_battery_capacity"
    )
    return SystemProfile(
        system_id,
        timezone=timezone,
        latitude=hass.config.latitude if here else None,
        longitude=hass.config.longitude if here else None,
        has_battery=battery is not None,
        cellular="cell" in connection,
        inverters=wants_inverters(hass, entry, system_id),
    )


@callback
def update_planner_systems(hass: HomeAssistant, entry: EnphaseConfigEntry) -> None:
    """Tell the planner which systems the entry polls, as they are now."""
    runtime = entry.runtime_data
    systems = runtime.systems.data or {}
    profiles = [
        system_profile(hass, entry, system_id, systems.get(system_id))
        for system_id in runtime.system_data
    ]
    runtime.budget.planner.set_systems(entry.entry_id, profiles)
    runtime.budget.systems = tuple(sorted(runtime.system_data))


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
