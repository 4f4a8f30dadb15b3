"""Counting requests: the quota month, the sliding minute, 429 pauses, task costs."""

from __future__ import annotations

from datetime import UTC, datetime
import math
from typing import TYPE_CHECKING

from .limits import (
    BACKOFF_MAX,
    BACKOFF_MIN,
    MINUTE,
    BlockPeriod,
    RefreshDecision,
    RefreshRefusal,
    quota_month,
)
from .persistence import PlannerState

if TYPE_CHECKING:
    from .tasks import RequestRecordLike, Task


class RequestCounter(PlannerState):
    """Counts an API key's requests against its limits and says whether one more fits."""

    def _roll(self, now: datetime) -> None:
        start, _ = quota_month(now)
        if self._month_start is None or start > self._month_start:
            if self._month_start is not None:
                self._used = 0
                self._unaccounted = 0
                self._by_endpoint.clear()
                self._dirty = True
            self._month_start = start
        if self._blocked_until is not None and self._blocked_until <= now:
            self._blocked_until = None
            self._block_period = None
            self._dirty = True

    def record_request(self, record: RequestRecordLike) -> None:
        """Count one request reported by the API client (success or failure alike)."""
        when = datetime.fromtimestamp(record.started_at, UTC)
        self._roll(when)
        if when >= (self._month_start or when):
            self._used += 1
            self._by_endpoint[record.endpoint] = self._by_endpoint.get(record.endpoint, 0) + 1
        self._window.append(record.started_at)
        self._dirty = True
        if record.status is not None and record.status < 400 and self._block_period is None:
            self._backoff = BACKOFF_MIN

    def used(self, now: datetime) -> int:
        """Return the requests counted in the quota month holding ``now``."""
        self._roll(now)
        return self._used

    def minute_room(self, now: datetime) -> int:
        """Return the requests still allowed in the sliding minute ending at ``now``."""
        horizon = now.timestamp() - 60
        while self._window and self._window[0] <= horizon:
            self._window.popleft()
        return max(0, self.limits.per_minute - len(self._window))

    def _minute_free_at(self, now: datetime, needed: int) -> datetime:
        """Earliest time at which ``needed`` more requests fit in the sliding minute."""
        self.minute_room(now)
        excess = len(self._window) + needed - self.limits.per_minute
        if excess <= 0:
            return now
        if excess > len(self._window):  # more than a minute's worth: after a full minute
            return now + MINUTE
        return datetime.fromtimestamp(self._window[excess - 1] + 60, UTC)

    def minute_free_at(self, now: datetime, task: Task) -> datetime:
        """Earliest time at which the task's next run fits in the sliding minute."""
        return self._minute_free_at(now, self.cost(task))

    def record_rate_limit(
        self,
        now: datetime,
        *,
        period: str | None,
        period_end: datetime | None = None,
        limit: int | None = None,
    ) -> None:
        """React to a 429 from Enphase.

        minute: pause until ``period_end``. month: pause everything until ``period_end`` (see
        ``month_exhausted`` for the repair issue). No period: the key is busier than our
        count says (another user of the key, most likely), so back off exponentially and
        halve the quota we still plan to spend; each such 429 halves it again.
        """
        self._roll(now)
        if period == BlockPeriod.MINUTE:
            until = period_end if period_end and period_end > now else now + MINUTE
            self._block(until, BlockPeriod.MINUTE)
        elif period == BlockPeriod.MONTH:
            until = period_end if period_end and period_end > now else quota_month(now)[1]
            self._block(until, BlockPeriod.MONTH)
            if limit is not None and limit > self._used + self._unaccounted:
                self._unaccounted = limit - self._used
        else:
            remaining = self._plannable_total(now) - self._used - self._unaccounted
            self._unaccounted += max(1, remaining // 2)
            self._block(now + self._backoff, BlockPeriod.BACKOFF)
            self._backoff = min(BACKOFF_MAX, self._backoff * 2)
        self._dirty = True

    def _block(self, until: datetime, period: BlockPeriod) -> None:
        if (
            self._block_period == BlockPeriod.MONTH
            and self._blocked_until
            and (self._blocked_until >= until)
        ):
            return
        self._blocked_until = until
        self._block_period = period

    def blocked_until(self, now: datetime) -> datetime | None:
        """When automatic polling may resume, or None if it is not paused."""
        self._roll(now)
        return self._blocked_until

    def month_exhausted(self, now: datetime) -> datetime | None:
        """Return the end of a monthly 429 pause (raise a repair issue while set), else None."""
        self._roll(now)
        return self._blocked_until if self._block_period == BlockPeriod.MONTH else None

    def _plannable_total(self, now: datetime) -> int:
        """Return the request count automatic polling may reach by the end of this month."""
        start, end = quota_month(now)
        left = max(0.0, (end - now) / (end - start))
        manual_kept = math.ceil(self.reserve.manual_for(self.limits) * left)
        return max(0, self.limits.per_month - self.reserve.other - manual_kept)

    def _month_plannable(self) -> int:
        return max(
            0, self.limits.per_month - self.reserve.other - self.reserve.manual_for(self.limits)
        )

    def set_cost(self, task: Task, requests: int) -> None:
        """Declare how many requests the task's next run makes (1 unless told)."""
        if requests > 1:
            self._costs[task.key] = requests
        else:
            self._costs.pop(task.key, None)

    def cost(self, task: Task) -> int:
        """Return the room in the minute the task's next run needs.

        A run costing more than the plan's whole minute still runs, alone in its minute.
        """
        return min(self._costs.get(task.key, 1), self.limits.per_minute)

    def can_refresh(self, now: datetime, requests: int = 1) -> RefreshDecision:
        """Whether a manual refresh costing ``requests`` may run now, and if not, why."""
        self._roll(now)
        if self._blocked_until is not None:
            reason = {
                BlockPeriod.MONTH: RefreshRefusal.QUOTA_EXHAUSTED,
                BlockPeriod.MINUTE: RefreshRefusal.RATE_LIMITED,
                BlockPeriod.BACKOFF: RefreshRefusal.BACKING_OFF,
            }[self._block_period or BlockPeriod.BACKOFF]
            return RefreshDecision(False, reason, self._blocked_until)
        if self.minute_room(now) < requests:
            return RefreshDecision(
                False, RefreshRefusal.MINUTE_LIMIT, self._minute_free_at(now, requests)
            )
        limit = self.limits.per_month - self.reserve.other
        if self._used + self._unaccounted + requests > limit:
            return RefreshDecision(False, RefreshRefusal.BUDGET, quota_month(now)[1])
        return RefreshDecision(True)

    @property
    def endpoint_counts(self) -> dict[str, int]:
        """Requests this month per endpoint (for diagnostics)."""
        return dict(self._by_endpoint)
