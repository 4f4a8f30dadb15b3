"""Config flow, reauth, reconfigure and options, driven as Home Assistant does, against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import AsyncMock, patch

import aiohttp
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, OptionsFlowManager
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowManager, FlowResultType, section
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol
from yarl import URL

from custom_components.enphase_enlighten.api import EnphaseClient
from custom_components.enphase_enlighten.budget import storage_key
from custom_components.enphase_enlighten.const import (
    CONF_API_KEY,
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    CONF_RESERVE_MANUAL,
    CONF_RESERVE_OTHER,
    CONF_SYSTEMS,
    DOMAIN,
    PLANS,
)

from .conftest import API_KEY, CLIENT_ID, setup_entry

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.config_entries import ConfigFlowResult
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from simulator import Simulator

REDIRECT_URI = "https://example.com/auth/external/callback"
SYSTEM_ID = 698910067
GATEWAY_SERIAL = "202323054201"
NEIGHBOUR_USER_ID = 9000001
OTHER_API_KEY = "sim-other-api-key"
CONF_SERIAL_NUMBER = "serial_number"
CONF_RESERVE = "reserve"

pytestmark = pytest.mark.usefixtures("current_request_with_host", "setup_credentials")

TRANSLATIONS = json.loads(
    (
        Path(__file__).parents[2] / "custom_components" / DOMAIN / "translations" / "en.json"
    ).read_text()
)


@pytest.fixture(autouse=True)
def check_translations() -> Iterator[None]:
    """Fail a test whose flow showed a step, error or abort reason with no English text.

    Home Assistant core runs such a check on its own integrations; the custom-component
    test plugin does not, so this records every flow result and checks it afterwards.
    """
    results: list[tuple[str, Any]] = []
    handle_step = FlowManager._async_handle_step

    async def recording(self: FlowManager, *args: Any, **kwargs: Any) -> Any:
        result = await handle_step(self, *args, **kwargs)
        results.append(("options" if isinstance(self, OptionsFlowManager) else "config", result))
        return result

    with patch.object(FlowManager, "_async_handle_step", recording):
        yield
    for category, result in results:
        strings = TRANSLATIONS[category]
        if result["type"] is FlowResultType.ABORT:
            assert result["reason"] in strings["abort"], result["reason"]
        elif result["type"] is FlowResultType.FORM:
            step = strings["step"][result["step_id"]]
            for error in (result["errors"] or {}).values():
                assert error in strings["error"], error
            for field, value in (
                result["data_schema"].schema.items() if result["data_schema"] else ()
            ):
                texts = step
                fields = [field]
                if isinstance(value, section):
                    # A section has a name, and its own texts for the fields in it.
                    texts = step["sections"][str(field)]
                    assert texts["name"], field
                    fields = list(value.schema.schema)
                for inner in fields:
                    assert str(inner) in texts["data"], inner
                    assert str(inner) in texts["data_description"], inner


@pytest.fixture
def mock_setup_entry() -> Iterator[AsyncMock]:
    """Keep the created entries from polling: this module tests the flow only."""
    with (
        patch(
            "custom_components.enphase_enlighten.async_setup_entry", return_value=True
        ) as mock_setup,
        patch("custom_components.enphase_enlighten.async_unload_entry", return_value=True),
    ):
        yield mock_setup


async def _sign_in(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    result: ConfigFlowResult,
    sim_url: str,
) -> ConfigFlowResult:
    """Follow the authorize URL to the simulator and its redirect back to Home Assistant."""
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    url = URL(result["url"])
    assert str(url.with_query(None)) == f"{sim_url}/oauth/authorize"
    assert url.query["response_type"] == "code"
    assert url.query["client_id"] == CLIENT_ID
    assert url.query["redirect_uri"] == REDIRECT_URI
    assert "scope" not in url.query
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, allow_redirects=False) as resp,
    ):
        assert resp.status == 302
        location = URL(resp.headers["Location"])
    assert str(location.with_query(None)) == REDIRECT_URI
    assert location.query["state"] == url.query["state"]
    client = await hass_client_no_auth()
    resp = await client.get(
        "/auth/external/callback",
        params={"code": location.query["code"], "state": location.query["state"]},
    )
    assert resp.status == 200
    return await hass.config_entries.flow.async_configure(result["flow_id"])


async def _start(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, sim_url: str
) -> ConfigFlowResult:
    """Start a user flow and sign in; return what follows the sign-in."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return await _sign_in(hass, hass_client_no_auth, result, sim_url)


async def _configure(result: ConfigFlowResult, hass: HomeAssistant, **user_input: Any) -> Any:
    return await hass.config_entries.flow.async_configure(result["flow_id"], user_input)


def _suggested(result: ConfigFlowResult, field: str) -> Any:
    """Return the suggested value of a form field, or None."""
    schema = result["data_schema"]
    assert schema is not None
    for key in schema.schema:
        if key == field:
            return (key.description or {}).get("suggested_value")
    raise AssertionError(f"no field {field}")


def _select_options(result: ConfigFlowResult, field: str = CONF_SYSTEMS) -> list[dict[str, str]]:
    schema = result["data_schema"]
    assert schema is not None
    selector = next(value for key, value in schema.schema.items() if key == field)
    return list(selector.config["options"])


def _token_requests(sim: Simulator) -> list[dict[str, Any]]:
    return [entry for entry in sim.request_log if entry["endpoint"] == "token"]


def _server_calls(sim: Simulator) -> list[str]:
    """Endpoints Home Assistant called (the browser's visit to the authorize page left out)."""
    return [entry["endpoint"] for entry in sim.request_log if entry["endpoint"] != "authorize"]


# --- the whole flow ------------------------------------------------------------------


async def test_full_flow(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    mock_setup_entry: AsyncMock,
) -> None:
    """Sign in, API key, systems, plan: one entry exactly per the data contract."""
    result = await _start(hass, hass_client_no_auth, sim_url)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    assert result["description_placeholders"] == {
        "developer_url": "https://developer-v4.enphase.com"
    }
    # The code exchange went with Basic auth (the simulator refuses anything else) and
    # its grant parameters in the query string, with nothing else there.
    (token_request,) = _token_requests(sim)
    assert token_request["status"] == 200
    assert token_request["method"] == "POST"
    assert token_request["query"] == {
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT_URI,
    }
    # Nothing is stored and nothing is checked before the key is known.
    assert hass.config_entries.async_entries(DOMAIN) == []
    assert _server_calls(sim) == ["token"]

    result = await _configure(result, hass, api_key=f"  {API_KEY} ")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "systems"
    assert _select_options(result) == [
        {"value": str(SYSTEM_ID), "label": f"Sunny Cottage ({SYSTEM_ID})"}
    ]
    # A homeowner's only system comes ticked.
    assert _suggested(result, CONF_SYSTEMS) == [str(SYSTEM_ID)]
    systems_requests = [entry for entry in sim.request_log if entry["endpoint"] == "systems"]
    assert len(systems_requests) == 1
    assert systems_requests[0]["api_key"] == API_KEY[:8]

    result = await _configure(result, hass, systems=[str(SYSTEM_ID)])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "plan"

    result = await _configure(result, hass, plan="watt")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Sunny Cottage"
    entry = result["result"]
    assert entry.unique_id == str(sim.default_user_id)
    token = entry.data["token"]
    assert token["enl_uid"] == sim.default_user_id
    assert token["refresh_token"] in sim.refresh_tokens
    assert token["access_token"] in sim.access_tokens
    assert "expires_at" in token
    assert entry.data == {
        "auth_implementation": DOMAIN,
        "token": token,
        CONF_API_KEY: API_KEY,
        CONF_PLAN: "watt",
        CONF_REQUESTS_PER_MINUTE: 10,
        CONF_REQUESTS_PER_MONTH: 1000,
    }
    assert entry.options == {CONF_SYSTEMS: [SYSTEM_ID]}
    assert len(mock_setup_entry.mock_calls) == 1


@pytest.mark.parametrize("sim_scenario", ["installer_28"])
async def test_installer_account_lists_every_system(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    mock_setup_entry: AsyncMock,
) -> None:
    """Every system of an installer account is offered, none ticked, no address shown."""
    sim.set_plan(api_key=API_KEY, plan="partner")
    result = await _start(hass, hass_client_no_auth, sim_url)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "systems"
    options = _select_options(result)
    assert sorted(int(option["value"]) for option in options) == sorted(sim.system_ids)
    assert len(options) == 28
    assert _suggested(result, CONF_SYSTEMS) == []
    # Labels are the names the owner gave (which may say anything) and the id; the flow
    # adds nothing from the address.
    for option in options:
        system = sim.system(int(option["value"]))
        assert option["label"] == f"{system.spec['name']} ({system.system_id})"
        assert system.spec["address"]["postal_code"] not in option["label"]

    chosen = [options[0]["value"], options[5]["value"]]
    result = await _configure(result, hass, systems=chosen)
    result = await _configure(result, hass, plan="partner")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Enphase Enlighten"
    assert result["result"].options == {CONF_SYSTEMS: sorted(int(value) for value in chosen)}
    assert result["result"].data[CONF_REQUESTS_PER_MONTH] == 1_500_000


# --- sign-in problems ----------------------------------------------------------------


async def test_already_configured(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
) -> None:
    """A second entry for the same Enphase account aborts right after the sign-in."""
    config_entry.add_to_hass(hass)
    result = await _start(hass, hass_client_no_auth, sim_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert _server_calls(sim) == ["token"]


async def test_token_response_without_account_id(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without enl_uid the account cannot be told apart: abort with a reason."""
    issue_tokens = sim.issue_tokens

    def issue_without_uid(*args: Any, **kwargs: Any) -> dict[str, Any]:
        token = issue_tokens(*args, **kwargs)
        del token["enl_uid"]
        return token

    monkeypatch.setattr(sim, "issue_tokens", issue_without_uid)
    result = await _start(hass, hass_client_no_auth, sim_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "missing_account_id"


@pytest.mark.parametrize(("status", "reason"), [(401, "oauth_unauthorized"), (500, "oauth_failed")])
async def test_token_exchange_fails(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    caplog: pytest.LogCaptureFixture,
    status: int,
    reason: str,
) -> None:
    """A refused or failing code exchange aborts without storing anything or logging the code."""
    sim.fail_next(1, status, endpoint="token")
    result = await _start(hass, hass_client_no_auth, sim_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert hass.config_entries.async_entries(DOMAIN) == []
    (code,) = sim.codes
    logged = [
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith("aiohttp")  # the simulator's own access log
    ]
    assert any("failed" in message for message in logged)
    assert not any(code in message or "sim-client-secret" in message for message in logged)


# --- the API key step ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_key", "fault", "error"),
    [
        ("not-a-key", None, "invalid_api_key"),
        (API_KEY, 401, "invalid_api_key"),
        (OTHER_API_KEY, None, "api_key_mismatch"),
        (API_KEY, 429, "quota_exceeded"),
        (API_KEY, 500, "cannot_connect"),
        (API_KEY, 503, "cannot_connect"),
        (API_KEY, 403, "unknown"),
    ],
)
async def test_api_key_errors_then_retry(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    mock_setup_entry: AsyncMock,
    api_key: str,
    fault: int | None,
    error: str,
) -> None:
    """Each failure of the key check has its own message and the user can retry."""
    result = await _start(hass, hass_client_no_auth, sim_url)
    if fault is not None:
        sim.fail_next(1, fault, endpoint="systems")
    result = await _configure(result, hass, api_key=api_key)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    assert result["errors"] == {"base": error}
    assert _suggested(result, CONF_API_KEY) == api_key
    assert hass.config_entries.async_entries(DOMAIN) == []

    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "systems"


async def test_api_key_cannot_connect(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim_url: str,
    monkeypatch: pytest.MonkeyPatch,
    unused_tcp_port: int,
) -> None:
    """No answer at all from Enphase is "cannot connect", and a retry works."""
    result = await _start(hass, hass_client_no_auth, sim_url)
    monkeypatch.setenv("ENPHASE_ENLIGHTEN_API_URL", f"http://127.0.0.1:{unused_tcp_port}")
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["errors"] == {"base": "cannot_connect"}

    monkeypatch.setenv("ENPHASE_ENLIGHTEN_API_URL", sim_url)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "systems"


async def test_api_key_unexpected_error(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim_url: str,
) -> None:
    """A bug-level error is reported as unexpected, not as a crash."""
    result = await _start(hass, hass_client_no_auth, sim_url)
    with patch.object(EnphaseClient, "all_systems", side_effect=RuntimeError("boom")):
        result = await _configure(result, hass, api_key=API_KEY)
    assert result["errors"] == {"base": "unknown"}
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "systems"


async def test_account_without_systems(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
) -> None:
    """An account with no systems cannot go further; adding one lets the user go on."""
    sim.users[sim.default_user_id].system_ids.clear()
    result = await _start(hass, hass_client_no_auth, sim_url)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["errors"] == {"base": "no_systems"}

    sim.users[sim.default_user_id].system_ids.append(SYSTEM_ID)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "systems"


# --- the systems step ----------------------------------------------------------------


async def _systems_step(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, sim_url: str
) -> ConfigFlowResult:
    result = await _start(hass, hass_client_no_auth, sim_url)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "systems"
    return result


async def test_systems_by_gateway_serial(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    mock_setup_entry: AsyncMock,
) -> None:
    """Nothing chosen is refused; an unknown serial is refused on its field; a known one works."""
    result = await _systems_step(hass, hass_client_no_auth, sim_url)

    result = await _configure(result, hass, systems=[])
    assert result["errors"] == {"base": "no_systems_selected"}

    result = await _configure(result, hass, systems=[], serial_number="999999999999")
    assert result["errors"] == {CONF_SERIAL_NUMBER: "serial_not_found"}
    assert _suggested(result, CONF_SERIAL_NUMBER) == "999999999999"

    # A serial number that is not even well-formed for Enphase (422) is not found either.
    result = await _configure(result, hass, systems=[], serial_number=" ")
    assert result["errors"] == {"base": "no_systems_selected"}

    result = await _configure(result, hass, systems=[], serial_number=f" {GATEWAY_SERIAL} ")
    assert result["step_id"] == "plan"
    lookups = [entry for entry in sim.request_log if entry["endpoint"] == "retrieve_system_id"]
    assert [entry["status"] for entry in lookups] == [404, 200]

    result = await _configure(result, hass, plan="watt")
    assert result["result"].options == {CONF_SYSTEMS: [SYSTEM_ID]}


@pytest.mark.parametrize(
    ("status", "errors"),
    [
        (403, {CONF_SERIAL_NUMBER: "serial_not_found"}),
        (422, {CONF_SERIAL_NUMBER: "serial_not_found"}),
        (429, {"base": "quota_exceeded"}),
        (500, {"base": "cannot_connect"}),
    ],
)
async def test_serial_lookup_errors(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    status: int,
    errors: dict[str, str],
) -> None:
    """Lookup failures are shown on the form and the lookup can be retried."""
    result = await _systems_step(hass, hass_client_no_auth, sim_url)
    sim.fail_next(1, status, endpoint="retrieve_system_id")
    result = await _configure(result, hass, serial_number=GATEWAY_SERIAL)
    assert result["step_id"] == "systems"
    assert result["errors"] == errors

    result = await _configure(result, hass, serial_number=GATEWAY_SERIAL)
    assert result["step_id"] == "plan"


async def test_serial_lookup_unexpected_error(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim_url: str,
) -> None:
    """A bug-level error in the lookup is reported as unexpected."""
    result = await _systems_step(hass, hass_client_no_auth, sim_url)
    with patch.object(EnphaseClient, "retrieve_system_id", side_effect=RuntimeError("boom")):
        result = await _configure(result, hass, serial_number=GATEWAY_SERIAL)
    assert result["errors"] == {"base": "unknown"}


# --- the plan step -------------------------------------------------------------------


@pytest.mark.parametrize("plan", list(PLANS))
async def test_named_plans(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim_url: str,
    mock_setup_entry: AsyncMock,
    plan: str,
) -> None:
    """A named plan stores its own limits, whatever was typed in the custom fields."""
    result = await _systems_step(hass, hass_client_no_auth, sim_url)
    result = await _configure(result, hass, systems=[str(SYSTEM_ID)])
    result = await _configure(result, hass, plan=plan, requests_per_minute=1, requests_per_month=2)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    per_minute, per_month = PLANS[plan]
    assert result["data"][CONF_PLAN] == plan
    assert result["data"][CONF_REQUESTS_PER_MINUTE] == per_minute
    assert result["data"][CONF_REQUESTS_PER_MONTH] == per_month


async def test_custom_plan_validation(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim_url: str,
    mock_setup_entry: AsyncMock,
) -> None:
    """Custom limits must both be given, per minute no larger than per month."""
    result = await _systems_step(hass, hass_client_no_auth, sim_url)
    result = await _configure(result, hass, systems=[str(SYSTEM_ID)])

    result = await _configure(result, hass, plan="custom")
    assert result["step_id"] == "plan"
    assert result["errors"] == {
        CONF_REQUESTS_PER_MINUTE: "limit_required",
        CONF_REQUESTS_PER_MONTH: "limit_required",
    }

    result = await _configure(result, hass, plan="custom", requests_per_minute=20)
    assert result["errors"] == {CONF_REQUESTS_PER_MONTH: "limit_required"}
    assert _suggested(result, CONF_REQUESTS_PER_MINUTE) == 20

    result = await _configure(
        result, hass, plan="custom", requests_per_minute=200, requests_per_month=100
    )
    assert result["errors"] == {"base": "minute_above_month"}

    # A limit of 0 gets the flow's own translated error, and replaces the previous errors
    # (the selector's untranslated "Value 0.0 is too small" used to come instead).
    result = await _configure(
        result, hass, plan="custom", requests_per_minute=0, requests_per_month=100
    )
    assert result["step_id"] == "plan"
    assert result["errors"] == {CONF_REQUESTS_PER_MINUTE: "limit_too_small"}
    result = await _configure(
        result, hass, plan="custom", requests_per_minute=10, requests_per_month=0.5
    )
    assert result["errors"] == {CONF_REQUESTS_PER_MONTH: "limit_too_small"}
    assert TRANSLATIONS["config"]["error"]["limit_too_small"]
    assert "Watt" not in TRANSLATIONS["config"]["step"]["plan"]["data_description"]["plan"]

    result = await _configure(
        result, hass, plan="custom", requests_per_minute=20.0, requests_per_month=5000
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PLAN] == "custom"
    assert result["data"][CONF_REQUESTS_PER_MINUTE] == 20
    assert result["data"][CONF_REQUESTS_PER_MONTH] == 5000
    assert isinstance(result["data"][CONF_REQUESTS_PER_MINUTE], int)


# --- reauthentication ----------------------------------------------------------------


async def test_reauth(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
) -> None:
    """Signing in again keeps the entry and stores the new token after checking the key."""
    config_entry.add_to_hass(hass)
    old_token = dict(config_entry.data["token"])
    result = await config_entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] == {"name": config_entry.title}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await _sign_in(hass, hass_client_no_auth, result, sim_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"

    token = config_entry.data["token"]
    assert token["access_token"] != old_token["access_token"]
    assert token["refresh_token"] != old_token["refresh_token"]
    assert token["refresh_token"] in sim.refresh_tokens
    assert config_entry.data[CONF_API_KEY] == API_KEY
    assert config_entry.options == {CONF_SYSTEMS: sim.system_ids}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    # The stored key was re-checked with the new token before anything was saved.
    assert _server_calls(sim) == ["token", "systems"]


async def test_reauth_wrong_account(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
) -> None:
    """Signing in to another Enphase account is refused and changes nothing."""
    config_entry.add_to_hass(hass)
    data = dict(config_entry.data)
    sim.auto_approve_user_id = NEIGHBOUR_USER_ID
    result = await config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await _sign_in(hass, hass_client_no_auth, result, sim_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert dict(config_entry.data) == data
    assert config_entry.unique_id == str(sim.default_user_id)


async def test_reauth_with_a_key_that_no_longer_fits(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
) -> None:
    """When the stored key fails with the new sign-in, the key form asks for the right one."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_API_KEY: OTHER_API_KEY}
    )
    result = await config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await _sign_in(hass, hass_client_no_auth, result, sim_url)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    assert result["errors"] == {"base": "api_key_mismatch"}

    result = await _configure(result, hass, api_key=API_KEY)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert config_entry.data[CONF_API_KEY] == API_KEY


# --- reconfigure ---------------------------------------------------------------------


def _expire_token(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "token": {**entry.data["token"], "expires_at": 0}}
    )


async def test_reconfigure(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
) -> None:
    """The key is re-checked (a wrong one refused) and the plan changed; the entry reloads."""
    config_entry.add_to_hass(hass)
    token = dict(config_entry.data["token"])
    result = await config_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    assert _suggested(result, CONF_API_KEY) == API_KEY

    result = await _configure(result, hass, api_key=OTHER_API_KEY)
    assert result["errors"] == {"base": "api_key_mismatch"}

    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "plan"
    assert _suggested(result, CONF_PLAN) == "watt"
    assert _suggested(result, CONF_REQUESTS_PER_MINUTE) is None

    result = await _configure(result, hass, plan="kilowatt")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.data == {
        "auth_implementation": DOMAIN,
        "token": token,
        CONF_API_KEY: API_KEY,
        CONF_PLAN: "kilowatt",
        CONF_REQUESTS_PER_MINUTE: 50,
        CONF_REQUESTS_PER_MONTH: 50_000,
    }
    # The reload is scheduled, not awaited by the flow.
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 1


async def test_reconfigure_custom_plan_and_rotated_token(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
) -> None:
    """An expired token is refreshed, and the rotated refresh token is kept in the entry."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry,
        data={
            **config_entry.data,
            CONF_PLAN: "custom",
            CONF_REQUESTS_PER_MINUTE: 7,
            CONF_REQUESTS_PER_MONTH: 700,
        },
    )
    _expire_token(hass, config_entry)
    old_refresh = config_entry.data["token"]["refresh_token"]

    result = await config_entry.start_reconfigure_flow(hass)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "plan"
    assert _suggested(result, CONF_PLAN) == "custom"
    assert _suggested(result, CONF_REQUESTS_PER_MINUTE) == 7
    assert _suggested(result, CONF_REQUESTS_PER_MONTH) == 700

    new_token = config_entry.data["token"]
    assert new_token["refresh_token"] != old_refresh
    assert sim.refresh_tokens[old_refresh].used
    assert new_token["refresh_token"] in sim.refresh_tokens
    (refresh,) = _token_requests(sim)
    assert refresh["query"] == {"grant_type": "refresh_token"}

    result = await _configure(
        result, hass, plan="custom", requests_per_minute=8, requests_per_month=800
    )
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.data["token"] == new_token
    assert config_entry.data[CONF_REQUESTS_PER_MINUTE] == 8
    assert config_entry.data[CONF_REQUESTS_PER_MONTH] == 800


async def test_reconfigure_refresh_token_rejected(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
) -> None:
    """A rejected refresh token cannot be fixed here: abort and point to reauthentication."""
    config_entry.add_to_hass(hass)
    _expire_token(hass, config_entry)
    sim.revoke_refresh_token(config_entry.data["token"]["refresh_token"])
    result = await config_entry.start_reconfigure_flow(hass)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_required"
    # Home Assistant starts no reauth while this reconfigure flow runs; the entry's own
    # setup or next poll hits the same rejection and offers it.


async def test_reconfigure_token_endpoint_down(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
) -> None:
    """A token endpoint that fails (5xx) is "cannot connect", and a retry works."""
    config_entry.add_to_hass(hass)
    _expire_token(hass, config_entry)
    sim.fail_next(1, 500, endpoint="token")
    result = await config_entry.start_reconfigure_flow(hass)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["errors"] == {"base": "cannot_connect"}
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "plan"


async def test_reconfigure_loaded_entry(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    entry_setups: list[str],
) -> None:
    """A loaded entry shares its refresh path with the flow, then reloads once, new plan on."""
    sim.set_plan(api_key=API_KEY, plan="partner")
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    assert entry_setups == [config_entry.entry_id]
    runtime = config_entry.runtime_data
    _expire_token(hass, config_entry)
    old_refresh = config_entry.data["token"]["refresh_token"]
    sim.clear_request_log()

    with patch.object(
        runtime.auth, "async_get_access_token", wraps=runtime.auth.async_get_access_token
    ) as get_token:
        result = await config_entry.start_reconfigure_flow(hass)
        result = await _configure(result, hass, api_key=API_KEY)
    assert get_token.await_count == 1
    assert config_entry.data["token"]["refresh_token"] != old_refresh
    assert len(_token_requests(sim)) == 1
    # The refreshed token is saved in the entry, which reloads nothing.
    await hass.async_block_till_done()
    assert config_entry.runtime_data is runtime
    assert entry_setups == [config_entry.entry_id]

    result = await _configure(result, hass, plan="partner")
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert config_entry.runtime_data is not runtime
    assert config_entry.data[CONF_PLAN] == "partner"
    # Exactly one reload: the flow's, with no update listener reloading as well.
    assert entry_setups == [config_entry.entry_id] * 2
    assert await hass.config_entries.async_unload(config_entry.entry_id)


# --- options -------------------------------------------------------------------------


async def test_options(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
) -> None:
    """The account's systems are offered, the current ones ticked; the choice is stored."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options={CONF_SYSTEMS: [SYSTEM_ID, 1]})
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    # A selected system the account no longer lists stays visible, so it can be unticked.
    assert _select_options(result) == [
        {"value": str(SYSTEM_ID), "label": f"Sunny Cottage ({SYSTEM_ID})"},
        {"value": "1", "label": "1"},
    ]
    assert _suggested(result, CONF_SYSTEMS) == [str(SYSTEM_ID), "1"]

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SYSTEMS: []}
    )
    assert result["errors"] == {"base": "no_systems_selected"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SYSTEMS: [], CONF_SERIAL_NUMBER: "999999999999"}
    )
    assert result["errors"] == {CONF_SERIAL_NUMBER: "serial_not_found"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SYSTEMS: [], CONF_SERIAL_NUMBER: GATEWAY_SERIAL}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options == {CONF_SYSTEMS: [SYSTEM_ID]}
    # One systems listing and two lookups; the listing was not repeated on each submit.
    endpoints = [entry["endpoint"] for entry in sim.request_log]
    assert endpoints == ["systems", "retrieve_system_id", "retrieve_system_id"]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(500, "cannot_connect"), (429, "quota_exceeded"), (401, "invalid_api_key")],
)
async def test_options_cannot_list_systems(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    fault: int,
    reason: str,
) -> None:
    """Without the account's systems there is nothing to choose from: abort with why."""
    config_entry.add_to_hass(hass)
    sim.fail_next(1, fault, endpoint="systems")
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_options_refresh_token_rejected(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
) -> None:
    """A rejected refresh token aborts the options flow and points to reauthentication."""
    config_entry.add_to_hass(hass)
    _expire_token(hass, config_entry)
    sim.revoke_refresh_token(config_entry.data["token"]["refresh_token"])
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_required"
    await hass.async_block_till_done()
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == "reauth"


# The entry is on the partner plan too: the reload comes within the setup's minute, which
# on the Watt plan is full (the first alarms fetch reads four weeks).
@pytest.mark.parametrize(("sim_scenario", "plan"), [("installer_28", "partner")])
async def test_options_change_reloads_loaded_entry(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    entry_setups: list[str],
) -> None:
    """A new selection reloads the entry once with the chosen systems; the same one does not."""
    first, second, *_ = sorted(sim.system_ids)
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options={CONF_SYSTEMS: [first]})
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    runtime = config_entry.runtime_data
    assert list(runtime.system_data) == [first]
    assert entry_setups == [config_entry.entry_id]

    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SYSTEMS: [str(first), str(second)]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert config_entry.runtime_data is not runtime
    assert sorted(config_entry.runtime_data.system_data) == [first, second]
    assert entry_setups == [config_entry.entry_id] * 2

    # Saving the options unchanged reloads nothing.
    runtime = config_entry.runtime_data
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SYSTEMS: [str(first), str(second)]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert config_entry.runtime_data is runtime
    assert entry_setups == [config_entry.entry_id] * 2
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_rejected_refresh_token_reauth_restores_the_entry(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    entry_setups: list[str],
) -> None:
    """Enphase refusing the refresh token starts this reauth; finishing it loads the entry."""
    sim.set_plan(api_key=API_KEY, plan="partner")
    config_entry.add_to_hass(hass)
    _expire_token(hass, config_entry)
    sim.revoke_refresh_token(config_entry.data["token"]["refresh_token"])
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    result = await _sign_in(hass, hass_client_no_auth, result, sim_url)
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    # The failed setup, then the one reload that finishing the reauth flow asks for.
    assert entry_setups == [config_entry.entry_id] * 2
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_reconfigure_and_options_without_credentials(
    hass: HomeAssistant,
    sim_url: str,
    config_entry: MockConfigEntry,
) -> None:
    """Deleted application credentials abort with a reason instead of an error page."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "auth_implementation": "deleted"}
    )
    result = await config_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "missing_credentials"

    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "missing_credentials"


@pytest.mark.parametrize("sim_scenario", ["installer_28"])
async def test_systems_on_several_pages(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
) -> None:
    """An account with more systems than one page holds offers them all."""
    sim.set_plan(api_key=API_KEY, plan="partner")
    template = sim.system(sim.system_ids[0]).spec
    for number in range(1, 101):
        sim.add_system(
            {
                **template,
                "system_id": 703000000 + number,
                "name": f"Extra {number}",
                "devices": {},
                "events": [],
                "alarms": [],
            }
        )
    result = await _start(hass, hass_client_no_auth, sim_url)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "systems"
    assert len(_select_options(result)) == 128
    pages = [entry["query"] for entry in sim.request_log if entry["endpoint"] == "systems"]
    assert pages == [{"page": "1", "size": "100"}, {"page": "2", "size": "100"}]


# --- the request reserve (options) ------------------------------------------------------


def _reserve_suggestions(result: ConfigFlowResult) -> dict[str, Any]:
    """Return the suggested values of the reserve section's fields."""
    schema = result["data_schema"]
    assert schema is not None
    reserve = next(value for key, value in schema.schema.items() if key == CONF_RESERVE)
    assert isinstance(reserve, section)
    assert reserve.options["collapsed"] is True
    return {
        str(key): (key.description or {}).get("suggested_value") for key in reserve.schema.schema
    }


async def test_options_reserve(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
) -> None:
    """The reserve is offered with the planner's defaults, validated, and stored if changed."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options={CONF_SYSTEMS: [SYSTEM_ID]})
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    # Formatted as the reader writes numbers: "1,000", not "1000".
    assert result["description_placeholders"] == {"quota": "1,000"}
    # Nothing for other programs; 3% of the Watt plan's 1,000 for manual refreshes.
    assert _reserve_suggestions(result) == {CONF_RESERVE_OTHER: 0, CONF_RESERVE_MANUAL: 30}

    systems = [str(SYSTEM_ID)]
    for reserve, error in (
        ({CONF_RESERVE_OTHER: 2.5, CONF_RESERVE_MANUAL: 30}, "reserve_not_whole"),
        ({CONF_RESERVE_OTHER: 900, CONF_RESERVE_MANUAL: 100}, "reserve_too_large"),
        ({CONF_RESERVE_OTHER: 1000}, "reserve_too_large"),
    ):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_SYSTEMS: systems, CONF_SERIAL_NUMBER: GATEWAY_SERIAL, CONF_RESERVE: reserve},
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": error}
        # What the user typed stays in the form.
        assert _reserve_suggestions(result) == {
            CONF_RESERVE_OTHER: reserve[CONF_RESERVE_OTHER],
            CONF_RESERVE_MANUAL: reserve.get(CONF_RESERVE_MANUAL),
        }
    # A negative reserve is refused by the form itself.
    with pytest.raises(vol.Invalid):
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_SYSTEMS: systems, CONF_RESERVE: {CONF_RESERVE_OTHER: -1}},
        )
    # An invalid reserve spends no request on the serial number lookup.
    assert _server_calls(sim) == ["systems"]

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SYSTEMS: systems, CONF_RESERVE: {CONF_RESERVE_OTHER: 200, CONF_RESERVE_MANUAL: 50}},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options == {
        CONF_SYSTEMS: [SYSTEM_ID],
        CONF_RESERVE_OTHER: 200,
        CONF_RESERVE_MANUAL: 50,
    }
    assert type(config_entry.options[CONF_RESERVE_OTHER]) is int
    # New options: the entry is loaded again (set up, as it was not loaded), once.
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 1
    assert await hass.config_entries.async_unload(config_entry.entry_id)

    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert _reserve_suggestions(result) == {CONF_RESERVE_OTHER: 200, CONF_RESERVE_MANUAL: 50}
    # Back to the defaults (typed, or fields emptied): nothing stored, so the manual
    # reserve follows the plan again.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_SYSTEMS: systems, CONF_RESERVE: {CONF_RESERVE_OTHER: 0, CONF_RESERVE_MANUAL: 30}},
    )
    assert config_entry.options == {CONF_SYSTEMS: [SYSTEM_ID]}
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 2
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SYSTEMS: systems, CONF_RESERVE: {}}
    )
    assert config_entry.options == {CONF_SYSTEMS: [SYSTEM_ID]}
    # The same options again: no reload.
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 2


async def test_options_reserve_that_no_longer_fits(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reserve set on a bigger plan is shown as the default one the entry now uses."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_SYSTEMS: [SYSTEM_ID], CONF_RESERVE_OTHER: 5000}
    )
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert _reserve_suggestions(result) == {CONF_RESERVE_OTHER: 0, CONF_RESERVE_MANUAL: 30}
    assert "does not fit its plan's 1000 requests a month" in caplog.text


# --- requests made by the flows count against the key's quota -----------------------


def _api_calls(sim: Simulator) -> list[dict[str, Any]]:
    """Requests to the Enphase API (sign-in requests are not in the quota)."""
    return [entry for entry in sim.request_log if entry["path"].startswith("/api/v4/")]


async def test_flow_requests_counted(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    hass_storage: dict[str, Any],
    sim: Simulator,
    sim_url: str,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The key check, serial lookups and an options flow count in the key's monthly count."""
    result = await _start(hass, hass_client_no_auth, sim_url)
    # A key Enphase does not know has no quota to count in: nothing is saved for it.
    result = await _configure(result, hass, api_key="not-a-key")
    assert result["errors"] == {"base": "invalid_api_key"}
    assert storage_key("not-a-key") not in hass_storage
    unknown_key_calls = len(_api_calls(sim))
    assert unknown_key_calls == 1

    result = await _configure(result, hass, api_key=API_KEY)
    result = await _configure(
        result, hass, **{CONF_SYSTEMS: [], CONF_SERIAL_NUMBER: "999999999999"}
    )
    assert result["errors"] == {CONF_SERIAL_NUMBER: "serial_not_found"}
    # Saved before any entry exists (a failed lookup counts too).
    assert hass_storage[storage_key(API_KEY)]["data"]["used"] == 2
    result = await _configure(
        result, hass, **{CONF_SYSTEMS: [], CONF_SERIAL_NUMBER: GATEWAY_SERIAL}
    )
    result = await _configure(result, hass, plan="watt")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED

    flow_calls = ["systems", "retrieve_system_id", "retrieve_system_id"]
    calls = _api_calls(sim)[unknown_key_calls:]
    assert [call["endpoint"] for call in calls[:3]] == flow_calls
    # The setup's own requests follow; the count holds both, and the setup's minute counts
    # the flow's requests (no 429 on the Watt plan).
    assert len(calls) > 3
    assert [call for call in calls if call["status"] == 429] == []
    planner = entry.runtime_data.budget.planner
    assert planner.endpoint_counts["retrieve_system_id"] == 2
    (used,) = [
        state
        for state in hass.states.async_all("sensor")
        if state.entity_id.endswith("_requests_used_this_month")
    ]
    assert used.state == str(len(calls))

    # An options flow of the loaded entry counts in its planner, and the sensor shows it
    # (in the next minute: the flow and the setup's four-week alarms read filled this one).
    freezer.tick(60)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    await hass.async_block_till_done()
    assert hass.states.get(used.entity_id).state == str(len(calls) + 1)
    assert hass_storage[storage_key(API_KEY)]["data"]["used"] == len(calls) + 1
    hass.config_entries.options.async_abort(result["flow_id"])
    assert await hass.config_entries.async_unload(entry.entry_id)


# --- an entry that lost its API key (edited by hand) ---------------------------------


def _without_api_key(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    data = dict(entry.data)
    del data[CONF_API_KEY]
    hass.config_entries.async_update_entry(entry, data=data)


async def test_reauth_asks_for_a_missing_api_key(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
) -> None:
    """Signing in again to an entry without its key asks for the key and stores it."""
    config_entry.add_to_hass(hass)
    _without_api_key(hass, config_entry)
    result = await config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await _sign_in(hass, hass_client_no_auth, result, sim_url)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    assert result["errors"] == {}

    result = await _configure(result, hass, api_key=API_KEY)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert config_entry.data[CONF_API_KEY] == API_KEY


async def test_reconfigure_without_api_key(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
) -> None:
    """Reconfiguring an entry without its key shows the key form, empty, and stores the key."""
    config_entry.add_to_hass(hass)
    _without_api_key(hass, config_entry)
    result = await config_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    assert not _suggested(result, CONF_API_KEY)
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "plan"
    result = await _configure(result, hass, plan="watt")
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.data[CONF_API_KEY] == API_KEY


async def test_options_without_api_key(
    hass: HomeAssistant, sim: Simulator, sim_url: str, config_entry: MockConfigEntry
) -> None:
    """The options of an entry without its key point to signing in again."""
    config_entry.add_to_hass(hass)
    _without_api_key(hass, config_entry)
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_required"
    assert sim.request_log == []


async def test_reconfigure_uses_the_token_saved_after_a_rotation(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
    hass_storage: dict[str, Any],
) -> None:
    """The entry holds a retired refresh token (a crash before it was written): the flow
    signs in with the newest one the integration saved."""
    retired = dict(config_entry.data["token"])
    newest = sim.issue_tokens()
    sim.revoke_refresh_token(retired["refresh_token"])
    sim.expire_access_tokens()
    key = f"{DOMAIN}.token.{config_entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {"token": {**newest, "expires_at": 0.5}},
    }
    config_entry.add_to_hass(hass)
    _expire_token(hass, config_entry)
    result = await config_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "api_key"
    result = await _configure(result, hass, api_key=API_KEY)
    assert result["step_id"] == "plan"
    assert config_entry.data["token"]["refresh_token"] in sim.refresh_tokens
