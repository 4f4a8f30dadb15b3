"""Fixtures: the Enphase stand-in on an aiohttp TestServer, and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
import pytest

from custom_components.enphase_enlighten.api import EnphaseClient, RequestRecord
from tests.api.fake_enphase import API_KEY, NOW, TOKEN, FakeEnphase


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Allow real sockets (Home Assistant's test plugin blocks them); its 127.0.0.1-only rule stays."""


@pytest.fixture
def fake() -> FakeEnphase:
    return FakeEnphase()


@pytest.fixture
async def server(fake: FakeEnphase) -> AsyncIterator[TestServer]:
    test_server = TestServer(fake.app(), host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    # Lets handlers that wait (timeout tests) finish before the server closes.
    fake.release.set()
    await test_server.close()


@pytest.fixture
def base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def records() -> list[RequestRecord]:
    return []


@pytest.fixture
def token_calls() -> list[int]:
    return []


@pytest.fixture
def make_client(
    session: aiohttp.ClientSession,
    base_url: str,
    records: list[RequestRecord],
    token_calls: list[int],
) -> Callable[..., EnphaseClient]:
    async def token_provider() -> str:
        token_calls.append(1)
        return TOKEN

    def build(**kwargs: Any) -> EnphaseClient:
        options: dict[str, Any] = {
            "base_url": base_url,
            "on_request": records.append,
            "now": NOW.timestamp,
        }
        options.update(kwargs)
        return EnphaseClient(session, token_provider, API_KEY, **options)

    return build


@pytest.fixture
def client(make_client: Callable[..., EnphaseClient]) -> EnphaseClient:
    return make_client()
