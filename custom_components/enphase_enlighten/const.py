"""Constants shared by the Enphase Enlighten integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "enphase_enlighten"

# Config entry data keys (the API key field name is a public contract).
CONF_API_KEY: Final = "api_key"
CONF_PLAN: Final = "plan"
CONF_REQUESTS_PER_MINUTE: Final = "requests_per_minute"
CONF_REQUESTS_PER_MONTH: Final = "requests_per_month"
# Config entry options: the selected Enphase system ids (ints).
CONF_SYSTEMS: Final = "systems"

# Enphase plans: (requests per minute, requests per month). The quota belongs to the
# application, i.e. to the API key, and covers every endpoint this integration uses.
PLAN_WATT: Final = "watt"
PLAN_KILOWATT: Final = "kilowatt"
PLAN_MEGAWATT: Final = "megawatt"
PLAN_PARTNER: Final = "partner"
PLAN_CUSTOM: Final = "custom"
PLANS: Final[dict[str, tuple[int, int]]] = {
    PLAN_WATT: (10, 1_000),
    PLAN_KILOWATT: (50, 50_000),
    PLAN_MEGAWATT: (100, 300_000),
    PLAN_PARTNER: (300, 1_500_000),
}
# Config entry options: requests per month the automatic polling leaves alone, for other
# programs using the same API key and for refreshes a user asks for (ints).
CONF_RESERVE_OTHER: Final = "reserve_other"
CONF_RESERVE_MANUAL: Final = "reserve_manual"
