"""Sensors for Enphase systems, their hardware and their microinverters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorExtraStoredData,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util import dt as dt_util

from .alarm_sensor import ACTIVE_ALARMS, EnphaseActiveAlarmsSensor
from .coordinator import (
    EnphaseDevicesCoordinator,
    EnphaseInvertersCoordinator,
    EnphaseSummaryCoordinator,
)
from .entity import (
    EnphaseHardwareEntity,
    EnphaseMicroEntity,
    EnphaseSystemEntity,
    async_add_entities_when_seen,
    budget_device_info,
    current_system,
    hardware_serials,
)
from .lifetime import LifetimeEnergy
from .repairs import report_lifetime_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.helpers.entity import Entity
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .api import Device, MicroinverterSummary, Summary
    from .budget import BudgetStats
    from .entry_budget import EntryBudget
    from .runtime import EnphaseConfigEntry

# Coordinators do all the fetching; entities only read their data.
PARALLEL_UPDATES = 0

# System statuses documented by Enphase. "unknown" is left out on purpose: it is shown as
# Home Assistant's own unknown state. Statuses not listed are kept as they come (see
# status_options) so no information is lost, just not translated.
SYSTEM_STATUSES: tuple[str, ...] = (
    "normal",
    "comm",
    "micro",
    "power",
    "meter",
    "meter_issue",
    "battery",
    "storage_idle",
    "enpower",
    "enpower_issue",
    "encharge",
    "encharge_issue",
    "deactivated",
    "retired",
    "not_monitored",
    "nsr",
)
DEVICE_STATUSES: tuple[str, ...] = (
    "normal",
    "comm",
    "power",
    "error",
    "warning",
    "retired",
    "not_monitored",
)


def normalize_status(status: str | None) -> str | None:
    """Return a status as a state: lower case, `unknown` and blanks as None."""
    if status is None:
        return None
    value = status.strip().lower().replace(" ", "_")
    return None if value in {"", "unknown"} else value


def status_options(known: tuple[str, ...], current: str | None) -> list[str]:
    """Return the enum options: the known statuses plus the current one if it is new."""
    if current is None or current in known:
        return list(known)
    return [*known, current]


@dataclass(frozen=True, kw_only=True)
class EnphaseSummarySensorDescription(SensorEntityDescription):
    """A system sensor computed from the system's summary."""

    value_fn: Callable[[Summary], float | int | str | datetime | None]
    exists_fn: Callable[[Summary], bool] = lambda _summary: True


@dataclass(frozen=True, kw_only=True)
class EnphaseDeviceSensorDescription(SensorEntityDescription):
    """A hardware sensor computed from a device of the inventory."""

    value_fn: Callable[[Device], float | int | str | datetime | None]
    exists_fn: Callable[[Device], bool] = lambda _device: True
    enabled_for_micros: bool = True
    # Only when the system's gateway reports over cellular (or its link is not known):
    # Enphase lists a modem block for broadband gateways too.
    cellular_only: bool = False


@dataclass(frozen=True, kw_only=True)
class EnphaseMicroSensorDescription(SensorEntityDescription):
    """A microinverter sensor computed from the inverters summary."""

    value_fn: Callable[[MicroinverterSummary], float | None]


@dataclass(frozen=True, kw_only=True)
class EnphaseBudgetSensorDescription(SensorEntityDescription):
    """A sensor of the entry's request budget (the API key's, shared by its entries)."""

    value_fn: Callable[[BudgetStats], int | datetime | None]


REQUESTS = "requests"

BUDGET_SENSORS: tuple[EnphaseBudgetSensorDescription, ...] = (
    EnphaseBudgetSensorDescription(
        key="requests_used",
        native_unit_of_measurement=REQUESTS,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda stats: stats.used,
    ),
    EnphaseBudgetSensorDescription(
        key="requests_remaining",
        native_unit_of_measurement=REQUESTS,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda stats: stats.remaining,
    ),
    EnphaseBudgetSensorDescription(
        key="requests_projected",
        native_unit_of_measurement=REQUESTS,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda stats: stats.projected_month_end,
    ),
    EnphaseBudgetSensorDescription(
        key="next_summary_update",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda stats: stats.next_summary_at,
    ),
)


def _has_battery(summary: Summary) -> bool:
    return bool(summary.battery_capacity_wh)


SUMMARY_SENSORS: tuple[EnphaseSummarySensorDescription, ...] = (
    EnphaseSummarySensorDescription(
        key="current_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda summary: summary.current_power,
    ),
    EnphaseSummarySensorDescription(
        key="energy_today",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda summary: summary.energy_today,
    ),
    EnphaseSummarySensorDescription(
        key="system_size",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_unit_of_measurement=UnitOfPower.KILO_WATT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda summary: summary.size_w,
    ),
    EnphaseSummarySensorDescription(
        key="modules",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda summary: summary.modules,
    ),
    EnphaseSummarySensorDescription(
        key="status",
        device_class=SensorDeviceClass.ENUM,
        options=list(SYSTEM_STATUSES),
        value_fn=lambda summary: normalize_status(summary.status),
    ),
    EnphaseSummarySensorDescription(
        key="last_report",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda summary: summary.last_report_at,
    ),
    EnphaseSummarySensorDescription(
        key="last_interval_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda summary: summary.last_interval_end_at,
    ),
    EnphaseSummarySensorDescription(
        key="battery_capacity",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda summary: summary.battery_capacity_wh,
        exists_fn=_has_battery,
    ),
    EnphaseSummarySensorDescription(
        key="battery_max_charge_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda summary: summary.battery_charge_w,
        exists_fn=lambda summary: _has_battery(summary) or bool(summary.battery_charge_w),
    ),
    EnphaseSummarySensorDescription(
        key="battery_max_discharge_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda summary: summary.battery_discharge_w,
        exists_fn=lambda summary: _has_battery(summary) or bool(summary.battery_discharge_w),
    ),
)

LIFETIME_ENERGY = SensorEntityDescription(
    key="lifetime_energy",
    device_class=SensorDeviceClass.ENERGY,
    native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
    suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    state_class=SensorStateClass.TOTAL_INCREASING,
)


def _plan_end(device: Device) -> datetime | None:
    return device.cellular_modem.plan_end_date if device.cellular_modem else None


DEVICE_SENSORS: tuple[EnphaseDeviceSensorDescription, ...] = (
    EnphaseDeviceSensorDescription(
        key="device_status",
        device_class=SensorDeviceClass.ENUM,
        options=list(DEVICE_STATUSES),
        value_fn=lambda device: normalize_status(device.status),
        # A system has dozens of microinverters; their problem sensor says enough.
        enabled_for_micros=False,
    ),
    EnphaseDeviceSensorDescription(
        key="device_last_report",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda device: device.last_report_at,
    ),
    EnphaseDeviceSensorDescription(
        key="cellular_plan_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_plan_end,
        exists_fn=lambda device: _plan_end(device) is not None,
        cellular_only=True,
    ),
)

MICRO_SENSORS: tuple[EnphaseMicroSensorDescription, ...] = (
    EnphaseMicroSensorDescription(
        key="micro_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda micro: micro.power_produced,
    ),
    EnphaseMicroSensorDescription(
        key="micro_lifetime_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda micro: micro.energy,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add sensors for the request budget, each system, its hardware and microinverters."""
    budget = entry.runtime_data.budget
    async_add_entities(
        EnphaseBudgetSensor(entry, budget, description) for description in BUDGET_SENSORS
    )
    async_add_entities(
        EnphaseActiveAlarmsSensor(data.alarms, ACTIVE_ALARMS)
        for data in entry.runtime_data.system_data.values()
    )
    for data in entry.runtime_data.system_data.values():
        async_add_entities_when_seen(
            entry, data.summary, async_add_entities, _summary_factory(data.summary)
        )
        async_add_entities_when_seen(
            entry, data.devices, async_add_entities, _device_factory(data.devices)
        )
        async_add_entities_when_seen(
            entry, data.inverters, async_add_entities, _micro_factory(data.inverters)
        )


def _summary_factory(
    coordinator: EnphaseSummaryCoordinator,
) -> Callable[[], Iterable[tuple[str, Callable[[], Entity]]]]:
    def factory() -> Iterable[tuple[str, Callable[[], Entity]]]:
        prefix = str(coordinator.system_id)
        yield (
            f"{prefix}_{LIFETIME_ENERGY.key}",
            lambda: EnphaseLifetimeEnergySensor(coordinator, LIFETIME_ENERGY),
        )
        summary = coordinator.data
        for description in SUMMARY_SENSORS:
            # Before the first summary (rate limited at start-up) battery sensors wait.
            if summary is None and description.key.startswith("battery"):
                continue
            if summary is None or description.exists_fn(summary):
                yield (
                    f"{prefix}_{description.key}",
                    partial(EnphaseSummarySensor, coordinator, description),
                )

    return factory


def _device_factory(
    coordinator: EnphaseDevicesCoordinator,
) -> Callable[[], Iterable[tuple[str, Callable[[], Entity]]]]:
    def factory() -> Iterable[tuple[str, Callable[[], Entity]]]:
        system = current_system(coordinator)
        link = (system.connection_type or "").lower() if system is not None else ""
        broadband = bool(link) and "cell" not in link
        for serial, device in hardware_serials(coordinator):
            for description in DEVICE_SENSORS:
                if description.cellular_only and broadband:
                    continue
                if description.exists_fn(device):
                    yield (
                        f"{serial}_{description.key}",
                        partial(EnphaseDeviceSensor, coordinator, description, device),
                    )

    return factory


def _micro_factory(
    coordinator: EnphaseInvertersCoordinator,
) -> Callable[[], Iterable[tuple[str, Callable[[], Entity]]]]:
    def factory() -> Iterable[tuple[str, Callable[[], Entity]]]:
        for serial, micro in (coordinator.data or {}).items():
            for description in MICRO_SENSORS:
                yield (
                    f"{serial}_{description.key}",
                    partial(EnphaseMicroSensor, coordinator, description, micro),
                )

    return factory


class EnphaseSummarySensor(EnphaseSystemEntity[EnphaseSummaryCoordinator], SensorEntity):
    """A system sensor read from the summary."""

    entity_description: EnphaseSummarySensorDescription

    @property
    def native_value(self) -> float | int | str | datetime | None:
        """Return the value from the latest summary."""
        if self.coordinator.data is None:
            return None
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def options(self) -> list[str] | None:
        """Return the statuses, including one Enphase added that is not known here."""
        if self.entity_description.device_class != SensorDeviceClass.ENUM:
            return None
        current = self.native_value
        return status_options(SYSTEM_STATUSES, current if isinstance(current, str) else None)


@dataclass
class LifetimeEnergyExtraData(SensorExtraStoredData):
    """Stored state of the lifetime energy sensor, so it never steps back on restart."""

    summary_date: str | None
    base_lifetime: int | None
    lifetime_stale: bool
    value_at: str | None = None
    offset: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the data to store."""
        return {
            **super().as_dict(),
            "summary_date": self.summary_date,
            "base_lifetime": self.base_lifetime,
            "lifetime_stale": self.lifetime_stale,
            "value_at": self.value_at,
            "offset": self.offset,
        }


class EnphaseLifetimeEnergySensor(EnphaseSystemEntity[EnphaseSummaryCoordinator], RestoreSensor):
    """A system's total energy produced, for the Energy dashboard."""

    def __init__(
        self, coordinator: EnphaseSummaryCoordinator, description: SensorEntityDescription
    ) -> None:
        """Create the sensor for a system."""
        super().__init__(coordinator, description)
        self._energy = LifetimeEnergy()

    async def async_added_to_hass(self) -> None:
        """Restore the highest total seen before the restart."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_extra_data()) is not None:
            stored = last.as_dict()
            value = stored.get("native_value")
            stored_date = stored.get("summary_date")
            base = stored.get("base_lifetime")
            offset = stored.get("offset")
            # Saved before the time was kept: the state's own last change is as good.
            value_at = dt_util.parse_datetime(str(stored.get("value_at") or ""))
            if value_at is None and (state := await self.async_get_last_state()) is not None:
                value_at = state.last_updated
            self._energy = LifetimeEnergy(
                float(value) if isinstance(value, (int, float)) else None,
                _date(stored_date),
                base if isinstance(base, int) else None,
                bool(stored.get("lifetime_stale")),
                value_at=value_at if value_at is not None and value_at.tzinfo else None,
                offset=float(offset) if isinstance(offset, (int, float)) else 0.0,
            )
        self._update_from_data()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_from_data()
        super()._handle_coordinator_update()

    def _update_from_data(self) -> None:
        summary = self.coordinator.data
        if summary is not None:
            energy = self._energy
            before = energy.value
            energy.update(summary, dt_util.utcnow(), self._size_w(summary))
            if energy.event is not None:
                coordinator = self.coordinator
                report_lifetime_event(
                    self.hass,
                    coordinator.config_entry,
                    coordinator.system_id,
                    self.entity_id,
                    energy,
                    before,
                )
        self._attr_native_value = self._energy.value

    def _size_w(self, summary: Summary) -> int | None:
        """Return the system's size: the summary's, else the systems data's."""
        if summary.size_w:
            return summary.size_w
        systems = self.coordinator.config_entry.runtime_data.systems.data or {}
        system = systems.get(self.coordinator.system_id)
        return system.system_size if system is not None else None

    @property
    def extra_restore_state_data(self) -> LifetimeEnergyExtraData:
        """Return what is needed to go on without stepping back after a restart."""
        return LifetimeEnergyExtraData(
            self._energy.value,
            self.native_unit_of_measurement,
            self._energy.summary_date.isoformat() if self._energy.summary_date else None,
            self._energy.base_lifetime,
            self._energy.lifetime_stale,
            self._energy.value_at.isoformat() if self._energy.value_at else None,
            self._energy.offset,
        )


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


class EnphaseDeviceSensor(EnphaseHardwareEntity, SensorEntity):
    """A sensor of one piece of hardware."""

    entity_description: EnphaseDeviceSensorDescription

    def __init__(
        self,
        coordinator: EnphaseDevicesCoordinator,
        description: EnphaseDeviceSensorDescription,
        device: Device,
    ) -> None:
        """Create the sensor for a piece of hardware."""
        super().__init__(coordinator, description, device)
        if device.kind == "micros" and not description.enabled_for_micros:
            self._attr_entity_registry_enabled_default = False

    @property
    def native_value(self) -> float | int | str | datetime | None:
        """Return the value from the latest inventory."""
        if (device := self.device) is None:
            return None
        return self.entity_description.value_fn(device)

    @property
    def options(self) -> list[str] | None:
        """Return the statuses, including one Enphase added that is not known here."""
        if self.entity_description.device_class != SensorDeviceClass.ENUM:
            return None
        current = self.native_value
        return status_options(DEVICE_STATUSES, current if isinstance(current, str) else None)


class EnphaseMicroSensor(EnphaseMicroEntity, SensorEntity):
    """Power or energy of one microinverter."""

    entity_description: EnphaseMicroSensorDescription

    @property
    def native_value(self) -> float | None:
        """Return the value from the latest inverters summary."""
        if (micro := self.micro) is None:
            return None
        return self.entity_description.value_fn(micro)


class EnphaseBudgetSensor(SensorEntity):
    """A number of the request budget: used, remaining, projected, next summary update."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: EnphaseBudgetSensorDescription

    def __init__(
        self,
        entry: EnphaseConfigEntry,
        budget: EntryBudget,
        description: EnphaseBudgetSensorDescription,
    ) -> None:
        """Create the sensor on the entry's API usage device."""
        self.entity_description = description
        self._budget = budget
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}_{description.key}"
        self._attr_translation_key = description.key
        self._attr_device_info = budget_device_info(entry)

    async def async_added_to_hass(self) -> None:
        """Follow the budget: every fetch of any entry on the same API key moves it."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, self._budget.signal, self.async_write_ha_state)
        )

    @property
    def native_value(self) -> int | datetime | None:
        """Return the number as of now."""
        return self.entity_description.value_fn(self._budget.stats(dt_util.utcnow()))
