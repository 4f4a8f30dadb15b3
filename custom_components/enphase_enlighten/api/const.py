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

# The largest page the paged endpoints accept; walking at this size spends the fewest requests.
MAX_PAGE_SIZE: Final = 100
# A server that ignores `page` would make a walk endless; no account comes near this.
MAX_PAGES: Final = 1000

# Events and alarms: one call covers at most a week, and start_time may be at most 9 months back.
MAX_WINDOW: Final = timedelta(days=7)
MAX_LOOKBACK_MONTHS: Final = 9

# The 401 details Enphase sends when the API key and the token belong to different apps.
API_KEY_MISMATCH: Final = "API Key -Client mismatch"
