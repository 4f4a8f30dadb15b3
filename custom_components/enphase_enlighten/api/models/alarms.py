"""Models of alarms, events and event types (the alarms, events and event_types endpoints)."""

from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
from typing import TYPE_CHECKING, Any, Self

from ..errors import EnphaseResponseError
from .parse import (
    as_bool,
    as_datetime,
    as_int,
    as_str,
    empty_raw,
    object_list,
    require_int,
    require_mapping,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime


@dataclass(frozen=True, slots=True)
class Event:
    """An event of a system, from /systems/{id}/events."""

    system_id: int
    status: str | None = None
    event_type_id: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    serial_number: str | None = None
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int) -> Self:
        """Build from one event object (`event_start_time`/`event_end_time` in the reference)."""
        data = require_mapping(data, "an event")
        start = data.get("event_start_time", data.get("start_time"))
        end = data.get("event_end_time", data.get("end_time"))
        return cls(
            system_id=system_id,
            status=as_str(data.get("status")),
            event_type_id=as_int(data.get("event_type_id")),
            start_time=as_datetime(start),
            end_time=as_datetime(end),
            serial_number=as_str(data.get("serial_number")),
            raw=data,
        )

    @property
    def id(self) -> str:
        """Return a stable id: Enphase gives events none, so type, device and start name one.

        The serial number enters only as a short digest, so the id does not spell it out.
        """
        start = int(self.start_time.timestamp()) if self.start_time is not None else ""
        device = hashlib.sha256((self.serial_number or "").encode()).hexdigest()[:8]
        return f"{self.system_id}.{self.event_type_id}.{start}.{device}"

    @property
    def is_open(self) -> bool:
        """Return whether the event is still open (stateful, no end yet)."""
        status = (self.status or "").lower()
        return status != "info" and self.end_time is None and status != "closed"

    @classmethod
    def list_from_response(cls, data: Any, *, system_id: int) -> list[Self]:
        """Build the events of one /events or /open_events response."""
        data = require_mapping(data, "the events response")
        owner = as_int(data.get("system_id"))
        owner = system_id if owner is None else owner
        return [
            cls.from_dict(item, system_id=owner)
            for item in object_list(data.get("events"), "events")
        ]


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """A device impacted by an alarm."""

    serial_number: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from one object of an alarm's `events`."""
        return cls(
            serial_number=as_str(data.get("serial_number")),
            start_date=as_datetime(data.get("start_date")),
            end_date=as_datetime(data.get("end_date")),
        )


@dataclass(frozen=True, slots=True)
class Alarm:
    """An alarm of a system, from /systems/{id}/alarms."""

    system_id: int
    id: str
    cleared: bool = False
    severity: int | None = None
    event_type_id: int | None = None
    alarm_start_time: datetime | None = None
    alarm_end_time: datetime | None = None
    events: tuple[AlarmEvent, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int, cleared: bool = False) -> Self:
        """Build from one alarm object; `cleared` is the fallback when the body lacks it."""
        data = require_mapping(data, "an alarm")
        alarm_id = as_str(data.get("id"))
        if alarm_id is None:
            raise EnphaseResponseError(
                "Malformed response from the Enphase API: an alarm has no id"
            )
        flag = as_bool(data.get("cleared"))
        return cls(
            system_id=system_id,
            id=alarm_id,
            cleared=cleared if flag is None else flag,
            severity=as_int(data.get("severity")),
            event_type_id=as_int(data.get("event_type_id")),
            alarm_start_time=as_datetime(data.get("alarm_start_time")),
            alarm_end_time=as_datetime(data.get("alarm_end_time")),
            events=tuple(
                AlarmEvent.from_dict(item)
                for item in object_list(data.get("events"), "alarm events")
            ),
            raw=data,
        )

    @property
    def serial_numbers(self) -> tuple[str, ...]:
        """Return the serial numbers of the devices the alarm names, each once, in order."""
        return tuple(dict.fromkeys(e.serial_number for e in self.events if e.serial_number))

    @classmethod
    def list_from_response(cls, data: Any, *, system_id: int, cleared: bool = False) -> list[Self]:
        """Build the alarms of one /alarms or /open_alarms response."""
        data = require_mapping(data, "the alarms response")
        owner = as_int(data.get("system_id"))
        owner = system_id if owner is None else owner
        return [
            cls.from_dict(item, system_id=owner, cleared=cleared)
            for item in object_list(data.get("alarms"), "alarms")
        ]


@dataclass(frozen=True, slots=True)
class EventType:
    """What an `event_type_id` means, from /systems/event_types."""

    event_type_id: int
    event_type_key: str | None = None
    event_name: str | None = None
    event_description: str | None = None
    recommended_action: str | None = None
    stateful: bool | None = None
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from one event type object."""
        data = require_mapping(data, "an event type")
        return cls(
            event_type_id=require_int(data, "event_type_id", "an event type"),
            event_type_key=as_str(data.get("event_type_key")),
            event_name=as_str(data.get("event_name")),
            event_description=as_str(data.get("event_description")),
            recommended_action=as_str(data.get("recommended_action")),
            stateful=as_bool(data.get("stateful")),
            raw=data,
        )

    @classmethod
    def list_from_response(cls, data: Any) -> list[Self]:
        """Build from {"event_types": [...]}, a bare list, or a single event type object."""
        if isinstance(data, list):
            return [cls.from_dict(item) for item in data]
        data = require_mapping(data, "the event types response")
        if "event_types" not in data and "event_type_id" in data:
            return [cls.from_dict(data)]
        return [cls.from_dict(item) for item in object_list(data.get("event_types"), "event_types")]
