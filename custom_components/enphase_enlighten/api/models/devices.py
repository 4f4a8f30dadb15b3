"""Models of a system's hardware inventory (the devices endpoint)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from .parse import (
    as_bool,
    as_datetime,
    as_int,
    as_mapping,
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
            imei=as_str(data.get("imei")),
            part_num=as_str(data.get("part_num")),
            sku=as_str(data.get("sku")),
            plan_start_date=as_datetime(data.get("plan_start_date")),
            plan_end_date=as_datetime(data.get("plan_end_date")),
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
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, kind: str, data: Any) -> Self:
        """Build from one device object of the group `kind`."""
        data = require_mapping(data, f"a device in {kind}")
        modem = as_mapping(data.get("cellular_modem"))
        firmware = as_str(data.get("emu_sw_version"))
        if firmware is None:
            firmware = as_str(data.get("firmware"))
        return cls(
            kind=kind,
            serial_number=as_str(data.get("serial_number")),
            id=as_int(data.get("id")),
            name=as_str(data.get("name")),
            part_number=as_str(data.get("part_number")),
            sku=as_str(data.get("sku")),
            model=as_str(data.get("model")),
            product_name=as_str(data.get("product_name")),
            status=as_str(data.get("status")),
            active=as_bool(data.get("active")),
            last_report_at=as_datetime(data.get("last_report_at")),
            firmware=firmware,
            state=as_str(data.get("state")),
            config_type=as_str(data.get("config_type")),
            cellular_modem=CellularModem.from_dict(modem) if modem is not None else None,
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Devices:
    """The active devices of a system, from /systems/{id}/devices, in response order."""

    system_id: int
    total_devices: int | None = None
    devices: tuple[Device, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)
    # Built once: every hardware entity looks its device up here at each state write, which
    # a list walk made quadratic (10,000 devices: minutes of a blocked event loop).
    _by_serial: dict[str, Device] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the devices by serial number."""
        index: dict[str, Device] = {}
        for device in self.devices:
            if device.serial_number is not None and device.serial_number not in index:
                index[device.serial_number] = device
        object.__setattr__(self, "_by_serial", index)

    def by_serial(self) -> dict[str, Device]:
        """Map serial number to device (device ids are not unique; serial numbers are)."""
        return dict(self._by_serial)

    def find(self, serial_number: str) -> Device | None:
        """Return the device with this serial number, if listed (no copy of the index)."""
        return self._by_serial.get(serial_number)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int | None = None) -> Self:
        """Build from a devices response; `system_id` is the fallback when the body lacks one."""
        data = require_mapping(data, "the devices response")
        found = as_int(data.get("system_id"))
        if found is None:
            found = system_id
        if found is None:
            found = require_int(data, "system_id", "the devices response")
        groups = data.get("devices")
        if groups is None:
            groups = {}
        groups = require_mapping(groups, "devices")
        devices = tuple(
            Device.from_dict(str(kind), item)
            for kind, items in groups.items()
            for item in object_list(items, f"devices.{kind}")
        )
        return cls(
            system_id=found,
            total_devices=as_int(data.get("total_devices")),
            devices=devices,
            raw=data,
        )
