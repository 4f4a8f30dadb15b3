"""The set-up that benchmarks/large_account.py measures, run by pytest for its fixtures."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager, nullcontext
import json
import logging
import os
from pathlib import Path
import time
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.enphase_enlighten.api import Devices
from simulator.scenarios._helpers import micros

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.enphase_enlighten.api.models.devices import Device
    from simulator import Simulator

SYSTEM_ID = 698910067
RESULTS: dict[str, Any] = {}


def _walk_by_serial(self: Devices) -> dict[str, Device]:
    """Map serial numbers as before this change: the whole list walked at every call."""
    result: dict[str, Device] = {}
    for device in self.devices:
        if device.serial_number is not None and device.serial_number not in result:
            result[device.serial_number] = device
    return result


@contextmanager
def _baseline() -> Iterator[None]:
    """Turn this change's fixes off: parse on the loop, walk the list, add in one go."""
    with (
        patch("custom_components.enphase_enlighten.api.transport.LARGE_BODY", 10**12),
        patch("custom_components.enphase_enlighten.entity.ENTITY_BATCH", 10**9),
        patch.object(Devices, "by_serial", _walk_by_serial),
        patch.object(Devices, "find", lambda self, serial: _walk_by_serial(self).get(serial)),
    ):
        yield


@pytest.mark.parametrize("mode", ["baseline", "now"])
async def test_large_account_setup(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    mode: str,
) -> None:
    """Set the entry up and measure; the results go to $LARGE_ACCOUNT_RESULTS."""
    logging.getLogger().setLevel(logging.WARNING)
    system = sim.system(SYSTEM_ID)
    system.devices["micros"].extend(
        micros(
            int(os.environ.get("LARGE_ACCOUNT_DEVICES", "10000")),
            first_id=5_000_000,
            first_serial=800_000_000_000,
            watts=349,
            sku="IQ8A-72-2-US",
            model="IQ8A",
            part_number="800-01127-r02",
            envoy="202323054201",
        )
    )
    system.resize(sim.now())
    loop = asyncio.get_running_loop()
    worst = 0.0

    async def heartbeat() -> None:
        nonlocal worst
        last = loop.time()
        while True:
            await asyncio.sleep(0.005)
            now = loop.time()
            worst = max(worst, now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    try:
        with _baseline() if mode == "baseline" else nullcontext():
            config_entry.add_to_hass(hass)
            started = time.perf_counter()
            loaded = await hass.config_entries.async_setup(config_entry.entry_id)
            setup = time.perf_counter() - started
            await hass.async_block_till_done(wait_background_tasks=True)
            added = time.perf_counter() - started
    finally:
        beat.cancel()
    assert loaded  # noqa: S101 - a pytest case
    entities = len(er.async_entries_for_config_entry(er.async_get(hass), config_entry.entry_id))
    RESULTS[mode] = {"setup": setup, "added": added, "block": worst, "entities": entities}
    Path(os.environ.get("LARGE_ACCOUNT_RESULTS", "/dev/null")).write_text(json.dumps(RESULTS))
