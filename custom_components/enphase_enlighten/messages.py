"""Times, durations, refused refreshes and failed fetches as a user reads them in messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    EnphaseConnectionError,
    EnphaseError,
    EnphaseForbiddenError,
    EnphaseInvalidRequestError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    EnphaseResponseError,
    EnphaseServerError,
    EnphaseWindowError,
)
from .budget import RefreshDecision, RefreshRefusal
from .const import DOMAIN

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from .budget import RequestPlanner
    from .entry_budget import EntryBudget


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


def rate_limit_refusal(planner: RequestPlanner, now: datetime) -> HomeAssistantError:
    """Return an action's refusal after Enphase's 429: until when the pause holds."""
    decision = planner.can_refresh(now, 1)
    return refresh_refused(
        decision if not decision else RefreshDecision(False, RefreshRefusal.RATE_LIMITED), now
    )


def enphase_failure(err: EnphaseError, budget: EntryBudget) -> HomeAssistantError:
    """Return the translated error an action raises when Enphase failed its request.

    A 429 is noted in the budget first and answered as a refused refresh; the rest by kind.
    """
    if isinstance(err, EnphaseRateLimitError):
        now = dt_util.utcnow()
        budget.rate_limited(err, now)
        return rate_limit_refusal(budget.planner, now)
    return update_failure(err, HomeAssistantError)


def update_failure[ErrorT: HomeAssistantError](
    err: Exception,
    error_type: type[ErrorT] = UpdateFailed,  # type: ignore[assignment]
) -> ErrorT:
    """Return a failed fetch as the error a user reads: its own key by kind, data as placeholders.

    An `UpdateFailed` for a coordinator; an action passes `HomeAssistantError`.

    Never the client's English text: a user reading another language gets the translation,
    and the debug log keeps the details. A 429 is no failure (the values are kept, see the
    coordinator); set-up and the refresh action say until when it holds.
    """
    status = str(err.status) if isinstance(err, EnphaseError) and err.status else "?"
    if isinstance(err, EnphaseConnectionError):
        return error_type(translation_domain=DOMAIN, translation_key="update_cannot_connect")
    if isinstance(err, EnphaseServerError):
        return error_type(
            translation_domain=DOMAIN,
            translation_key="update_server_error",
            translation_placeholders={"status": status},
        )
    if isinstance(err, EnphaseResponseError):
        return error_type(translation_domain=DOMAIN, translation_key="update_malformed_response")
    if isinstance(err, EnphaseForbiddenError):
        return error_type(translation_domain=DOMAIN, translation_key="update_forbidden")
    if isinstance(err, EnphaseNotFoundError):
        return error_type(translation_domain=DOMAIN, translation_key="update_not_found")
    if isinstance(err, (EnphaseInvalidRequestError, EnphaseWindowError)):
        return error_type(
            translation_domain=DOMAIN,
            translation_key="update_rejected",
            translation_placeholders={"status": status},
        )
    return error_type(translation_domain=DOMAIN, translation_key="update_unexpected")


def format_duration(span: timedelta) -> str:
    """Return a duration for a message, in hours and minutes."""
    minutes = max(1, round(span.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
