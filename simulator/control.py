"""Control API under /_sim/ for tests, benchmarks and the demo (JSON in, JSON out)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
import json
from typing import Any

from aiohttp import web

from .errors import SimulatorError
from .state import SIM_KEY, Simulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _sim(request: web.Request) -> Simulator:
    return request.app[SIM_KEY]


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError as err:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body is not JSON"}), content_type="application/json"
        ) from err
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be an object"}), content_type="application/json"
        )
    return body


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (SimulatorError, ValueError, KeyError, TypeError) as err:
            return web.json_response({"error": str(err)}, status=400)

    return wrapped


def _parse_time(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("time needs a UTC offset")
    return moment.timestamp()


async def get_clock(request: web.Request) -> web.Response:
    """GET /_sim/clock."""
    return web.json_response(_sim(request).clock.as_dict())


async def set_clock(request: web.Request) -> web.Response:
    """POST /_sim/clock {"set": iso|epoch, "speed": x, "advance": seconds, "real": true}."""
    sim = _sim(request)
    body = await _body(request)
    if body.get("real"):
        sim.clock.reset()
    if "set" in body:
        sim.clock.set(_parse_time(body["set"]), speed=body.get("speed"))
    elif "speed" in body:
        sim.clock.set_speed(float(body["speed"]))
    if "advance" in body:
        sim.clock.advance(float(body["advance"]))
    return web.json_response(sim.clock.as_dict())


async def get_faults(request: web.Request) -> web.Response:
    """GET /_sim/faults."""
    return web.json_response([f.as_dict() for f in _sim(request).faults])


async def add_fault(request: web.Request) -> web.Response:
    """POST /_sim/faults {"count", "status", "body", "malformed", "disconnect", "endpoint"}."""
    sim = _sim(request)
    body = await _body(request)
    sim.fail_next(
        int(body.get("count", 1)),
        int(body.get("status", 200 if body.get("malformed") else 500)),
        body.get("body"),
        body.get("endpoint"),
        malformed=bool(body.get("malformed", False)),
        disconnect=bool(body.get("disconnect", False)),
    )
    return web.json_response([f.as_dict() for f in sim.faults])


async def clear_faults(request: web.Request) -> web.Response:
    """DELETE /_sim/faults."""
    _sim(request).faults.clear()
    return web.json_response([])


async def set_latency(request: web.Request) -> web.Response:
    """POST /_sim/latency {"seconds", "endpoint"}."""
    sim = _sim(request)
    body = await _body(request)
    sim.set_latency(float(body.get("seconds", 0)), body.get("endpoint"))
    return web.json_response({"latency": sim.latency, "endpoints": sim.endpoint_latency})


async def get_state(request: web.Request) -> web.Response:
    """GET /_sim/state: scenario, users, systems, apps."""
    sim = _sim(request)
    now = sim.now()
    return web.json_response(
        {
            "scenario": sim.scenario.name,
            "default_user_id": sim.default_user_id,
            "auto_approve": sim.auto_approve,
            "clock": sim.clock.as_dict(),
            "users": [
                {"user_id": u.user_id, "name": u.name, "email": u.email, "systems": u.system_ids}
                for u in sim.users.values()
            ],
            "systems": [
                {
                    "system_id": s.system_id,
                    "name": s.spec.get("name"),
                    "timezone": s.timezone,
                    "status": s.status(now),
                    "connection_type": s.spec.get("connection_type"),
                    "upload_interval": s.upload_interval,
                    "last_report_at": s.last_upload(now),
                    "gateways": [g["serial_number"] for g in s.gateways()],
                }
                for s in sim.systems.values()
            ],
            "apps": [
                {
                    "client_id": a.client_id,
                    "api_key": a.api_key,
                    "plan": a.plan,
                    "per_minute": a.per_minute,
                    "per_month": a.per_month,
                }
                for a in sim.apps.values()
            ],
        }
    )


async def add_system(request: web.Request) -> web.Response:
    """POST /_sim/systems {system dict, optional "user_id"}."""
    sim = _sim(request)
    body = await _body(request)
    user_id = body.pop("user_id", None)
    system = sim.add_system(body, user_id)
    return web.json_response(system.system_json(sim.now()), status=201)


async def patch_system(request: web.Request) -> web.Response:
    """PATCH /_sim/systems/{id} {"status", "name", "reporting", "lifetime_lag", ...}."""
    sim = _sim(request)
    system = sim.update_system(int(request.match_info["system_id"]), await _body(request))
    return web.json_response(system.system_json(sim.now()))


async def delete_system(request: web.Request) -> web.Response:
    """DELETE /_sim/systems/{id}."""
    _sim(request).remove_system(int(request.match_info["system_id"]))
    return web.json_response({"removed": int(request.match_info["system_id"])})


async def add_device(request: web.Request) -> web.Response:
    """POST /_sim/systems/{id}/devices {"kind", ...device fields}."""
    sim = _sim(request)
    body = await _body(request)
    kind = body.pop("kind")
    device = sim.add_device(int(request.match_info["system_id"]), kind, body)
    return web.json_response({k: v for k, v in device.items() if not k.startswith("_")}, status=201)


async def patch_device(request: web.Request) -> web.Response:
    """PATCH /_sim/systems/{id}/devices/{serial} {fields; "retired": true}."""
    sim = _sim(request)
    device = sim.update_device(
        int(request.match_info["system_id"]), request.match_info["serial"], await _body(request)
    )
    return web.json_response({k: v for k, v in device.items() if not k.startswith("_")})


async def delete_device(request: web.Request) -> web.Response:
    """DELETE /_sim/systems/{id}/devices/{serial}."""
    sim = _sim(request)
    sim.remove_device(int(request.match_info["system_id"]), request.match_info["serial"])
    return web.json_response({"removed": request.match_info["serial"]})


async def revoke(request: web.Request) -> web.Response:
    """POST /_sim/tokens/revoke {"refresh_token"} or {"user_id"} or {"client_id"} or {} (all)."""
    body = await _body(request)
    count = _sim(request).revoke_refresh_token(
        body.get("refresh_token"),
        user_id=body.get("user_id"),
        client_id=body.get("client_id"),
    )
    return web.json_response({"revoked": count})


async def expire_access(request: web.Request) -> web.Response:
    """POST /_sim/tokens/expire {"user_id"?}: access tokens expire now."""
    body = await _body(request)
    return web.json_response(
        {"expired": _sim(request).expire_access_tokens(user_id=body.get("user_id"))}
    )


async def get_requests(request: web.Request) -> web.Response:
    """GET /_sim/requests[?clear=1]."""
    sim = _sim(request)
    if request.query.get("clear") in {"1", "true"}:
        return web.json_response(sim.clear_request_log())
    return web.json_response(sim.request_log)


async def delete_requests(request: web.Request) -> web.Response:
    """DELETE /_sim/requests: return the log and clear it."""
    return web.json_response(_sim(request).clear_request_log())


async def set_auto_approve(request: web.Request) -> web.Response:
    """POST /_sim/auto_approve {"enabled": bool, "user_id"?}."""
    sim = _sim(request)
    body = await _body(request)
    sim.auto_approve = bool(body.get("enabled", True))
    if "user_id" in body:
        sim.auto_approve_user_id = None if body["user_id"] is None else int(body["user_id"])
    return web.json_response(
        {"auto_approve": sim.auto_approve, "user_id": sim.auto_approve_user_id}
    )


async def get_usage(request: web.Request) -> web.Response:
    """GET /_sim/usage: counters and limits per API key."""
    return web.json_response(_sim(request).usage_report())


async def reset_usage(request: web.Request) -> web.Response:
    """DELETE /_sim/usage: zero every counter."""
    sim = _sim(request)
    sim.reset_usage()
    return web.json_response(sim.usage_report())


async def set_plan(request: web.Request) -> web.Response:
    """POST /_sim/plan {"api_key"|"client_id", "plan", "per_minute"?, "per_month"?}."""
    body = await _body(request)
    app = _sim(request).set_plan(
        api_key=body.get("api_key"),
        client_id=body.get("client_id"),
        plan=body.get("plan", "custom"),
        per_minute=body.get("per_minute"),
        per_month=body.get("per_month"),
    )
    return web.json_response(
        {
            "api_key": app.api_key,
            "plan": app.plan,
            "per_minute": app.per_minute,
            "per_month": app.per_month,
        }
    )


def setup_control_routes(app: web.Application) -> None:
    """Register the /_sim/ routes."""
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/_sim/clock", get_clock),
        ("POST", "/_sim/clock", set_clock),
        ("GET", "/_sim/faults", get_faults),
        ("POST", "/_sim/faults", add_fault),
        ("DELETE", "/_sim/faults", clear_faults),
        ("POST", "/_sim/latency", set_latency),
        ("GET", "/_sim/state", get_state),
        ("POST", "/_sim/systems", add_system),
        ("PATCH", "/_sim/systems/{system_id}", patch_system),
        ("DELETE", "/_sim/systems/{system_id}", delete_system),
        ("POST", "/_sim/systems/{system_id}/devices", add_device),
        ("PATCH", "/_sim/systems/{system_id}/devices/{serial}", patch_device),
        ("DELETE", "/_sim/systems/{system_id}/devices/{serial}", delete_device),
        ("POST", "/_sim/tokens/revoke", revoke),
        ("POST", "/_sim/tokens/expire", expire_access),
        ("GET", "/_sim/requests", get_requests),
        ("DELETE", "/_sim/requests", delete_requests),
        ("POST", "/_sim/auto_approve", set_auto_approve),
        ("GET", "/_sim/usage", get_usage),
        ("DELETE", "/_sim/usage", reset_usage),
        ("POST", "/_sim/plan", set_plan),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _guard(handler))
