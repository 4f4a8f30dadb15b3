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


def _count(value: Any) -> int | None:
    """Read a whole number an entry stores; None for anything else (the default is used).

    Entries edited by hand or saved by old versions may hold text ("10", "ten") or floats.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    return None


def unreadable_settings(entry: ConfigEntry[Any]) -> list[str]:
    """Return the entry's stored settings that cannot be read (defaults stand in for them)."""
    bad = [
        key
        for key, value in (
            (CONF_REQUESTS_PER_MINUTE, entry.data.get(CONF_REQUESTS_PER_MINUTE)),
            (CONF_REQUESTS_PER_MONTH, entry.data.get(CONF_REQUESTS_PER_MONTH)),
            (CONF_RESERVE_OTHER, entry.options.get(CONF_RESERVE_OTHER)),
            (CONF_RESERVE_MANUAL, entry.options.get(CONF_RESERVE_MANUAL)),
        )
        if value not in (None, "") and _count(value) is None
    ]
    stored = entry.options.get(CONF_SYSTEMS)
    if stored is not None and (
        not isinstance(stored, list)
        or any((system_id := _count(value)) is None or system_id <= 0 for value in stored)
    ):
        bad.append(CONF_SYSTEMS)
    return bad


def plan_limits(entry: ConfigEntry[Any]) -> PlanLimits:
    """Return the entry's plan limits (the Watt plan's if the entry does not say)."""
    try:
        return PlanLimits.for_plan(
            str(entry.data.get(CONF_PLAN) or PLAN_WATT),
            per_minute=_count(entry.data.get(CONF_REQUESTS_PER_MINUTE)) or None,
            per_month=_count(entry.data.get(CONF_REQUESTS_PER_MONTH)) or None,
        )
    except ValueError:
        return PlanLimits.for_plan(PLAN_WATT)


def plan_reserve(entry: ConfigEntry[Any], limits: PlanLimits) -> Reserve:
    """Return the entry's reserve (options), or the default one if it no longer fits the plan.

    A plan changed to a smaller one since the options were set could leave no request for
    automatic polling at all; the default reserve keeps the entry working until the options
    are set again.
    """
    other = _count(entry.options.get(CONF_RESERVE_OTHER)) or 0
    manual = _count(entry.options.get(CONF_RESERVE_MANUAL))
    reserve = Reserve(other=other, manual=manual)
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
    """Return the system ids selected in the entry's options; ones that are no id are left out."""
    stored = entry.options.get(CONF_SYSTEMS)
    ids: list[int] = []
    for value in stored if isinstance(stored, list) else []:
        system_id = _count(value)
        if system_id is not None and system_id > 0 and system_id not in ids:
            ids.append(system_id)
    return ids
