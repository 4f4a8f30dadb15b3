"""Telemetry endpoints (intervals, latest power, daily lifetime series) and the /_sim/truth control API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

from .control import _guard
from .household import (
    QUARTER,
    battery_devices,
    channels_of,
    consumption_meters,
    ev_chargers,
    production_meters,
)
from .model import months_back
from .plans import ENDPOINT_GROUPS, PLAN_ORDER, TELEMETRY_ENDPOINTS, required_plan
from .server import API, ApiError, ApiHandler, _owned, unprocessable
from .solar import INTERVAL, local_date, local_day_bounds
from .state import SIM_KEY, Simulator

if TYPE_CHECKING:
    from .household import DayFlows, Household
    from .model import SimSystem

GRANULARITIES = ("5mins", "15mins", "day", "week")
MAX_DAYS = 7  # NOTES.md: at most 7 days a call
MAX_MONTHS_BACK = 24  # and the start within 2 years
STALE_AFTER = 7 * 86400  # latest_telemetry: null for a device silent this long


class NotModelledError(ApiError):
    """501 with the reference's body: the endpoint exists at Enphase, the simulator has no data."""

    def __init__(self) -> None:
        """Build the 501 body."""
        super().__init__(501, "Not Implemented", "Not Implemented")
        self.body = {"reason": "501", "message": ["Not Implemented"]}


def _midnight(tz: str, day: date) -> int:
    return local_day_bounds(tz, day)[0]


def _plus_days(tz: str, epoch: int, days: int) -> int:
    """Move ``epoch`` to the same local wall-clock time ``days`` later (DST days: 23 or 25 h)."""
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(epoch, zone).replace(tzinfo=None) + timedelta(days=days)
    return int(local.replace(tzinfo=zone).timestamp())


def _epoch_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise unprocessable(f"Failed to parse date {raw}") from None


def _date_param(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise unprocessable(f"Failed to parse date {raw}") from None


@dataclass(frozen=True)
class Window:
    """A telemetry request's window: intervals ending in (start, end]."""

    start: int
    end: int
    granularity: str
    start_field: tuple[str, Any]  # ("start_at", epoch) or ("start_date", "YYYY-MM-DD")
    end_field: tuple[str, Any]  # ("end_at", epoch) or ("end_date", "YYYY-MM-DD")

    def ends(self, step: int) -> range:
        """Return the ends of the ``step``-second intervals in the window."""
        return range((self.start // step + 1) * step, self.end + 1, step)


def telemetry_window(request: web.Request, system: SimSystem, now: float, step: int) -> Window:
    """Read start_at/start_date, end_at/end_date and granularity as the Swagger describes them.

    No start: local midnight today. A start before the first reported day moves to that day's
    midnight. No end: start + granularity (a calendar day or week in the system's timezone,
    or 5/15 minutes), and never after now. At most 7 days, the start within 2 years.
    """
    tz = system.timezone
    granularity = request.query.get("granularity") or "day"
    if granularity not in GRANULARITIES:
        raise unprocessable(
            "Invalid request because of 'granularity must be one of 5mins, 15mins, day, week'"
        )
    start_at = _epoch_param(request, "start_at")
    start_date = _date_param(request, "start_date")
    if start_at is not None:
        start = start_at
    elif start_date is not None:
        start = _midnight(tz, start_date)
    else:
        start = _midnight(tz, local_date(tz, now))
    if start > now:
        raise unprocessable("Invalid request because of 'Requested date is in the future'")
    if start < months_back(now, MAX_MONTHS_BACK):
        raise unprocessable(
            "Invalid request because of 'The requested start date must be within 2 years "
            "from current date'"
        )
    first = _midnight(tz, system.model.first_day)
    start = max(start, first)
    end_at = _epoch_param(request, "end_at")
    end_date = _date_param(request, "end_date")
    explicit = end_at if end_at is not None else None
    if explicit is None and end_date is not None:
        explicit = _midnight(tz, end_date + timedelta(days=1))
    if explicit is not None:
        if explicit < start:
            raise unprocessable(
                "Invalid request because of 'Requested date range is invalid for this system. "
                f"{{:start_at=>{start}, :end_at=>{explicit}, :first_interval=>{first + step}, "
                f":last_interval=>{_reported_end(system, now, step)}}}'"
            )
        if explicit > _plus_days(tz, start, MAX_DAYS):
            raise unprocessable(
                "Invalid request because of 'Requested date range in one API hit cannot be "
                f"more than 7 days. {{:start_at=>{start}, :end_at=>{explicit}}}'"
            )
        end = explicit
    elif granularity == "5mins":
        end = start + INTERVAL
    elif granularity == "15mins":
        end = start + QUARTER
    else:
        end = _plus_days(tz, start, 1 if granularity == "day" else MAX_DAYS)
    end = min(end, int(now))
    start_field: tuple[str, Any] = (
        ("start_date", local_date(tz, start).isoformat())
        if start_at is None and start_date is not None
        else ("start_at", start)
    )
    end_field: tuple[str, Any] = (
        ("end_date", end_date.isoformat())
        if end_at is None and end_date is not None
        else ("end_at", end)
    )
    return Window(start, end, granularity, start_field, end_field)


def _reported_end(system: SimSystem, now: float, step: int) -> int:
    """End of the last ``step`` interval the gateway has uploaded (5-minute cutoff, floored)."""
    return system.cutoff(now) // step * step


def _meta(system: SimSystem, now: float) -> dict[str, Any]:
    return {
        "status": system.status(now),
        "last_report_at": system.last_upload(now),
        "last_energy_at": system.last_energy_at(now),
        "operational_at": system.spec.get("operational_at"),
    }


def _head(system: SimSystem, window: Window, total_devices: int) -> dict[str, Any]:
    return {
        "system_id": system.system_id,
        "granularity": window.granularity,
        "total_devices": total_devices,
        window.start_field[0]: window.start_field[1],
        window.end_field[0]: window.end_field[1],
        "items": "intervals",
    }


def _quarter_rows(
    household: Household, window: Window, reported: int
) -> list[tuple[int, DayFlows | None, int]]:
    """(end, flows or None when not uploaded yet, index) per quarter; empty after the data."""
    if window.start >= reported:
        return []  # "Empty list ... if the last interval < requested start time < current time"
    rows: list[tuple[int, DayFlows | None, int]] = []
    known = {
        end: (flows, index)
        for end, flows, index in household.quarters(window.start, min(window.end, reported))
    }
    for end in window.ends(QUARTER):
        flows, index = known.get(end, (None, 0))
        rows.append((end, flows if end <= reported else None, index))
    return rows


# --- interval telemetry -----------------------------------------------------------------------
async def production_micro(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{id}/telemetry/production_micro: 5-minute microinverter intervals."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    now = sim.now()
    window = telemetry_window(request, system, now, INTERVAL)
    reported = _reported_end(system, now, INTERVAL)
    micros = system.micros
    body = _head(system, window, len(micros))
    intervals: list[dict[str, Any]] = []
    if window.start < reported:
        upload = system.last_upload(now)
        reports = [system.device_report(m, upload) for m in micros]
        energy: dict[int, int] = {}
        day = local_date(system.timezone, window.start)
        while _midnight(system.timezone, day) < window.end:
            ends, values = system.household.micro_intervals(day)
            energy.update(zip(ends, values, strict=True))
            day += timedelta(days=1)
        for end in window.ends(INTERVAL):
            wh = energy.get(end, 0) if end <= reported else 0
            # Microinverters sleep in the dark: no energy, nobody reporting.
            reporting = sum(r >= end for r in reports) if wh > 0 else 0
            intervals.append(
                {
                    "end_at": end,
                    "devices_reporting": reporting,
                    "powr": wh * 3600 // INTERVAL,
                    "enwh": wh,
                }
            )
    body["intervals"] = intervals
    body["meta"] = _meta(system, now)
    return body


async def production_meter(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{id}/telemetry/production_meter: 15-minute production meter intervals."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    now = sim.now()
    window = telemetry_window(request, system, now, QUARTER)
    meters = production_meters(system)
    body = _head(system, window, len(meters))
    rows = _quarter_rows(system.household, window, _reported_end(system, now, QUARTER))
    body["intervals"] = [
        {
            "end_at": end,
            "devices_reporting": len(meters) if flows else 0,
            "wh_del": flows.production[index] if flows else 0,
        }
        for end, flows, index in (rows if meters else [])
    ]
    return body


async def consumption_meter(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{id}/telemetry/consumption_meter: 15-minute consumption intervals."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    now = sim.now()
    window = telemetry_window(request, system, now, QUARTER)
    meters = consumption_meters(system)
    household = system.household
    body = _head(system, window, len(meters))
    rows = _quarter_rows(household, window, _reported_end(system, now, QUARTER))
    body["intervals"] = [
        {
            "end_at": end,
            "devices_reporting": len(meters) if flows else 0,
            "enwh": household.value(flows, index, "consumption") if flows else 0,
        }
        for end, flows, index in (rows if meters else [])
    ]
    body["meta"] = _meta(system, now)
    return body


async def battery_telemetry(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{id}/telemetry/battery: 15-minute charge, discharge and state of charge."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    now = sim.now()
    window = telemetry_window(request, system, now, QUARTER)
    household = system.household
    battery = household.battery
    devices = (len(battery_devices(system)) or 1) if battery else 0
    body = _head(system, window, devices)
    reported = _reported_end(system, now, QUARTER)
    intervals = []
    if battery is not None:
        for end, flows, index in _quarter_rows(household, window, reported):
            n = devices if flows else 0
            intervals.append(
                {
                    "end_at": end,
                    "charge": {"enwh": flows.charge[index] if flows else 0, "devices_reporting": n},
                    "discharge": {
                        "enwh": flows.discharge[index] if flows else 0,
                        "devices_reporting": n,
                    },
                    "soc": {
                        "percent": battery.percent(flows.stored[index]) if flows else 0,
                        "devices_reporting": n,
                    },
                }
            )
    body["intervals"] = intervals
    body["last_reported_aggregate_soc"] = (
        f"{battery.percent(household.stored_at(reported))}%"
        if battery is not None and reported > _midnight(system.timezone, system.model.first_day)
        else None
    )
    return body


def _grid_telemetry(channel: str, field: str) -> ApiHandler:
    async def handler(request: web.Request, sim: Simulator, user_id: int) -> Any:
        system = _owned(sim, user_id, request.match_info["system_id"])
        now = sim.now()
        window = telemetry_window(request, system, now, QUARTER)
        household = system.household
        # "Total devices will always return 0 for this endpoint" (Swagger).
        body = _head(system, window, 0)
        rows = _quarter_rows(household, window, _reported_end(system, now, QUARTER))
        # Intervals nest one level deeper than the other telemetry (the Swagger example):
        # here one inner list per local day of the window.
        days: dict[date, list[dict[str, Any]]] = {}
        for end, flows, index in rows if consumption_meters(system) else []:
            days.setdefault(local_date(system.timezone, end - 1), []).append(
                {"end_at": end, field: household.value(flows, index, channel) if flows else 0}
            )
        body["intervals"] = list(days.values())
        body["meta"] = _meta(system, now)
        return body

    handler.__doc__ = (
        f"GET /systems/{{id}}/energy_{channel[5:]}_telemetry: nested 15-minute intervals."
    )
    return handler


async def latest_telemetry(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{id}/latest_telemetry: last reported power per meter channel, battery, EVSE."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    now = sim.now()
    return latest_json(system, now)


def latest_json(system: SimSystem, now: float) -> dict[str, Any]:
    """Render latest_telemetry: meters (3 channels each, null without a meter or phase)."""
    household = system.household
    upload = system.last_upload(now)
    stale = now - upload > STALE_AFTER
    reported = _reported_end(system, now, QUARTER)
    _, flows, index = household.quarter_at(reported)
    per_hour = 3600 // QUARTER

    def entries(name: str, meter: dict[str, Any] | None, power: int | None) -> list[dict[str, Any]]:
        meter_id = meter.get("id") if meter else None
        last = system.device_report(meter, upload) if meter else upload
        first = {
            "id": meter_id,
            "name": name,
            "channel": 1,
            "last_report_at": None if stale or power is None else last,
            "power": None if stale else power,
        }
        # Single-phase homes: the other two phases have no meter.
        rest = [
            {"id": meter_id, "name": name, "channel": c, "last_report_at": None, "power": None}
            for c in (2, 3)
        ]
        return [first, *rest]

    produced = production_meters(system)
    used = consumption_meters(system)
    production_power = (
        flows.production[index] * per_hour
        if produced
        else system.model.interval_power(system.cutoff(now))
    )
    consumption_power = household.value(flows, index, "consumption") * per_hour if used else None
    devices: dict[str, list[dict[str, Any]]] = {
        "meters": [
            *entries("production", produced[0] if produced else None, production_power),
            *entries("consumption", used[0] if used else None, consumption_power),
        ]
    }
    batteries = battery_devices(system)
    if batteries and household.battery is not None:
        # Positive while charging: the Swagger's "consumption - battery = home load" holds
        # with consumption = production + grid (see household.py).
        total = (flows.charge[index] - flows.discharge[index]) * per_hour
        share, rest = divmod(total, len(batteries))
        mode = "Charging" if total > 0 else "Discharging" if total < 0 else "Idle"
        devices["encharges"] = [
            {
                "id": device.get("id"),
                "name": device.get("name"),
                "channel": 1,
                "last_report_at": None if stale else system.device_report(device, upload),
                "power": None if stale else share + (rest if i == 0 else 0),
                "operational_mode": None if stale else mode,
            }
            for i, device in enumerate(batteries)
        ]
    chargers = ev_chargers(system)
    if chargers:
        devices["evse"] = [
            {
                "serial_number": device.get("serial_number"),
                "name": device.get("name"),
                "last_report_at": None if stale else system.device_report(device, upload),
                "operational_mode": None
                if stale
                else ("CHARGING" if flows.ev[index] else "PLUGGED_OUT"),
            }
            for device in chargers
        ]
    return {"system_id": system.system_id, "items": "devices", "devices": devices}


# --- daily lifetime series ------------------------------------------------------------------
def lifetime_window(
    request: web.Request, system: SimSystem, now: float, *, future: str
) -> tuple[date, date]:
    """Read start_date and end_date (local dates) as the Swagger describes them.

    start_date defaults to the operational date and never precedes it; end_date defaults to
    yesterday (today when the start is today) and never passes today.
    """
    today = local_date(system.timezone, now)
    first = system.model.first_day
    start = _date_param(request, "start_date") or first
    if start > today:
        raise unprocessable(future)
    start = max(start, first)
    end = _date_param(request, "end_date") or (
        today - timedelta(days=1) if start < today else today
    )
    end = min(end, today)
    if end < start:
        raise unprocessable("Requested date range is invalid for this system")
    return start, end


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def production_days(system: SimSystem, now: float, days: list[date]) -> list[int]:
    """Daily Wh as uploaded: whole days, the last uploaded day so far, then zeros."""
    cutoff = system.cutoff(now)
    last_day = local_date(system.timezone, cutoff - 1)
    model = system.model
    return [
        model.day_total(d)
        if d < last_day
        else model.energy_on_day_until(d, cutoff)
        if d == last_day
        else 0
        for d in days
    ]


def metered_days(system: SimSystem, now: float, days: list[date], channel: str) -> list[int]:
    """Daily Wh of a meter channel as uploaded (quarters up to the last upload), then zeros."""
    reported = _reported_end(system, now, QUARTER)
    last_day = local_date(system.timezone, reported - 1)
    household = system.household
    out = []
    for d in days:
        if d < last_day:
            out.append(household.day_totals(d)[channel])
        elif d == last_day:
            out.append(household.energy(channel, _midnight(system.timezone, d), reported))
        else:
            out.append(0)
    return out


async def energy_lifetime(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """GET /systems/{id}/energy_lifetime: daily production, merged micro/meter series."""
    system = _owned(sim, user_id, request.match_info["system_id"])
    now = sim.now()
    start, end = lifetime_window(
        request, system, now, future="Requested date range is invalid for this system"
    )
    production = production_days(system, now, _days(start, end))
    body: dict[str, Any] = {"system_id": system.system_id, "start_date": start.isoformat()}
    if production_meters(system):
        # The meter came with the system: the merged series is meter data from day one.
        body["meter_start_date"] = system.model.first_day.isoformat()
    body["production"] = production
    if request.query.get("production") == "all":
        body["micro_production"] = list(production)
        body["meter_production"] = list(production) if production_meters(system) else []
    body["meta"] = _meta(system, now)
    return body


def _metered_lifetime(fields: tuple[tuple[str, str], ...], *, battery: bool) -> ApiHandler:
    async def handler(request: web.Request, sim: Simulator, user_id: int) -> Any:
        system = _owned(sim, user_id, request.match_info["system_id"])
        now = sim.now()
        start, end = lifetime_window(request, system, now, future="Requested date is in the future")
        exists = (
            system.household.battery is not None if battery else bool(consumption_meters(system))
        )
        days = _days(start, end)
        body: dict[str, Any] = {"system_id": system.system_id, "start_date": start.isoformat()}
        for field, channel in fields:
            body[field] = metered_days(system, now, days, channel) if exists else []
        body["meta"] = _meta(system, now)
        return body

    handler.__doc__ = "GET a daily series of " + ", ".join(f for f, _ in fields) + "."
    return handler


async def not_modelled(request: web.Request, sim: Simulator, user_id: int) -> Any:
    """Endpoints the plan check covers but the simulator has no data for: 501."""
    _owned(sim, user_id, request.match_info["system_id"])
    raise NotModelledError


_HANDLERS: dict[str, ApiHandler] = {
    "telemetry_production_micro": production_micro,
    "telemetry_production_meter": production_meter,
    "telemetry_consumption_meter": consumption_meter,
    "telemetry_battery": battery_telemetry,
    "energy_import_telemetry": _grid_telemetry("grid_import", "wh_imported"),
    "energy_export_telemetry": _grid_telemetry("grid_export", "wh_exported"),
    "latest_telemetry": latest_telemetry,
    "energy_lifetime": energy_lifetime,
    "consumption_lifetime": _metered_lifetime((("consumption", "consumption"),), battery=False),
    "battery_lifetime": _metered_lifetime(
        (("charge", "battery_charge"), ("discharge", "battery_discharge")), battery=True
    ),
    "energy_import_lifetime": _metered_lifetime((("import", "grid_import"),), battery=False),
    "energy_export_lifetime": _metered_lifetime((("export", "grid_export"),), battery=False),
}


def telemetry_routes() -> list[tuple[str, str, str, ApiHandler]]:
    """Return (method, path, endpoint name, handler) for plans.TELEMETRY_ENDPOINTS."""
    return [
        ("GET", f"{API}/{{system_id}}/{path}", name, _HANDLERS.get(name, not_modelled))
        for name, path, _, _ in TELEMETRY_ENDPOINTS
    ]


# --- control API: ground truth and endpoint plans ----------------------------------------------
def _time_param(request: web.Request, name: str, default: float | None = None) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if default is None:
            raise ValueError(f"{name} is required (ISO 8601 with an offset, or epoch seconds)")
        return default
    try:
        return float(raw)
    except ValueError:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            raise ValueError(f"{name} needs a UTC offset") from None
        return moment.timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def truth_index(request: web.Request) -> web.Response:
    """GET /_sim/truth/{system_id}: channels the hardware measures, battery limits."""
    sim = request.app[SIM_KEY]
    system = sim.system(int(request.match_info["system_id"]))
    battery = system.household.battery
    return web.json_response(
        {
            "system_id": system.system_id,
            "timezone": system.timezone,
            "channels": channels_of(system),
            "consumption_includes_battery": system.household.consumption_includes_battery,
            "battery": None
            if battery is None
            else {
                "capacity_wh": battery.capacity_wh,
                "reserve_wh": battery.reserve_wh,
                "charge_w": battery.charge_per_quarter * 3600 // QUARTER,
                "discharge_w": battery.discharge_per_quarter * 3600 // QUARTER,
            },
        }
    )


async def truth_hourly(request: web.Request) -> web.Response:
    """GET /_sim/truth/{id}/hourly?channel=a[,b]&start=&end=: Wh per UTC hour."""
    sim = request.app[SIM_KEY]
    system_id = int(request.match_info["system_id"])
    start = _time_param(request, "start")
    end = _time_param(request, "end")
    raw = request.query.get("channel")
    wanted = [c for c in raw.split(",") if c] if raw else sim.truth_channels(system_id)
    channels: dict[str, list[dict[str, Any]]] = {}
    totals: dict[str, int] = {}
    for channel in wanted:
        hours = sim.hourly_truth(system_id, channel, start, end)
        channels[channel] = [
            {"start": hour.isoformat(), "epoch": int(hour.timestamp()), "wh": wh}
            for hour, wh in hours.items()
        ]
        totals[channel] = sum(hours.values())
    return web.json_response(
        {
            "system_id": system_id,
            "start": _iso(start // 3600 * 3600),
            "end": _iso(-(-end // 3600) * 3600),
            "unit": "Wh",
            "channels": channels,
            "totals": totals,
        }
    )


async def truth_battery(request: web.Request) -> web.Response:
    """GET /_sim/truth/{id}/battery?at=: state of charge at a time (default now)."""
    sim = request.app[SIM_KEY]
    at = _time_param(request, "at", sim.now())
    state = sim.battery_truth(int(request.match_info["system_id"]), at)
    return web.json_response({"at": _iso(at), **state})


async def truth_power(request: web.Request) -> web.Response:
    """GET /_sim/truth/{id}/power?at=: mean W per channel over the quarter ending at/before at."""
    sim = request.app[SIM_KEY]
    system_id = int(request.match_info["system_id"])
    at = _time_param(request, "at", sim.now())
    return web.json_response(
        {
            "at": _iso(at),
            "quarter_end": _iso(at // QUARTER * QUARTER),
            "unit": "W",
            "power": {c: sim.power_truth(system_id, c, at) for c in sim.truth_channels(system_id)},
        }
    )


async def get_endpoint_plans(request: web.Request) -> web.Response:
    """GET /_sim/endpoint_plans: the cheapest plan serving each telemetry endpoint."""
    sim = request.app[SIM_KEY]
    return web.json_response(
        {
            name: {"group": ENDPOINT_GROUPS[name], "plan": required_plan(name, sim.endpoint_plans)}
            for name, _, _, _ in TELEMETRY_ENDPOINTS
        }
    )


async def set_endpoint_plan(request: web.Request) -> web.Response:
    """POST /_sim/endpoint_plans {"endpoint", "plan": "kilowatt" | null}."""
    sim = request.app[SIM_KEY]
    body = await request.json()
    endpoint = str(body["endpoint"])
    plan = body.get("plan")
    if plan is not None and str(plan).lower() not in PLAN_ORDER:
        raise ValueError(f"unknown plan {plan!r}")
    sim.set_endpoint_plan(endpoint, None if plan is None else str(plan))
    return await get_endpoint_plans(request)


def setup_truth_routes(app: web.Application) -> None:
    """Register /_sim/truth/... and /_sim/endpoint_plans."""
    app.router.add_get("/_sim/truth/{system_id}", _guard(truth_index))
    app.router.add_get("/_sim/truth/{system_id}/hourly", _guard(truth_hourly))
    app.router.add_get("/_sim/truth/{system_id}/battery", _guard(truth_battery))
    app.router.add_get("/_sim/truth/{system_id}/power", _guard(truth_power))
    app.router.add_get("/_sim/endpoint_plans", _guard(get_endpoint_plans))
    app.router.add_post("/_sim/endpoint_plans", _guard(set_endpoint_plan))
