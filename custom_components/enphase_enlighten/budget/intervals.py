"""How often each kind of data can be fetched: daylight at each system, the intervals that fit the quota."""

from __future__ import annotations

from datetime import date, datetime, timedelta
import math
from typing import TYPE_CHECKING, Any

from .counters import RequestCounter
from .limits import (
    ALARM_SHARE,
    ALARM_SURPLUS_SHARE,
    BATTERY_NIGHT_FACTOR,
    DAILY,
    EVENT_TYPES_INTERVAL,
    INVENTORY_SHARE,
    INVERTERS_SHARE,
    MAX_ALARM_INTERVAL,
    MAX_INVENTORY_INTERVAL,
    MAX_SUMMARY_INTERVAL,
    MAX_TELEMETRY_INTERVAL,
    MIN_ALARM_INTERVAL,
    MIN_TELEMETRY_INTERVAL,
    NIGHT_INTERVAL,
    TELEMETRY_LAG_SHARE,
    TELEMETRY_LAG_TARGET,
    TELEMETRY_SHARE,
    TELEMETRY_SURPLUS_SHARE,
    TELEMETRY_TIMED_BELOW,
    TIMEZONE_MARGIN,
    UPLOAD_INTERVAL,
    UPLOAD_LAG,
    FreshnessVerdict,
    quota_month,
)
from .tasks import Task, TaskKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .daylight import SummaryState


class IntervalPlanner(RequestCounter):
    """Solves the daylight summary interval and the slower streams' intervals for the quota."""

    def _sun(self, state: SummaryState, day: date) -> tuple[datetime, datetime]:
        key = (state.profile.system_id, day)
        cached = self._sun_cache.get(key)
        if cached is None:
            if len(self._sun_cache) > 4096:
                self._sun_cache.clear()
            cached = state.profile.daylight_provider().sun_times(day)
            self._sun_cache[key] = cached
        return cached

    def _days_around(self, state: SummaryState, when: datetime) -> list[tuple[datetime, datetime]]:
        local = when.astimezone(state.profile.zone()).date()
        return [self._day(state, local + timedelta(days=offset)) for offset in (-1, 0, 1)]

    def _day(self, state: SummaryState, day: date) -> tuple[datetime, datetime]:
        """Return the daylight window used for scheduling (widened when only guessed)."""
        rise, sett = self._sun(state, day)
        if (
            state.profile.daylight_is_guess
            and sett > rise
            and self._interval is not None
            and self._interval <= 2 * UPLOAD_INTERVAL
        ):
            return rise - TIMEZONE_MARGIN, sett + TIMEZONE_MARGIN
        return rise, sett

    def is_daylight(self, system_id: int, when: datetime) -> bool:
        """Whether ``when`` is in daylight at the system."""
        state = self._systems.get(system_id)
        return state is not None and self._in_daylight(state, when)

    def _in_daylight(self, state: SummaryState, when: datetime) -> bool:
        return self._daylight_period(state, when) is not None

    def _daylight_period(
        self, state: SummaryState, when: datetime
    ) -> tuple[datetime, datetime] | None:
        """Return the (sunrise, sunset) holding ``when``, or None at night."""
        for rise, sett in self._days_around(state, when):
            if rise <= when < sett:
                return rise, sett
        return None

    def _next_sunrise(self, state: SummaryState, when: datetime) -> datetime:
        local = when.astimezone(state.profile.zone()).date()
        for offset in range(-1, 3):
            rise, sett = self._day(state, local + timedelta(days=offset))
            if rise > when and sett > rise:
                return rise
        return when + NIGHT_INTERVAL

    def _daylight_between(self, state: SummaryState, start: datetime, end: datetime) -> float:
        """Seconds of daylight at the system between two instants."""
        if end <= start:
            return 0.0
        zone = state.profile.zone()
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        total = 0.0
        while day <= last:
            rise, sett = self._sun(state, day)
            lo, hi = max(rise, start), min(sett, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def alarm_interval(self, now: datetime) -> timedelta:
        """Return the planned time between alarm polls of one system."""
        return self._stream_intervals(now)[0]

    def inverters_interval(self, now: datetime) -> timedelta:
        """Return the planned time between microinverter polls of a system that wants them."""
        return self._stream_intervals(now)[1]

    def _inverter_systems(self) -> int:
        return sum(1 for state in self._systems.values() if state.profile.inverters)

    def _stream_intervals(self, now: datetime) -> tuple[timedelta, timedelta]:
        """Return the alarm and microinverter intervals (cached per month and systems)."""
        start, end = quota_month(now)
        key = (start, hash((self.limits, self.reserve, self._systems_key())))
        if self._stream_cache is not None and self._stream_cache[0] == key:
            return self._stream_cache[1]
        month = end - start
        systems = max(1, len(self._systems))
        inverter_systems = self._inverter_systems()
        plannable = self._month_plannable()
        # A plan with room to spare after polling every upload spends most of the rest on
        # alarms and microinverters, one share per system and stream.
        best_summaries = self._summary_cost(
            UPLOAD_INTERVAL.total_seconds(), self._spans(start, end)
        )
        inventory = (len(self._systems) + len(self._owners)) * (
            month / self.inventory_interval(now)
        ) + len(self._owners)
        surplus = (plannable - best_summaries - inventory) * ALARM_SURPLUS_SHARE
        per_stream = surplus / (systems + inverter_systems)
        alarm_budget = max(1.0, plannable * ALARM_SHARE / systems, per_stream)
        alarms = min(MAX_ALARM_INTERVAL, max(MIN_ALARM_INTERVAL, month / alarm_budget))
        inverter_budget = max(
            1.0, plannable * INVERTERS_SHARE / max(1, inverter_systems), per_stream
        )
        inverters = min(MAX_ALARM_INTERVAL, max(UPLOAD_INTERVAL, month / inverter_budget))
        self._stream_cache = (key, (alarms, inverters))
        return alarms, inverters

    def _systems_key(self) -> tuple[Any, ...]:
        return tuple(
            sorted(
                (
                    owner,
                    tuple(
                        (i, self._systems[i].profile.inverters, self._systems[i].profile.telemetry)
                        for i in ids
                    ),
                )
                for owner, ids in self._owners.items()
            )
        )

    def _telemetry_requests(self) -> float:
        """Return the requests one round of telemetry fetches makes, every system that wants them."""
        return sum(
            self._costs.get(Task(TaskKind.TELEMETRY, owner, system_id).key, 1)
            for owner, ids in self._owners.items()
            for system_id in ids
            if self._systems[system_id].profile.telemetry
        )

    def telemetry_interval(self, now: datetime) -> timedelta:
        """Return the planned time between telemetry fetches of one system.

        Telemetry gets what its rounds need to keep every daylight hour's wait within
        ``TELEMETRY_LAG_TARGET`` when that is at most ``TELEMETRY_LAG_SHARE`` of the month
        (no more: the rest keeps live values fresh), else a fixed share (what a round costs decides how often it fits), so live values
        keep most of the budget; a plan with room to spare after polling every upload gives
        it a share of that room instead, when larger.
        """
        start, end = quota_month(now)
        requests = max(1.0, self._telemetry_requests())
        key = (start, requests, hash((self.limits, self.reserve, self._systems_key())))
        cache: dict[Any, timedelta] = self.__dict__.setdefault("_telemetry_cache", {})
        if (cached := cache.get(key)) is not None:
            return cached
        plannable = self._month_plannable()
        best = self._summary_cost(UPLOAD_INTERVAL.total_seconds(), self._spans(start, end))
        share = max(1.0, plannable * TELEMETRY_SHARE)
        if (lag := self._lag_target_cost(start, end)) <= plannable * TELEMETRY_LAG_SHARE:
            # The lag target is within reach: telemetry takes what it needs, no more.
            share = max(1.0, lag)
        share = max(share, (plannable - best) * TELEMETRY_SURPLUS_SHARE)
        needed = (end - start) * requests / share
        interval = min(MAX_TELEMETRY_INTERVAL, max(MIN_TELEMETRY_INTERVAL, needed))
        if len(cache) > 64:
            cache.clear()
        cache[key] = interval
        return interval

    def _lag_target_cost(self, start: datetime, end: datetime) -> float:
        """Return what a month of sun-timed rounds at the lag target costs, every system."""
        days = (end - start) / DAILY
        cost = 0.0
        for owner, ids in self._owners.items():
            for system_id in ids:
                state = self._systems[system_id]
                if not state.profile.telemetry:
                    continue
                zone = state.profile.zone()
                first = start.astimezone(zone).date()
                longest = max(
                    (
                        self._round_span(state, first + timedelta(days=offset))
                        for offset in (0, 15, 29)
                    ),
                    default=timedelta(0),
                )
                rounds = max(1, math.ceil(longest / TELEMETRY_LAG_TARGET))
                round_cost = self._costs.get(Task(TaskKind.TELEMETRY, owner, system_id).key, 1)
                cost += rounds * days * round_cost
        return cost

    def _round_span(self, state: SummaryState, day: date) -> timedelta:
        first, final = self._round_window(state, day)
        return max(timedelta(0), final - first)

    def _round_window(self, state: SummaryState, day: date) -> tuple[datetime, datetime]:
        """Return the end of the day's first daylight hour and the time of its last round.

        The last round comes with the first upload after the hour holding sunset: it has the
        day's final production.
        """
        rise, sett = self._sun(state, day)
        hour = 3600
        first = datetime.fromtimestamp((rise.timestamp() // hour + 1) * hour, tz=rise.tzinfo)
        last_hour = datetime.fromtimestamp(-(-sett.timestamp() // hour) * hour, tz=sett.tzinfo)
        return first, last_hour + state.cadence + UPLOAD_LAG

    def telemetry_when(self, state: SummaryState, last: datetime, now: datetime) -> datetime:
        """Return when the system's next telemetry round is due after one at ``last``.

        Frequent rounds run at their interval. Scarce ones (on Watt) are timed by the sun:
        a day's rounds end with its last round (the day's final production) and split the
        daylight before it evenly, so each daylight hour waits at most the daylight over
        their number. Days get ``floor((d + 1) * p) - floor(d * p)`` rounds (``p`` rounds a
        day, ``d`` the day's number), which spends the interval's rounds exactly over the
        month whether ``p`` is 2.6 or 0.4.
        """
        interval = self.telemetry_interval(now)
        last = min(last, now)
        if interval < TELEMETRY_TIMED_BELOW:
            return last + interval
        per_day = DAILY / interval + 1e-6  # two a day stays two, not 1.9999...
        zone = state.profile.zone()
        day = last.astimezone(zone).date()
        horizon = math.ceil(1 / per_day) + 2
        for offset in range(horizon):
            current = day + timedelta(days=offset)
            ordinal = current.toordinal()
            rounds = math.floor((ordinal + 1) * per_day) - math.floor(ordinal * per_day)
            first, final = self._round_window(state, current)
            if rounds <= 0 or final <= first:
                continue
            step = (final - first) / rounds
            for index in range(1, rounds + 1):
                slot = first + step * index if index < rounds else final
                # A round that ran within an upload of a slot (a catch-up, a first import)
                # stands for it; one earlier does not have the hours the slot is for.
                if slot - last >= UPLOAD_INTERVAL:
                    return slot
        return last + interval

    def inventory_interval(self, now: datetime) -> timedelta:
        """Return the planned time between device inventory (and systems list) polls."""
        start, end = quota_month(now)
        per_interval = len(self._systems) + len(self._owners)
        share = max(1.0, self._month_plannable() * INVENTORY_SHARE)
        needed = (end - start) * max(1, per_interval) / share
        return min(MAX_INVENTORY_INTERVAL, max(DAILY, needed))

    def _overhead(self, now: datetime, end: datetime) -> float:
        """Return the requests other than summaries expected between now and ``end``."""
        span = end - now
        alarm_requests = sum(
            self._costs.get(Task(TaskKind.ALARMS, owner, system_id).key, 1)
            for owner, ids in self._owners.items()
            for system_id in ids
        )
        alarms = alarm_requests * (span / self.alarm_interval(now))
        inverters = self._inverter_systems() * (span / self.inverters_interval(now))
        inventory = (len(self._systems) + len(self._owners)) * (span / self.inventory_interval(now))
        telemetry = self._telemetry_requests() * (span / self.telemetry_interval(now))
        return (
            alarms
            + inverters
            + inventory
            + telemetry
            + len(self._owners) * (span / EVENT_TYPES_INTERVAL)
        )

    def _summary_cost(
        self, interval: float, spans: Sequence[tuple[SummaryState, float, float]]
    ) -> float:
        """Summaries needed over daylight/night seconds per system at a daylight interval."""
        cost = 0.0
        for state, day, night in spans:
            cadence = state.cadence.total_seconds()
            cost += day / max(interval, cadence)
            if state.has_battery:
                cost += night / max(interval * BATTERY_NIGHT_FACTOR, cadence)
            else:
                cost += night / max(NIGHT_INTERVAL.total_seconds(), cadence)
        return cost

    def _spans(self, start: datetime, end: datetime) -> list[tuple[SummaryState, float, float]]:
        spans = []
        for state in self._systems.values():
            day = self._daylight_between(state, start, end)
            spans.append((state, day, max(0.0, (end - start).total_seconds() - day)))
        return spans

    def _solve_interval(
        self, budget: float, spans: Sequence[tuple[SummaryState, float, float]]
    ) -> timedelta:
        """Return the shortest daylight interval whose summaries fit in ``budget`` requests."""
        # Below the upload interval only battery nights get faster (daylight is capped).
        low = UPLOAD_INTERVAL.total_seconds() / BATTERY_NIGHT_FACTOR
        high = MAX_SUMMARY_INTERVAL.total_seconds()
        if not spans or self._summary_cost(low, spans) <= budget:
            return timedelta(seconds=low)
        if self._summary_cost(high, spans) > budget:
            return MAX_SUMMARY_INTERVAL
        for _ in range(40):
            mid = (low + high) / 2
            if self._summary_cost(mid, spans) <= budget:
                high = mid
            else:
                low = mid
        return timedelta(seconds=high)

    def daylight_interval(self, now: datetime) -> timedelta:
        """Return the daylight summary interval the remaining budget allows from ``now``.

        Re-solved every 15 minutes or when the spendable count moves by 1% of the plan,
        which keeps the planner cheap yet self-correcting.
        """
        self._roll(now)
        spendable = self._plannable_total(now) - self._used - self._unaccounted
        key = (
            int(now.timestamp() // UPLOAD_INTERVAL.total_seconds()),
            spendable * 100 // max(1, self.limits.per_month),
            hash(self._systems_key()),
            hash(frozenset(self._costs.items())),
        )
        if self._interval_cache is not None and self._interval_cache[0] == key:
            return self._interval_cache[1]
        _, end = quota_month(now)
        budget = spendable - self._overhead(now, end)
        interval = self._solve_interval(budget, self._spans(now, end))
        self._interval_cache = (key, interval)
        self._interval = interval
        return interval

    def projected_month_end(self, now: datetime) -> int:
        """Return the requests this month will have used at its end if the plan holds."""
        self._roll(now)
        _, end = quota_month(now)
        interval = self.daylight_interval(now)
        planned = self._overhead(now, end) + self._summary_cost(
            interval.total_seconds(), self._spans(now, end)
        )
        cap = max(self._used, self._plannable_total(now) - self._unaccounted)
        return min(cap, self._used + math.ceil(planned))

    def freshness(self, now: datetime) -> FreshnessVerdict:
        """Whether the plan keeps the selected systems fresh over a whole month (repair issue)."""
        start, end = quota_month(now)
        spans = self._spans(start, end)
        budget = self._month_plannable() - self._overhead(start, end)
        interval = self._solve_interval(budget, spans)
        systems = len(self._systems)
        ok = interval <= self.fresh_limit
        if systems == 0:
            max_systems = 0
        elif ok:
            max_systems = max(systems, math.floor(systems * self.fresh_limit / interval))
        else:
            max_systems = math.floor(systems * self.fresh_limit / interval)
        return FreshnessVerdict(ok, systems, interval, self.fresh_limit, max_systems)
