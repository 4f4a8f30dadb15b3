"""Fixtures for simulator tests: an HTTP session and an authenticated API caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import json
from typing import Any

import aiohttp
import pytest

from simulator import Simulator

API_KEY = "sim-api-key"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client session (no redirects followed by default in OAuth tests)."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def tokens(sim: Simulator) -> dict[str, Any]:
    """A token response for the default user of the default app."""
    return sim.issue_tokens()


Call = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def call(http: aiohttp.ClientSession, sim_url: str, tokens: dict[str, Any]) -> Call:
    """Call ``/api/v4/systems<path>`` with the default token and key; returns (status, json)."""

    async def _call(
        path: str,
        *,
        method: str = "GET",
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        key: str | None = API_KEY,
        token: str | None = None,
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if key is not None:
            headers["key"] = key
        access = tokens["access_token"] if token is None else token
        if access:
            headers["Authorization"] = f"Bearer {access}"
        async with http.request(
            method,
            f"{sim_url}/api/v4/systems{path}",
            params=params,
            json=json_body,
            headers=headers,
        ) as resp:
            text = await resp.text()
            try:
                body = json.loads(text)
            except json.JSONDecodeError:
                body = text
            return resp.status, body

    return _call
