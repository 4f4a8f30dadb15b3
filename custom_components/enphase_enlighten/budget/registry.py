"""One request planner per API key, shared by every entry using the key."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .limits import PlanLimits, Reserve, storage_key
from .planner import RequestPlanner

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .persistence import UsageStore
    from .tasks import RequestRecordLike


class PlannerRegistry:
    """Hands every entry with the same API key the same planner (the quota is per key)."""

    def __init__(self, store_factory: Callable[[str], UsageStore]) -> None:
        """``store_factory`` gets ``storage_key(api_key)`` and returns that key's store."""
        self._store_factory = store_factory
        self._planners: dict[str, RequestPlanner] = {}
        # Each entry's own reserve; the planner keeps the largest (see ``_combined_reserve``).
        self._reserves: dict[str, dict[str, Reserve]] = {}
        # Loading a key's counts and adding a flow's requests to them must not interleave.
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def async_acquire(
        self, api_key: str, owner: str, limits: PlanLimits, *, reserve: Reserve | None = None
    ) -> RequestPlanner:
        """Return the planner for this key, loaded on first use; ``owner`` is the entry id."""
        key = storage_key(api_key)
        async with self._lock(key):
            planner = self._planners.get(key)
            if planner is None:
                planner = RequestPlanner(limits, self._store_factory(key))
                await planner.async_load()
                self._planners[key] = planner
            else:
                # Entries may disagree on the plan; the smaller limits are the safe ones.
                planner.limits = PlanLimits(
                    min(planner.limits.per_minute, limits.per_minute),
                    min(planner.limits.per_month, limits.per_month),
                )
        planner._owners.setdefault(owner, [])  # noqa: SLF001
        reserves = self._reserves.setdefault(key, {})
        reserves[owner] = reserve or Reserve()
        planner.reserve = _combined_reserve(reserves.values(), planner.limits)
        return planner

    async def async_release(self, api_key: str, owner: str) -> None:
        """Drop an entry; the planner is saved and forgotten when its last entry leaves."""
        key = storage_key(api_key)
        planner = self._planners.get(key)
        if planner is None:
            return
        planner.remove_owner(owner)
        reserves = self._reserves.get(key, {})
        reserves.pop(owner, None)
        if reserves:
            planner.reserve = _combined_reserve(reserves.values(), planner.limits)
        await planner.async_save()
        if not planner.owners:
            del self._planners[key]
            self._reserves.pop(key, None)

    async def async_record_requests(
        self, api_key: str, records: Iterable[RequestRecordLike]
    ) -> RequestPlanner | None:
        """Count requests made outside any entry (a config flow) in the key's saved count.

        The key's planner counts them when an entry uses it (and is returned); otherwise the
        saved counts are loaded, added to and saved again.
        """
        key = storage_key(api_key)
        async with self._lock(key):
            planner = self._planners.get(key)
            active = planner is not None
            if planner is None:
                planner = RequestPlanner(PlanLimits(1, 1), self._store_factory(key))
                await planner.async_load()
            for record in records:
                planner.record_request(record)
            await planner.async_save()
        return planner if active else None


def _combined_reserve(reserves: Iterable[Reserve], limits: PlanLimits) -> Reserve:
    """Return the largest of the entries' reserves: one key, one quota, the safest choice."""
    every = list(reserves) or [Reserve()]
    other = max(reserve.other for reserve in every)
    if all(reserve.manual is None for reserve in every):
        # Every entry keeps the default, which follows the (possibly changed) limits.
        return Reserve(other=other)
    return Reserve(other=other, manual=max(reserve.manual_for(limits) for reserve in every))
