"""An entry's view of its API key's shared request planner: counts, sensors, repair issues."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .budget import (
    STORAGE_VERSION,
    BlockPeriod,
    BudgetStats,
    FreshnessVerdict,
    PlannerRegistry,
    RequestPlanner,
    TaskKind,
    quota_month,
    storage_key,
)
from .const import CONF_API_KEY, DOMAIN
from .repairs import async_update_plan_issue, async_update_quota_issue

if TYPE_CHECKING:
    from datetime import datetime

    from homeassistant.config_entries import ConfigEntry

    from .api import EnphaseRateLimitError, RequestRecord

_LOGGER = logging.getLogger(__name__)

PLANNERS: HassKey[PlannerRegistry] = HassKey(f"{DOMAIN}_planners")
# Counts are saved this soon after a request (at most once in this time): a crash loses
# only the last few, and a start-up burst is one write.
SAVE_DELAY = 3.0


def budget_signal(api_key: str) -> str:
    """Return the dispatcher signal of an API key's budget sensors (every entry on the key)."""
    return f"{DOMAIN}_budget_{storage_key(api_key)}"


async def async_count_flow_requests(
    hass: HomeAssistant, api_key: str, records: list[RequestRecord]
) -> None:
    """Add requests a config or options flow made to the API key's monthly count."""
    if not records:
        return
    planner = await planner_registry(hass).async_record_requests(api_key, records)
    if planner is not None:
        # Entries on this key show the new count at once.
        async_dispatcher_send(hass, budget_signal(api_key))


def planner_registry(hass: HomeAssistant) -> PlannerRegistry:
    """Return the registry handing out one request planner per API key."""
    if (registry := hass.data.get(PLANNERS)) is None:
        registry = hass.data[PLANNERS] = PlannerRegistry(
            lambda key: Store[dict[str, Any]](hass, STORAGE_VERSION, key)
        )
    return registry


class EntryBudget:
    """An entry's view of the request planner its API key shares with other entries.

    It logs rate limits once, keeps the repair issues in step with the planner, saves the
    counts and tells the budget sensors when the numbers moved.
    """

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], planner: RequestPlanner):
        """Wrap the planner for one entry (the planner's owner is the entry id)."""
        self.hass = hass
        self.entry = entry
        self.planner = planner
        self.owner = entry.entry_id
        # Every entry on the same key listens to the same signal: the counts are the key's.
        self.signal = budget_signal(entry.data[CONF_API_KEY])
        self._logged_block: BlockPeriod | None = None
        self._freshness: tuple[tuple[Any, ...], FreshnessVerdict] | None = None
        # The entry's systems, as last told to the planner.
        self.systems: tuple[int, ...] = ()

    @callback
    def request_sent(self, record: RequestRecord) -> None:
        """Count a request as it leaves (the client's on_send callback); save soon."""
        self.planner.record_sent(record)
        self.planner.schedule_save(SAVE_DELAY)

    @callback
    def request_done(self, record: RequestRecord) -> None:
        """Note a request's answer (the client's on_request callback); save soon."""
        self.planner.record_request(record)
        self.planner.schedule_save(SAVE_DELAY)

    @callback
    def rate_limited(self, err: EnphaseRateLimitError, now: datetime) -> None:
        """Tell the planner about a 429; log when polling first pauses."""
        self.planner.record_rate_limit(
            now, period=err.period, period_end=err.period_end, limit=err.limit
        )
        until = self.planner.blocked_until(now)
        period = self.planner.block_period(now)
        if self._logged_block is None and until is not None:
            self._logged_block = period if period == BlockPeriod.MINUTE else BlockPeriod.MONTH
            # A per-minute limit (or a 429 taken as one) is routine and over in a minute;
            # the monthly quota, or a limit Enphase does not explain twice, is news.
            _LOGGER.log(
                logging.DEBUG if period == BlockPeriod.MINUTE else logging.WARNING,
                "Enphase request limit reached (per %s); keeping the last data until %s",
                err.period or "unknown period",
                until.isoformat(),
            )

    @callback
    def async_check_resumed(self, now: datetime) -> None:
        """Log once when polling resumes after a rate limit."""
        if self._logged_block is not None and self.planner.blocked_until(now) is None:
            _LOGGER.log(
                logging.DEBUG if self._logged_block == BlockPeriod.MINUTE else logging.INFO,
                "Enphase request limit period over; polling again",
            )
            self._logged_block = None

    def stats(self, now: datetime) -> BudgetStats:
        """Return the key's numbers, with this entry's next summary update."""
        stats = self.planner.stats(now)
        summaries = [
            when
            for task, when in self.planner.next_due(now, self.owner)
            if task.kind == TaskKind.SUMMARY
        ]
        next_summary = max(now, min(summaries)) if summaries else None
        return BudgetStats(
            used=stats.used,
            quota=stats.quota,
            remaining=stats.remaining,
            projected_month_end=stats.projected_month_end,
            month_end=stats.month_end,
            next_summary_at=next_summary,
            daylight_interval=stats.daylight_interval,
            blocked_until=stats.blocked_until,
            block_period=stats.block_period,
        )

    def freshness(self, now: datetime) -> FreshnessVerdict:
        """Return the planner's freshness verdict (solved again when its inputs change)."""
        planner = self.planner
        key = (
            quota_month(now)[0],
            planner.limits,
            planner.reserve,
            len(planner.owners),
            self.systems,
        )
        if self._freshness is None or self._freshness[0] != key:
            self._freshness = (key, self.planner.freshness(now))
        return self._freshness[1]

    @callback
    def async_update_issues(self, now: datetime) -> None:
        """Raise or clear the repair issues: a spent monthly quota, a plan too small."""
        quota = self.planner.limits.per_month
        async_update_quota_issue(self.hass, self.entry, quota, self.planner.month_exhausted(now))
        async_update_plan_issue(
            self.hass, self.entry, quota, self.freshness(now), has_systems=bool(self.systems)
        )

    async def async_changed(self) -> None:
        """Save the counts, update the repair issues and tell the budget sensors."""
        now = dt_util.utcnow()
        self.async_check_resumed(now)
        self.async_update_issues(now)
        async_dispatcher_send(self.hass, self.signal)
        await self.planner.async_save()
