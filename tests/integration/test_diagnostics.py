"""Entry and device diagnostics: last responses, plan and counters, private data redacted."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.json import json_dumps
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.diagnostics import (
    async_get_config_entry_diagnostics,
    async_get_device_diagnostics,
)

from .conftest import API_KEY, CLIENT_SECRET

if TYPE_CHECKING:
    pass

SYSTEM_ID = 698910067
GATEWAY = "202323054201"
# Values that must never appear in diagnostics.
PRIVATE = [API_KEY, CLIENT_SECRET, GATEWAY, "902167438951", "Sebastopol", "95472", "Sunny Cottage"]
# Values that change from run to run.
VOLATILE = props("started_at", "duration", "entry_id", "created_at", "modified_at", "expires_at")


def _assert_private_data_absent(diagnostics: object, entry: MockConfigEntry) -> None:
    text = json.dumps(diagnostics)
    token = entry.data["token"]
    for value in [*PRIVATE, token["access_token"], token["refresh_token"], entry.unique_id]:
        assert str(value) not in text, value
    assert "352009" not in text  # IMEI prefix


async def test_entry_diagnostics(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """The entry's diagnostics hold the raw responses, the plan and the request counts."""
    # Through JSON, as the diagnostics download does (the HTTP route needs a real clock).
    diagnostics = json.loads(json_dumps(await async_get_config_entry_diagnostics(hass, loaded)))
    _assert_private_data_absent(diagnostics, loaded)
    # The first alarms read: the open alarms and the open events (two requests).
    assert diagnostics["requests"]["total"] == 7
    assert diagnostics["plan"]["requests_per_month"] == 1000
    budget = diagnostics["budget"]
    assert budget["used"] == 7
    assert budget["limits"] == {"per_minute": 10, "per_month": 1000}
    assert budget["projected_month_end"] <= 1000
    assert budget["freshness"]["ok"]
    summary = diagnostics["system_data"][0]["summary"]["data"]
    assert summary["system_id"] == SYSTEM_ID
    assert summary["nmi"] in (None, "**REDACTED**")
    assert diagnostics == snapshot(exclude=VOLATILE)


async def test_device_diagnostics(
    hass: HomeAssistant,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """System, gateway and microinverter devices each get their own data."""
    for identifier in (str(SYSTEM_ID), GATEWAY, "902167438951"):
        device = device_registry.async_get_device(identifiers={(DOMAIN, identifier)})
        assert device is not None
        diagnostics = json.loads(
            json_dumps(await async_get_device_diagnostics(hass, loaded, device))
        )
        _assert_private_data_absent(diagnostics, loaded)
        assert diagnostics == snapshot(name=identifier, exclude=VOLATILE)
