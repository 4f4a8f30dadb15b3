"""The Simulator: all mutable state of the simulated Enphase cloud, usable in-process by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import secrets
from typing import TYPE_CHECKING, Any
import uuid

from aiohttp import web

from .alarms import AlarmControl, AlarmRules
from .clock import SimClock
from .errors import SimulatorError
from .event_types import EVENT_TYPES
from .model import App, SimSystem, Usage, User, month_bounds
from .plans import PLAN_ORDER, plan_allows
from .scenarios import Scenario, load_scenario
from .truth import TruthMixin

if TYPE_CHECKING:
    from datetime import timedelta

DEFAULT_TOKEN_LIFETIME = 86393
REFRESH_TOKEN_LIFETIME = 30 * 86400
CODE_LIFETIME = 600
REQUEST_LOG_LIMIT = 10_000

DEFAULT_APPS: tuple[dict[str, Any], ...] = (
    {
        "client_id": "sim-client-id",
        "client_secret": "sim-client-secret",
        "api_key": "sim-api-key",
        "name": "Home Assistant (simulated)",
        "plan": "watt",
    },
    {
        "client_id": "sim-other-client-id",
        "client_secret": "sim-other-client-secret",
        "api_key": "sim-other-api-key",
        "name": "Another app (simulated)",
        "plan": "watt",
    },
)


@dataclass
class Fault:
    """A pending injected failure for the next ``remaining`` matching requests."""

    remaining: int
    status: int = 500
    body: Any = None  # dict/list -> JSON, str -> raw text, None -> Enphase-style error JSON
    malformed: bool = False
    endpoint: str | None = None  # None: any API endpoint (never the OAuth endpoints)
    disconnect: bool = False  # drop the connection without a response

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return {
            "remaining": self.remaining,
            "status": self.status,
            "body": self.body,
            "malformed": self.malformed,
            "endpoint": self.endpoint,
            "disconnect": self.disconnect,
        }


@dataclass
class Grant:
    """An issued access or refresh token, or an authorization code."""

    client_id: str
    user_id: int
    expires_at: float
    redirect_uri: str | None = None
    used: bool = False
    revoked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Simulator(AlarmControl, TruthMixin):
    """State of one simulated Enphase cloud built from a scenario.

    Alarm and event controls (raise_alarm, clear_alarm, open_event, close_event,
    alarm_records...) come from :class:`simulator.alarms.AlarmControl`; the ground truth
    of energy (hourly_truth, soc_truth...) from :class:`simulator.truth.TruthMixin`.
    """

    def __init__(
        self,
        scenario: str | Scenario = "small_home",
        *,
        auto_approve: bool = False,
        clock: SimClock | None = None,
        start: datetime | float | None = None,
        speed: float = 1.0,
        token_lifetime: int = DEFAULT_TOKEN_LIFETIME,
        refresh_token_lifetime: int = REFRESH_TOKEN_LIFETIME,
        accept_form_body: bool = False,
    ) -> None:
        """Load ``scenario`` (a name or a :class:`Scenario`); the clock follows real time unless set."""
        self.clock = clock or SimClock(start, speed)
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.auto_approve = auto_approve
        self.auto_approve_user_id: int | None = None
        self.token_lifetime = int(token_lifetime)
        self.refresh_token_lifetime = int(refresh_token_lifetime)
        self.code_lifetime = CODE_LIFETIME
        # NOTES.md: the documented form is the query string; a form body is unconfirmed.
        self.accept_form_body = accept_form_body
        self.apps: dict[str, App] = {}
        for spec in (*DEFAULT_APPS, *self.scenario.apps):
            app = App(
                client_id=spec["client_id"],
                client_secret=spec["client_secret"],
                api_key=spec["api_key"],
                name=spec.get("name", "Simulated app"),
            )
            app.set_plan(spec.get("plan", "watt"), spec.get("per_minute"), spec.get("per_month"))
            self.apps[app.client_id] = app
        self.users: dict[int, User] = {
            int(u["user_id"]): User(
                user_id=int(u["user_id"]),
                name=u.get("name", ""),
                email=u.get("email", ""),
                company_id=str(u.get("company_id", "")),
                system_ids=[int(s) for s in u.get("systems", [])],
            )
            for u in self.scenario.users
        }
        self.default_user_id: int = int(self.scenario.default_user_id)
        self.systems: dict[int, SimSystem] = {}
        for spec in self.scenario.systems:
            system = SimSystem(spec, self.clock.time)
            self.systems[system.system_id] = system
        self.event_types: dict[int, dict[str, Any]] = {
            int(e["event_type_id"]): dict(e) for e in (*EVENT_TYPES, *self.scenario.event_types)
        }
        self.rules = AlarmRules(self.event_types)
        for system in self.systems.values():
            system.rules = self.rules
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.usage: dict[str, Usage] = {}
        self.faults: list[Fault] = []
        self.latency: float = 0.0
        self.endpoint_latency: dict[str, float] = {}
        self.request_log: list[dict[str, Any]] = []
        self._alarm_seq = 0
        # Endpoint -> cheapest plan serving it, over plans.py's groups (set_endpoint_plan).
        self.endpoint_plans: dict[str, str] = {}

    # --- helpers for tests ----------------------------------------------------------------
    def anchor(self, at: datetime | float | None = None) -> None:
        """Fix the scenario's relative times (events, alarms, offline gateways) now or at ``at``.

        Happens by itself at the first API request; call it to pin them explicitly.
        """
        when = at.timestamp() if isinstance(at, datetime) else at
        if when is None:
            when = self.now()
        for system in self.systems.values():
            system.anchor(when)

    @property
    def system_ids(self) -> list[int]:
        """Ids of the default user's systems (what the integration would see)."""
        return list(self.users[self.default_user_id].system_ids)

    def now(self) -> float:
        """Return the simulated time as epoch seconds."""
        return self.clock.time()

    def app_by_key(self, api_key: str | None) -> App | None:
        """Return the app owning ``api_key``."""
        return next((a for a in self.apps.values() if a.api_key == api_key), None)

    def issue_tokens(
        self, client_id: str = "sim-client-id", user_id: int | None = None
    ) -> dict[str, Any]:
        """Mint tokens exactly as POST /oauth/token returns them."""
        if client_id not in self.apps:
            raise SimulatorError(f"unknown client_id {client_id!r}")
        uid = self.default_user_id if user_id is None else int(user_id)
        if uid not in self.users:
            raise SimulatorError(f"unknown user {uid}")
        now = self.now()
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        self.access_tokens[access] = Grant(client_id, uid, now + self.token_lifetime)
        self.refresh_tokens[refresh] = Grant(client_id, uid, now + self.refresh_token_lifetime)
        user = self.users[uid]
        return {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": self.token_lifetime,
            "scope": "read write",
            "enl_uid": uid,
            "enl_cid": user.company_id,
            "enl_password_last_changed": "1668701646",
            "is_internal_app": False,
            "app_type": "system" if not user.company_id else "partner",
            "jti": str(uuid.uuid4()),
        }

    def issue_code(self, client_id: str, user_id: int, redirect_uri: str | None) -> str:
        """Create a single-use authorization code."""
        code = secrets.token_urlsafe(6)
        self.codes[code] = Grant(client_id, user_id, self.now() + self.code_lifetime, redirect_uri)
        return code

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        body: Any = None,
        endpoint: str | None = None,
        *,
        malformed: bool = False,
        disconnect: bool = False,
    ) -> None:
        """Make the next ``n`` API requests (of ``endpoint`` if given) fail."""
        self.faults.append(Fault(int(n), int(status), body, malformed, endpoint, disconnect))

    def take_fault(self, endpoint: str | None, *, oauth: bool = False) -> Fault | None:
        """Consume one pending fault matching ``endpoint``."""
        for fault in self.faults:
            matches = fault.endpoint == endpoint if (fault.endpoint or oauth) else True
            if matches and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def set_latency(self, seconds: float, endpoint: str | None = None) -> None:
        """Delay every response (or one endpoint's) by ``seconds`` of real time."""
        if endpoint is None:
            self.latency = float(seconds)
        elif seconds:
            self.endpoint_latency[endpoint] = float(seconds)
        else:
            self.endpoint_latency.pop(endpoint, None)

    def latency_for(self, endpoint: str | None) -> float:
        """Seconds to wait before answering ``endpoint``."""
        if endpoint is not None and endpoint in self.endpoint_latency:
            return self.endpoint_latency[endpoint]
        return self.latency

    def log_request(self, entry: dict[str, Any]) -> None:
        """Append to the request log (bounded)."""
        self.request_log.append(entry)
        if len(self.request_log) > REQUEST_LOG_LIMIT:
            del self.request_log[: len(self.request_log) - REQUEST_LOG_LIMIT]

    def clear_request_log(self) -> list[dict[str, Any]]:
        """Return the log and empty it."""
        log, self.request_log = self.request_log, []
        return log

    # --- tokens --------------------------------------------------------------------------
    def revoke_refresh_token(
        self, token: str | None = None, *, user_id: int | None = None, client_id: str | None = None
    ) -> int:
        """Revoke one refresh token, or all of a user's / client's; returns how many."""
        count = 0
        for value, grant in self.refresh_tokens.items():
            if token is not None and value != token:
                continue
            if user_id is not None and grant.user_id != user_id:
                continue
            if client_id is not None and grant.client_id != client_id:
                continue
            if not grant.revoked:
                grant.revoked = True
                count += 1
        return count

    def expire_access_tokens(self, *, user_id: int | None = None) -> int:
        """Make every live access token (of a user) expire now; returns how many."""
        now = self.now()
        count = 0
        for grant in self.access_tokens.values():
            if (user_id is None or grant.user_id == user_id) and grant.expires_at > now:
                grant.expires_at = now
                count += 1
        return count

    # --- plan limits ---------------------------------------------------------------------
    def usage_for(self, api_key: str) -> Usage:
        """Counters of ``api_key``, rolled over to the current minute and month."""
        now = self.now()
        usage = self.usage.setdefault(api_key, Usage())
        minute = int(now // 60 * 60)
        if usage.minute_start != minute:
            usage.minute_start, usage.minute_count = minute, 0
        month = month_bounds(now)[0]
        if usage.month_start != month:
            usage.month_start, usage.month_count = month, 0
        return usage

    def check_limits(self, app: App) -> dict[str, Any] | None:
        """Count one request for ``app``; return the 429 body with period fields if over a limit."""
        usage = self.usage_for(app.api_key)
        now = self.now()
        if usage.month_count >= app.per_month:
            usage.rejected += 1
            start, end = month_bounds(now)
            return self._limit_body(app, "month", start, end, app.per_month)
        if usage.minute_count >= app.per_minute:
            usage.rejected += 1
            return self._limit_body(
                app, "minute", usage.minute_start, usage.minute_start + 60, app.per_minute
            )
        usage.minute_count += 1
        usage.month_count += 1
        usage.total += 1
        return None

    @staticmethod
    def _limit_body(app: App, period: str, start: int, end: int, limit: int) -> dict[str, Any]:
        return {
            "message": "Too Many Requests",
            "details": f"Usage limit exceeded for plan {app.plan_title}",
            "code": 429,
            "period": period,
            "period_start": start,
            "period_end": end,
            "limit": limit,
        }

    def usage_report(self) -> dict[str, Any]:
        """Counters and limits per API key, for the control API."""
        out: dict[str, Any] = {}
        for app in self.apps.values():
            usage = self.usage_for(app.api_key)
            out[app.api_key] = {
                "client_id": app.client_id,
                "plan": app.plan,
                "per_minute": app.per_minute,
                "per_month": app.per_month,
                "minute_start": usage.minute_start,
                "minute_count": usage.minute_count,
                "month_start": usage.month_start,
                "month_count": usage.month_count,
                "total": usage.total,
                "rejected": usage.rejected,
            }
        return out

    def reset_usage(self) -> None:
        """Forget all counters."""
        self.usage.clear()

    def set_plan(
        self,
        *,
        api_key: str | None = None,
        client_id: str | None = None,
        plan: str = "custom",
        per_minute: int | None = None,
        per_month: int | None = None,
    ) -> App:
        """Change an app's plan or limits."""
        app = self.apps.get(client_id or "") or self.app_by_key(api_key)
        if app is None:
            raise SimulatorError("unknown app")
        try:
            app.set_plan(plan, per_minute, per_month)
        except ValueError as err:
            raise SimulatorError(str(err)) from err
        return app

    def plan_allows(self, app: App, endpoint: str | None) -> bool:
        """Tell whether ``app``'s plan serves ``endpoint`` (else Enphase answers 403)."""
        return plan_allows(app.plan, endpoint, self.endpoint_plans)

    def set_endpoint_plan(self, endpoint: str, plan: str | None) -> None:
        """Serve ``endpoint`` from ``plan`` up (None: back to its Swagger group's plan).

        NOTES.md: one third-party note puts ``telemetry/battery`` on Kilowatt while the
        Swagger file tags it Consumption Monitoring (Watt); this switch plays either reading.
        """
        if plan is None:
            self.endpoint_plans.pop(endpoint, None)
            return
        if plan.lower() not in PLAN_ORDER:
            raise SimulatorError(f"unknown plan {plan!r}")
        self.endpoint_plans[endpoint] = plan.lower()

    # --- world changes -------------------------------------------------------------------
    def system(self, system_id: int) -> SimSystem:
        """Return the system ``system_id``."""
        try:
            return self.systems[int(system_id)]
        except KeyError as err:
            raise SimulatorError(f"unknown system {system_id}") from err

    def add_system(self, spec: dict[str, Any], user_id: int | None = None) -> SimSystem:
        """Add a system (scenario dict form) owned by ``user_id`` (default user if None)."""
        system = SimSystem(spec, self.clock.time)
        system.rules = self.rules
        system.anchor()
        if system.system_id in self.systems:
            raise SimulatorError(f"system {system.system_id} exists")
        uid = self.default_user_id if user_id is None else int(user_id)
        if uid not in self.users:
            raise SimulatorError(f"unknown user {uid}")
        self.systems[system.system_id] = system
        self.users[uid].system_ids.append(system.system_id)
        return system

    def remove_system(self, system_id: int) -> None:
        """Remove a system from the world and from every user."""
        self.system(system_id)
        del self.systems[int(system_id)]
        for user in self.users.values():
            if int(system_id) in user.system_ids:
                user.system_ids.remove(int(system_id))

    def update_system(self, system_id: int, changes: dict[str, Any]) -> SimSystem:
        """Change public fields (name, status...) or a simulation knob.

        Knobs: ``reporting`` (bool), ``lifetime_lag`` and ``upload_interval`` (seconds),
        ``consumption_includes_battery`` (bool, see simulator/household.py).
        """
        system = self.system(system_id)
        for key, value in changes.items():
            if key == "upload_interval":
                system.set_upload_interval(int(value))
            elif key == "reporting":
                system.offline_since = None if value else self.now()
            elif key == "lifetime_lag":
                system.lifetime_lag = int(value)
            elif key == "consumption_includes_battery":
                system.household.consumption_includes_battery = bool(value)
            elif key in {"system_id", "devices", "events", "alarms"}:
                raise SimulatorError(f"{key} cannot be changed here")
            else:
                system.spec[key] = value
        return system

    def add_device(self, system_id: int, kind: str, device: dict[str, Any]) -> dict[str, Any]:
        """Add a device under ``kind`` (micros, meters, gateways, ...)."""
        system = self.system(system_id)
        if not device.get("serial_number"):
            raise SimulatorError("a device needs a serial_number")
        device = {"status": "normal", "active": True, **device}
        system.devices.setdefault(kind, []).append(device)
        if kind == "micros":
            system.resize(self.now())
        return device

    def remove_device(self, system_id: int, serial_number: str) -> dict[str, Any]:
        """Remove a device by serial number (it stops being returned)."""
        system = self.system(system_id)
        for kind, devices in system.devices.items():
            for device in devices:
                if device.get("serial_number") == serial_number:
                    devices.remove(device)
                    if kind == "micros":
                        system.resize(self.now())
                    return device
        raise SimulatorError(f"no device {serial_number!r} in system {system_id}")

    def update_device(
        self, system_id: int, serial_number: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Change a device's fields (status, name, firmware...); ``retired`` True retires it."""
        system = self.system(system_id)
        for devices in system.devices.values():
            for device in devices:
                if device.get("serial_number") == serial_number:
                    for key, value in changes.items():
                        device["_retired" if key == "retired" else key] = value
                    return device
        raise SimulatorError(f"no device {serial_number!r} in system {system_id}")

    def advance(self, delta: timedelta | float) -> None:
        """Shortcut for ``clock.advance``."""
        self.clock.advance(delta)


SIM_KEY: web.AppKey[Simulator] = web.AppKey("simulator", Simulator)
