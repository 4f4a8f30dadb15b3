"""The refresh action and update_entity: served within the request budget, or told why not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import json
import logging
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, selector
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.enphase_enlighten.api import RequestRecord
from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.devices import budget_device_identifier
from custom_components.enphase_enlighten.messages import format_time
from tests.ha_compat import get_device

from .conftest import setup_entry, until_new_upload
from .test_coordinator import advance

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067
POWER = "sensor.sunny_cottage_current_power"
REMAINING = "sensor.enphase_api_usage_requests_remaining_this_month"
# Noon in California on the first of June: a fresh quota month, in daylight.
JUNE_FIRST_NOON = datetime(2026, 6, 1, 19, tzinfo=UTC)
MONTH_END = datetime(2026, 7, 1, tzinfo=UTC)
PACKAGE = Path(__file__).parent.parent.parent / "custom_components" / "enphase_enlighten"


@pytest.fixture
async def loaded(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> MockConfigEntry:
    """The small home set up at noon in California, when its gateway can upload again."""
    freezer.move_to(JUNE_FIRST_NOON)
    assert await async_setup_component(hass, "homeassistant", {})
    await setup_entry(hass, config_entry)
    await advance(hass, freezer, timedelta(minutes=1))
    until_new_upload(freezer, config_entry, SYSTEM_ID)
    return config_entry


async def refresh(
    hass: HomeAssistant, data: dict[str, Any], *, response: bool = False
) -> dict[str, Any] | None:
    """Call enphase_enlighten.refresh and wait for its answer."""
    return await hass.services.async_call(
        DOMAIN, "refresh", data, blocking=True, return_response=response
    )


def month_429() -> dict[str, object]:
    """A 429 body saying the monthly quota is spent, as Enphase sends it for summary."""
    return {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "period": "month",
        "period_start": int(datetime(2026, 6, 1, tzinfo=UTC).timestamp()),
        "period_end": int(MONTH_END.timestamp()),
        "limit": 1000,
    }


def spend_this_minute(entry: MockConfigEntry) -> None:
    """Count ten requests now, as if another user of the key had spent this minute."""
    planner = entry.runtime_data.budget.planner
    for _ in range(10):
        planner.record_request(
            RequestRecord("summary", "GET", 200, dt_util.utcnow().timestamp(), 0.1)
        )


async def test_refresh_served_within_budget(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The action fetches each system's summary (one request each) and updates its entities."""
    assert hass.services.has_service(DOMAIN, "refresh")
    description = (await async_get_all_descriptions(hass))[DOMAIN]["refresh"]
    assert set(description["fields"]) == {ATTR_CONFIG_ENTRY_ID, "system"}
    before = hass.states.get(POWER)
    assert before is not None
    # Home Assistant updates last_reported of an unchanged state in place.
    reported = before.last_reported
    requests = len(sim.request_log)
    freezer.tick(timedelta(seconds=5))

    answer = await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id}, response=True)

    assert [entry["endpoint"] for entry in sim.request_log[requests:]] == ["summary"]
    after = hass.states.get(POWER)
    assert after is not None
    assert after.last_reported > reported
    assert answer == {
        "systems": [SYSTEM_ID],
        "requests_spent": 1,
        "requests_remaining": int(hass.states.get(REMAINING).state),
        "unchanged_systems": [],
    }

    # One system, by its device or by one of its hardware devices; no response asked.
    system = get_device(device_registry, loaded, str(SYSTEM_ID))
    assert system is not None
    hardware = next(
        device
        for device in dr.async_entries_for_config_entry(device_registry, loaded.entry_id)
        if device.via_device_id == system.id
    )
    for device in (system, hardware):
        until_new_upload(freezer, loaded, SYSTEM_ID)
        requests = len(sim.request_log)
        assert (
            await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id, "system": device.id})
            is None
        )
        assert [entry["endpoint"] for entry in sim.request_log[requests:]] == ["summary"]


async def test_refresh_refused_over_the_minute_limit(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry
) -> None:
    """Over the per-minute limit, nothing is asked and the error says when to try again."""
    spend_this_minute(loaded)
    requests = len(sim.request_log)
    with pytest.raises(HomeAssistantError) as refused:
        await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id})
    assert len(sim.request_log) == requests
    assert refused.value.translation_key == "refresh_minute_limit"
    retry_at = refused.value.translation_placeholders["retry_at"]
    # With its time zone: the reader may not be where the home is.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d [A-Z][A-Za-z0-9+-]+", retry_at)
    assert str(refused.value) == (
        "Not refreshed: this would exceed the plan's requests per minute. "
        f"Try again after {retry_at}"  # Home Assistant drops the final full stop.
    )


async def test_monthly_429_refuses_until_the_quota_resets(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A monthly 429 during a refresh is reported; later refreshes ask nothing until July.

    update_entity cannot show an error: it logs a warning saying why and when, no traceback.
    """
    resume = format_time(MONTH_END)
    sim.fail_next(1, 429, body=month_429(), endpoint="summary")
    with pytest.raises(HomeAssistantError) as refused:
        await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id})
    assert refused.value.translation_key == "refresh_quota_exhausted"
    assert refused.value.translation_placeholders == {"retry_at": resume}
    assert str(refused.value) == (
        "Not refreshed: the Enphase application's monthly request quota is used up. "
        f"Polling resumes at {resume}"
    )

    requests = len(sim.request_log)
    with pytest.raises(HomeAssistantError) as refused:
        await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id})
    assert refused.value.translation_key == "refresh_quota_exhausted"

    caplog.clear()
    caplog.set_level(logging.WARNING)
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": POWER}, blocking=True
    )
    assert len(sim.request_log) == requests
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert [record.getMessage() for record in warnings] == [
        f"{POWER}: Not refreshed: the Enphase application's monthly request quota is used up. "
        f"Polling resumes at {resume}"
    ]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


async def test_update_entity_served_within_budget(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    """update_entity fetches within the budget; over the minute limit it warns instead."""
    requests = len(sim.request_log)
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": POWER}, blocking=True
    )
    assert [entry["endpoint"] for entry in sim.request_log[requests:]] == ["summary"]

    until_new_upload(freezer, loaded, SYSTEM_ID)
    spend_this_minute(loaded)
    requests = len(sim.request_log)
    caplog.set_level(logging.WARNING)
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": POWER}, blocking=True
    )
    assert len(sim.request_log) == requests
    assert "Not refreshed: this would exceed the plan's requests per minute" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_thirty_refreshes_at_once_send_only_what_the_minute_allows(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """30 calls at once on Watt: 10 sent and answered, 20 refused before sending; each call
    reports its own outcome."""
    # A minute after the energy statistics' first import: the minute is free again.
    await advance(hass, freezer, timedelta(minutes=1))
    requests = len(sim.request_log)
    outcomes = await asyncio.gather(
        *(refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id}) for _ in range(30)),
        return_exceptions=True,
    )
    sent = sim.request_log[requests:]
    assert [entry["status"] for entry in sent] == [200] * 10
    assert outcomes.count(None) == 10
    refused = [outcome for outcome in outcomes if outcome is not None]
    assert len(refused) == 20
    assert all(isinstance(outcome, HomeAssistantError) for outcome in refused)
    assert {outcome.translation_key for outcome in refused} == {"refresh_minute_limit"}  # type: ignore[union-attr]


async def test_a_refresh_reports_its_own_failure_among_successes(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry
) -> None:
    """Of two calls at once, the one Enphase refused says so though the other succeeded."""
    sim.fail_next(1, 503, endpoint="summary")
    outcomes = await asyncio.gather(
        *(refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id}) for _ in range(2)),
        return_exceptions=True,
    )
    assert outcomes.count(None) == 1
    (failed,) = [outcome for outcome in outcomes if outcome is not None]
    assert isinstance(failed, HomeAssistantError)
    assert failed.translation_key == "update_server_error"
    assert failed.translation_placeholders == {"status": "503"}


async def test_refresh_failure_is_reported(
    hass: HomeAssistant, sim: Simulator, loaded: MockConfigEntry
) -> None:
    """A refresh Enphase answers with an error says so instead of pretending it worked."""
    sim.fail_next(1, 503, endpoint="summary")
    with pytest.raises(HomeAssistantError) as failed:
        await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id})
    assert failed.value.translation_key == "update_server_error"
    assert str(failed.value).startswith("Enphase answered with a server error (HTTP 503)")


async def test_refresh_needs_a_loaded_entry_and_one_of_its_systems(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Unknown, foreign or unloaded entries and devices that are no system are refused."""
    other = MockConfigEntry(domain="other", title="Other")
    other.add_to_hass(hass)
    foreign = device_registry.async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other", str(SYSTEM_ID))}
    )
    budget = get_device(device_registry, loaded, budget_device_identifier(loaded))
    assert budget is not None
    requests = len(sim.request_log)
    cases: list[tuple[dict[str, str], str, str]] = [
        (
            {ATTR_CONFIG_ENTRY_ID: "nope"},
            "entry_not_found",
            "No Enphase Enlighten entry has the id nope",
        ),
        (
            {ATTR_CONFIG_ENTRY_ID: other.entry_id},
            "entry_not_found",
            f"No Enphase Enlighten entry has the id {other.entry_id}",
        ),
    ]
    cases.extend(
        (
            {ATTR_CONFIG_ENTRY_ID: loaded.entry_id, "system": device_id},
            "not_a_system",
            "Choose an Enphase system of Enphase, or one of its devices",
        )
        for device_id in ("nope", budget.id, foreign.id)
    )
    for data, key, message in cases:
        with pytest.raises(ServiceValidationError) as invalid:
            await refresh(hass, data)
        assert invalid.value.translation_key == key
        assert str(invalid.value) == message

    # Services are registered once for the integration: they stay after the entry unloads.
    assert await hass.config_entries.async_unload(loaded.entry_id)
    assert hass.services.has_service(DOMAIN, "refresh")
    with pytest.raises(ServiceValidationError) as invalid:
        await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id})
    assert invalid.value.translation_key == "entry_not_loaded"
    assert "Enphase" in str(invalid.value)
    assert len(sim.request_log) == requests


def test_action_described_and_translated() -> None:
    """services.yaml, strings.json, en.json and icons.json agree on the actions."""
    strings = json.loads((PACKAGE / "strings.json").read_text())
    en = json.loads((PACKAGE / "translations" / "en.json").read_text())
    icons = json.loads((PACKAGE / "icons.json").read_text())
    described = yaml.safe_load((PACKAGE / "services.yaml").read_text())
    assert strings == en
    actions = {"refresh", "import_history", "get_alarms", "get_events"}
    assert set(described) == set(strings["services"]) == set(icons["services"]) == actions
    for action in actions:
        fields = strings["services"][action]["fields"]
        assert set(described[action]["fields"]) == set(fields)
        for field in described[action]["fields"].values():
            selector.validate_selector(field["selector"])
        for field in fields.values():
            assert field["name"]
            assert field["description"]
    source = (PACKAGE / "services.py").read_text()
    used = set(re.findall(r'translation_key="([a-z_]+)"', source))
    assert used == {
        "entry_not_found",
        "entry_not_loaded",
        "not_a_system",
        "refresh_failed",
        "import_budget",
    }
    assert used <= set(strings["exceptions"])


async def test_refresh_before_a_new_upload_answers_from_what_is_held(
    hass: HomeAssistant,
    sim: Simulator,
    loaded: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Refreshing again before the gateway can have uploaded spends nothing, and says so."""
    assert await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id}, response=True)
    summary = loaded.runtime_data.system_data[SYSTEM_ID].summary.data
    requests = len(sim.request_log)
    # Four refreshes in 16 seconds: the gateway uploads every 15 minutes.
    for _ in range(4):
        freezer.tick(timedelta(seconds=4))
        answer = await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id}, response=True)
        assert answer is not None
        assert answer["requests_spent"] == 0
        assert answer["unchanged_systems"] == [SYSTEM_ID]
        assert answer["requests_remaining"] == int(hass.states.get(REMAINING).state)
        await hass.services.async_call(
            "homeassistant", "update_entity", {"entity_id": POWER}, blocking=True
        )
    assert len(sim.request_log) == requests
    assert loaded.runtime_data.system_data[SYSTEM_ID].summary.data is summary

    # Once an upload can exist, the refresh asks Enphase again.
    until_new_upload(freezer, loaded, SYSTEM_ID)
    answer = await refresh(hass, {ATTR_CONFIG_ENTRY_ID: loaded.entry_id}, response=True)
    assert answer is not None
    assert answer["requests_spent"] == 1
    assert answer["unchanged_systems"] == []
    assert [entry["endpoint"] for entry in sim.request_log[requests:]] == ["summary"]
