"""Binary sensors for Enphase systems and their hardware: problems, reporting, alarms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory

from .coordinator import (
    EnphaseAlarmsCoordinator,
    EnphaseDevicesCoordinator,
    EnphaseSummaryCoordinator,
)
from .entity import (
    EnphaseHardwareEntity,
    EnphaseSystemEntity,
    async_add_entities_when_seen,
    current_system,
    hardware_serials,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity import Entity
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .api import Device, Summary, System
    from .runtime import EnphaseConfigEntry

# Coordinators do all the fetching; entities only read their data.
PARALLEL_UPDATES = 0

# A gateway on broadband uploads every 15 minutes, on cellular every few hours. It counts
# as not reporting after missing a few uploads in a row.
BROADBAND_REPORT_WINDOW = timedelta(hours=1)
CELLULAR_REPORT_WINDOW = timedelta(hours=12)

OK_STATUSES = frozenset({"normal"})


def report_window(system: System | None) -> timedelta:
    """Return how old a last report may be before the gateway counts as not reporting."""
    connection = (system.connection_type or "").lower() if system is not None else ""
    return CELLULAR_REPORT_WINDOW if "cell" in connection else BROADBAND_REPORT_WINDOW


def status_problem(status: str | None) -> bool | None:
    """Return whether a status is anything but normal (None when there is no status)."""
    if status is None or status.strip().lower() in {"", "unknown"}:
        return None
    return status.strip().lower() not in OK_STATUSES


@dataclass(frozen=True, kw_only=True)
class EnphaseSystemBinarySensorDescription(BinarySensorEntityDescription):
    """A system binary sensor computed from the system's summary."""

    is_on_fn: Callable[[EnphaseSummaryCoordinator, Summary], bool | None]


def _gateway_reporting(coordinator: EnphaseSummaryCoordinator, summary: Summary) -> bool | None:
    # Judged when the summary was fetched, so a slow polling plan does not look like an
    # outage: the question is whether the gateway had reported recently at that time.
    if summary.last_report_at is None or coordinator.last_success_at is None:
        return None
    age = coordinator.last_success_at - summary.last_report_at
    return age <= report_window(current_system(coordinator))


SYSTEM_BINARY_SENSORS: tuple[EnphaseSystemBinarySensorDescription, ...] = (
    EnphaseSystemBinarySensorDescription(
        key="problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda _coordinator, summary: status_problem(summary.status),
    ),
    EnphaseSystemBinarySensorDescription(
        key="gateway_reporting",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=_gateway_reporting,
    ),
)

ACTIVE_ALARM = BinarySensorEntityDescription(
    key="active_alarm", device_class=BinarySensorDeviceClass.PROBLEM
)
DEVICE_PROBLEM = BinarySensorEntityDescription(
    key="device_problem", device_class=BinarySensorDeviceClass.PROBLEM
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add binary sensors for each system and its hardware."""
    entities: list[Entity] = []
    for data in entry.runtime_data.system_data.values():
        entities.extend(
            EnphaseSystemBinarySensor(data.summary, description)
            for description in SYSTEM_BINARY_SENSORS
        )
        entities.append(EnphaseActiveAlarmBinarySensor(data.alarms, ACTIVE_ALARM))
        async_add_entities_when_seen(
            entry, data.devices, async_add_entities, _device_factory(data.devices, data.alarms)
        )
    async_add_entities(entities)


def _device_factory(
    coordinator: EnphaseDevicesCoordinator, alarms: EnphaseAlarmsCoordinator
) -> Callable[[], Iterable[tuple[str, Callable[[], Entity]]]]:
    def factory() -> Iterable[tuple[str, Callable[[], Entity]]]:
        for serial, device in hardware_serials(coordinator):
            yield (
                f"{serial}_{DEVICE_PROBLEM.key}",
                partial(
                    EnphaseDeviceProblemBinarySensor, coordinator, DEVICE_PROBLEM, device, alarms
                ),
            )

    return factory


class EnphaseSystemBinarySensor(EnphaseSystemEntity[EnphaseSummaryCoordinator], BinarySensorEntity):
    """A system binary sensor read from the summary."""

    entity_description: EnphaseSystemBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """Return the state from the latest summary."""
        if self.coordinator.data is None:
            return None
        return self.entity_description.is_on_fn(self.coordinator, self.coordinator.data)


class EnphaseActiveAlarmBinarySensor(
    EnphaseSystemEntity[EnphaseAlarmsCoordinator], BinarySensorEntity
):
    """On while the system has an active alarm."""

    @property
    def is_on(self) -> bool | None:
        """Return whether an alarm is active."""
        if self.coordinator.data is None:
            return None
        return any(not alarm.cleared for alarm in self.coordinator.data)


class EnphaseDeviceProblemBinarySensor(EnphaseHardwareEntity, BinarySensorEntity):
    """On while a piece of hardware reports a status other than normal, or an alarm names it."""

    def __init__(
        self,
        coordinator: EnphaseDevicesCoordinator,
        description: BinarySensorEntityDescription,
        device: Device,
        alarms: EnphaseAlarmsCoordinator,
    ) -> None:
        """Follow the hardware's status and the system's open alarms."""
        super().__init__(coordinator, description, device)
        self.alarms = alarms

    async def async_added_to_hass(self) -> None:
        """Also follow the system's alarms."""
        await super().async_added_to_hass()
        self.async_on_remove(self.alarms.async_add_listener(self.async_write_ha_state))

    @property
    def is_on(self) -> bool | None:
        """Return whether the hardware has a problem."""
        if (device := self.device) is None:
            return None
        if self.serial in self.alarms.open_serials:
            return True
        return status_problem(device.status)
