"""Shared fixtures: a simulated Enphase cloud per test (see simulator/README.md).

Also loads the Home Assistant test plugin, in a fixed order on every Home Assistant version:
pyproject.toml keeps pytest from loading it from its entry point (`-p no:homeassistant`), so it
comes after syrupy (its `snapshot` fixture overrides syrupy's only when registered later) and
after tests/plugin_compat.py adapted it to the Home Assistant installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp.test_utils import TestServer
import pytest

from simulator import Simulator, create_app
from tests import plugin_compat

# pytest imports these plugins once this module has run, so after the shims are in place.
plugin_compat.apply()
pytest_plugins = ["pytest_homeassistant_custom_component.plugins"]

API_URL_ENV = "ENPHASE_ENLIGHTEN_API_URL"


@pytest.fixture
def sim_scenario() -> str:
    """Scenario the ``sim`` fixture loads; override per module or parametrize."""
    return "small_home"


@pytest.fixture
def sim(sim_scenario: str) -> Simulator:
    """A fresh simulator for the scenario, with the authorize page auto-approving."""
    return Simulator(scenario=sim_scenario, auto_approve=True)


@pytest.fixture
async def sim_url(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, socket_enabled: None
) -> AsyncIterator[str]:
    """Serve ``sim`` on 127.0.0.1 and point ENPHASE_ENLIGHTEN_API_URL at it.

    Depends on pytest-socket's ``socket_enabled`` because the Home Assistant test plugin
    blocks sockets; the 127.0.0.1-only allow list stays in force.
    """
    # No aiohttp access log: its lines would carry query strings (codes, refresh tokens).
    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server(access_log=None)
    url = str(server.make_url("")).rstrip("/")
    monkeypatch.setenv(API_URL_ENV, url)
    try:
        yield url
    finally:
        await server.close()
