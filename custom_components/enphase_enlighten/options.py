"""What a config entry's data and options say: its plan, its reserve, its systems."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .budget import PlanLimits, Reserve
from .const import (
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    CONF_RESERVE_MANUAL,
    CONF_RESERVE_OTHER,
    CONF_SYSTEMS,
    PLAN_WATT,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

_LOGGER = logging.getLogger(__name__)


def plan_limits(entry: ConfigEntry[Any]) -> PlanLimits:
    """Return the entry's plan limits (the Watt plan's if the entry does not say)."""
    try:
        return PlanLimits.for_plan(
            str(entry.data.get(CONF_PLAN) or PLAN_WATT),
            per_minute=entry.data.get(CONF_REQUESTS_PER_MINUTE) or None,
            per_month=entry.data.get(CONF_REQUESTS_PER_MONTH) or None,
        )
    except ValueError:
        return PlanLimits.for_plan(PLAN_WATT)


def plan_reserve(entry: ConfigEntry[Any], limits: PlanLimits) -> Reserve:
    """Return the entry's reserve (options), or the default one if it no longer fits the plan.

    A plan changed to a smaller one since the options were set could leave no request for
    automatic polling at all; the default reserve keeps the entry working until the options
    are set again.
    """
    other = int(entry.options.get(CONF_RESERVE_OTHER) or 0)
    manual = entry.options.get(CONF_RESERVE_MANUAL)
    reserve = Reserve(other=other, manual=None if manual is None else int(manual))
    if other < 0 or other + reserve.manual_for(limits) >= limits.per_month:
        _LOGGER.warning(
            "The request reserve of %s does not fit its plan's %s requests a month; "
            "using the default until it is set again in the entry's options",
            entry.title,
            limits.per_month,
        )
        return Reserve()
    return reserve


def selected_system_ids(entry: ConfigEntry[Any]) -> list[int]:
    """Return the system ids selected in the entry's options."""
    return [int(system_id) for system_id in entry.options.get(CONF_SYSTEMS, [])]
