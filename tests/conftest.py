"""Shared fixtures: a simulated Enphase cloud per test (see simulator/README.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp.test_utils import TestServer
import pytest

from simulator import Simulator, create_app

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
