"""A large account: its answers are parsed off the event loop, its entities added in batches."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_platform, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.api import Devices
from simulator.scenarios._helpers import micros

from .conftest import setup_entry

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
GATEWAY_SERIAL = "202323054201"
EXTRA_MICROS = 3000
# Entities added in one go at most (the integration's ENTITY_BATCH).
BATCH_LIMIT = 250


def add_micros(sim: Simulator, count: int) -> None:
    """Give the small home ``count`` more microinverters (a large installation)."""
    system = sim.system(SYSTEM_ID)
    system.devices["micros"].extend(
        micros(
            count,
            first_id=5_000_000,
            first_serial=800_000_000_000,
            watts=349,
            sku="IQ8A-72-2-US",
            model="IQ8A",
            part_number="800-01127-r02",
            envoy=GATEWAY_SERIAL,
        )
    )
    system.resize(sim.now())


async def test_large_inventory_parsed_off_the_loop_and_added_in_batches(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """3,000 more microinverters: every entity is there, none added in a batch too large."""
    add_micros(sim, EXTRA_MICROS)
    threads: list[str] = []
    parse = Devices.from_dict.__func__  # type: ignore[attr-defined]

    def spy_parse(cls: type[Devices], data: Any, *, system_id: int | None = None) -> Devices:
        threads.append(threading.current_thread().name)
        return parse(cls, data, system_id=system_id)  # type: ignore[no-any-return]

    batches: list[int] = []
    add = entity_platform.EntityPlatform._async_schedule_add_entities_for_entry

    def spy_add(
        self: entity_platform.EntityPlatform, entities: Any, *args: Any, **kwargs: Any
    ) -> None:
        entities = list(entities)
        if self.domain == "sensor" and self.config_entry is config_entry:
            batches.append(len(entities))
        add(self, entities, *args, **kwargs)

    with (
        patch.object(Devices, "from_dict", classmethod(spy_parse)),
        patch.object(
            entity_platform.EntityPlatform, "_async_schedule_add_entities_for_entry", spy_add
        ),
    ):
        await setup_entry(hass, config_entry)

    # The inventory (over a megabyte) was decoded and parsed in the executor.
    assert threads
    assert threading.main_thread().name not in threads
    # Every microinverter has its entities (its sensors, most disabled by default).
    serials = {
        entry.unique_id.split("_", 1)[0]
        for entry in er.async_entries_for_config_entry(entity_registry, config_entry.entry_id)
    }
    devices = config_entry.runtime_data.system_data[SYSTEM_ID].devices.data
    assert devices is not None
    assert len(devices.devices) > EXTRA_MICROS
    assert set(devices.by_serial()) <= serials
    # In batches, the event loop free in between.
    assert max(batches) <= BATCH_LIMIT
    assert sum(batches) > 2 * EXTRA_MICROS
