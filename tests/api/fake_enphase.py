"""A small Enphase API stand-in served by a real aiohttp server, for the client tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
import inspect
import json
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).parent.parent / "fixtures"

TOKEN = "tok-SECRET-a1b2c3d4e5f6"
API_KEY = "key-SECRET-0f9e8d7c6b5a"
# The client's clock in these tests: the 21st of June 2026, noon UTC.
NOW = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)
PREFIX = "/api/v4"


def fixture_text(name: str) -> str:
    """Return a fixture file's text exactly as stored."""
    return (FIXTURES / f"{name}.json").read_text()


def fixture_json(name: str) -> Any:
    """Return a fixture file decoded."""
    return json.loads(fixture_text(name))


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Received], web.StreamResponse | Awaitable[web.StreamResponse]]


@dataclass
class FakeEnphase:
    """Serves canned replies per (method, path) and records every request it receives.

    Replies registered for one route are used in order; the last one keeps answering.
    """

    received: list[Received] = field(default_factory=list)
    routes: dict[tuple[str, str], list[Responder]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, method: str, path: str, responder: Responder) -> None:
        self.routes.setdefault((method, PREFIX + path), []).append(responder)

    def reply(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        fixture: str | None = None,
        data: Any = None,
        text: str | None = None,
        content_type: str = "application/json",
    ) -> None:
        if fixture is not None:
            text = fixture_text(fixture)
        elif text is None:
            text = json.dumps(data)
        body = text

        def respond(_: Received) -> web.Response:
            return web.Response(status=status, text=body, content_type=content_type)

        self.add(method, path, respond)

    def requests_to(self, path: str) -> list[Received]:
        return [item for item in self.received if item.path == PREFIX + path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        received = Received(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=await request.read(),
        )
        self.received.append(received)
        queue = self.routes.get((request.method, request.path))
        if not queue:
            return web.json_response(
                {"message": "Not Found", "details": "no such test route", "code": 404},
                status=404,
            )
        responder = queue.pop(0) if len(queue) > 1 else queue[0]
        result = responder(received)
        if inspect.isawaitable(result):
            result = await result
        return result

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app
