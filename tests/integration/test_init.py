"""Setting up and unloading an entry, tokens, and devices removed by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from aiohttp import ClientConnectionError
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.const import (
    CONF_API_KEY,
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    CONF_RESERVE_MANUAL,
    CONF_RESERVE_OTHER,
    CONF_SYSTEMS,
    DOMAIN,
)
from tests.ha_compat import get_device

from .conftest import setup_entry

if TYPE_CHECKING:
    from simulator import Simulator

SYSTEM_ID = 698910067


def _expire(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "token": {**entry.data["token"], "expires_at": 0}}
    )


def _reauth_flows(hass: HomeAssistant) -> list[object]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


async def test_setup_and_unload(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """The entry loads every coordinator with one search for the system details."""
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    runtime = config_entry.runtime_data
    assert list(runtime.system_data) == [SYSTEM_ID]
    endpoints = [entry["endpoint"] for entry in sim.request_log]
    assert endpoints.count("search") == 1
    assert "system" not in endpoints
    # Alarms and events: every open one, whatever its age, one request each.
    assert sorted(endpoints) == sorted(
        [
            "search",
            "event_types",
            "summary",
            "devices",
            "open_alarms",
            "open_events",
            "inverters_summary",
        ]
    )
    assert hass.states.get("sensor.sunny_cottage_current_power") is not None

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.NOT_LOADED


async def test_expired_token_refreshed_at_setup(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """A token past its expiry is refreshed (Basic auth, query string) and the new one kept."""
    old = dict(config_entry.data["token"])
    config_entry.add_to_hass(hass)
    _expire(hass, config_entry)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    token = config_entry.data["token"]
    assert token["access_token"] != old["access_token"]
    assert token["refresh_token"] != old["refresh_token"]


async def test_rejected_refresh_token_starts_reauth(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """A refresh token Enphase rejects (revoked) fails setup with reauth."""
    config_entry.add_to_hass(hass)
    _expire(hass, config_entry)
    sim.revoke_refresh_token(config_entry.data["token"]["refresh_token"])
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    assert len(_reauth_flows(hass)) == 1


async def test_token_endpoint_down_at_setup(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """A token endpoint that fails (500) means retry later, not reauth."""
    config_entry.add_to_hass(hass)
    _expire(hass, config_entry)
    sim.fail_next(1, 500, endpoint="token")
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert not _reauth_flows(hass)


async def test_token_endpoint_unreachable_at_setup(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """No answer at all from the token endpoint means retry later."""
    config_entry.add_to_hass(hass)
    _expire(hass, config_entry)
    with patch(
        "custom_components.enphase_enlighten.application_credentials."
        "EnphaseOAuth2Implementation._async_refresh_token",
        side_effect=ClientConnectionError,
    ):
        await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert not _reauth_flows(hass)


async def test_api_unreachable_at_setup(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """A 5xx on the systems search means retry later."""
    sim.fail_next(1, 503, endpoint="search")
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_summary_fails_at_setup(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """A failed summary does not fail the setup: only its entities are unavailable."""
    sim.fail_next(1, 500, endpoint="summary")
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.sunny_cottage_current_power").state == "unavailable"
    assert hass.states.get("binary_sensor.net_meter_problem").state == "off"
    await config_entry.runtime_data.system_data[SYSTEM_ID].summary.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get("sensor.sunny_cottage_current_power").state != "unavailable"


async def test_missing_credentials(
    hass: HomeAssistant, sim: Simulator, config_entry: MockConfigEntry
) -> None:
    """Without application credentials the entry waits for them."""
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_api_key_mismatch_starts_reauth(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """A key from another app is an authentication problem the user must fix."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "api_key": "sim-other-api-key"}
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    assert len(_reauth_flows(hass)) == 1


# Two systems on the partner plan: the reload comes within the setup's minute.
@pytest.mark.parametrize(("sim_scenario", "plan"), [("installer_28", "partner")])
async def test_options_change_reloads(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entry_setups: list[str],
) -> None:
    """A new selection of systems reloads the entry once; a token refresh does not."""
    first, second = sorted(sim.system_ids)[:2]
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options={CONF_SYSTEMS: [first, second]})
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    runtime = config_entry.runtime_data
    # The set-up's first fetches run in the background: have the second system's inventory.
    await runtime.system_data[second].devices.async_refresh()
    await hass.async_block_till_done()
    second_system = get_device(device_registry, config_entry, str(second))
    assert second_system is not None
    second_hardware = [
        device.id
        for device in dr.async_entries_for_config_entry(device_registry, config_entry.entry_id)
        if device.via_device_id == second_system.id
    ]
    assert second_hardware

    # A refreshed token is saved in the entry: no reload.
    _expire(hass, config_entry)
    old_token = config_entry.data["token"]["access_token"]
    assert await runtime.auth.async_get_access_token() != old_token
    await hass.async_block_till_done()
    assert config_entry.runtime_data is runtime
    assert entry_setups == [config_entry.entry_id]

    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SYSTEMS: [str(first)]}
    )
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert entry_setups == [config_entry.entry_id] * 2
    assert list(config_entry.runtime_data.system_data) == [first]
    # The deselected system leaves the registry with its hardware; the other stays.
    assert get_device(device_registry, config_entry, str(second)) is None
    assert all(device_registry.async_get(device_id) is None for device_id in second_hardware)
    assert get_device(device_registry, config_entry, str(first)) is not None


async def test_remove_device_by_hand(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Devices Enphase still lists cannot be deleted; others can."""
    from custom_components.enphase_enlighten import async_remove_config_entry_device

    await setup_entry(hass, config_entry)
    system = get_device(device_registry, config_entry, str(SYSTEM_ID))
    gateway = get_device(device_registry, config_entry, "202323054201")
    micro = get_device(device_registry, config_entry, "902167438951")
    assert system
    assert gateway
    assert micro
    assert not await async_remove_config_entry_device(hass, config_entry, system)
    assert not await async_remove_config_entry_device(hass, config_entry, gateway)
    assert not await async_remove_config_entry_device(hass, config_entry, micro)
    usage = get_device(device_registry, config_entry, f"{config_entry.unique_id}_api")
    assert usage
    assert not await async_remove_config_entry_device(hass, config_entry, usage)
    stale = device_registry.async_get_or_create(
        config_entry_id=config_entry.entry_id, identifiers={(DOMAIN, "000000000000")}
    )
    assert await async_remove_config_entry_device(hass, config_entry, stale)


def _stored(key: str, data: object) -> dict[str, object]:
    return {"version": 1, "minor_version": 1, "key": key, "data": data}


@pytest.mark.parametrize(
    "saved",
    [
        {"fetched_at": "2026-06-21T18:00:00", "event_types": [{"event_type_id": 6}]},
        {"fetched_at": "2026-06-21T18:00:00+00:00", "event_types": "several"},
        ["not", "a", "mapping"],
    ],
    ids=["naive_time", "types_not_a_list", "not_a_mapping"],
)
async def test_unreadable_event_types_store(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    saved: object,
) -> None:
    """Saved event types that cannot be read are fetched again; the entry loads."""
    key = f"{DOMAIN}.event_types"
    hass_storage[key] = _stored(key, saved)
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    assert "saved event types cannot be read" in caplog.text
    assert [entry["endpoint"] for entry in sim.request_log].count("event_types") == 1


async def test_missing_api_key_starts_reauth(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
) -> None:
    """An entry without its API key asks to sign in again (the flow asks for the key)."""
    config_entry.add_to_hass(hass)
    data = dict(config_entry.data)
    del data[CONF_API_KEY]
    hass.config_entries.async_update_entry(config_entry, data=data)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    assert "API key of this entry is missing" in str(config_entry.reason)
    assert len(_reauth_flows(hass)) == 1
    assert sim.request_log == []


@pytest.mark.parametrize(
    ("data", "options", "unreadable"),
    [
        ({CONF_REQUESTS_PER_MINUTE: "ten"}, {}, "requests_per_minute"),
        ({CONF_REQUESTS_PER_MONTH: [1000]}, {}, "requests_per_month"),
        ({}, {CONF_SYSTEMS: [SYSTEM_ID, "abc"]}, "systems"),
        ({}, {CONF_SYSTEMS: [SYSTEM_ID], CONF_RESERVE_OTHER: "lots"}, "reserve_other"),
        ({}, {CONF_SYSTEMS: [SYSTEM_ID], CONF_RESERVE_MANUAL: {"n": 1}}, "reserve_manual"),
    ],
)
async def test_unreadable_settings_use_defaults(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    data: dict[str, object],
    options: dict[str, object],
    unreadable: str,
) -> None:
    """A setting saved as text or of the wrong kind: defaults, and a repair names it."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry,
        data={**config_entry.data, **data},
        options={**config_entry.options, **options},
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert list(config_entry.runtime_data.system_data) == [SYSTEM_ID]
    planner = config_entry.runtime_data.budget.planner
    assert (planner.limits.per_minute, planner.limits.per_month) == (10, 1000)
    assert planner.reserve.other == 0
    issue = issue_registry.async_get_issue(DOMAIN, f"settings_unreadable_{config_entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders["settings"] == unreadable


async def test_limits_saved_as_numeric_text(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Numbers saved as text are read as the numbers they are: no repair."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry,
        data={
            **config_entry.data,
            CONF_PLAN: "custom",
            CONF_REQUESTS_PER_MINUTE: "20",
            CONF_REQUESTS_PER_MONTH: 2000.0,
        },
        options={CONF_SYSTEMS: [str(SYSTEM_ID)], CONF_RESERVE_OTHER: "100"},
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    planner = config_entry.runtime_data.budget.planner
    assert (planner.limits.per_minute, planner.limits.per_month) == (20, 2000)
    assert planner.reserve.other == 100
    assert list(config_entry.runtime_data.system_data) == [SYSTEM_ID]
    assert not issue_registry.issues


async def test_rotated_token_saved_at_once(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A refresh's new token is in the integration's store before it is used."""
    config_entry.add_to_hass(hass)
    _expire(hass, config_entry)
    old = config_entry.data["token"]["refresh_token"]
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    saved = hass_storage[f"{DOMAIN}.token.{config_entry.entry_id}"]["data"]["token"]
    assert saved["refresh_token"] != old
    assert saved["refresh_token"] == config_entry.data["token"]["refresh_token"]
    assert saved["refresh_token"] in sim.refresh_tokens


async def test_token_saved_after_rotation_wins_after_a_crash(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The entry still holds the retired refresh token (not written before a crash): the
    saved newer one is used, and no sign-in is asked for."""
    retired = dict(config_entry.data["token"])
    newest = sim.issue_tokens()
    # What a rotation leaves: the old refresh token no longer accepted, and (so the
    # refresh token is put to use) no access token accepted either.
    sim.revoke_refresh_token(retired["refresh_token"])
    sim.expire_access_tokens()
    key = f"{DOMAIN}.token.{config_entry.entry_id}"
    hass_storage[key] = _stored(
        key, {"token": {**newest, "expires_at": retired["expires_at"] + 60}}
    )
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    assert not _reauth_flows(hass)
    token = config_entry.data["token"]
    assert token["refresh_token"] in sim.refresh_tokens
    assert token["refresh_token"] != newest["refresh_token"]  # used, so rotated again


async def test_older_saved_token_is_ignored(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A saved token older than the entry's (a sign-in since) is not used."""
    current = dict(config_entry.data["token"])
    key = f"{DOMAIN}.token.{config_entry.entry_id}"
    stale = {**current, "refresh_token": "retired", "expires_at": current["expires_at"] - 3600}
    hass_storage[key] = _stored(key, {"token": stale})
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    assert config_entry.data["token"]["refresh_token"] == current["refresh_token"]
