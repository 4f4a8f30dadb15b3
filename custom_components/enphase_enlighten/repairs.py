"""Repair issues about the request budget: a spent monthly quota, a plan too small."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .messages import format_duration, format_time

if TYPE_CHECKING:
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry

    from .budget import FreshnessVerdict


def quota_issue_id(entry_id: str) -> str:
    """Return the repair issue id of a spent monthly quota."""
    return f"quota_exhausted_{entry_id}"


def freshness_issue_id(entry_id: str) -> str:
    """Return the repair issue id of a plan too small for the selected systems."""
    return f"plan_too_small_{entry_id}"


@callback
def async_update_quota_issue(
    hass: HomeAssistant, entry: ConfigEntry[Any], quota: int, resume: datetime | None
) -> None:
    """Raise the spent-quota issue until ``resume`` (the monthly 429's end), or clear it."""
    if resume is not None:
        ir.async_create_issue(
            hass,
            DOMAIN,
            quota_issue_id(entry.entry_id),
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="quota_exhausted",
            translation_placeholders={
                "entry": entry.title,
                "quota": f"{quota:,}",
                "resume_at": format_time(resume),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, quota_issue_id(entry.entry_id))


@callback
def async_update_plan_issue(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    quota: int,
    verdict: FreshnessVerdict,
    *,
    has_systems: bool,
) -> None:
    """Raise the plan-too-small issue while the verdict says stale and systems are polled."""
    if not verdict.ok and has_systems:
        ir.async_create_issue(
            hass,
            DOMAIN,
            freshness_issue_id(entry.entry_id),
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="plan_too_small",
            translation_placeholders={
                "entry": entry.title,
                "quota": f"{quota:,}",
                # Bare numbers: the description picks plural forms by them (ICU).
                "systems": str(verdict.systems),
                "max_systems": str(verdict.max_systems),
                "interval": format_duration(verdict.daylight_interval),
                "limit": format_duration(verdict.limit),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, freshness_issue_id(entry.entry_id))
