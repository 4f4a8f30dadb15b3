"""Times, durations and refused refreshes as a user reads them in messages and issues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from .const import DOMAIN

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from .budget import RefreshDecision


def format_time(when: datetime) -> str:
    """Return a time for a message, in Home Assistant's time zone, naming the zone.

    The zone is named because the reader may be elsewhere than the home (UTC when the zone has
    no abbreviation).
    """
    local = dt_util.as_local(when)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or 'UTC'}"


def refresh_refused(decision: RefreshDecision, now: datetime) -> HomeAssistantError:
    """Return the planner's refusal of a manual refresh as the error a user reads."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=f"refresh_{decision.reason}",
        translation_placeholders={"retry_at": format_time(decision.retry_at or now)},
    )


def format_duration(span: timedelta) -> str:
    """Return a duration for a message, in hours and minutes."""
    minutes = max(1, round(span.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
