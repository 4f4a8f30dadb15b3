"""Models of the systems endpoints: the systems list and search, a system, its summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from .parse import (
    as_date,
    as_datetime,
    as_int,
    as_mapping,
    as_str,
    empty_raw,
    object_list,
    require_int,
    require_mapping,
    without_placeholder,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import date, datetime


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
            city=as_str(data.get("city")),
            state=as_str(data.get("state")),
            country=as_str(data.get("country")),
            postal_code=as_str(data.get("postal_code")),
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
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from one system object; -1 placeholders become None."""
        data = require_mapping(data, "a system")
        others = data.get("other_references")
        return cls(
            system_id=require_int(data, "system_id", "a system"),
            name=as_str(data.get("name")),
            public_name=as_str(data.get("public_name")),
            timezone=as_str(data.get("timezone")),
            address=Address.from_dict(as_mapping(data.get("address"))),
            connection_type=as_str(data.get("connection_type")),
            status=as_str(data.get("status")),
            energy_lifetime=without_placeholder(data.get("energy_lifetime")),
            energy_today=without_placeholder(data.get("energy_today")),
            system_size=without_placeholder(data.get("system_size")),
            last_report_at=as_datetime(data.get("last_report_at")),
            last_energy_at=as_datetime(data.get("last_energy_at")),
            operational_at=as_datetime(data.get("operational_at")),
            attachment_type=as_str(data.get("attachment_type")),
            interconnect_date=as_date(data.get("interconnect_date")),
            reference=as_str(data.get("reference")),
            other_references=tuple(
                text
                for text in (as_str(item) for item in (others if isinstance(others, list) else []))
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
        data = require_mapping(data, "the systems page")
        systems = [System.from_dict(item) for item in object_list(data.get("systems"), "systems")]
        count = as_int(data.get("count"))
        total = as_int(data.get("total"))
        return cls(
            total=total if total is not None else len(systems),
            current_page=as_int(data.get("current_page")) or 1,
            size=as_int(data.get("size")) or len(systems),
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
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, system_id: int | None = None) -> Self:
        """Build from a summary object; `system_id` is the fallback when the body lacks one."""
        data = require_mapping(data, "the summary")
        found = as_int(data.get("system_id"))
        if found is None:
            found = system_id
        if found is None:
            found = require_int(data, "system_id", "the summary")
        return cls(
            system_id=found,
            current_power=as_int(data.get("current_power")),
            energy_lifetime=without_placeholder(data.get("energy_lifetime")),
            energy_today=without_placeholder(data.get("energy_today")),
            last_interval_end_at=as_datetime(data.get("last_interval_end_at")),
            last_report_at=as_datetime(data.get("last_report_at")),
            operational_at=as_datetime(data.get("operational_at")),
            modules=as_int(data.get("modules")),
            size_w=without_placeholder(data.get("size_w")),
            nmi=as_str(data.get("nmi")),
            source=as_str(data.get("source")),
            status=as_str(data.get("status")),
            summary_date=as_date(data.get("summary_date")),
            battery_charge_w=as_int(data.get("battery_charge_w")),
            battery_discharge_w=as_int(data.get("battery_discharge_w")),
            battery_capacity_wh=as_int(data.get("battery_capacity_wh")),
            raw=data,
        )
