"""Constants of the Enphase Monitoring API v4 client: URLs, endpoint names and limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

DEFAULT_BASE_URL: Final = "https://api.enphaseenergy.com"
API_URL_ENV: Final = "ENPHASE_ENLIGHTEN_API_URL"
API_PREFIX: Final = "/api/v4"

# Endpoint names as reported in RequestRecord.endpoint (one per reference endpoint).
ENDPOINT_SYSTEMS: Final = "systems"
ENDPOINT_SEARCH: Final = "search"
ENDPOINT_SYSTEM: Final = "system"
ENDPOINT_SUMMARY: Final = "summary"
ENDPOINT_DEVICES: Final = "devices"
ENDPOINT_RETRIEVE_SYSTEM_ID: Final = "retrieve_system_id"
ENDPOINT_EVENTS: Final = "events"
ENDPOINT_ALARMS: Final = "alarms"
ENDPOINT_EVENT_TYPES: Final = "event_types"
ENDPOINT_INVERTERS_SUMMARY: Final = "inverters_summary"
ENDPOINT_OPEN_ALARMS: Final = "open_alarms"
ENDPOINT_OPEN_EVENTS: Final = "open_events"
ENDPOINTS: Final = (
    ENDPOINT_SYSTEMS,
    ENDPOINT_SEARCH,
    ENDPOINT_SYSTEM,
    ENDPOINT_SUMMARY,
    ENDPOINT_DEVICES,
    ENDPOINT_RETRIEVE_SYSTEM_ID,
    ENDPOINT_EVENTS,
    ENDPOINT_ALARMS,
    ENDPOINT_EVENT_TYPES,
    ENDPOINT_INVERTERS_SUMMARY,
    ENDPOINT_OPEN_ALARMS,
    ENDPOINT_OPEN_EVENTS,
)

# Site telemetry and daily series (beyond the ten): the simulator's log names, path with "_".
ENDPOINT_PRODUCTION_MICRO: Final = "telemetry_production_micro"
ENDPOINT_PRODUCTION_METER: Final = "telemetry_production_meter"
ENDPOINT_CONSUMPTION_METER: Final = "telemetry_consumption_meter"
ENDPOINT_BATTERY_TELEMETRY: Final = "telemetry_battery"
ENDPOINT_IMPORT_TELEMETRY: Final = "energy_import_telemetry"
ENDPOINT_EXPORT_TELEMETRY: Final = "energy_export_telemetry"
ENDPOINT_LATEST_TELEMETRY: Final = "latest_telemetry"
ENDPOINT_ENERGY_LIFETIME: Final = "energy_lifetime"
ENDPOINT_CONSUMPTION_LIFETIME: Final = "consumption_lifetime"
ENDPOINT_BATTERY_LIFETIME: Final = "battery_lifetime"
ENDPOINT_IMPORT_LIFETIME: Final = "energy_import_lifetime"
ENDPOINT_EXPORT_LIFETIME: Final = "energy_export_lifetime"
TELEMETRY_ENDPOINTS: Final = (
    ENDPOINT_PRODUCTION_MICRO,
    ENDPOINT_PRODUCTION_METER,
    ENDPOINT_CONSUMPTION_METER,
    ENDPOINT_BATTERY_TELEMETRY,
    ENDPOINT_IMPORT_TELEMETRY,
    ENDPOINT_EXPORT_TELEMETRY,
    ENDPOINT_LATEST_TELEMETRY,
    ENDPOINT_ENERGY_LIFETIME,
    ENDPOINT_CONSUMPTION_LIFETIME,
    ENDPOINT_BATTERY_LIFETIME,
    ENDPOINT_IMPORT_LIFETIME,
    ENDPOINT_EXPORT_LIFETIME,
)

# The largest page the paged endpoints accept; walking at this size spends the fewest requests.
MAX_PAGE_SIZE: Final = 100
# A server that ignores `page` would make a walk endless; no account comes near this.
MAX_PAGES: Final = 1000

# Events and alarms: one call covers at most a week, and start_time may be at most 9 months back.
MAX_WINDOW: Final = timedelta(days=7)
MAX_LOOKBACK_MONTHS: Final = 9

# Telemetry: a `week` call covers 7 local days, a `day` call one (23 or 25 hours on DST days),
# and the start may be at most 2 calendar years back.
TELEMETRY_WEEK: Final = timedelta(days=7)
TELEMETRY_DAY: Final = timedelta(hours=23)
TELEMETRY_LOOKBACK_MONTHS: Final = 24
# A window is walked in at most this many calls (a 2-year history is 105 weeks).
MAX_TELEMETRY_CALLS: Final = 120

# The 401 details Enphase sends when the API key and the token belong to different apps.
API_KEY_MISMATCH: Final = "API Key -Client mismatch"
