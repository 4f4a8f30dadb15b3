"""Home Assistant's Store is a UsageStore as is: counts survive a restart through it."""

from __future__ import annotations

from typing import Any

from budget_fakes import NOON, count
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from custom_components.enphase_enlighten.budget import (
    STORAGE_VERSION,
    PlanLimits,
    PlannerRegistry,
    storage_key,
)


async def test_home_assistant_store_round_trip(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    api_key = "my-secret-api-key"

    def factory(key: str) -> Store[dict[str, Any]]:
        return Store(hass, STORAGE_VERSION, key)

    registry = PlannerRegistry(factory)
    planner = await registry.async_acquire(api_key, "entry1", PlanLimits.for_plan("watt"))
    count(planner, NOON, 5)
    await registry.async_release(api_key, "entry1")

    assert storage_key(api_key) in hass_storage
    assert api_key not in str(hass_storage)

    again = await PlannerRegistry(factory).async_acquire(
        api_key, "entry1", PlanLimits.for_plan("watt")
    )
    assert again.used(NOON) == 5
