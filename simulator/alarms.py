"""Alarms and events: what an open alarm does to its system, raising and clearing, and their JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import SimulatorError
from .event_types import ALARM_EFFECTS, DEVICE_STATUS_PRIORITY, EVENT_TYPES, STATUS_PRIORITY

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .clock import SimClock
    from .model import SimSystem

Moment = datetime | float | int | str


def to_epoch(value: Moment | None, default: float) -> int:
    """Epoch seconds of an aware datetime, an ISO 8601 string with offset, or a number."""
    if value is None:
        return int(default)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            try:
                return int(float(value))
            except ValueError:
                raise SimulatorError(f"not a time: {value!r}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise SimulatorError("times need a UTC offset")
        return int(value.timestamp())
    return int(value)


# --- kinds --------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlarmKind:
    """What an open alarm of one event type does to its system (see ALARM_EFFECTS)."""

    status: str | None = None
    device_status: str | None = None
    device_kinds: tuple[str, ...] = ()
    stops_uploads: bool = False
    stops_device_reports: bool = False

    @property
    def silent(self) -> bool:
        """True when the alarm shows only in alarm and event reads."""
        return (
            self.status is None
            and self.device_status is None
            and not self.stops_uploads
            and not self.stops_device_reports
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlarmKind:
        """Build from ALARM_EFFECTS' form (or the control API's); unknown keys are refused."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise SimulatorError(f"unknown alarm kind field {unknown[0]!r}")
        device_kinds = data.get("device_kinds") or ()
        if isinstance(device_kinds, str):
            device_kinds = (device_kinds,)
        return cls(
            status=data.get("status"),
            device_status=data.get("device_status"),
            device_kinds=tuple(str(k) for k in device_kinds),
            stops_uploads=bool(data.get("stops_uploads", False)),
            stops_device_reports=bool(data.get("stops_device_reports", False)),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return {
            "status": self.status,
            "device_status": self.device_status,
            "device_kinds": list(self.device_kinds),
            "stops_uploads": self.stops_uploads,
            "stops_device_reports": self.stops_device_reports,
            "silent": self.silent,
        }


SILENT = AlarmKind()


class AlarmRules:
    """Event types (stateful or transient) and the alarm kind of each, shared by all systems."""

    def __init__(self, event_types: Mapping[int, Mapping[str, Any]] | None = None) -> None:
        """Read the kinds of ``event_types`` (default: the built-in ones) from ALARM_EFFECTS."""
        if event_types is None:
            event_types = {int(e["event_type_id"]): e for e in EVENT_TYPES}
        self.event_types = event_types
        self.kinds: dict[int, AlarmKind] = {}
        for type_id, info in event_types.items():
            effect = ALARM_EFFECTS.get(str(info.get("event_type_key")))
            if effect is not None:
                self.kinds[int(type_id)] = AlarmKind.from_dict(effect)

    def kind(self, event_type_id: int) -> AlarmKind:
        """Return the kind of ``event_type_id``; unknown and unlisted types are silent."""
        return self.kinds.get(int(event_type_id), SILENT)

    def key(self, event_type_id: int) -> str | None:
        """Return the event_type_key, or None for a type Enphase does not describe."""
        info = self.event_types.get(int(event_type_id))
        return None if info is None else info.get("event_type_key")

    def stateful(self, event_type_id: int) -> bool:
        """Stateful events are Open or Closed; transient ones are Info (unknown: stateful)."""
        info = self.event_types.get(int(event_type_id))
        return True if info is None else bool(info.get("stateful", True))


def _rank(priority: tuple[str, ...]) -> Any:
    # A status outside the list (a scenario's own value) outranks the listed ones.
    return lambda status: priority.index(status) if status in priority else -1


def _is_open(start: int, end: int | None, at: float) -> bool:
    return start <= at and (end is None or end > at)


def open_alarms(system: SimSystem, at: float) -> list[dict[str, Any]]:
    """Alarms of ``system`` open at ``at`` (started, not yet cleared), oldest first."""
    return sorted(
        (a for a in system.alarms if _is_open(a["start"], a["end"], at)), key=lambda a: a["start"]
    )


# --- effects on the system ----------------------------------------------------------------
def outages(system: SimSystem, at: float) -> list[tuple[int, int | None]]:
    """Return the merged spans [start, end) without uploads as of ``at`` (end None: still out).

    From a gateway switched off (``offline_since``) and from open or past alarms whose kind
    stops uploads.
    """
    spans: list[tuple[int, int | None]] = []
    offline = system.offline_since
    if offline is not None and offline <= at:
        spans.append((int(offline), None))
    for alarm in system.alarms:
        if alarm["start"] > at or not system.rules.kind(alarm["event_type_id"]).stops_uploads:
            continue
        end = alarm["end"]
        spans.append((int(alarm["start"]), end if end is not None and end <= at else None))
    spans.sort(key=lambda span: span[0])
    merged: list[tuple[int, int | None]] = []
    for start, end in spans:
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
            last_start, last_end = merged[-1]
            joined = None if end is None or last_end is None else max(end, last_end)
            merged[-1] = (last_start, joined)
        else:
            merged.append((start, end))
    return merged


def is_reporting(system: SimSystem, at: float) -> bool:
    """Tell whether the gateway is uploading at ``at``."""
    return all(end is not None for _, end in outages(system, at))


def last_upload(system: SimSystem, at: float) -> int:
    """Epoch of the gateway's last upload at or before ``at``.

    Uploads follow the system's period and phase; none happen during an outage, and the
    gateway sends its backlog in one upload the moment an outage ends.
    """
    moment: float = at
    reconnected: int | None = None
    for start, end in outages(system, at):
        if end is None:
            moment = start
            break
        reconnected = end
    period = system.upload_interval
    phase = system.upload_phase
    upload = int((moment - phase) // period * period + phase)
    if reconnected is not None:
        upload = max(upload, reconnected)
    return max(upload, int(system.spec["operational_at"]))


def system_status(system: SimSystem, at: float) -> str:
    """Return the status a summary shows at ``at``.

    A scenario's (or PATCH's) status other than normal is pinned; otherwise the open
    status-changing alarms and a switched-off gateway (comm) decide, by STATUS_PRIORITY.
    """
    base = str(system.spec["status"])
    if base != "normal":
        return base
    candidates = [
        status
        for alarm in open_alarms(system, at)
        if (status := system.rules.kind(alarm["event_type_id"]).status) is not None
    ]
    offline = system.offline_since
    if offline is not None and offline <= at:
        candidates.append("comm")
    return min(candidates, key=_rank(STATUS_PRIORITY)) if candidates else base


def _device_alarms(
    system: SimSystem, kind_name: str, device: Mapping[str, Any], at: float
) -> list[tuple[AlarmKind, dict[str, Any]]]:
    """Open alarms naming ``device`` (its own event still open) whose kind acts on its kind."""
    serial = device.get("serial_number")
    found = []
    for alarm in open_alarms(system, at):
        kind = system.rules.kind(alarm["event_type_id"])
        if kind_name not in kind.device_kinds:
            continue
        if any(
            e["serial_number"] == serial and _is_open(e["start_date"], e["end_date"], at)
            for e in alarm["events"]
        ):
            found.append((kind, alarm))
    return found


def device_status(
    system: SimSystem, kind_name: str, device: Mapping[str, Any], at: float
) -> str | None:
    """Return the status a devices read shows for ``device`` at ``at``."""
    statuses = [k.device_status for k, _ in _device_alarms(system, kind_name, device, at)]
    statuses = [s for s in statuses if s is not None]
    pinned = device.get("status")
    if not statuses:
        return pinned
    if pinned not in (None, "normal"):
        statuses.append(pinned)
    return min(statuses, key=_rank(DEVICE_STATUS_PRIORITY))


def device_silenced_at(
    system: SimSystem, kind_name: str, device: Mapping[str, Any], at: float
) -> int | None:
    """Last report of a device an open alarm says stopped reporting, or None."""
    starts = [
        alarm["start"]
        for kind, alarm in _device_alarms(system, kind_name, device, at)
        if kind.stops_device_reports
    ]
    return last_upload(system, min(starts)) if starts else None


# --- JSON ---------------------------------------------------------------------------------
def _ended(end: int | None, now: float) -> int | None:
    return end if end is not None and end <= now else None


def event_json(event: Mapping[str, Any], now: float, *, stateful: bool) -> dict[str, Any]:
    """One event as /events shows it: Open or Closed, or Info for a transient type."""
    end = _ended(event["end"], now)
    status = "Info" if not stateful else "Open" if end is None else "Closed"
    return {
        "status": status,
        "event_type_id": event["event_type_id"],
        "event_start_time": event["start"],
        "event_end_time": end,
        "serial_number": event["serial_number"],
    }


def _alarm_events(alarm: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
    # An event can end while its alarm stays open (the reference's alarms example shows one).
    return [
        {
            "serial_number": e["serial_number"],
            "start_date": e["start_date"],
            "end_date": _ended(e["end_date"], now),
        }
        for e in alarm["events"]
    ]


def alarm_json(alarm: Mapping[str, Any], now: float) -> dict[str, Any]:
    """One alarm as /alarms shows it."""
    end = _ended(alarm["end"], now)
    return {
        "id": alarm["id"],
        "cleared": end is not None,
        "severity": alarm["severity"],
        "events": _alarm_events(alarm, now),
        "event_type_id": alarm["event_type_id"],
        "alarm_start_time": alarm["start"],
        "alarm_end_time": end,
    }


def open_alarms_json(system: SimSystem, now: float) -> dict[str, Any]:
    """GET /systems/{id}/open_alarms: every open alarm, whatever its age (the Swagger's shape)."""
    return {
        "alarms": [
            {
                "id": alarm["id"],
                "severity": alarm["severity"],
                "events": _alarm_events(alarm, now),
                "event_type_id": alarm["event_type_id"],
                "alarm_start_time": alarm["start"],
            }
            for alarm in open_alarms(system, now)
        ],
        "system_id": system.system_id,
    }


def open_events_json(system: SimSystem, now: float) -> dict[str, Any]:
    """GET /systems/{id}/open_events: every open stateful event, whatever its age.

    The Swagger's example spells the status "open" in lower case, unlike /events' "Open".
    """
    events = sorted(
        (
            e
            for e in system.events
            if _is_open(e["start"], e["end"], now) and system.rules.stateful(e["event_type_id"])
        ),
        key=lambda e: e["start"],
    )
    return {
        "events": [
            {
                "status": "open",
                "event_type_id": e["event_type_id"],
                "event_start_time": e["start"],
                "event_end_time": None,
                "serial_number": e["serial_number"],
            }
            for e in events
        ],
        "system_id": system.system_id,
    }


# --- ground truth for tests and benchmarks ------------------------------------------------
@dataclass(frozen=True)
class AlarmRecord:
    """When an alarm was raised and cleared, and what its kind does (benchmark ground truth)."""

    alarm_id: str
    system_id: int
    event_type_id: int
    event_type_key: str | None
    severity: int
    serial_numbers: tuple[str | None, ...]
    raised_at: int
    cleared_at: int | None  # may lie in the future when a clear was scheduled
    kind: AlarmKind

    @property
    def changes_status(self) -> bool:
        """True when the alarm changes the summary's status while open."""
        return self.kind.status is not None

    @property
    def silent(self) -> bool:
        """True when nothing but the alarm and event reads shows it."""
        return self.kind.silent

    def is_open(self, at: float) -> bool:
        """Tell whether the alarm is open at ``at``."""
        return _is_open(self.raised_at, self.cleared_at, at)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return {
            "id": self.alarm_id,
            "system_id": self.system_id,
            "event_type_id": self.event_type_id,
            "event_type_key": self.event_type_key,
            "severity": self.severity,
            "serial_numbers": list(self.serial_numbers),
            "raised_at": self.raised_at,
            "cleared_at": self.cleared_at,
            "changes_status": self.changes_status,
            "silent": self.silent,
            "kind": self.kind.as_dict(),
        }


@dataclass(frozen=True)
class EventRecord:
    """When an event opened and closed, and the alarm it belongs to (if any)."""

    event_id: str
    system_id: int
    event_type_id: int
    serial_number: str | None
    opened_at: int
    closed_at: int | None
    alarm_id: str | None
    stateful: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return {
            "id": self.event_id,
            "system_id": self.system_id,
            "event_type_id": self.event_type_id,
            "serial_number": self.serial_number,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "alarm_id": self.alarm_id,
            "stateful": self.stateful,
        }


class AlarmControl:
    """The Simulator's alarm and event controls (a mixin of :class:`simulator.Simulator`)."""

    clock: SimClock
    systems: dict[int, SimSystem]
    rules: AlarmRules
    _alarm_seq: int

    def _owned_system(self, system_id: int) -> SimSystem:
        try:
            return self.systems[int(system_id)]
        except KeyError as err:
            raise SimulatorError(f"unknown system {system_id}") from err

    def _next_id(self, system: SimSystem, event_type_id: int, at: int) -> str:
        # Enphase's alarm ids look like "698957008.8.1766109572000": system, type, epoch ms.
        self._alarm_seq += 1
        return f"{system.system_id}.{int(event_type_id)}.{at}{self._alarm_seq:03d}"

    def _find_alarm(self, alarm_id: str) -> tuple[SimSystem, dict[str, Any]]:
        for system in self.systems.values():
            for alarm in system.alarms:
                if alarm["id"] == str(alarm_id):
                    return system, alarm
        raise SimulatorError(f"no alarm {alarm_id!r}")

    def _find_event(self, event_id: str) -> tuple[SimSystem, dict[str, Any]]:
        for system in self.systems.values():
            for event in system.events:
                if event.get("id") == str(event_id):
                    return system, event
        raise SimulatorError(f"no event {event_id!r}")

    @staticmethod
    def _span(start: int, end: Moment | None, now: float) -> int | None:
        if end is None:
            return None
        stop = to_epoch(end, now)
        if stop < start:
            raise SimulatorError("an alarm or event cannot end before it starts")
        return stop

    def raise_alarm(
        self,
        system_id: int,
        event_type_id: int = 28,
        *,
        serial_number: str | None = None,
        serial_numbers: Iterable[str] | None = None,
        severity: int = 2,
        alarm_id: str | None = None,
        at: Moment | None = None,
        clear_at: Moment | None = None,
    ) -> dict[str, Any]:
        """Open an alarm and one event per serial at ``at`` (default now); returns the alarm.

        Without serials the alarm names the first active gateway. ``clear_at`` schedules
        its clearing. Its kind (see ALARM_EFFECTS) changes status and uploads while open.
        The returned dict is the stored one (``start``/``end`` epochs, ``events``).
        """
        system = self._owned_system(system_id)
        now = self.clock.time()
        start = to_epoch(at, now)
        end = self._span(start, clear_at, now)
        serials: list[str | None] = list(serial_numbers or [])
        if not serials:
            if serial_number is None:
                gateways = system.gateways()
                serial_number = gateways[0]["serial_number"] if gateways else None
            serials = [serial_number]
        if alarm_id is not None:
            try:
                self._find_alarm(str(alarm_id))
            except SimulatorError:
                pass
            else:
                raise SimulatorError(f"alarm {alarm_id!r} exists")
        identifier = str(alarm_id or self._next_id(system, event_type_id, start))
        entries = []
        for serial in serials:
            event = self._add_event(system, event_type_id, serial, start, end, identifier)
            entries.append(
                {
                    "serial_number": serial,
                    "start_date": start,
                    "end_date": end,
                    "event_id": event["id"],
                }
            )
        alarm = {
            "id": identifier,
            "severity": int(severity),
            "event_type_id": int(event_type_id),
            "start": start,
            "end": end,
            "events": entries,
        }
        system.alarms.append(alarm)
        return alarm

    def clear_alarm(self, alarm_id: str, *, at: Moment | None = None) -> dict[str, Any]:
        """Clear an alarm at ``at`` (default now) and close its events still open then.

        An alarm already cleared stays as it is.
        """
        system, alarm = self._find_alarm(alarm_id)
        now = self.clock.time()
        if alarm["end"] is not None and alarm["end"] <= now:
            return alarm
        when = to_epoch(at, now)
        if when < alarm["start"]:
            raise SimulatorError("an alarm cannot clear before it was raised")
        alarm["end"] = when
        for entry in alarm["events"]:
            if entry["end_date"] is None or entry["end_date"] > when:
                entry["end_date"] = when
        for event in system.events:
            if event.get("alarm_id") == alarm["id"] and (
                event["end"] is None or event["end"] > when
            ):
                event["end"] = when
        return alarm

    def _add_event(
        self,
        system: SimSystem,
        event_type_id: int,
        serial: str | None,
        start: int,
        end: int | None,
        alarm_id: str | None,
    ) -> dict[str, Any]:
        event = {
            "id": f"{self._next_id(system, event_type_id, start)}.e",
            "event_type_id": int(event_type_id),
            "serial_number": serial,
            "start": start,
            "end": end,
            "alarm_id": alarm_id,
        }
        system.events.append(event)
        return event

    def open_event(
        self,
        system_id: int,
        event_type_id: int,
        *,
        serial_number: str | None = None,
        at: Moment | None = None,
        close_at: Moment | None = None,
    ) -> dict[str, Any]:
        """Open an event without an alarm at ``at`` (default now); returns it with its ``id``.

        Without a serial it names the first active gateway. An event alone changes no status:
        the effects belong to alarms (Enphase raises those when an event stays open).
        """
        system = self._owned_system(system_id)
        now = self.clock.time()
        start = to_epoch(at, now)
        end = self._span(start, close_at, now)
        if serial_number is None:
            gateways = system.gateways()
            serial_number = gateways[0]["serial_number"] if gateways else None
        return self._add_event(system, event_type_id, serial_number, start, end, None)

    def close_event(self, event_id: str, *, at: Moment | None = None) -> dict[str, Any]:
        """Close an event at ``at`` (default now); its alarm, if any, stays open.

        An event already closed stays as it is.
        """
        system, event = self._find_event(event_id)
        now = self.clock.time()
        if event["end"] is not None and event["end"] <= now:
            return event
        when = to_epoch(at, now)
        if when < event["start"]:
            raise SimulatorError("an event cannot close before it opened")
        event["end"] = when
        for alarm in system.alarms:
            if alarm["id"] == event.get("alarm_id"):
                for entry in alarm["events"]:
                    if entry.get("event_id") == event["id"]:
                        entry["end_date"] = when
        return event

    def alarm_records(self, system_id: int | None = None) -> list[AlarmRecord]:
        """Every alarm (scenario and raised, open and cleared), by raise time."""
        records = []
        for system in self.systems.values():
            if system_id is not None and system.system_id != int(system_id):
                continue
            for alarm in system.alarms:
                type_id = int(alarm["event_type_id"])
                records.append(
                    AlarmRecord(
                        alarm_id=alarm["id"],
                        system_id=system.system_id,
                        event_type_id=type_id,
                        event_type_key=self.rules.key(type_id),
                        severity=int(alarm["severity"]),
                        serial_numbers=tuple(e["serial_number"] for e in alarm["events"]),
                        raised_at=int(alarm["start"]),
                        cleared_at=alarm["end"],
                        kind=self.rules.kind(type_id),
                    )
                )
        return sorted(records, key=lambda r: (r.raised_at, r.alarm_id))

    def event_records(self, system_id: int | None = None) -> list[EventRecord]:
        """Every event (scenario and opened, open and closed), by opening time."""
        records = []
        for system in self.systems.values():
            if system_id is not None and system.system_id != int(system_id):
                continue
            records.extend(
                EventRecord(
                    event_id=str(event.get("id")),
                    system_id=system.system_id,
                    event_type_id=int(event["event_type_id"]),
                    serial_number=event["serial_number"],
                    opened_at=int(event["start"]),
                    closed_at=event["end"],
                    alarm_id=event.get("alarm_id"),
                    stateful=self.rules.stateful(event["event_type_id"]),
                )
                for event in system.events
            )
        return sorted(records, key=lambda r: (r.opened_at, r.event_id))

    def alarm_kind(self, event_type_id: int) -> AlarmKind:
        """Return what an open alarm of ``event_type_id`` does."""
        return self.rules.kind(event_type_id)

    def set_alarm_kind(
        self, event_type_id: int, kind: AlarmKind | Mapping[str, Any] | None = None
    ) -> AlarmKind:
        """Change what alarms of ``event_type_id`` do (None or {} makes the type silent)."""
        if not isinstance(kind, AlarmKind):
            kind = AlarmKind.from_dict(kind or {})
        self.rules.kinds[int(event_type_id)] = kind
        return kind

    def status_at(self, system_id: int, at: Moment | None = None) -> str:
        """Return the status the summary shows at ``at`` (default now)."""
        return self._owned_system(system_id).status(to_epoch(at, self.clock.time()))
