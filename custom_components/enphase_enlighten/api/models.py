"""Typed, tolerant models of the Enphase Monitoring API v4 responses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
import math
from typing import Any, Self

from .errors import EnphaseResponseError

# Fields that Enphase fills with -1 when it has no value (always in list responses).
_PLACEHOLDER = -1

# Unit prefixes a {"value", "units"} object may carry, as multipliers to W or Wh.
_UNIT_SCALE: dict[str, float] = {
    "": 1.0,
    "k": 1_000.0,
    "K": 1_000.0,
    "M": 1_000_000.0,
    "G": 1_000_000_000.0,
    "m": 0.001,
}


def _empty_raw() -> Mapping[str, Any]:
    return {}


def _as_int(value: Any) -> int | None:
    """Return an int for ints, integral floats and numeric strings; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
            return round(number) if math.isfinite(number) else None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _as_str(value: Any) -> str | None:
    """Return strings as they are and numbers as text (nmi is a number in the Swagger file)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _as_bool(value: Any) -> bool | None:
    """Accept true/false and their string forms ("true" is what EV chargers send)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        return None
    if isinstance(value, int):
        return value != 0 if value in (0, 1) else None
    return None


def _without_placeholder(value: Any) -> int | None:
    number = _as_int(value)
    return None if number == _PLACEHOLDER else number


def _as_datetime(value: Any) -> datetime | None:
    """Turn epoch seconds (or an ISO 8601 string) into an aware UTC datetime."""
    if isinstance(value, str):
        text = value.strip()
        if _as_float(text) is None:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        value = text
    seconds = _as_float(value)
    # Zero and negative epochs are placeholders, not moments in 1970.
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _as_date(value: Any) -> date | None:
    """Accept "YYYY-MM-DD" (the documented form), a full ISO timestamp, or epoch seconds."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    moment = _as_datetime(value)
    return moment.date() if moment is not None else None


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _require_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EnphaseResponseError(
            f"Malformed response from the Enphase API: {what} is not an object"
        )
    return value


def _require_int(data: Mapping[str, Any], key: str, what: str) -> int:
    number = _as_int(data.get(key))
    if number is None:
        raise EnphaseResponseError(f"Malformed response from the Enphase API: {what} has no {key}")
    return number


def _object_list(value: Any, what: str) -> list[Mapping[str, Any]]:
    """Return the objects of a list; missing or null is empty.

    The Swagger file also describes some lists as objects of lists, so those are flattened.
    """
    if value is None:
        return []
    items: Iterable[Any]
    if isinstance(value, list):
        items = value
    elif isinstance(value, Mapping):
        items = [
            item
            for group in value.values()
            for item in (group if isinstance(group, list) else [group])
        ]
    else:
        raise EnphaseResponseError(f"Malformed response from the Enphase API: {what} is not a list")
    return [_require_mapping(item, f"an item of {what}") for item in items]


def _quantity(value: Any, base_unit: str) -> float | None:
    """Read a bare number or a {"value", "units"} object, converted to the base unit (W or Wh)."""
    obj = _as_mapping(value)
    if obj is None:
        return _as_float(value)
    number = _as_float(obj.get("value"))
    if number is None:
        return None
    units = _as_str(obj.get("units"))
    if not units:
        return number
    unit = units.strip()
    if unit.lower().endswith(base_unit.lower()):
        scale = _UNIT_SCALE.get(unit[: len(unit) - len(base_unit)])
        if scale is not None:
            return number * scale
    return number


@dataclass(frozen=True, slots=True)
class Address:
    """A system's address (only region-level parts are sent)."""

    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        """Build from the `address` object; missing parts are None."""
        data = data or {}
        return cls(
            city=_as_str(data.get("city")),
            state=_as_str(data.get("state")),
            country=_as_str(data.get("country")),
            postal_code=_as_str(data.get("postal_code")),
        )


@dataclass(frozen=True, slots=True)
class System:
    """An Enphase system (site), from /systems, /systems/search or /systems/{id}."""

    system_id: int
    name: str | None = None
    public_name: str | None = None
    timezone: str | None = None
    address: Address = field(default_factory=Address)
    connection_type: str | None = None
    status: str | None = None
    energy_lifetime: int | None = None
    energy_today: int | None = None
    system_size: int | None = None
    last_report_at: datetime | None = None
    last_energy_at: datetime | None = None
    operational_at: datetime | None = None
    attachment_type: str | None = None
    interconnect_date: date | None = None
    reference: str | None = None
    other_references: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=_empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from one system object; -1 placeholders become None."""
        data = _require_mapping(data, "a system")
        others = data.get("other_references")
        return cls(
            system_id=_require_int(data, "system_id", "a system"),
            name=_as_str(data.get("name")),
            public_name=_as_str(data.get("public_name")),
            timezone=_as_str(data.get("timezone")),
            address=Address.from_dict(_as_mapping(data.get("address"))),
            connection_type=_as_str(data.get("connection_type")),
            status=_as_str(data.get("status")),
            energy_lifetime=_without_placeholder(data.get("energy_lifetime")),
            energy_today=_without_placeholder(data.get("energy_today")),
            system_size=_without_placeholder(data.get("system_size")),
            last_report_at=_as_datetime(data.get("last_report_at")),
            last_energy_at=_as_datetime(data.get("last_energy_at")),
            operational_at=_as_datetime(data.get("operational_at")),
            attachment_type=_as_str(data.get("attachment_type")),
            interconnect_date=_as_date(data.get("interconnect_date")),
            reference=_as_str(data.get("reference")),
            other_references=tuple(
                text
                for text in (_as_str(item) for item in (others if isinstance(others, list) else []))
                if text is not None
            ),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class SystemsPage:
    """One page of /systems or /systems/search."""

    total: int
    current_page: int
    size: int
    count: int
    systems: list[System]

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from a page object; missing counters are derived from the systems list."""
        data = _require_mapping(data, "the systems page")
        systems = [System.from_dict(item) for item in _object_list(data.get("systems"), "systems")]
        count = _as_int(data.get("count"))
        total = _as_int(data.get("total"))
        return cls(
            total=total if total is not None else len(systems),
            current_page=_as_int(data.get("current_page")) or 1,
            size=_as_int(data.get("size")) or len(systems),
            count=count if count is not None else len(systems),
            systems=systems,
        )


@dataclass(frozen=True, slots=True)
class Summary:
    """A system summary, from /systems/{id}/summary (energy in Wh, power in W)."""

    system_id: int
    current_power: int | None = None
    energy_lifetime: int | None = None
    energy_today: int | None = None
    last_interval_end_at: datetime | None = None
    last_report_at: datetime | None = None
    operational_at: datetime | None = None
    modules: int | None = None
    size_w: int | None = None
    nmi: str | None = None
    source: str | None = None
    status: str | None = None
    summary_date: date | None = None
    battery_charge_w: int | None = None
    battery_discharge_w: int | None = None
    battery_capacity_wh: int | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int | None = None) -> Self:
        """Build from a summary object; `system_id` is the fallback when the body lacks one."""
        data = _require_mapping(data, "the summary")
        found = _as_int(data.get("system_id"))
        if found is None:
            found = system_id
        if found is None:
            found = _require_int(data, "system_id", "the summary")
        return cls(
            system_id=found,
            current_power=_as_int(data.get("current_power")),
            energy_lifetime=_without_placeholder(data.get("energy_lifetime")),
            energy_today=_without_placeholder(data.get("energy_today")),
            last_interval_end_at=_as_datetime(data.get("last_interval_end_at")),
            last_report_at=_as_datetime(data.get("last_report_at")),
            operational_at=_as_datetime(data.get("operational_at")),
            modules=_as_int(data.get("modules")),
            size_w=_without_placeholder(data.get("size_w")),
            nmi=_as_str(data.get("nmi")),
            source=_as_str(data.get("source")),
            status=_as_str(data.get("status")),
            summary_date=_as_date(data.get("summary_date")),
            battery_charge_w=_as_int(data.get("battery_charge_w")),
            battery_discharge_w=_as_int(data.get("battery_discharge_w")),
            battery_capacity_wh=_as_int(data.get("battery_capacity_wh")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class CellularModem:
    """A gateway's cellular modem and its data plan."""

    imei: str | None = None
    part_num: str | None = None
    sku: str | None = None
    plan_start_date: datetime | None = None
    plan_end_date: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from a `cellular_modem` object."""
        return cls(
            imei=_as_str(data.get("imei")),
            part_num=_as_str(data.get("part_num")),
            sku=_as_str(data.get("sku")),
            plan_start_date=_as_datetime(data.get("plan_start_date")),
            plan_end_date=_as_datetime(data.get("plan_end_date")),
        )


@dataclass(frozen=True, slots=True)
class Device:
    """One piece of Enphase hardware; `kind` is its group under "devices" (unknown ones kept)."""

    kind: str
    serial_number: str | None = None
    id: int | None = None
    name: str | None = None
    part_number: str | None = None
    sku: str | None = None
    model: str | None = None
    product_name: str | None = None
    status: str | None = None
    active: bool | None = None
    last_report_at: datetime | None = None
    firmware: str | None = None
    state: str | None = None
    config_type: str | None = None
    cellular_modem: CellularModem | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, kind: str, data: Any) -> Self:
        """Build from one device object of the group `kind`."""
        data = _require_mapping(data, f"a device in {kind}")
        modem = _as_mapping(data.get("cellular_modem"))
        firmware = _as_str(data.get("emu_sw_version"))
        if firmware is None:
            firmware = _as_str(data.get("firmware"))
        return cls(
            kind=kind,
            serial_number=_as_str(data.get("serial_number")),
            id=_as_int(data.get("id")),
            name=_as_str(data.get("name")),
            part_number=_as_str(data.get("part_number")),
            sku=_as_str(data.get("sku")),
            model=_as_str(data.get("model")),
            product_name=_as_str(data.get("product_name")),
            status=_as_str(data.get("status")),
            active=_as_bool(data.get("active")),
            last_report_at=_as_datetime(data.get("last_report_at")),
            firmware=firmware,
            state=_as_str(data.get("state")),
            config_type=_as_str(data.get("config_type")),
            cellular_modem=CellularModem.from_dict(modem) if modem is not None else None,
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Devices:
    """The active devices of a system, from /systems/{id}/devices, in response order."""

    system_id: int
    total_devices: int | None = None
    devices: tuple[Device, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=_empty_raw, repr=False, compare=False)

    def by_serial(self) -> dict[str, Device]:
        """Map serial number to device (device ids are not unique; serial numbers are)."""
        result: dict[str, Device] = {}
        for device in self.devices:
            if device.serial_number is not None and device.serial_number not in result:
                result[device.serial_number] = device
        return result

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int | None = None) -> Self:
        """Build from a devices response; `system_id` is the fallback when the body lacks one."""
        data = _require_mapping(data, "the devices response")
        found = _as_int(data.get("system_id"))
        if found is None:
            found = system_id
        if found is None:
            found = _require_int(data, "system_id", "the devices response")
        groups = data.get("devices")
        if groups is None:
            groups = {}
        groups = _require_mapping(groups, "devices")
        devices = tuple(
            Device.from_dict(str(kind), item)
            for kind, items in groups.items()
            for item in _object_list(items, f"devices.{kind}")
        )
        return cls(
            system_id=found,
            total_devices=_as_int(data.get("total_devices")),
            devices=devices,
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Event:
    """An event of a system, from /systems/{id}/events."""

    system_id: int
    status: str | None = None
    event_type_id: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    serial_number: str | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int) -> Self:
        """Build from one event object (`event_start_time`/`event_end_time` in the reference)."""
        data = _require_mapping(data, "an event")
        start = data.get("event_start_time", data.get("start_time"))
        end = data.get("event_end_time", data.get("end_time"))
        return cls(
            system_id=system_id,
            status=_as_str(data.get("status")),
            event_type_id=_as_int(data.get("event_type_id")),
            start_time=_as_datetime(start),
            end_time=_as_datetime(end),
            serial_number=_as_str(data.get("serial_number")),
            raw=data,
        )

    @classmethod
    def list_from_response(cls, data: Any, *, system_id: int) -> list[Self]:
        """Build the events of one /events response."""
        data = _require_mapping(data, "the events response")
        owner = _as_int(data.get("system_id"))
        owner = system_id if owner is None else owner
        return [
            cls.from_dict(item, system_id=owner)
            for item in _object_list(data.get("events"), "events")
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
            serial_number=_as_str(data.get("serial_number")),
            start_date=_as_datetime(data.get("start_date")),
            end_date=_as_datetime(data.get("end_date")),
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
    raw: Mapping[str, Any] = field(default_factory=_empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int, cleared: bool = False) -> Self:
        """Build from one alarm object; `cleared` is the fallback when the body lacks it."""
        data = _require_mapping(data, "an alarm")
        alarm_id = _as_str(data.get("id"))
        if alarm_id is None:
            raise EnphaseResponseError(
                "Malformed response from the Enphase API: an alarm has no id"
            )
        flag = _as_bool(data.get("cleared"))
        return cls(
            system_id=system_id,
            id=alarm_id,
            cleared=cleared if flag is None else flag,
            severity=_as_int(data.get("severity")),
            event_type_id=_as_int(data.get("event_type_id")),
            alarm_start_time=_as_datetime(data.get("alarm_start_time")),
            alarm_end_time=_as_datetime(data.get("alarm_end_time")),
            events=tuple(
                AlarmEvent.from_dict(item)
                for item in _object_list(data.get("events"), "alarm events")
            ),
            raw=data,
        )

    @classmethod
    def list_from_response(cls, data: Any, *, system_id: int, cleared: bool = False) -> list[Self]:
        """Build the alarms of one /alarms response."""
        data = _require_mapping(data, "the alarms response")
        owner = _as_int(data.get("system_id"))
        owner = system_id if owner is None else owner
        return [
            cls.from_dict(item, system_id=owner, cleared=cleared)
            for item in _object_list(data.get("alarms"), "alarms")
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
    raw: Mapping[str, Any] = field(default_factory=_empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from one event type object."""
        data = _require_mapping(data, "an event type")
        return cls(
            event_type_id=_require_int(data, "event_type_id", "an event type"),
            event_type_key=_as_str(data.get("event_type_key")),
            event_name=_as_str(data.get("event_name")),
            event_description=_as_str(data.get("event_description")),
            recommended_action=_as_str(data.get("recommended_action")),
            stateful=_as_bool(data.get("stateful")),
            raw=data,
        )

    @classmethod
    def list_from_response(cls, data: Any) -> list[Self]:
        """Build from {"event_types": [...]}, a bare list, or a single event type object."""
        if isinstance(data, list):
            return [cls.from_dict(item) for item in data]
        data = _require_mapping(data, "the event types response")
        if "event_types" not in data and "event_type_id" in data:
            return [cls.from_dict(data)]
        return [
            cls.from_dict(item) for item in _object_list(data.get("event_types"), "event_types")
        ]


@dataclass(frozen=True, slots=True)
class MicroinverterSummary:
    """One microinverter's state in the inverters summary (power in W, lifetime energy in Wh)."""

    serial_number: str | None = None
    id: int | None = None
    model: str | None = None
    part_number: str | None = None
    sku: str | None = None
    status: str | None = None
    envoy_serial_number: str | None = None
    proc_load: str | None = None
    param_table: str | None = None
    grid_profile: str | None = None
    power_produced: float | None = None
    energy: float | None = None
    last_report_date: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=_empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from one microinverter object; `power_produced` may be a number or an object."""
        data = _require_mapping(data, "a microinverter")
        return cls(
            serial_number=_as_str(data.get("serial_number")),
            id=_as_int(data.get("id")),
            model=_as_str(data.get("model")),
            part_number=_as_str(data.get("part_number")),
            sku=_as_str(data.get("sku")),
            status=_as_str(data.get("status")),
            envoy_serial_number=_as_str(data.get("envoy_serial_number")),
            proc_load=_as_str(data.get("proc_load")),
            param_table=_as_str(data.get("param_table")),
            grid_profile=_as_str(data.get("grid_profile")),
            power_produced=_quantity(data.get("power_produced"), "W"),
            energy=_quantity(data.get("energy"), "Wh"),
            last_report_date=_as_datetime(data.get("last_report_date")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class EnvoyInvertersSummary:
    """The microinverters reporting to one gateway, from inverters_summary_by_envoy_or_site."""

    signal_strength: int | None = None
    micro_inverters: tuple[MicroinverterSummary, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=_empty_raw, repr=False, compare=False)

    @property
    def envoy_serial_number(self) -> str | None:
        """The gateway's serial number, as its microinverters report it."""
        for micro in self.micro_inverters:
            if micro.envoy_serial_number is not None:
                return micro.envoy_serial_number
        return None

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from one gateway's object."""
        data = _require_mapping(data, "an inverters summary")
        return cls(
            signal_strength=_as_int(data.get("signal_strength")),
            micro_inverters=tuple(
                MicroinverterSummary.from_dict(item)
                for item in _object_list(data.get("micro_inverters"), "micro_inverters")
            ),
            raw=data,
        )

    @classmethod
    def list_from_response(cls, data: Any) -> list[Self]:
        """Build from the response: a list with one object per gateway (a lone object accepted)."""
        if isinstance(data, Mapping):
            return [cls.from_dict(data)]
        if not isinstance(data, list):
            raise EnphaseResponseError(
                "Malformed response from the Enphase API: the inverters summary is not a list"
            )
        return [cls.from_dict(item) for item in data]
