"""Device triggers: alarm raised and cleared on the system's device, in real automations."""

from __future__ import annotations

from datetime import timedelta
import json
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_get_device_automations,
    async_mock_service,
)
import yaml

from custom_components.enphase_enlighten import device_trigger
from custom_components.enphase_enlighten.alarms import ALARM_MEMORIES
from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.entry_budget import PLANNERS
from tests.ha_compat import find_device

if TYPE_CHECKING:
    from pytest_homeassistant_custom_component.typing import WebSocketGenerator

    from simulator import Simulator

SYSTEM_ID = 698910067
GATEWAY = "202323054201"
METER_ISSUE = "Meter issue"


def system_device(hass: HomeAssistant) -> dr.DeviceEntry:
    """The small home's system device."""
    device = find_device(hass, str(SYSTEM_ID))
    assert device is not None
    return device


async def set_up_automations(
    hass: HomeAssistant, device_id: str, *extra: dict[str, Any]
) -> list[ServiceCall]:
    """Three automations: any alarm raised, "Gateway not reporting" only, any alarm cleared."""
    calls = async_mock_service(hass, "test", "automation")

    def trigger(kind: str, **extra: Any) -> dict[str, Any]:
        return {
            "platform": "device",
            "domain": DOMAIN,
            "device_id": device_id,
            "type": kind,
            **extra,
        }

    def action(label: str) -> dict[str, Any]:
        return {
            "service": "test.automation",
            "data_template": {
                "label": label,
                "name": "{{ trigger.event.data.name }}",
                "alarm_id": "{{ trigger.event.data.alarm_id }}",
                "devices": "{{ trigger.event.data.device_ids | join(',') }}",
            },
        }

    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: [
                {"trigger": trigger("alarm_raised"), "action": action("any")},
                {"trigger": trigger("alarm_raised", event_type_id=28), "action": action("gw")},
                {"trigger": trigger("alarm_cleared"), "action": action("cleared")},
                *extra,
            ]
        },
    )
    return calls


async def refresh_alarms(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Read the alarms now."""
    await entry.runtime_data.system_data[SYSTEM_ID].alarms.async_refresh()
    await hass.async_block_till_done()


async def test_triggers_on_the_system_device_only(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    """The system's device offers "alarm raised" and "alarm cleared"; hardware offers none."""
    triggers = await async_get_device_automations(
        hass, DeviceAutomationType.TRIGGER, system_device(hass).id
    )
    ours = sorted(t["type"] for t in triggers if t["domain"] == DOMAIN)
    assert ours == ["alarm_cleared", "alarm_raised"]
    gateway = find_device(hass, GATEWAY)
    assert gateway is not None
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, gateway.id)
    assert [t for t in triggers if t["domain"] == DOMAIN] == []


async def test_trigger_offers_the_alarm_types_by_name(
    hass: HomeAssistant, loaded: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> None:
    """The editor's optional field lists Enphase's alarm types by their names."""
    assert await async_setup_component(hass, "device_automation", {})
    client = await hass_ws_client(hass)
    # The automation editor's own request: Home Assistant serializes the fields (with
    # voluptuous-serialize on 2026.2, probatio on 2026.11).
    await client.send_json_auto_id(
        {
            "type": "device_automation/trigger/capabilities",
            "trigger": {
                "platform": "device",
                "domain": DOMAIN,
                "device_id": system_device(hass).id,
                "type": "alarm_raised",
            },
        }
    )
    response = await client.receive_json()
    assert response["success"], response
    (field,) = response["result"]["extra_fields"]
    assert field["name"] == "event_type_id"
    assert field["optional"] is True
    options = {int(value): label for value, label in field["options"]}
    assert options[28] == "Gateway not reporting"
    assert options[47]


async def test_device_trigger_fires_real_automations_once(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Raised: "any" and the gateway one run once; cleared: the cleared one runs once."""
    device = system_device(hass)
    calls = await set_up_automations(hass, device.id)
    gateway = find_device(hass, GATEWAY)
    assert gateway is not None

    meter = sim.raise_alarm(SYSTEM_ID, 47, serial_number=GATEWAY)
    await refresh_alarms(hass, loaded)
    assert [(c.data["label"], c.data["alarm_id"]) for c in calls] == [("any", meter["id"])]

    alarm = sim.raise_alarm(SYSTEM_ID, 28)
    await refresh_alarms(hass, loaded)
    assert sorted(c.data["label"] for c in calls[1:]) == ["any", "gw"]
    assert {c.data["name"] for c in calls[1:]} == {"Gateway not reporting"}
    assert {c.data["devices"] for c in calls[1:]} == {gateway.id}

    await refresh_alarms(hass, loaded)
    assert len(calls) == 3

    freezer.tick(timedelta(minutes=5))
    sim.clear_alarm(alarm["id"])
    await refresh_alarms(hass, loaded)
    assert [(c.data["label"], c.data["alarm_id"]) for c in calls[3:]] == [("cleared", alarm["id"])]


async def test_reload_and_restart_run_no_automation(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """The event entity goes unavailable and back on a reload: the device triggers stay quiet."""
    # The old README's example, on the event entity's state: it runs on every reload.
    state_runs = async_mock_service(hass, "test", "state_automation")
    calls = await set_up_automations(
        hass,
        system_device(hass).id,
        {
            "trigger": {"platform": "state", "entity_id": "event.sunny_cottage_alarm"},
            "action": {"service": "test.state_automation"},
        },
    )
    sim.raise_alarm(SYSTEM_ID, 28)
    await refresh_alarms(hass, loaded)
    assert len(calls) == 2
    runs = len(state_runs)

    freezer.tick(timedelta(minutes=5))
    assert await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("event.sunny_cottage_alarm").attributes["event_type"] == ("alarm_raised")
    assert len(calls) == 2
    # What the device triggers avoid: the state went unavailable and back.
    assert len(state_runs) > runs

    # A restart: nothing held in memory, everything from storage.
    freezer.tick(timedelta(minutes=5))
    assert await hass.config_entries.async_unload(loaded.entry_id)
    await hass.async_block_till_done()
    hass.data.pop(PLANNERS, None)
    hass.data.pop(ALARM_MEMORIES, None)
    assert await hass.config_entries.async_setup(loaded.entry_id)
    await hass.async_block_till_done()
    await refresh_alarms(hass, loaded)
    assert len(calls) == 2


@pytest.mark.parametrize("device_id", ["not-a-device"])
async def test_trigger_refused_for_other_devices(
    hass: HomeAssistant, loaded: MockConfigEntry, device_id: str
) -> None:
    """Asking for the capabilities of a device that is no system's is refused."""
    with pytest.raises(device_trigger.InvalidDeviceAutomationConfig):
        await device_trigger.async_get_trigger_capabilities(
            hass,
            {"platform": "device", "domain": DOMAIN, "device_id": device_id, "type": "x"},
        )


README = Path(__file__).parent.parent.parent / "README.md"
README_DEVICE_ID = "0123456789abcdef0123456789abcdef"


def readme_automations() -> list[dict[str, Any]]:
    """The README's automation examples that use the device trigger, as written."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.DOTALL)
    return [
        item
        for block in blocks
        for item in yaml.safe_load(block).get("automation", [])
        if any(t.get("domain") == DOMAIN for t in item.get("triggers", []))
    ]


async def test_readme_examples_work_as_written(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Any new alarm notifies with its name; "Gateway not reporting" only for that one."""
    examples = readme_automations()
    assert [item["alias"] for item in examples] == [
        "Enphase alarm",
        "Enphase gateway not reporting",
    ]
    text = json.dumps(examples).replace(README_DEVICE_ID, system_device(hass).id)
    # The notification action the examples call, whichever it is.
    (action,) = {item["actions"][0]["action"] for item in examples}
    notified = async_mock_service(hass, *action.split("."))
    assert await async_setup_component(hass, automation.DOMAIN, {"automation": json.loads(text)})
    await hass.async_block_till_done()

    sim.raise_alarm(SYSTEM_ID, 47)
    await refresh_alarms(hass, loaded)
    assert [c.data["title"] for c in notified] == [f"Enphase: {METER_ISSUE}"]
    assert notified[0].data["message"].strip()

    sim.raise_alarm(SYSTEM_ID, 28)
    await refresh_alarms(hass, loaded)
    titles = sorted(c.data["title"] for c in notified[1:])
    assert titles == ["Enphase: Gateway not reporting", "Enphase: the gateway stopped reporting"]
    assert all(c.data["message"].strip() for c in notified)

    freezer.tick(timedelta(minutes=5))
    assert await hass.config_entries.async_reload(loaded.entry_id)
    await hass.async_block_till_done()
    assert len(notified) == 3
