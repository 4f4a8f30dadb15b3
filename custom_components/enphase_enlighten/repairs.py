"""Repair issues: quota spent, plan too small, energy reset, system missing, bad settings."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .lifetime import LifetimeEvent
from .messages import format_duration, format_time

if TYPE_CHECKING:
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry

    from .budget import FreshnessVerdict
    from .lifetime import LifetimeEnergy

_LOGGER = logging.getLogger(__name__)


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


def plan_issue_key(systems: int, max_systems: int) -> str:
    """Pick the plan-too-small text that reads right for these numbers.

    One text per case instead of ICU plural forms: Home Assistant 2026.11 checks every
    translation with Python's string formatter and drops a string holding ICU plurals.
    """
    if systems <= 1:
        return "plan_too_small_one_system"
    if max_systems <= 0:
        return "plan_too_small_for_any"
    if max_systems == 1:
        return "plan_too_small_max_one"
    return "plan_too_small"


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
            translation_key=plan_issue_key(verdict.systems, verdict.max_systems),
            translation_placeholders={
                "entry": entry.title,
                "quota": f"{quota:,}",
                "systems": str(verdict.systems),
                "max_systems": str(verdict.max_systems),
                "interval": format_duration(verdict.daylight_interval),
                "limit": format_duration(verdict.limit),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, freshness_issue_id(entry.entry_id))


def energy_reset_issue_id(entry_id: str, system_id: int) -> str:
    """Return the repair issue id of a system whose lifetime energy counter went back."""
    return f"lifetime_energy_reset_{entry_id}_{system_id}"


@callback
def report_lifetime_event(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    system_id: int,
    entity_id: str,
    energy: LifetimeEnergy,
    shown: float | None,
) -> None:
    """Log what an odd lifetime energy read did; a confirmed reset also raises an issue."""
    event, read = energy.event, energy.read
    if event is LifetimeEvent.HELD:
        _LOGGER.warning(
            "%s: Enphase says %.0f Wh, more than the system can have produced since %.0f Wh;"
            " not shown unless the next reads confirm it",
            entity_id,
            read,
            shown,
        )
    elif event is LifetimeEvent.JUMP_CONFIRMED:
        _LOGGER.warning("%s: the next reads confirm %.0f Wh; shown now", entity_id, read)
    elif event is LifetimeEvent.FALL:
        _LOGGER.info(
            "%s: Enphase says %.0f Wh, below the %.0f Wh shown; waiting for the next reads",
            entity_id,
            read,
            shown,
        )
    elif event is LifetimeEvent.RESET:
        _LOGGER.warning(
            "%s: Enphase's lifetime energy went back from %.0f Wh to %.0f Wh and stays there;"
            " the total goes on from %.0f Wh with what Enphase counts from now on",
            entity_id,
            shown,
            read,
            shown,
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            energy_reset_issue_id(entry.entry_id, system_id),
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="lifetime_energy_reset",
            translation_placeholders={
                "entity": entity_id,
                "shown": f"{(shown or 0) / 1000:.1f}",
                "read": f"{(read or 0) / 1000:.1f}",
            },
        )


def system_missing_issue_id(entry_id: str, system_id: int) -> str:
    """Return the repair issue id of a selected system missing from Enphase's answer."""
    return f"system_missing_{entry_id}_{system_id}"


@callback
def async_update_system_missing_issue(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    system_id: int,
    name: str,
    missing_since: datetime | None,
) -> None:
    """Say a system is missing before it is removed; clear that when it is back or gone."""
    issue_id = system_missing_issue_id(entry.entry_id, system_id)
    if missing_since is None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="system_missing",
        translation_placeholders={
            "entry": entry.title,
            "system": name,
            "since": format_time(missing_since),
        },
    )


def settings_issue_id(entry_id: str) -> str:
    """Return the repair issue id of an entry whose stored settings cannot be read."""
    return f"settings_unreadable_{entry_id}"


@callback
def async_update_settings_issue(
    hass: HomeAssistant, entry: ConfigEntry[Any], settings: list[str]
) -> None:
    """Say which stored settings could not be read (defaults stand in), or clear that."""
    issue_id = settings_issue_id(entry.entry_id)
    if not settings:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    _LOGGER.warning(
        "%s: stored settings that cannot be read: %s; using the defaults",
        entry.title,
        ", ".join(settings),
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="settings_unreadable",
        translation_placeholders={"entry": entry.title, "settings": ", ".join(settings)},
    )
