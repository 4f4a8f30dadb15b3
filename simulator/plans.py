"""Which plan serves which endpoint (Enphase's endpoint groups), and the telemetry endpoints' names."""

from __future__ import annotations

import re

SYSTEM_DETAILS = "System Details"
SITE_PRODUCTION = "Site Level Production Monitoring"
SITE_CONSUMPTION = "Site Level Consumption Monitoring"
EV_CHARGER_MONITORING = "EV Charger Monitoring"
DEVICE_LEVEL = "Device Level Monitoring"
STREAMING = "Streaming APIs"
SYSTEM_CONFIGURATIONS = "System Configurations"

# NOTES.md ("Telemetry and history"): the groups each plan adds, cheapest plan first.
PLAN_ORDER = ("watt", "kilowatt", "megawatt", "partner")
_PLAN_ADDS: dict[str, frozenset[str]] = {
    "watt": frozenset({SYSTEM_DETAILS, SITE_PRODUCTION, SITE_CONSUMPTION, EV_CHARGER_MONITORING}),
    "kilowatt": frozenset({DEVICE_LEVEL, STREAMING}),
    "megawatt": frozenset({SYSTEM_CONFIGURATIONS}),
    "partner": frozenset(),
}
PLAN_GROUPS: dict[str, frozenset[str]] = {
    plan: frozenset().union(*(_PLAN_ADDS[p] for p in PLAN_ORDER[: i + 1]))
    for i, plan in enumerate(PLAN_ORDER)
}

# Endpoints beyond the ten: (log name, path after /api/v4/systems/{system_id}/, Swagger tag,
# whether the Swagger 429 example carries the period fields). The log name is the path with
# "/" as "_" ({serial_no} segments become "serial").
TELEMETRY_ENDPOINTS: tuple[tuple[str, str, str, bool], ...] = (
    ("telemetry_production_micro", "telemetry/production_micro", SITE_PRODUCTION, True),
    ("telemetry_production_meter", "telemetry/production_meter", SITE_PRODUCTION, True),
    ("telemetry_consumption_meter", "telemetry/consumption_meter", SITE_CONSUMPTION, True),
    ("telemetry_battery", "telemetry/battery", SITE_CONSUMPTION, True),
    ("energy_import_telemetry", "energy_import_telemetry", SITE_CONSUMPTION, False),
    ("energy_export_telemetry", "energy_export_telemetry", SITE_CONSUMPTION, False),
    ("latest_telemetry", "latest_telemetry", SITE_CONSUMPTION, False),
    ("energy_lifetime", "energy_lifetime", SITE_PRODUCTION, True),
    ("consumption_lifetime", "consumption_lifetime", SITE_CONSUMPTION, False),
    ("battery_lifetime", "battery_lifetime", SITE_CONSUMPTION, False),
    ("energy_import_lifetime", "energy_import_lifetime", SITE_CONSUMPTION, False),
    ("energy_export_lifetime", "energy_export_lifetime", SITE_CONSUMPTION, False),
    # Kilowatt and up; the simulator checks the plan but models no data for these (501).
    ("devices_micros_telemetry", "devices/micros/telemetry", DEVICE_LEVEL, False),
    (
        "devices_micros_serial_telemetry",
        "devices/micros/{serial_no}/telemetry",
        DEVICE_LEVEL,
        True,
    ),
    (
        "devices_encharges_serial_telemetry",
        "devices/encharges/{serial_no}/telemetry",
        DEVICE_LEVEL,
        True,
    ),
    ("live_data", "live_data", STREAMING, False),
)

ENDPOINT_GROUPS: dict[str, str] = {name: group for name, _, group, _ in TELEMETRY_ENDPOINTS}

TELEMETRY_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (
        re.compile(
            "^/api/v4/systems/[^/]+/" + re.sub(r"\{[a-z_]+\}", "[^/]+", path) + "$",
        ),
        name,
    )
    for name, path, _, _ in TELEMETRY_ENDPOINTS
)

TELEMETRY_PERIOD_429 = frozenset(name for name, _, _, period in TELEMETRY_ENDPOINTS if period)

FORBIDDEN_BODY = {
    "message": "Forbidden",
    "details": "Not authorized to access this resource",
    "code": 403,
}


def group_of(endpoint: str | None) -> str:
    """Swagger group of ``endpoint`` (the ten reference endpoints are System Details)."""
    return ENDPOINT_GROUPS.get(endpoint or "", SYSTEM_DETAILS)


def required_plan(endpoint: str | None, overrides: dict[str, str] | None = None) -> str:
    """Cheapest plan that serves ``endpoint`` (an override wins: the third-party reading)."""
    if overrides and endpoint in overrides:
        return overrides[endpoint]
    group = group_of(endpoint)
    return next(plan for plan in PLAN_ORDER if group in PLAN_GROUPS[plan])


def plan_allows(plan: str, endpoint: str | None, overrides: dict[str, str] | None = None) -> bool:
    """Tell whether an app on ``plan`` may call ``endpoint``; ``custom`` counts as Partner."""
    rank = PLAN_ORDER.index(plan) if plan in PLAN_ORDER else len(PLAN_ORDER) - 1
    return rank >= PLAN_ORDER.index(required_plan(endpoint, overrides))
