"""Control API for alarms, events and alarm kinds under /_sim/ (raise, clear, open, close, read)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .control import Handler, _body, _guard, _sim
from .errors import SimulatorError

if TYPE_CHECKING:
    from .state import Simulator

RAISE_FIELDS = frozenset(
    {"event_type_id", "serial_number", "serial_numbers", "severity", "id", "at", "clear_at"}
)
EVENT_FIELDS = frozenset({"event_type_id", "serial_number", "at", "close_at"})


def _only(body: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    # A misspelt field would otherwise raise a different alarm than the caller meant.
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise SimulatorError(f"unknown field {unknown[0]!r}")
    return body


def _system_filter(request: web.Request) -> int | None:
    raw = request.query.get("system_id")
    return None if raw in (None, "") else int(raw)


def _with_kind(sim: Simulator, item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "kind": sim.alarm_kind(item["event_type_id"]).as_dict()}


async def raise_alarm(request: web.Request) -> web.Response:
    """POST /_sim/systems/{id}/alarms {"event_type_id", "serial_number(s)", "severity", "id", "at", "clear_at"}."""
    sim = _sim(request)
    body = _only(await _body(request), RAISE_FIELDS)
    serials = body.get("serial_numbers")
    if serials is not None and not isinstance(serials, list):
        raise SimulatorError("serial_numbers must be a list")
    alarm = sim.raise_alarm(
        int(request.match_info["system_id"]),
        int(body.get("event_type_id", 28)),
        serial_number=body.get("serial_number"),
        serial_numbers=serials,
        severity=int(body.get("severity", 2)),
        alarm_id=body.get("id"),
        at=body.get("at"),
        clear_at=body.get("clear_at"),
    )
    return web.json_response(_with_kind(sim, alarm), status=201)


async def clear_alarm(request: web.Request) -> web.Response:
    """POST /_sim/alarms/{alarm_id}/clear {"at"?}."""
    sim = _sim(request)
    body = _only(await _body(request), frozenset({"at"}))
    alarm = sim.clear_alarm(request.match_info["alarm_id"], at=body.get("at"))
    return web.json_response(_with_kind(sim, alarm))


async def list_alarms(request: web.Request) -> web.Response:
    """GET /_sim/alarms[?system_id=]: every alarm's raise and clear time and kind."""
    records = _sim(request).alarm_records(_system_filter(request))
    return web.json_response([r.as_dict() for r in records])


async def open_event(request: web.Request) -> web.Response:
    """POST /_sim/systems/{id}/events {"event_type_id", "serial_number", "at", "close_at"}."""
    sim = _sim(request)
    body = _only(await _body(request), EVENT_FIELDS)
    if "event_type_id" not in body:
        raise SimulatorError("event_type_id is required")
    event = sim.open_event(
        int(request.match_info["system_id"]),
        int(body["event_type_id"]),
        serial_number=body.get("serial_number"),
        at=body.get("at"),
        close_at=body.get("close_at"),
    )
    return web.json_response(event, status=201)


async def close_event(request: web.Request) -> web.Response:
    """POST /_sim/events/{event_id}/close {"at"?}."""
    sim = _sim(request)
    body = _only(await _body(request), frozenset({"at"}))
    return web.json_response(sim.close_event(request.match_info["event_id"], at=body.get("at")))


async def list_events(request: web.Request) -> web.Response:
    """GET /_sim/events[?system_id=]: every event's open and close time."""
    records = _sim(request).event_records(_system_filter(request))
    return web.json_response([r.as_dict() for r in records])


async def list_kinds(request: web.Request) -> web.Response:
    """GET /_sim/alarm_kinds: what an open alarm of each known event type does."""
    sim = _sim(request)
    ids = sorted(set(sim.event_types) | set(sim.rules.kinds))
    return web.json_response(
        [
            {
                "event_type_id": type_id,
                "event_type_key": sim.rules.key(type_id),
                **sim.alarm_kind(type_id).as_dict(),
            }
            for type_id in ids
        ]
    )


async def set_kind(request: web.Request) -> web.Response:
    """PUT /_sim/alarm_kinds/{event_type_id} {"status", "device_status", "device_kinds", ...}."""
    sim = _sim(request)
    kind = sim.set_alarm_kind(int(request.match_info["event_type_id"]), await _body(request))
    return web.json_response(kind.as_dict())


def setup_alarm_control_routes(app: web.Application) -> None:
    """Register the alarm and event routes of the control API."""
    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/_sim/systems/{system_id}/alarms", raise_alarm),
        ("POST", "/_sim/alarms/{alarm_id}/clear", clear_alarm),
        ("GET", "/_sim/alarms", list_alarms),
        ("POST", "/_sim/systems/{system_id}/events", open_event),
        ("POST", "/_sim/events/{event_id}/close", close_event),
        ("GET", "/_sim/events", list_events),
        ("GET", "/_sim/alarm_kinds", list_kinds),
        ("PUT", "/_sim/alarm_kinds/{event_type_id}", set_kind),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _guard(handler))
