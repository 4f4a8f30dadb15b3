"""Live sensors from the telemetry: consumption, grid and battery power, battery state of charge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, UnitOfPower
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .energy import EnergyData, EnphaseEnergyCoordinator
from .entity import EnphaseSystemEntity
from .statistics import BATTERY_CHARGE, CONSUMPTION

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.helpers.entity import Entity

# A value older than this is not current any more: the sensor shows unknown.
MAX_AGE = timedelta(days=1)


def _consumption(data: EnergyData) -> tuple[int, datetime | None] | None:
    return data.latest.meter_power("consumption") if data.latest is not None else None


def _grid(data: EnergyData) -> tuple[int, datetime | None] | None:
    """Grid power, import positive: a net consumption meter reads production + grid."""
    if data.latest is None:
        return None
    consumption = data.latest.meter_power("consumption")
    production = data.latest.meter_power("production")
    if consumption is None or production is None:
        return None
    times = [t for t in (consumption[1], production[1]) if t is not None]
    return consumption[0] - production[0], min(times) if times else None


def _battery_power(data: EnergyData) -> tuple[int, datetime | None] | None:
    return data.latest.battery_power if data.latest is not None else None


def _soc(data: EnergyData) -> tuple[int, datetime | None] | None:
    return (data.soc[1], data.soc[0]) if data.soc is not None else None


@dataclass(frozen=True, kw_only=True)
class EnphaseLiveSensorDescription(SensorEntityDescription):
    """A live value: where it comes from and the channel its hardware measures."""

    value_fn: Callable[[EnergyData], tuple[int, datetime | None] | None]
    channel: str


LIVE_SENSORS: tuple[EnphaseLiveSensorDescription, ...] = (
    EnphaseLiveSensorDescription(
        key="consumption_power",
        translation_key="consumption_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        value_fn=_consumption,
        channel=CONSUMPTION,
    ),
    EnphaseLiveSensorDescription(
        key="grid_power",
        translation_key="grid_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        value_fn=_grid,
        channel=CONSUMPTION,
    ),
    EnphaseLiveSensorDescription(
        key="battery_power",
        translation_key="battery_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        value_fn=_battery_power,
        channel=BATTERY_CHARGE,
    ),
    EnphaseLiveSensorDescription(
        key="battery_soc",
        translation_key="battery_soc",
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        value_fn=_soc,
        channel=BATTERY_CHARGE,
    ),
)


class EnphaseLiveSensor(EnphaseSystemEntity[EnphaseEnergyCoordinator], SensorEntity):
    """A live value of a system, unknown once it is more than a day old."""

    entity_description: EnphaseLiveSensorDescription
    _expiry: CALLBACK_TYPE | None = None

    def _found(self) -> tuple[int, datetime | None] | None:
        data = self.coordinator.data
        return None if data is None else self.entity_description.value_fn(data)

    @property
    def native_value(self) -> int | None:
        """Return the value, or None when it is missing or older than a day."""
        if (found := self._found()) is None:
            return None
        value, reported = found
        if reported is None or dt_util.utcnow() - reported > MAX_AGE:
            return None
        return value

    async def async_added_to_hass(self) -> None:
        """Follow the coordinator, and turn unknown when the value turns a day old."""
        await super().async_added_to_hass()
        self._schedule_expiry()

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write the new state, and again when the new value turns a day old (then unknown)."""
        self._schedule_expiry()
        super()._handle_coordinator_update()

    @callback
    def _schedule_expiry(self) -> None:
        # async_write_ha_state is final in newer Home Assistant: every write path is hooked.
        if self._expiry is not None:
            self._expiry()
            self._expiry = None
        found = self._found()
        if found is not None and found[1] is not None:
            expires = found[1] + MAX_AGE + timedelta(seconds=1)
            if expires > dt_util.utcnow():
                self._expiry = async_track_point_in_utc_time(self.hass, self._expired, expires)

    @callback
    def _expired(self, _now: datetime) -> None:
        self._expiry = None
        self.async_write_ha_state()

    async def async_will_remove_from_hass(self) -> None:
        """Stop the expiry timer."""
        if self._expiry is not None:
            self._expiry()
            self._expiry = None
        await super().async_will_remove_from_hass()


def live_factory(
    coordinator: EnphaseEnergyCoordinator,
) -> Callable[[], Iterable[tuple[str, Callable[[], Entity]]]]:
    """Return the factory of a system's live sensors: those its hardware measures."""

    def factory() -> Iterable[tuple[str, Callable[[], Entity]]]:
        if coordinator.data is None:
            return
        for description in LIVE_SENSORS:
            if description.channel in coordinator.data.channels:
                yield (
                    f"{coordinator.system_id}_{description.key}",
                    partial(EnphaseLiveSensor, coordinator, description),
                )

    return factory
