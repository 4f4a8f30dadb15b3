"""Fixtures for the Home Assistant tests: credentials, a config entry, entities enabled."""

from __future__ import annotations

from collections.abc import Generator
import logging
import time
from typing import TYPE_CHECKING, Any
from unittest.mock import PropertyMock, patch

from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.components.recorder import CONF_COMMIT_INTERVAL, DEFAULT_COMMIT_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.enphase_enlighten.const import (
    CONF_API_KEY,
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    CONF_SYSTEMS,
    DOMAIN,
    PLANS,
)
from tests.ha_compat import ComparableSnapshotExtension

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory

    from custom_components.enphase_enlighten.runtime import EnphaseConfigEntry
    from simulator import Simulator

CLIENT_ID = "sim-client-id"
CLIENT_SECRET = "sim-client-secret"
API_KEY = "sim-api-key"


# The test plugin logs every SQL statement the recorder runs (INFO on sqlalchemy.engine), and
# each record is kept and scanned by caplog: about a quarter of a test's CPU. The statements
# are not what these tests check; the recorder's warnings and errors still show.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture
def recorder_config() -> dict[str, Any]:
    """Commit states every few seconds as Home Assistant does, not after every state.

    The test plugin commits after each state written (commit interval 0): a setup with many
    entities then waits for thousands of commits. Statistics imports commit on their own,
    and reads in the tests wait for the recorder (async_wait_recording_done commits).
    """
    return {CONF_COMMIT_INTERVAL: DEFAULT_COMMIT_INTERVAL}


@pytest.fixture
def persistent_database() -> bool:
    """An SQLite file (in the test's temporary directory), as Home Assistant has.

    In memory, the recorder shares one locked connection between its thread and readers:
    with a commit interval, a read waits for the next commit, and fails after 10 s.
    """
    return True


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before Home Assistant starts (it is a dependency)."""


@pytest.fixture(autouse=True)
def auto_recorder(request: pytest.FixtureRequest) -> None:
    """Run the real recorder with every Home Assistant: it is a dependency.

    The integration imports energy statistics into it. Tests of plain functions start no
    Home Assistant, so no recorder either.
    """
    if "hass" in request.fixturenames:
        request.getfixturevalue("recorder_mock")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in one form on every supported Home Assistant (tests/ha_compat.py)."""
    return snapshot.use_extension(ComparableSnapshotExtension)


@pytest.fixture
async def setup_credentials(hass: HomeAssistant) -> None:
    """Store the simulator's demo application credentials."""
    assert await async_setup_component(hass, "application_credentials", {})
    await async_import_client_credential(
        hass, DOMAIN, ClientCredential(CLIENT_ID, CLIENT_SECRET), DOMAIN
    )


def entry_data(token: dict[str, Any], plan: str = "watt") -> dict[str, Any]:
    """Return config entry data as the config flow stores it."""
    per_minute, per_month = PLANS[plan]
    return {
        "auth_implementation": DOMAIN,
        "token": {**token, "expires_at": time.time() + token["expires_in"]},
        CONF_API_KEY: API_KEY,
        CONF_PLAN: plan,
        CONF_REQUESTS_PER_MINUTE: per_minute,
        CONF_REQUESTS_PER_MONTH: per_month,
    }


@pytest.fixture
def plan() -> str:
    """Enphase plan of the config entry (override per module or test)."""
    return "watt"


@pytest.fixture
def config_entry(sim: Simulator, plan: str) -> MockConfigEntry:
    """A config entry for the simulator's default user, every system selected."""
    token = sim.issue_tokens()
    if plan != "watt":
        sim.set_plan(api_key=API_KEY, plan=plan)
    return MockConfigEntry(
        domain=DOMAIN,
        title="Enphase",
        unique_id=str(token["enl_uid"]),
        data=entry_data(token, plan),
        options={CONF_SYSTEMS: list(sim.system_ids)},
    )


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create every entity enabled, including those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def entry_setups() -> Generator[list[str]]:
    """The ids of the entries the integration sets up, once per setup: a reload adds one."""
    from custom_components import enphase_enlighten as integration

    setups: list[str] = []
    setup = integration.async_setup_entry

    async def _counted(hass: HomeAssistant, entry: EnphaseConfigEntry) -> bool:
        setups.append(entry.entry_id)
        return await setup(hass, entry)

    # Home Assistant looks the function up on the module at each setup.
    with patch.object(integration, "async_setup_entry", _counted):
        yield setups


async def save_options(
    hass: HomeAssistant, entry: MockConfigEntry, options: dict[str, Any]
) -> None:
    """Save options as the options flow does: changed ones reload the entry, once.

    For tests about what the options do; test_config_flow.py tests the flow itself.
    """
    if hass.config_entries.async_update_entry(entry, options=options):
        hass.config_entries.async_schedule_reload(entry.entry_id)
    await hass.async_block_till_done()


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add the entry and wait until it is set up and its first fetches (background) are done."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


def until_new_upload(
    freezer: FrozenDateTimeFactory, entry: MockConfigEntry, system_id: int
) -> None:
    """Move the clock (firing no timer) to when the system's gateway can upload again.

    Before then a manual refresh answers from the data held and asks Enphase nothing.
    """
    when = entry.runtime_data.budget.planner.next_upload_at(system_id)
    assert when is not None
    freezer.move_to(max(when, dt_util.utcnow()))


DEPRECATION_REPORTS = ("Detected that custom integration 'enphase_enlighten'", "Detected code that")


@pytest.fixture(autouse=True)
def no_deprecated_usage(caplog: pytest.LogCaptureFixture) -> Generator[None]:
    """Fail a test in which Home Assistant reports a deprecated or unsafe use by this integration.

    Home Assistant logs these (helpers/frame.py) instead of failing for custom integrations;
    each one is a feature that a newer Home Assistant release removes.
    """
    yield
    reports = [
        record.getMessage()
        for phase in ("setup", "call")
        for record in caplog.get_records(phase)
        if record.getMessage().startswith(DEPRECATION_REPORTS)
    ]
    assert not reports, reports


@pytest.fixture
def setup_time() -> str:
    """When `loaded` sets the entry up: noon in California at midsummer."""
    return "2026-06-21T19:00:00+00:00"


@pytest.fixture
async def loaded(
    hass: HomeAssistant,
    sim: Simulator,
    sim_url: str,
    setup_credentials: None,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    setup_time: str,
) -> MockConfigEntry:
    """The scenario's entry set up at `setup_time` against the simulator."""
    freezer.move_to(setup_time)
    await setup_entry(hass, config_entry)
    return config_entry
