"""Counting requests: the quota month, the sliding minute, 429 pauses, task costs."""

from __future__ import annotations

from bisect import insort
from contextvars import ContextVar
from datetime import UTC, datetime
import logging
import math
from typing import TYPE_CHECKING, Self

from .limits import (
    BACKOFF_MAX,
    BACKOFF_MIN,
    MINUTE,
    MINUTE_BLOCK_MAX,
    MONTH_MARGIN,
    BlockPeriod,
    RefreshDecision,
    RefreshRefusal,
    quota_month,
)
from .persistence import PlannerState

if TYPE_CHECKING:
    from types import TracebackType

    from .tasks import RequestRecordLike, Task

_LOGGER = logging.getLogger(__name__)

# The reservation the running code spends (set by ``with reservation:``; asyncio tasks
# started inside inherit it, so every request of a refresh finds its reservation).
_SPENDING: ContextVar[Reservation | None] = ContextVar("enphase_reservation", default=None)


class Reservation:
    """Requests held in the minute and the month before they are sent.

    Two callers checking for room at once would both see it; a reservation takes the room
    at the check. Requests sent while it is active (``with reservation:``) use it up; what
    is left is given back on leaving. It also keeps what became of its tasks.
    """

    def __init__(self, counter: RequestCounter, decision: RefreshDecision, stamps: list[float]):
        """Hold ``stamps`` (already counted by ``counter``); refused reservations hold none."""
        self.decision = decision
        self._counter = counter
        self._stamps = stamps
        self._month_start = counter._month_start  # noqa: SLF001
        self._token: object = None
        self.done = 0
        self.failed = 0
        self.rate_limited = 0

    def __bool__(self) -> bool:
        """Truthy when the requests were reserved."""
        return self.decision.allowed

    def __enter__(self) -> Self:
        """Spend this reservation in the code (and the tasks it starts) inside the block."""
        self._token = _SPENDING.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Give back what was not sent."""
        _SPENDING.reset(self._token)  # type: ignore[arg-type]
        self.release()

    def take(self, counter: RequestCounter) -> float | None:
        """Return a held stamp for a request being sent, None when none is left."""
        if counter is not self._counter or not self._stamps:
            return None
        return self._stamps.pop()

    def release(self) -> None:
        """Give back the requests held and not sent."""
        counter = self._counter
        for stamp in self._stamps:
            if stamp in counter._window:  # noqa: SLF001
                counter._window.remove(stamp)  # noqa: SLF001
            if counter._month_start == self._month_start:  # noqa: SLF001
                counter._used = max(0, counter._used - 1)  # noqa: SLF001
        self._stamps = []


def current_reservation() -> Reservation | None:
    """Return the reservation the running code spends, if any."""
    return _SPENDING.get()


class RequestCounter(PlannerState):
    """Counts an API key's requests against its limits and says whether one more fits."""

    def _roll(self, now: datetime) -> None:
        start, end = quota_month(now)
        if self._month_start is None or start > self._month_start:
            if self._month_start is not None:
                # The old month spent (as far as we know): Enphase's clock may not have
                # turned yet, and a request now would count in its old month.
                spent = self._used + self._unaccounted >= (
                    self.limits.per_month - self.reserve.other - self.limits.per_minute
                )
                if spent and now < start + MONTH_MARGIN and self._blocked_until is None:
                    self._blocked_until = start + MONTH_MARGIN
                    self._block_period = BlockPeriod.BACKOFF
                self._used = 0
                self._unaccounted = 0
                self._by_endpoint.clear()
                self._dirty = True
                if self._block_period == BlockPeriod.MONTH and self._blocked_until is not None:
                    # A new month clears a monthly pause, after a margin for Enphase's clock.
                    self._blocked_until = min(self._blocked_until, start + MONTH_MARGIN)
            self._month_start = start
        if self._blocked_until is not None:
            cap = end + MONTH_MARGIN if self._block_period == BlockPeriod.MONTH else None
            if self._block_period == BlockPeriod.MINUTE:
                cap = now + MINUTE_BLOCK_MAX
            elif self._block_period == BlockPeriod.BACKOFF:
                cap = now + BACKOFF_MAX
            if cap is not None and self._blocked_until > cap:
                self._warn_once(str(self._block_period), self._blocked_until, cap)
                self._blocked_until = cap
                self._dirty = True
        if self._blocked_until is not None and self._blocked_until <= now:
            self._blocked_until = None
            self._block_period = None
            self._dirty = True

    def _warn_once(self, kind: str, until: datetime, cap: datetime) -> None:
        if kind in self._warned:
            return
        self._warned.add(kind)
        _LOGGER.warning(
            "Enphase asked to pause %s polling until %s, which cannot be right (clock skew?);"
            " pausing until %s instead",
            kind,
            until.isoformat(),
            cap.isoformat(),
        )

    def _count(self, endpoint: str, started_at: float) -> None:
        when = datetime.fromtimestamp(started_at, UTC)
        self._roll(when)
        if when >= (self._month_start or when):
            self._used += 1
        self._by_endpoint[endpoint] = self._by_endpoint.get(endpoint, 0) + 1
        insort(self._window, started_at)
        self._dirty = True

    def record_sent(self, record: RequestRecordLike) -> None:
        """Count a request as it is sent: it joins the sliding minute and the month now.

        Its answer, reported to ``record_request`` with the same endpoint and start, is not
        counted again. Sent inside a reservation, it takes one of the reservation's places.
        """
        key = (record.endpoint, record.started_at)
        self._sent[key] = self._sent.get(key, 0) + 1
        reservation = _SPENDING.get()
        held = reservation.take(self) if reservation is not None else None
        if held is None:
            self._count(record.endpoint, record.started_at)
            return
        # Already counted at the reservation: move its place in the minute to the real start.
        if held in self._window:
            self._window.remove(held)
        insort(self._window, max(held, record.started_at))
        self._by_endpoint[record.endpoint] = self._by_endpoint.get(record.endpoint, 0) + 1
        self._dirty = True

    def record_request(self, record: RequestRecordLike) -> None:
        """Count one request reported by the API client (success or failure alike)."""
        key = (record.endpoint, record.started_at)
        if (pending := self._sent.get(key, 0)) > 0:
            if pending == 1:
                del self._sent[key]
            else:
                self._sent[key] = pending - 1
        else:
            self._count(record.endpoint, record.started_at)
        if record.status is not None and record.status < 400:
            self._plain_streak = 0

    def hold(self, now: datetime, requests: int) -> Reservation:
        """Reserve ``requests`` in the minute and the month, unchecked (the caller checked)."""
        self._roll(now)
        stamps = [now.timestamp()] * max(0, requests)
        for stamp in stamps:
            insort(self._window, stamp)
        self._used += len(stamps)
        if stamps:
            self._dirty = True
        return Reservation(self, RefreshDecision(True), stamps)

    def reserve_refresh(self, now: datetime, requests: int = 1) -> Reservation:
        """Reserve a manual refresh's requests if ``can_refresh`` allows them, else none."""
        decision = self.can_refresh(now, requests)
        if not decision:
            return Reservation(self, decision, [])
        return self.hold(now, requests)

    def used(self, now: datetime) -> int:
        """Return the requests counted in the quota month holding ``now``."""
        self._roll(now)
        return self._used

    def minute_room(self, now: datetime) -> int:
        """Return the requests still allowed in the sliding minute ending at ``now``."""
        horizon = now.timestamp() - 60
        while self._window and self._window[0] <= horizon:
            self._window.popleft()
        # A start more than a minute ahead is no request of ours (a clock set back, an edit).
        while self._window and self._window[-1] > horizon + 120:
            self._window.pop()
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

        minute: pause until ``period_end`` (at most ``MINUTE_BLOCK_MAX``). month: pause
        until the earlier of ``period_end`` and our month's end plus ``MONTH_MARGIN``, and
        learn the key's real use from ``limit``. No period (search, devices and alarms answer
        so): see ``_plain_rate_limit``.
        """
        self._roll(now)
        if (reservation := _SPENDING.get()) is not None:
            reservation.rate_limited += 1
        if period == BlockPeriod.MINUTE:
            until = period_end if period_end and period_end > now else now + MINUTE
            if until > now + MINUTE_BLOCK_MAX:
                self._warn_once(BlockPeriod.MINUTE, until, now + MINUTE_BLOCK_MAX)
                until = now + MINUTE_BLOCK_MAX
            self._block(until, BlockPeriod.MINUTE)
        elif period == BlockPeriod.MONTH:
            cap = quota_month(now)[1] + MONTH_MARGIN
            if period_end is None:
                until = cap
            elif period_end <= now:
                # Enphase's month ended by its clock and not yet by ours, or it is nonsense.
                until = now + MONTH_MARGIN if now - period_end <= MONTH_MARGIN else cap
            else:
                until = period_end
            if until > cap:
                self._warn_once(BlockPeriod.MONTH, until, cap)
                until = cap
            self._block(until, BlockPeriod.MONTH)
            # The count is the month's that ends at period_end: not ours when that has passed.
            fresh = period_end is None or period_end > now
            if fresh and limit is not None and limit > self._used + self._unaccounted:
                self._unaccounted = limit - self._used
        else:
            self._plain_rate_limit(now)
        self._dirty = True

    def _plain_rate_limit(self, now: datetime) -> None:
        """Handle a 429 without a period: the minute's first, then evidence of other use.

        The first pauses a minute and then the tasks are tried again. Refused again after
        that (no success between), it is not the minute: the key is used by someone else or
        its month is spent at Enphase. Each such 429 in a new minute shows the room we left
        in that minute was used by others, and only that much is written off the month;
        polling backs off exponentially, up to ``BACKOFF_MAX``. Answers to requests sent
        before a pause began are the same event and change nothing.
        """
        if self._blocked_until is not None and self._blocked_until > now:
            return
        self._plain_streak += 1
        if self._plain_streak == 1:
            self._block(now + MINUTE, BlockPeriod.MINUTE)
            return
        self.minute_room(now)  # forget what left the minute
        ours = len(self._window)
        if ours < self.limits.per_minute and (
            self._evidence_at is None or now - self._evidence_at >= MINUTE
        ):
            self._unaccounted += self.limits.per_minute - ours
            self._evidence_at = now
        backoff = min(BACKOFF_MAX, BACKOFF_MIN * 2 ** min(self._plain_streak - 1, 12))
        self._block(now + backoff, BlockPeriod.BACKOFF)

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

    def block_period(self, now: datetime) -> BlockPeriod | None:
        """Why automatic polling is paused, or None if it is not."""
        self._roll(now)
        return self._block_period

    def month_exhausted(self, now: datetime) -> datetime | None:
        """Return the end of a monthly 429 pause (raise a repair issue while set), else None."""
        self._roll(now)
        return self._blocked_until if self._block_period == BlockPeriod.MONTH else None

    def month_room(self, now: datetime) -> int:
        """Return the requests automatic polling may still make this month."""
        self._roll(now)
        return max(0, self._plannable_total(now) - self._used - self._unaccounted)

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
