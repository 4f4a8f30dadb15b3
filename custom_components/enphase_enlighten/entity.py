"""Base entities, device info, and adding entities for devices that appear later."""

from __future__ import annotations

import asyncio
from functools import partial
import logging
import re
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from . import compat
from .const import DOMAIN
from .coordinator import (
    EnphaseCoordinator,
    EnphaseDevicesCoordinator,
    EnphaseInvertersCoordinator,
    EnphaseSystemCoordinator,
)
from .devices import (
    MANUFACTURER,
    budget_device_identifier,
    system_device_info,
    system_identifier,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from homeassistant.helpers.entity import Entity, EntityDescription
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .api import Device, MicroinverterSummary, System
    from .runtime import EnphaseConfigEntry, EnphaseRuntimeData

_LOGGER = logging.getLogger(__name__)

# Digits of a serial number a hardware device's name ends with.
SHORT_SERIAL = 6
# Enphase's names carry serial numbers ("Microinverter 482110037001", "Gateway 2023...").
LONG_NUMBER = re.compile(r"\d{9,}")
# Entities added in one go at most: a large account (10,000 devices) adds its entities in
# batches, in the background, the event loop free between two.
ENTITY_BATCH = 250

# Device kinds under "devices" and the model shown when Enphase sends none.
KIND_MODELS: dict[str, str] = {
    "micros": "Microinverter",
    "meters": "Meter",
    "gateways": "IQ Gateway",
    "q_relays": "IQ Relay",
    "acbs": "AC Battery",
    "encharges": "IQ Battery",
    "enpowers": "IQ System Controller",
    "ev_chargers": "IQ EV Charger",
}


def budget_device_info(entry: EnphaseConfigEntry) -> DeviceInfo:
    """Return the device info of an entry's API usage: the request budget's sensors."""
    return DeviceInfo(
        identifiers={budget_device_identifier(entry)},
        manufacturer=MANUFACTURER,
        model="Monitoring API v4",
        name=f"{entry.title} API usage",
        entry_type=DeviceEntryType.SERVICE,
    )


def current_system(coordinator: EnphaseCoordinator[Any]) -> System | None:
    """Return the latest details of the coordinator's system, if known."""
    system_id = getattr(coordinator, "system_id", None)
    runtime: EnphaseRuntimeData = coordinator.config_entry.runtime_data
    systems = runtime.systems.data
    if system_id is None or systems is None:
        return None
    return systems.get(system_id)


def short_serial(serial: str) -> str:
    """Return the end of a serial number, for a device name a person can tell apart.

    Names show in cards cut to their first characters, where "Microinverter 482110037..."
    is every microinverter of a system, and they name diagnostics files: the whole serial
    stays in the device info (`serial_number`), not in the name.
    """
    return f"…{serial[-SHORT_SERIAL:]}" if len(serial) > SHORT_SERIAL else serial


def readable_name(name: str) -> str:
    """Return Enphase's device name with the serial-like numbers in it shortened."""
    return LONG_NUMBER.sub(lambda match: short_serial(match.group()), name)


def _part_of_system(coordinator: EnphaseSystemCoordinator[Any], info: DeviceInfo) -> DeviceInfo:
    """Link a hardware device to its system's device (registered before the platforms)."""
    registry = dr.async_get(coordinator.hass)
    parent = system_identifier(coordinator.system_id)
    return compat.link_to_parent(info, registry, parent, coordinator.config_entry.entry_id)


def hardware_device_info(coordinator: EnphaseDevicesCoordinator, device: Device) -> DeviceInfo:
    """Return the device info of one piece of hardware, keyed by its serial number."""
    serial = device.serial_number or ""
    kind_model = KIND_MODELS.get(device.kind, device.kind)
    model = device.product_name or device.model or kind_model
    if device.kind == "meters":
        # Enphase names meters by role ("production"), which is no device name on its own.
        name = " ".join(filter(None, [device.config_type or device.name, "meter"])).capitalize()
    else:
        name = readable_name(device.name or f"{kind_model} {serial}")
    info = DeviceInfo(
        identifiers={(DOMAIN, serial)},
        manufacturer=MANUFACTURER,
        model=model,
        name=name,
        serial_number=serial,
    )
    if model_id := (device.sku or device.part_number):
        info["model_id"] = model_id
    if device.firmware:
        info["sw_version"] = device.firmware
    return _part_of_system(coordinator, info)


def micro_device_info(
    coordinator: EnphaseInvertersCoordinator, micro: MicroinverterSummary
) -> DeviceInfo:
    """Return the device info of a microinverter seen in the inverters summary."""
    serial = micro.serial_number or ""
    info = DeviceInfo(
        identifiers={(DOMAIN, serial)},
        manufacturer=MANUFACTURER,
        model=micro.model or KIND_MODELS["micros"],
        name=f"Microinverter {short_serial(serial)}",
        serial_number=serial,
    )
    if model_id := (micro.sku or micro.part_number):
        info["model_id"] = model_id
    if micro.proc_load:
        info["sw_version"] = micro.proc_load
    return _part_of_system(coordinator, info)


class EnphaseEntity[CoordinatorT: EnphaseCoordinator[Any]](CoordinatorEntity[CoordinatorT]):
    """An entity fed by one coordinator, named by its translation key."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: CoordinatorT,
        description: EntityDescription,
        unique_prefix: str,
        device_info: DeviceInfo,
    ) -> None:
        """Bind the entity to its coordinator and device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{unique_prefix}_{description.key}"
        self._attr_device_info = device_info
        if description.translation_key is None:
            self._attr_translation_key = description.key

    async def async_update(self) -> None:
        """Refresh because a user asked (update_entity), within the request budget.

        Home Assistant's update_entity logs whatever this raises as a failure with a
        traceback, which a refusal is not: the user is told why in a warning instead.
        """
        if not self.enabled:
            return
        try:
            await self.coordinator.async_manual_refresh()
        except HomeAssistantError as err:
            _LOGGER.warning("%s: %s", self.entity_id, err)


class EnphaseSystemEntity[CoordinatorT: EnphaseSystemCoordinator[Any]](EnphaseEntity[CoordinatorT]):
    """An entity of one Enphase system, on the system's device."""

    def __init__(self, coordinator: CoordinatorT, description: EntityDescription) -> None:
        """Bind the entity to its system (unique id from the system id)."""
        super().__init__(
            coordinator,
            description,
            str(coordinator.system_id),
            _system_device_info(coordinator),
        )


def _system_device_info(coordinator: EnphaseSystemCoordinator[Any]) -> DeviceInfo:
    """Return the system's device info; only a link to its device while Enphase misses it."""
    system = current_system(coordinator)
    if system is None and coordinator.system_id in coordinator.config_entry.runtime_data.missing:
        # The placeholder name would replace the one the device already has.
        return DeviceInfo(identifiers={system_identifier(coordinator.system_id)})
    return system_device_info(coordinator.system_id, system)


class EnphaseHardwareEntity(EnphaseEntity[EnphaseDevicesCoordinator]):
    """An entity of one piece of hardware from a system's device inventory."""

    def __init__(
        self, coordinator: EnphaseDevicesCoordinator, description: EntityDescription, device: Device
    ) -> None:
        """Bind the entity to a piece of hardware (it has a serial number)."""
        serial = device.serial_number or ""
        super().__init__(
            coordinator,
            description,
            serial,
            hardware_device_info(coordinator, device),
        )
        self.serial = serial

    @staticmethod
    def _find(coordinator: EnphaseDevicesCoordinator, serial: str) -> Device | None:
        if coordinator.data is None:
            return None
        return coordinator.data.find(serial)

    @property
    def device(self) -> Device | None:
        """Return the hardware's latest data, or None when Enphase no longer lists it."""
        return self._find(self.coordinator, self.serial)

    @property
    def available(self) -> bool:
        """Return False once the hardware is gone from the inventory."""
        return super().available and self.device is not None


class EnphaseMicroEntity(EnphaseEntity[EnphaseInvertersCoordinator]):
    """An entity of one microinverter from a system's inverters summary."""

    def __init__(
        self,
        coordinator: EnphaseInvertersCoordinator,
        description: EntityDescription,
        micro: MicroinverterSummary,
    ) -> None:
        """Bind the entity to a microinverter (it has a serial number)."""
        serial = micro.serial_number or ""
        super().__init__(coordinator, description, serial, micro_device_info(coordinator, micro))
        self.serial = serial

    @property
    def micro(self) -> MicroinverterSummary | None:
        """Return the microinverter's latest data, or None when it is no longer listed."""
        if self.coordinator.data is None:
            return None
        return self.coordinator.data.get(self.serial)

    @property
    def available(self) -> bool:
        """Return False once the microinverter is gone from the summary."""
        return super().available and self.micro is not None


def hardware_serials(coordinator: EnphaseDevicesCoordinator) -> Iterable[tuple[str, Device]]:
    """Yield (serial, device) for every listed piece of hardware."""
    if coordinator.data is None:
        return ()
    return coordinator.data.by_serial().items()


@callback
def async_add_entities_when_seen(
    entry: EnphaseConfigEntry,
    coordinator: EnphaseCoordinator[Any],
    async_add_entities: AddConfigEntryEntitiesCallback,
    factory: Callable[[], Iterable[tuple[str, Callable[[], Entity]]]],
) -> None:
    """Add entities now, and whenever the coordinator reports ones not added yet.

    `factory` yields (unique id, constructor) for every entity the current data supports.
    An entity whose device was removed from the registry is added again if it comes back.
    """
    added: set[str] = set()

    def _build(pending: list[tuple[str, Callable[[], Entity]]]) -> list[Entity]:
        entities: list[Entity] = []
        for unique_id, build in pending:
            entity = build()
            entity.async_on_remove(partial(added.discard, unique_id))
            entities.append(entity)
        return entities

    @callback
    def _add_new() -> None:
        system_id = getattr(coordinator, "system_id", None)
        if system_id is not None and system_id not in entry.runtime_data.system_data:
            # The system was dropped; a fetch still under way must not bring it back.
            return
        pending: list[tuple[str, Callable[[], Entity]]] = []
        for unique_id, build in factory():
            if unique_id not in added:
                added.add(unique_id)
                pending.append((unique_id, build))
        if len(pending) <= ENTITY_BATCH:
            if pending:
                async_add_entities(_build(pending))
            return
        entry.async_create_background_task(
            coordinator.hass,
            _async_add_in_batches(pending, _build, async_add_entities),
            f"{DOMAIN} add {len(pending)} entities",
        )

    _add_new()
    entry.async_on_unload(coordinator.async_add_listener(_add_new))


async def _async_add_in_batches(
    pending: list[tuple[str, Callable[[], Entity]]],
    build: Callable[[list[tuple[str, Callable[[], Entity]]]], list[Entity]],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create and add many entities a batch at a time, letting the event loop run between."""
    for start in range(0, len(pending), ENTITY_BATCH):
        async_add_entities(build(pending[start : start + ENTITY_BATCH]))
        await asyncio.sleep(0)
