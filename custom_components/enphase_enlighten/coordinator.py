"""The coordinator base and one coordinator per kind of Enphase data, run by the scheduler."""

from __future__ import annotations

from functools import partial
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .alarms import (
    MAX_PENDING_CHANGES,
    AlarmChange,
    ChangeKind,
    SavedAlarms,
    alarm_changes,
    alarm_memory,
    event_changes,
    events_interval,
    saved_time,
)
from .api import (
    Alarm,
    Devices,
    EnphaseApiKeyMismatchError,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    Event,
    EventType,
    MicroinverterSummary,
    Summary,
    System,
)
from .budget import Task, TaskKind
from .const import DOMAIN
from .devices import remove_stale_devices
from .messages import refresh_refused, update_failure
from .options import selected_system_ids

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry

    from .auth import EnphaseAuth
    from .entry_budget import EntryBudget
    from .held import HeldData

_LOGGER = logging.getLogger(__name__)

# The event type names, shared by every entry (they are Enphase's, not an account's).
EVENT_TYPES_STORAGE_KEY = f"{DOMAIN}.event_types"
EVENT_TYPES_STORAGE_VERSION = 1


class EnphaseCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """Base coordinator: one planner task, token retry, error mapping, 429s keep the data.

    Coordinators never poll on their own (no update interval): the entry's scheduler runs
    them when the planner says their task is due, and a user may ask for a refresh within
    the budget (see ``async_manual_refresh``).
    """

    config_entry: ConfigEntry[Any]
    kind: ClassVar[TaskKind]
    # Where the last answer is kept across reloads and restarts (set by the runtime for the
    # kinds that hold theirs); None: fetched again at every start.
    held: HeldData | None = None

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
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
        # Whether the last fetch was answered 404 (the system is gone).
        self.not_found = False

    async def _async_fetch(self) -> DataT:
        """Fetch fresh data; subclasses call the client here."""
        raise NotImplementedError

    def _learn(self, data: DataT, now: datetime) -> None:
        """Tell the planner what the data says (the summary does)."""

    def requests_needed(self, now: datetime) -> int:
        """Return the requests the next fetch will make (the planner counts them)."""
        return 1

    @property
    def held_key(self) -> str:
        """Return the key of this coordinator's answer in the entry's held data."""
        system_id = self.task.system_id
        return str(self.kind) if system_id is None else f"{self.kind}:{system_id}"

    def _hold(self, data: DataT) -> Any:
        """Return the answer to hold, as JSON (the kinds that hold theirs say how)."""
        raise NotImplementedError

    async def _async_restore(self, held: Any) -> DataT:
        """Rebuild the data from a held answer; raises EnphaseError when it is unreadable."""
        raise NotImplementedError

    def nothing_new(self, now: datetime) -> bool:
        """Whether a fetch now could bring nothing newer than the data held (the summary knows)."""
        return False

    async def async_restore(self) -> bool:
        """Start from the answer an earlier run held, with its time; return whether there was one.

        The planner learns the answer's time as the task's last run, so what is still fresh
        is not fetched again after a reload or restart.
        """
        if self.held is None or (answer := self.held.get(self.held_key)) is None:
            return False
        try:
            data = await self._async_restore(answer.data)
        except (EnphaseError, TypeError, ValueError, KeyError, AttributeError):
            _LOGGER.warning("Ignoring the saved answer of %s: it is not readable", self.name)
            return False
        self._learn(data, answer.fetched_at)
        self.budget.planner.record_restored(self.task, answer.fetched_at)
        self.last_success_at = answer.fetched_at
        self.async_set_updated_data(data)
        return True

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

    async def async_manual_refresh(self) -> bool:
        """Refresh because a user asked, if the budget allows; say why not otherwise.

        Returns False, spending nothing, when no newer data can exist yet (``nothing_new``).
        """
        now = dt_util.utcnow()
        if self.nothing_new(now):
            _LOGGER.debug("%s: no new upload yet; answering from the data held", self.name)
            return False
        decision = self.budget.planner.can_refresh(now, self.requests_needed(now))
        if not decision:
            raise refresh_refused(decision, now)
        await self.async_request_refresh()
        await self.budget.async_changed()
        return True

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
            # Enphase says the system does not exist: runtime.py drops a missing system then.
            self.not_found = isinstance(err, EnphaseNotFoundError)
            _LOGGER.debug("%s: %s", self.name, err)
            raise update_failure(err) from err
        except (ConfigEntryAuthFailed, UpdateFailed):
            # The token could not be renewed: no request was made for this task.
            planner.record_failure(self.task, now)
            raise
        except Exception as err:
            # Whatever else went wrong is a malformed answer and waits like one: a failure
            # the planner never hears of would be retried at once, again and again.
            planner.record_failure(self.task, now)
            _LOGGER.debug("%s: unexpected answer", self.name, exc_info=True)
            raise update_failure(err) from err
        self._learn(data, now)
        self.not_found = False
        if self.held is not None:
            self.held.hold(self.held_key, now, self._hold(data))
        planner.record_done(self.task, now)
        self.budget.async_check_resumed(now)
        self.last_success_at = now
        self.fetched = True
        return data


class EnphaseSystemsCoordinator(EnphaseCoordinator[dict[int, System]]):
    """Details of the selected systems, from one search request; re-read daily to weekly by plan."""

    kind = TaskKind.SYSTEMS

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        client: EnphaseClient,
        auth: EnphaseAuth,
        budget: EntryBudget,
    ) -> None:
        """Set up the systems coordinator."""
        super().__init__(hass, entry, client, auth, budget, name="Enphase systems")
        self.system_ids = selected_system_ids(entry)

    async def async_restore(self) -> bool:
        """Start from the held systems if they were fetched for the systems selected now."""
        answer = self.held.get(self.held_key) if self.held is not None else None
        if answer is None or not isinstance(answer.data, dict):
            return False
        if sorted(answer.data.get("ids") or ()) != sorted(self.system_ids):
            # Options changed the selection: what was held is not what is asked for.
            return False
        return await super().async_restore()

    def _hold(self, data: dict[int, System]) -> Any:
        return {
            "ids": sorted(self.system_ids),
            "systems": [dict(system.raw) for system in data.values()],
        }

    async def _async_restore(self, held: Any) -> dict[int, System]:
        systems = (System.from_dict(item) for item in held["systems"])
        return {
            system.system_id: system for system in systems if system.system_id in self.system_ids
        }

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
        entry: ConfigEntry[Any],
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
        try:
            saved = await self.store.async_load()
        except (HomeAssistantError, ValueError):
            saved = {}
        if saved is None:
            return False
        try:
            fetched_at = saved_time(saved.get("fetched_at"))
            types = EventType.list_from_response(saved.get("event_types"))
        except Exception:  # a hand-edited or old store: fetched again, for every entry
            fetched_at, types = None, []
        if fetched_at is None or not types:
            _LOGGER.warning("The saved event types cannot be read; they are fetched again")
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
        entry: ConfigEntry[Any],
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

    def _hold(self, data: Summary | None) -> Any:
        return None if data is None else dict(data.raw)

    async def _async_restore(self, held: Any) -> Summary | None:
        return None if held is None else Summary.from_dict(held, system_id=self.system_id)

    def nothing_new(self, now: datetime) -> bool:
        """Whether the gateway cannot have uploaded since the summary held (its cadence says)."""
        if self.data is None or self.data.last_report_at is None or not self.last_update_success:
            return False
        next_upload = self.budget.planner.next_upload_at(self.system_id)
        return next_upload is not None and now < next_upload


class EnphaseDevicesCoordinator(EnphaseSystemCoordinator[Devices | None]):
    """A system's hardware inventory; removes devices Enphase no longer lists."""

    kind = TaskKind.DEVICES

    # Serial numbers known from elsewhere (the inverters summary), kept as well.
    other_serials: Callable[[], set[str]] = staticmethod(set)

    async def _async_fetch(self) -> Devices | None:
        return await self._async_call(lambda: self.client.devices(self.system_id))

    def _learn(self, data: Devices | None, now: datetime) -> None:
        if data is None or self.data is None:
            return
        before = {serial: device.status for serial, device in self.data.by_serial().items()}
        if any(
            serial in before and before[serial] != device.status
            for serial, device in data.by_serial().items()
        ):
            # A device's status changed: an alarm was probably raised or cleared.
            self.budget.planner.mark_urgent(TaskKind.ALARMS, self.system_id)

    def _hold(self, data: Devices | None) -> Any:
        return None if data is None else dict(data.raw)

    async def _async_restore(self, held: Any) -> Devices | None:
        if held is None:
            return None
        # A large account's inventory (megabytes) is parsed off the event loop.
        return await self.hass.async_add_executor_job(
            partial(Devices.from_dict, held, system_id=self.system_id)
        )

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
    """A system's open alarms (and open events), one request each, whatever their age.

    The open events are read with the alarms every few hours on generous plans, weekly on
    tight ones.

    What changed since the previous read (alarms raised or cleared, events opened or closed)
    waits in ``changes`` for the event entity. The open alarms and events are saved, so
    after a restart the first read tells what changed while Home Assistant was off; at the
    first install (nothing saved) the first read is the baseline: nothing already open is
    news.
    """

    kind = TaskKind.ALARMS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set up the coordinator; the saved state is read in ``async_prepare``."""
        super().__init__(*args, **kwargs)
        self.memory = alarm_memory(self.hass, self.config_entry)
        # The last successful read, saved; None until one is known.
        self.fetched_at: datetime | None = None
        # Ids of the open alarms an earlier run saved; None when nothing was saved.
        self.restored_ids: frozenset[str] | None = None
        # The open events (None until read) and when they were read.
        self.events: list[Event] | None = None
        self.events_fetched_at: datetime | None = None
        # Open alarms and events the changes are counted from; None: no baseline yet.
        self._known_alarms: dict[str, Alarm] | None = None
        self._known_events: dict[str, Event] | None = None
        self.changes: list[AlarmChange] = []
        self._prepared = False

    async def async_prepare(self) -> None:
        """Start from the open alarms and events saved by an earlier run."""
        if self._prepared:
            return
        self._prepared = True
        saved = await self.memory.async_restore(self.system_id)
        if saved is None:
            return
        self.fetched_at = saved.fetched_at
        self.restored_ids = frozenset(alarm.id for alarm in saved.alarms)
        self._known_alarms = {alarm.id: alarm for alarm in saved.alarms}
        if saved.events is not None:
            self.events = saved.events
            self.events_fetched_at = saved.events_fetched_at
            self._known_events = {event.id: event for event in saved.events if event.is_open}
        if self.data is None:
            self.async_set_updated_data(saved.alarms)

    async def async_restore(self) -> bool:
        """Start from the saved open alarms (the alarms keep their own memory, not held data)."""
        await self.async_prepare()
        if self.restored_ids is None:
            return False
        self.last_success_at = self.fetched_at
        return True

    def _events_due(self, now: datetime) -> bool:
        if self.events_fetched_at is None:
            return True
        return now - self.events_fetched_at >= events_interval(
            self.budget.planner.alarm_interval(now)
        )

    def requests_needed(self, now: datetime) -> int:
        """Return the requests of the next read: the open alarms, and the events when due."""
        return 2 if self._events_due(now) else 1

    async def _async_fetch(self) -> list[Alarm] | None:
        now = dt_util.utcnow()
        alarms = await self._async_call(partial(self.client.open_alarms, self.system_id))
        changed: list[AlarmChange] = []
        if self._known_alarms is not None:
            changed = alarm_changes(self._known_alarms, alarms, now)
        events = self.events
        changes: list[AlarmChange] = []
        if self._events_due(now):
            events = await self._async_call(partial(self.client.open_events, self.system_id))
            if self._known_events is not None:
                changes = event_changes(self._known_events, events, now)
            self._known_events = {event.id: event for event in events if event.is_open}
            self.events, self.events_fetched_at = events, now
        planner = self.budget.planner
        if any(change.kind is ChangeKind.ALARM_CLEARED for change in changed) and (
            planner.last_status(self.system_id) not in (None, "normal")
        ):
            # The alarm behind the status may be over: a gateway back from an outage uploads
            # its backlog at once, while the planner may be polling slowly for want of
            # uploads. A silent alarm's end changes nothing the summary shows.
            planner.mark_urgent(TaskKind.SUMMARY, self.system_id)
        self._known_alarms = {alarm.id: alarm for alarm in alarms if not alarm.cleared}
        # The alarms last: the event entity's state then shows the alarm, not its events.
        self.changes = [*self.changes, *changes, *changed][-MAX_PENDING_CHANGES:]
        self.fetched_at = now
        await self.memory.async_save(
            self.system_id, SavedAlarms(now, alarms, self.events_fetched_at, events)
        )
        return alarms

    def pop_changes(self) -> list[AlarmChange]:
        """Return the changes not announced yet, and forget them."""
        changes, self.changes = self.changes, []
        return changes

    @property
    def open_serials(self) -> set[str]:
        """Return the serial numbers the open alarms name."""
        return {serial for alarm in self.data or () for serial in alarm.serial_numbers}


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

    def _hold(self, data: dict[str, MicroinverterSummary] | None) -> Any:
        return None if data is None else [dict(micro.raw) for micro in data.values()]

    async def _async_restore(self, held: Any) -> dict[str, MicroinverterSummary] | None:
        if held is None:
            return None
        micros = (MicroinverterSummary.from_dict(item) for item in held)
        return {micro.serial_number: micro for micro in micros if micro.serial_number}
