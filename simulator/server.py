"""aiohttp application: Enphase OAuth, the System Details endpoints, and the control API."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import date
import html
import json
import logging
import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from . import alarms as alarm_rules
from .control import setup_control_routes
from .control_alarms import setup_alarm_control_routes
from .model import months_back
from .plans import FORBIDDEN_BODY, TELEMETRY_PATTERNS, TELEMETRY_PERIOD_429
from .solar import local_date
from .state import SIM_KEY, Simulator

# aiohttp >= 3.14 prefers typed request keys; Home Assistant 2026.2 ships 3.13.
LOG_KEY: Any = web.RequestKey("sim_log", dict) if hasattr(web, "RequestKey") else "sim_log"

_LOGGER = logging.getLogger(__name__)

API = "/api/v4/systems"
DEFAULT_REDIRECT = "/oauth/redirect_uri"
SORT_DETAILS = (
    "Invalid request because of 'The sorting parameter is not supported. Please use id for "
    "sorting by Asc or -id for sorting by Desc'"
)
# Endpoints whose reference 429 example carries period fields; the others send only
# message/details/code, and the simulator keeps that quirk.
PERIOD_429_ENDPOINTS = (
    frozenset({"summary", "retrieve_system_id", "inverters_summary"}) | TELEMETRY_PERIOD_429
)
SEARCH_KEYS = frozenset({"ids", "name", "reference", "other_reference", "statuses"})
WEEK = 7 * 86400

_ENDPOINT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/api/v4/systems/?$"), "systems"),
    (re.compile(r"^/api/v4/systems/search$"), "search"),
    (re.compile(r"^/api/v4/systems/retrieve_system_id$"), "retrieve_system_id"),
    (re.compile(r"^/api/v4/systems/event_types$"), "event_types"),
    (re.compile(r"^/api/v4/systems/inverters_summary_by_envoy_or_site$"), "inverters_summary"),
    (re.compile(r"^/api/v4/systems/[^/]+/summary$"), "summary"),
    (re.compile(r"^/api/v4/systems/[^/]+/devices$"), "devices"),
    (re.compile(r"^/api/v4/systems/[^/]+/events$"), "events"),
    (re.compile(r"^/api/v4/systems/[^/]+/alarms$"), "alarms"),
    (re.compile(r"^/api/v4/systems/[^/]+/open_alarms$"), "open_alarms"),
    (re.compile(r"^/api/v4/systems/[^/]+/open_events$"), "open_events"),
    (re.compile(r"^/api/v4/systems/[^/]+$"), "system"),
    (re.compile(r"^/oauth/token$"), "token"),
    (re.compile(r"^/oauth/authorize$"), "authorize"),
    *TELEMETRY_PATTERNS,
)


def endpoint_of(path: str) -> str | None:
    """Name of the endpoint a path belongs to (the client contract's ENDPOINTS, or OAuth)."""
    for pattern, name in _ENDPOINT_PATTERNS:
        if pattern.match(path):
            return name
    return None


class ApiError(Exception):
    """An Enphase-style error response."""

    def __init__(self, status: int, message: str, details: str) -> None:
        """Build the JSON body {"message", "details", "code"}."""
        super().__init__(details)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "details": details, "code": status}


def unprocessable(details: str) -> ApiError:
    """422 with Enphase's message."""
    return ApiError(422, "Unprocessable Entity", details)


def not_found(details: str) -> ApiError:
    """404 with Enphase's message."""
    return ApiError(404, "Not Found", details)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _fault_response(fault: Any, request: web.Request) -> web.Response:
    if fault.disconnect and request.transport is not None:
        # The client sees the connection drop (aiohttp: ServerDisconnectedError).
        request.transport.abort()
    if fault.malformed:
        text = (
            fault.body if isinstance(fault.body, str) else "<html><body>Bad Gateway</body></html>"
        )
        return web.Response(status=fault.status, text=text, content_type="text/html")
    if isinstance(fault.body, str):
        return web.Response(status=fault.status, text=fault.body, content_type="application/json")
    if fault.body is not None:
        return _json(fault.body, fault.status)
    reason = web.Response(status=fault.status).reason
    # 500 uses the reference's own details; other statuses say where they come from.
    details = "unable to fetch data" if fault.status == 500 else "Simulated failure"
    return _json({"message": reason, "details": details, "code": fault.status}, fault.status)


# --- middleware: request log, 404/405 bodies --------------------------------------------
@web.middleware
async def log_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Record every API and OAuth request; give 404/405 Enphase's JSON bodies."""
    sim = request.app[SIM_KEY]
    path = request.path
    if path.startswith("/_sim"):
        return await handler(request)
    endpoint = endpoint_of(path)
    entry: dict[str, Any] = {
        "time": sim.now(),
        "method": request.method,
        "path": path,
        "endpoint": endpoint,
        "status": None,
        "api_key": None,
        "query": {
            k: v
            for k, v in request.query.items()
            if k not in {"key", "code", "refresh_token", "state"}
        },
    }
    key = request.headers.get("key") or request.query.get("key")
    if key:
        entry["api_key"] = key[:8]
    request[LOG_KEY] = entry
    try:
        response = await handler(request)
    except web.HTTPMethodNotAllowed:
        response = _json({"reason": "405", "message": ["Method not allowed"]}, 405)
    except web.HTTPNotFound:
        if path.startswith("/api/"):
            if re.match(r"^/api/v4/systems/[^/]+/[a-z_/]+$", path) or path.startswith(
                "/api/v4/systems/config"
            ):
                # Endpoints beyond the ten exist on Enphase's side; the simulator has none.
                response = _json({"reason": "501", "message": ["Not Implemented"]}, 501)
            else:
                response = _json(
                    {"message": "Not Found", "details": "Resource not found", "code": 404}, 404
                )
        else:
            raise
    except web.HTTPException as exc:  # redirects of the authorize endpoint
        _record(sim, entry, request.method, path, exc.status)
        raise
    _record(sim, entry, request.method, path, response.status)
    return response


def _record(sim: Simulator, entry: dict[str, Any], method: str, path: str, status: int) -> None:
    entry["status"] = status
    sim.log_request(entry)
    # Path only: query strings carry codes, refresh tokens and serial numbers.
    _LOGGER.info("%s %s %s", method, path, status)


# --- OAuth ---------------------------------------------------------------------------------
def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return _json({"error": error, "error_description": description}, status)


def _redirect(uri: str, params: dict[str, str]) -> web.Response:
    sep = "&" if "?" in uri else "?"
    raise web.HTTPFound(uri + sep + urlencode(params))


async def authorize(request: web.Request) -> web.Response:
    """GET /oauth/authorize: consent page, or an immediate redirect with auto-approve."""
    sim = request.app[SIM_KEY]
    query = request.query
    client_id = query.get("client_id", "")
    app = sim.apps.get(client_id)
    if app is None:
        return web.Response(status=400, text="Unknown client_id", content_type="text/plain")
    redirect_uri = query.get("redirect_uri") or DEFAULT_REDIRECT
    state = query.get("state")
    extra = {"state": state} if state is not None else {}
    if query.get("response_type") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type", **extra})
    if sim.auto_approve:
        user_id = sim.auto_approve_user_id or sim.default_user_id
        code = sim.issue_code(client_id, user_id, query.get("redirect_uri"))
        return _redirect(redirect_uri, {"code": code, **extra})
    users = (
        "<fieldset><legend>Sign in as</legend>"
        + "".join(
            f'<label><input type="radio" name="user_id" value="{u.user_id}"'
            f"{' checked' if u.user_id == sim.default_user_id else ''}> "
            f"{html.escape(u.name)} &lt;{html.escape(u.email)}&gt;</label>"
            for u in sim.users.values()
        )
        + "</fieldset>"
    )
    if len(sim.users) == 1:
        users = f'<input type="hidden" name="user_id" value="{sim.default_user_id}">'
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name, value in (
            ("client_id", client_id),
            ("redirect_uri", query.get("redirect_uri", "")),
            ("state", state or ""),
        )
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Enlighten (simulated) - Authorize</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: sans-serif; background: #f4f5f7; margin: 0; }}
main {{ max-width: 28rem; margin: 4rem auto; background: #fff; padding: 2rem;
        border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.15); }}
h1 {{ font-size: 1.3rem; color: #f37321; margin-top: 0; }}
fieldset {{ border: 1px solid #ddd; border-radius: 6px; margin: 1rem 0; }}
label {{ display: block; padding: .3rem 0; }}
button {{ font-size: 1rem; padding: .6rem 1.4rem; border-radius: 4px; border: 0;
          cursor: pointer; margin-right: .5rem; }}
#approve {{ background: #f37321; color: #fff; }}
#deny {{ background: #e0e0e0; }}
small {{ color: #777; }}
</style></head>
<body><main>
<h1>Enphase Enlighten (simulated)</h1>
<p><b>{html.escape(app.name)}</b> asks to read your Enlighten systems on your behalf.</p>
<form method="post" action="/oauth/authorize">
{hidden}
{users}
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>
<p><small>Local simulator: no password needed.</small></p>
</main></body></html>"""
    return web.Response(text=page, content_type="text/html")


async def authorize_decision(request: web.Request) -> web.Response:
    """POST /oauth/authorize: the consent form's Approve or Deny."""
    sim = request.app[SIM_KEY]
    form = await request.post()
    client_id = str(form.get("client_id", ""))
    if client_id not in sim.apps:
        return web.Response(status=400, text="Unknown client_id", content_type="text/plain")
    given_uri = str(form.get("redirect_uri", "")) or None
    redirect_uri = given_uri or DEFAULT_REDIRECT
    state = str(form.get("state", ""))
    extra = {"state": state} if state else {}
    if form.get("decision") != "approve":
        return _redirect(redirect_uri, {"error": "access_denied", **extra})
    try:
        user_id = int(str(form.get("user_id", sim.default_user_id)))
    except ValueError:
        user_id = sim.default_user_id
    if user_id not in sim.users:
        return web.Response(status=400, text="Unknown user", content_type="text/plain")
    code = sim.issue_code(client_id, user_id, given_uri)
    return _redirect(redirect_uri, {"code": code, **extra})


async def default_redirect(request: web.Request) -> web.Response:
    """Enphase's fallback redirect page: shows the code to copy."""
    code = html.escape(request.query.get("code", ""))
    return web.Response(
        text=f"<html><body><p>Your authorization code: <code>{code}</code></p></body></html>",
        content_type="text/html",
    )


def _basic_client(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


async def token(request: web.Request) -> web.Response:
    """POST /oauth/token: authorization_code and refresh_token grants, Basic client auth."""
    sim = request.app[SIM_KEY]
    # Only a latency set for "token" itself: a slow API need not mean a slow sign-in server.
    if (delay := sim.endpoint_latency.get("token", 0.0)) > 0:
        await asyncio.sleep(delay)
    fault = sim.take_fault("token", oauth=True)
    if fault is not None:
        request[LOG_KEY]["fault"] = True
        if fault.disconnect:
            request[LOG_KEY]["disconnect"] = True
        return _fault_response(fault, request)
    params: dict[str, str] = dict(request.query)
    if sim.accept_form_body and request.content_type == "application/x-www-form-urlencoded":
        params = {**{k: str(v) for k, v in (await request.post()).items()}, **params}
    credentials = _basic_client(request)
    if credentials is None:
        return _oauth_error(
            401, "unauthorized", "Full authentication is required to access this resource"
        )
    client_id, secret = credentials
    app = sim.apps.get(client_id)
    if app is None or app.client_secret != secret:
        return _oauth_error(401, "invalid_client", "Bad client credentials")
    grant_type = params.get("grant_type")
    now = sim.now()
    if grant_type == "authorization_code":
        code = params.get("code")
        if not code:
            return _oauth_error(400, "invalid_request", "Missing authorization code")
        grant = sim.codes.get(code)
        if grant is None or grant.used or grant.expires_at <= now:
            if grant is not None:
                grant.used = True
            return _oauth_error(400, "invalid_grant", "Invalid authorization code")
        grant.used = True  # single use, even when the rest of the request is wrong
        if grant.client_id != client_id:
            return _oauth_error(
                400, "invalid_grant", "Authorization code was issued to another client"
            )
        if grant.redirect_uri is not None and params.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", "Redirect URI mismatch.")
        return _json(sim.issue_tokens(client_id, grant.user_id))
    if grant_type == "refresh_token":
        value = params.get("refresh_token")
        if not value:
            return _oauth_error(400, "invalid_request", "Missing refresh token")
        grant = sim.refresh_tokens.get(value)
        if grant is None or grant.used or grant.revoked or grant.client_id != client_id:
            return _oauth_error(400, "invalid_grant", "Invalid refresh token")
        if grant.expires_at <= now:
            return _oauth_error(401, "invalid_token", "Invalid refresh token (expired)")
        grant.used = True  # rotation: the old refresh token dies now
        return _json(sim.issue_tokens(client_id, grant.user_id))
    if grant_type is None:
        return _oauth_error(400, "invalid_request", "Missing grant type")
    return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")


# --- API plumbing ----------------------------------------------------------------------
ApiHandler = Callable[[web.Request, Simulator, int], Awaitable[Any]]


def api(endpoint: str, handler: ApiHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap an endpoint: latency, faults, API key, token, plan limits, then ``handler``."""

    async def wrapped(request: web.Request) -> web.Response:
        sim = request.app[SIM_KEY]
        delay = sim.latency_for(endpoint)
        if delay > 0:
            await asyncio.sleep(delay)
        sim.anchor()
        fault = sim.take_fault(endpoint)
        if fault is not None:
            request[LOG_KEY]["fault"] = True
            if fault.disconnect:
                request[LOG_KEY]["disconnect"] = True
            return _fault_response(fault, request)
        key = request.headers.get("key") or request.query.get("key")
        app = sim.app_by_key(key)
        if app is None:
            request[LOG_KEY]["auth_error"] = "api_key"
            return _json(
                {"message": "Not Authorized", "details": "Invalid API key", "code": 401}, 401
            )
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        grant = sim.access_tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if grant is None or grant.revoked or grant.expires_at <= sim.now():
            request[LOG_KEY]["auth_error"] = "token" if grant is None else "token_expired"
            return _json(
                {"message": "Not Authorized", "details": "User is not authorized", "code": 401}, 401
            )
        if grant.client_id != app.client_id:
            request[LOG_KEY]["auth_error"] = "mismatch"
            return _json(
                {"message": "Not Authorized", "details": "API Key -Client mismatch", "code": 401},
                401,
            )
        limited = sim.check_limits(app)
        if limited is not None:
            if endpoint not in PERIOD_429_ENDPOINTS:
                limited = {k: limited[k] for k in ("message", "details", "code")}
            return _json(limited, 429)
        request[LOG_KEY]["user_id"] = grant.user_id
        if not sim.plan_allows(app, endpoint):
            # A plan without the endpoint's group (plans.py); the request still counted.
            return _json(FORBIDDEN_BODY, 403)
        try:
            body = await handler(request, sim, grant.user_id)
        except ApiError as err:
            return _json(err.body, err.status)
        return _json(body)

    return wrapped


def _int_param(value: str | None, name: str, default: int, lo: int, hi: int | None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise unprocessable(f"Invalid request because of '{name} must be an integer'") from None
    if number < lo or (hi is not None and number > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise unprocessable(f"Invalid request because of '{name} must be {bound}'")
    return number


def _owned(sim: Simulator, user_id: int, raw_id: str) -> Any:
    try:
        system_id = int(raw_id)
    except ValueError:
        raise not_found(f'System not found for {{:id=>"{raw_id}"}}') from None
    system = sim.systems.get(system_id)
    if system is None:
        raise not_found(f'System not found for {{:id=>"{system_id}"}}')
    if system_id not in sim.users[user_id].system_ids:
        raise ApiError(403, "Forbidden", "Not authorized to access this resource")
    return system


def _page(systems: list[Any], page: int, size: int) -> list[Any]:
    return systems[(page - 1) * size : page * size]


def _sorted_systems(sim: Simulator, user_id: int, sort_by: str | None) -> list[Any]:
    if sort_by not in (None, "", "id", "-id"):
        raise unprocessable(SORT_DETAILS)
    ids = sorted(sid for sid in sim.users[user_id].system_ids if sid in sim.systems)
    if sort_by == "-id":
        ids.reverse()
    return [sim.systems[sid] for sid in ids]


# --- the ten endpoints ------------------------------------------------------------------
async def systems_list(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems."""
    page = _int_param(request.query.get("page"), "page", 1, 1, None)
    size = _int_param(request.query.get("size"), "size", 10, 1, 100)
    systems = _sorted_systems(sim, user_id, request.query.get("sort_by"))
    now = sim.now()
    chunk = [s.system_json(now) for s in _page(systems, page, size)]
    return {
        "total": len(systems),
        "current_page": page,
        "size": size,
        "count": len(chunk),
        "items": "systems",
        "systems": chunk,
    }


async def systems_search(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """POST /systems/search."""
    page = _int_param(request.query.get("page"), "page", 1, 1, None)
    size = _int_param(request.query.get("size"), "size", 10, 1, 1000)
    try:
        body = await request.json() if request.can_read_body else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise unprocessable("Invalid request because of 'Malformed JSON body'") from None
    if not isinstance(body, dict):
        raise unprocessable("Invalid request because of 'Malformed JSON body'")
    unknown = sorted(set(body) - {"sort_by", "system"})
    if unknown:
        raise unprocessable(f"{unknown[0]} is not allowed at Json body location")
    criteria = body.get("system")
    if not isinstance(criteria, dict):
        raise unprocessable("system is missing at Json body location")
    unknown = sorted(set(criteria) - SEARCH_KEYS)
    if unknown:
        raise unprocessable(f"system[{unknown[0]}] is not allowed at Json body location")
    systems = _sorted_systems(sim, user_id, body.get("sort_by"))
    ids = criteria.get("ids")
    name = criteria.get("name")
    reference = criteria.get("reference")
    other = criteria.get("other_reference")
    statuses = criteria.get("statuses")
    now = sim.now()
    if ids:
        try:
            wanted = {int(i) for i in ids}
        except (TypeError, ValueError):
            raise unprocessable("system[ids] must be an array of integers") from None
        systems = [s for s in systems if s.system_id in wanted]
    if name:
        systems = [s for s in systems if str(name).lower() in str(s.spec.get("name", "")).lower()]
    if reference:
        systems = [s for s in systems if s.spec.get("reference") == reference]
    if other:
        systems = [s for s in systems if other in (s.spec.get("other_references") or [])]
    if statuses:
        systems = [s for s in systems if s.status(now) in set(statuses)]
    chunk = [s.system_json(now, style="search") for s in _page(systems, page, size)]
    return {
        "total": len(systems),
        "current_page": page,
        "size": size,
        "count": len(chunk),
        "items": "systems",
        "systems": chunk,
    }


async def system_detail(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{system_id}."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    return system.system_json(sim.now())


async def summary(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{system_id}/summary."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    raw = request.query.get("summary_date")
    now = sim.now()
    day: date | None = None
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise unprocessable(f"Failed to parse date {raw}") from None
        if day > local_date(system.timezone, now):
            raise unprocessable("Invalid request because of 'Requested date is in the future'")
    return system.summary_json(now, day)


async def devices(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{system_id}/devices."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    return system.devices_json(sim.now())


async def retrieve_system_id(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/retrieve_system_id?serial_num=."""
    serial = request.query.get("serial_num", "").strip()
    if not serial:
        raise unprocessable("Provide envoy serial number")
    for system_id in sim.users[user_id].system_ids:
        system = sim.systems.get(system_id)
        if system and any(g.get("serial_number") == serial for g in system.gateways()):
            return {"system_id": system_id}
    raise not_found("Envoy not found with this serial number")


def _window(request: web.Request, sim: Simulator) -> tuple[int, int]:
    raw_start = request.query.get("start_time")
    if raw_start is None or raw_start == "":
        raise unprocessable("start_time is required")
    now = sim.now()
    try:
        start = int(raw_start)
    except ValueError:
        raise unprocessable(f"Failed to parse date {raw_start}") from None
    raw_end = request.query.get("end_time")
    if raw_end:
        try:
            end = int(raw_end)
        except ValueError:
            raise unprocessable(f"Failed to parse date {raw_end}") from None
    else:
        end = int(min(start + 86400, now))
    if start < months_back(now, 9):
        raise unprocessable(
            "Invalid request because of 'start_time cannot be older than 9 months from the current time'"
        )
    if end < start:
        raise unprocessable("Invalid request because of 'Invalid date/time range'")
    if end - start > WEEK:
        raise unprocessable(
            "Invalid request because of 'Maximum 1 week of data can be retrieved in a single call'"
        )
    return start, end


async def events(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{system_id}/events."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    start, end = _window(request, sim)
    return system.events_json(sim.now(), start, end)


async def alarms(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{system_id}/alarms."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    start, end = _window(request, sim)
    cleared = request.query.get("cleared", "false").lower() == "true"
    return system.alarms_json(sim.now(), start, end, cleared=cleared)


async def open_alarms(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{system_id}/open_alarms: every open alarm, no window."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    return alarm_rules.open_alarms_json(system, sim.now())


async def open_events(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{system_id}/open_events: every open event, no window."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    return alarm_rules.open_events_json(system, sim.now())


async def event_types(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/event_types."""
    raw = request.query.get("event_type_id")
    if raw:
        try:
            found = sim.event_types.get(int(raw))
        except ValueError:
            found = None
        if found is None:
            raise not_found(f'Event type not found for {{:id=>"{raw}"}}')
        return {"event_types": [found]}
    return {"event_types": [sim.event_types[k] for k in sorted(sim.event_types)]}


async def inverters_summary(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/inverters_summary_by_envoy_or_site."""
    site = request.query.get("site_id", "").strip()
    envoy = request.query.get("envoy_serial_number", "").strip()
    if not site and not envoy:
        raise unprocessable("Envoy serial number or Site id mandatory")
    page = _int_param(request.query.get("page"), "page", 1, 1, None)
    size = _int_param(request.query.get("size"), "size", 10, 1, 100)
    now = sim.now()
    owned = [sim.systems[s] for s in sim.users[user_id].system_ids if s in sim.systems]
    if site:
        owned = [s for s in owned if str(s.system_id) == site]
    rows: list[tuple[str, dict[str, Any], int]] = []
    for system in owned:
        signal = {g["serial_number"]: int(g.get("_signal_strength", 5)) for g in system.gateways()}
        for envoy_serial, micro in system.micro_summaries(now):
            if envoy_serial not in signal:
                continue  # only micros reporting to an active envoy
            if envoy and envoy_serial != envoy:
                continue
            rows.append((envoy_serial, micro, signal[envoy_serial]))
    groups: dict[str, dict[str, Any]] = {}
    for envoy_serial, micro, strength in rows[(page - 1) * size : page * size]:
        group = groups.setdefault(
            envoy_serial, {"signal_strength": strength, "micro_inverters": []}
        )
        group["micro_inverters"].append(micro)
    return list(groups.values())


def _only(
    method: str, handler: Callable[[web.Request], Awaitable[web.Response]]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        if request.method != method and not (method == "GET" and request.method == "HEAD"):
            return _json({"reason": "405", "message": ["Method not allowed"]}, 405)
        return await handler(request)

    return wrapped


def create_app(sim: Simulator) -> web.Application:
    """Build the aiohttp application serving ``sim``."""
    app = web.Application(middlewares=[log_middleware])
    app[SIM_KEY] = sim
    app.router.add_get("/oauth/authorize", authorize)
    app.router.add_post("/oauth/authorize", authorize_decision)
    app.router.add_post("/oauth/token", token)
    app.router.add_get(DEFAULT_REDIRECT, default_redirect)
    routes: list[tuple[str, str, str, ApiHandler]] = [
        ("GET", API, "systems", systems_list),
        ("GET", API + "/", "systems", systems_list),
        ("POST", API + "/search", "search", systems_search),
        ("GET", API + "/retrieve_system_id", "retrieve_system_id", retrieve_system_id),
        ("GET", API + "/event_types", "event_types", event_types),
        (
            "GET",
            API + "/inverters_summary_by_envoy_or_site",
            "inverters_summary",
            inverters_summary,
        ),
        ("GET", API + "/{system_id}", "system", system_detail),
        ("GET", API + "/{system_id}/summary", "summary", summary),
        ("GET", API + "/{system_id}/devices", "devices", devices),
        ("GET", API + "/{system_id}/events", "events", events),
        ("GET", API + "/{system_id}/alarms", "alarms", alarms),
        ("GET", API + "/{system_id}/open_alarms", "open_alarms", open_alarms),
        ("GET", API + "/{system_id}/open_events", "open_events", open_events),
    ]
    # telemetry.py builds on this module's api(), so it is imported once this one is loaded.
    from .telemetry import setup_truth_routes, telemetry_routes  # noqa: PLC0415

    routes += telemetry_routes()
    for method, path, endpoint, handler in routes:
        # One catch-all route per path so a wrong method gets the reference's 405 body
        # instead of falling through to /{system_id}.
        app.router.add_route("*", path, _only(method, api(endpoint, handler)))
    setup_control_routes(app)
    setup_alarm_control_routes(app)
    setup_truth_routes(app)
    return app
