"""get_alarms and get_events: a window's history a week per request, bad windows refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.const import (
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    DOMAIN,
)
from tests.ha_compat import find_device

from .conftest import setup_entry
from .test_coordinator import advance

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
GATEWAY = "202323054201"
MICRO = "902167438951"
JUNE_21_NOON = datetime(2026, 6, 21, 19, tzinfo=UTC)


@pytest.fixture
async def ready(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> MockConfigEntry:
    """The small home set up, a minute after its first requests."""
    freezer.move_to(JUNE_21_NOON)
    await setup_entry(hass, config_entry)
    await advance(hass, freezer, timedelta(minutes=1))
    return config_entry


def device_id(hass: HomeAssistant, identifier: str) -> str:
    """The Home Assistant device id of a system (its id) or hardware (its serial)."""
    device = find_device(hass, identifier)
    assert device is not None
    return device.id


async def call(hass: HomeAssistant, action: str, **data: Any) -> dict[str, Any]:
    """Call an action and return its response."""
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


def requests(sim: Simulator) -> int:
    """Requests the simulator has answered."""
    return len(sim.request_log)


async def test_get_alarms_two_weeks_two_requests(
    hass: HomeAssistant, sim: Simulator, ready: MockConfigEntry
) -> None:
    """Alarms active in the last two weeks: two requests, names, devices and times."""
    now = dt_util.utcnow()
    old = sim.raise_alarm(SYSTEM_ID, 28, at=now - timedelta(days=10))
    recent = sim.raise_alarm(SYSTEM_ID, 47, serial_number=MICRO, at=now - timedelta(days=1))
    before = requests(sim)
    response = await call(
        hass,
        "get_alarms",
        system=device_id(hass, str(SYSTEM_ID)),
        start=(now - timedelta(days=14)).isoformat(),
    )
    assert requests(sim) - before == 2
    assert response["requests_spent"] == 2
    assert response["system_id"] == SYSTEM_ID
    by_id = {alarm["alarm_id"]: alarm for alarm in response["alarms"]}
    assert set(by_id) == {old["id"], recent["id"]}
    assert by_id[old["id"]]["name"] == "Gateway not reporting"
    assert by_id[old["id"]]["event_type_key"] == "envoy_no_report"
    assert by_id[old["id"]]["cleared"] is False
    assert by_id[recent["id"]]["serial_numbers"] == [MICRO]
    assert by_id[recent["id"]]["device_ids"] == [device_id(hass, MICRO)]
    assert by_id[recent["id"]]["start_time"] == (now - timedelta(days=1)).isoformat()


async def test_get_alarms_cleared_from_a_hardware_device(
    hass: HomeAssistant, sim: Simulator, ready: MockConfigEntry
) -> None:
    """A hardware device stands for its system; cleared=true returns the cleared alarms."""
    now = dt_util.utcnow()
    alarm = sim.raise_alarm(SYSTEM_ID, 28, at=now - timedelta(days=2))
    sim.clear_alarm(alarm["id"], at=now - timedelta(days=1))
    response = await call(
        hass,
        "get_alarms",
        system=device_id(hass, GATEWAY),
        start=(now - timedelta(days=3)).isoformat(),
        cleared=True,
    )
    ids = [item["alarm_id"] for item in response["alarms"]]
    assert alarm["id"] in ids
    assert all(item["cleared"] for item in response["alarms"])
    active = await call(
        hass,
        "get_alarms",
        system=device_id(hass, GATEWAY),
        start=(now - timedelta(days=3)).isoformat(),
    )
    assert alarm["id"] not in [item["alarm_id"] for item in active["alarms"]]


async def test_get_events_of_a_window(
    hass: HomeAssistant, sim: Simulator, ready: MockConfigEntry
) -> None:
    """The scenario's closed event and a new open one, each once."""
    now = dt_util.utcnow()
    sim.open_event(SYSTEM_ID, 12, serial_number=GATEWAY, at=now - timedelta(hours=2))
    response = await call(
        hass,
        "get_events",
        system=device_id(hass, str(SYSTEM_ID)),
        start=(now - timedelta(days=5)).isoformat(),
        end=now.isoformat(),
    )
    assert response["requests_spent"] == 1
    statuses = sorted((e["event_type_id"], e["status"]) for e in response["events"])
    assert (12, "Open") in statuses
    assert any(status == "Closed" for _, status in statuses)
    opened = next(e for e in response["events"] if e["event_type_id"] == 12)
    assert opened["device_ids"] == [device_id(hass, GATEWAY)]
    assert opened["end_time"] is None
    assert len({e["event_id"] for e in response["events"]}) == len(response["events"])


@pytest.mark.parametrize(
    ("action", "data", "key", "message"),
    [
        (
            "get_alarms",
            {"start": timedelta(days=300)},
            "history_too_old",
            "Enphase keeps alarms and events for 9 months: choose a start within the last 9 months",
        ),
        (
            "get_events",
            {"start": timedelta(days=1), "end": timedelta(days=2)},
            "history_reversed",
            "The window ends (2026-06-19 12:01 PDT) before it starts (2026-06-20 12:01 PDT)",
        ),
        (
            "get_events",
            {"start": timedelta(weeks=12)},
            "history_too_long",
            "This window needs 12 requests, more than the plan allows in a minute (10):"
            " choose a shorter window",
        ),
        (
            "get_alarms",
            {"system": "not-a-device", "start": timedelta(days=1)},
            "unknown_system",
            "The device not-a-device is not a loaded Enphase system or one of its devices",
        ),
    ],
)
async def test_bad_windows_refused_translated_and_free(
    hass: HomeAssistant,
    sim: Simulator,
    ready: MockConfigEntry,
    action: str,
    data: dict[str, Any],
    key: str,
    message: str,
) -> None:
    """Refused before any request, with a translated message."""
    now = dt_util.utcnow()
    fields: dict[str, Any] = {"system": device_id(hass, str(SYSTEM_ID))}
    for name, value in data.items():
        fields[name] = (now - value).isoformat() if isinstance(value, timedelta) else value
    before = requests(sim)
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, action, **fields)
    assert refused.value.translation_key == key
    assert str(refused.value) == message
    assert requests(sim) == before


async def test_refused_beyond_the_budget_left(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A window needing more requests than the month has left is refused, none spent."""
    freezer.move_to(JUNE_21_NOON)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=config_entry.title,
        unique_id=config_entry.unique_id,
        data={
            **config_entry.data,
            CONF_PLAN: "custom",
            CONF_REQUESTS_PER_MINUTE: 10,
            CONF_REQUESTS_PER_MONTH: 12,
        },
        options=dict(config_entry.options),
    )
    await setup_entry(hass, entry)
    await advance(hass, freezer, timedelta(minutes=1))
    remaining = entry.runtime_data.budget.planner.stats(dt_util.utcnow()).remaining
    assert 0 < remaining < 6
    before = requests(sim)
    with pytest.raises(ServiceValidationError) as refused:
        await call(
            hass,
            "get_alarms",
            system=device_id(hass, str(SYSTEM_ID)),
            start=(dt_util.utcnow() - timedelta(weeks=6)).isoformat(),
        )
    assert refused.value.translation_key == "history_budget"
    assert str(refused.value) == (
        f"This window needs 6 requests and the request budget has {remaining} left this"
        " month: choose a shorter window"
    )
    assert requests(sim) == before


@pytest.mark.parametrize("status", [500, 429])
async def test_enphase_failure_reported(
    hass: HomeAssistant, sim: Simulator, ready: MockConfigEntry, status: int
) -> None:
    """Enphase failing the read: the action fails saying so; a 429 also pauses the planner."""
    sim.fail_next(1, status, endpoint="alarms")
    with pytest.raises(HomeAssistantError) as failed:
        await call(
            hass,
            "get_alarms",
            system=device_id(hass, str(SYSTEM_ID)),
            start=(dt_util.utcnow() - timedelta(days=1)).isoformat(),
        )
    # Its own key: a server error with its status, or Enphase's pause with its end.
    assert failed.value.translation_key == (
        "update_server_error" if status == 500 else "refresh_rate_limited"
    )
    assert "Enphase API" not in str(failed.value)
    blocked = ready.runtime_data.budget.planner.blocked_until(dt_util.utcnow())
    assert (blocked is not None) is (status == 429)


async def test_unloaded_entry_refused(
    hass: HomeAssistant, sim: Simulator, ready: MockConfigEntry
) -> None:
    """A system of an unloaded entry: refused, saying the entry is not loaded."""
    system = device_id(hass, str(SYSTEM_ID))
    assert await hass.config_entries.async_unload(ready.entry_id)
    with pytest.raises(ServiceValidationError) as refused:
        await call(
            hass,
            "get_events",
            system=system,
            start=(dt_util.utcnow() - timedelta(days=1)).isoformat(),
        )
    assert refused.value.translation_key == "entry_not_loaded"
