"""Models of the microinverters summary (the inverters_summary_by_envoy_or_site endpoint)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from ..errors import EnphaseResponseError
from .parse import (
    as_datetime,
    as_int,
    as_str,
    empty_raw,
    object_list,
    quantity,
    require_mapping,
)

if TYPE_CHECKING:
    from datetime import datetime


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
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from one microinverter object; `power_produced` may be a number or an object."""
        data = require_mapping(data, "a microinverter")
        return cls(
            serial_number=as_str(data.get("serial_number")),
            id=as_int(data.get("id")),
            model=as_str(data.get("model")),
            part_number=as_str(data.get("part_number")),
            sku=as_str(data.get("sku")),
            status=as_str(data.get("status")),
            envoy_serial_number=as_str(data.get("envoy_serial_number")),
            proc_load=as_str(data.get("proc_load")),
            param_table=as_str(data.get("param_table")),
            grid_profile=as_str(data.get("grid_profile")),
            power_produced=quantity(data.get("power_produced"), "W"),
            energy=quantity(data.get("energy"), "Wh"),
            last_report_date=as_datetime(data.get("last_report_date")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class EnvoyInvertersSummary:
    """The microinverters reporting to one gateway, from inverters_summary_by_envoy_or_site."""

    signal_strength: int | None = None
    micro_inverters: tuple[MicroinverterSummary, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=empty_raw, repr=False, compare=False)

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
        data = require_mapping(data, "an inverters summary")
        return cls(
            signal_strength=as_int(data.get("signal_strength")),
            micro_inverters=tuple(
                MicroinverterSummary.from_dict(item)
                for item in object_list(data.get("micro_inverters"), "micro_inverters")
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
