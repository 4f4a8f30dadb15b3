"""Household energy flows per system: consumption profile, battery and grid, in whole Wh per 15 minutes."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
import math
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .solar import INTERVAL, _mix, day_shape, local_date, local_day_bounds

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .model import SimSystem
    from .solar import ProductionModel

QUARTER = 900  # meter, battery and grid interval, seconds (Enphase's 15-minute telemetry)
PER_QUARTER = QUARTER // INTERVAL  # microinverter intervals in one quarter
EV_POWER_W = 7200  # a Level 2 EV charger session
CHARGE_EFFICIENCY_PCT = 95  # energy stored per 100 Wh charged; discharge is measured at the AC side
DEFAULT_RESERVE_PCT = 10  # self-consumption reserve: the battery stops discharging there
MAX_WALK_DAYS = 60  # how far back a cold start looks for a day that fixes the battery's state
FLOW_CACHE_DAYS = 120  # days of quarter data kept per system (starts and day totals are kept)

# Channels, in the order the truth API lists them. "consumption" is what the consumption meter
# reports (Enphase: production + grid, so battery charging counts and discharging does not);
# "home_load" is the household's own use.
CHANNELS = (
    "production",
    "consumption",
    "home_load",
    "grid_import",
    "grid_export",
    "battery_charge",
    "battery_discharge",
)

_SALT_PROFILE = 0x10AD
_SALT_DAY = 0xDA1
_SALT_QUARTER = 0x0015
_SALT_EV = 0xE7


def _bump(hour: float, center: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - center) / width) ** 2)


# --- hardware -----------------------------------------------------------------------------
def _active(device: dict[str, Any]) -> bool:
    return (
        not device.get("_retired")
        and device.get("active") not in (False, "false")
        and device.get("state", "enabled") != "disabled"
    )


def production_meters(system: SimSystem) -> list[dict[str, Any]]:
    """Active, enabled production meters (``config_type`` Production)."""
    return [
        d
        for d in system.devices.get("meters", [])
        if _active(d) and (d.get("config_type") == "Production" or d.get("name") == "production")
    ]


def consumption_meters(system: SimSystem) -> list[dict[str, Any]]:
    """Active, enabled consumption meters (``config_type`` Net or Total)."""
    return [
        d
        for d in system.devices.get("meters", [])
        if _active(d)
        and (d.get("config_type") in ("Net", "Total") or d.get("name") == "consumption")
    ]


def battery_devices(system: SimSystem) -> list[dict[str, Any]]:
    """Active IQ Batteries and AC Batteries."""
    return [d for kind in ("encharges", "acbs") for d in system.devices.get(kind, []) if _active(d)]


def ev_chargers(system: SimSystem) -> list[dict[str, Any]]:
    """Active EV chargers."""
    return [d for d in system.devices.get("ev_chargers", []) if _active(d)]


def has_battery(system: SimSystem) -> bool:
    """Tell whether the system has a battery (the scenario's ``battery`` block)."""
    return system.household.battery is not None


def channels_of(system: SimSystem) -> list[str]:
    """Channels the system's hardware measures: what its telemetry can report."""
    out = ["production"]
    if consumption_meters(system):
        out += ["consumption", "home_load", "grid_import", "grid_export"]
    if has_battery(system):
        out += ["battery_charge", "battery_discharge"]
    return out


# --- the pieces of the model --------------------------------------------------------------
@dataclass(frozen=True)
class LoadProfile:
    """A household's use: base load, morning and evening peaks, busier weekends, seasons."""

    seed: int
    base_w: float
    morning_w: float
    morning_h: float
    evening_w: float
    evening_h: float
    midday_w: float
    winter_sign: float  # +1 north of the equator, -1 south: winter is when the load is higher

    @classmethod
    def for_system(cls, seed: int, lat: float) -> LoadProfile:
        """Draw a system's profile from its seed (the system id)."""

        def u(k: int) -> float:
            return _mix(seed, _SALT_PROFILE, k)

        return cls(
            seed=seed,
            base_w=160 + 200 * u(1),
            morning_w=500 + 900 * u(2),
            morning_h=6.5 + 1.0 * u(3),
            evening_w=900 + 1400 * u(4),
            evening_h=18.25 + 1.5 * u(5),
            midday_w=250 + 450 * u(6),
            winter_sign=1.0 if lat >= 0 else -1.0,
        )

    def day_factor(self, day: date) -> float:
        """Scale of ``day``: more in winter, and a little day-to-day variation."""
        doy = day.timetuple().tm_yday
        season = 1 + 0.18 * self.winter_sign * math.cos(2 * math.pi * (doy - 15) / 365)
        return season * (0.9 + 0.2 * _mix(self.seed, _SALT_DAY, day.toordinal()))

    def watts(self, hour: float, *, weekend: bool) -> float:
        """Mean household power at local wall-clock ``hour`` (0-24)."""
        morning = self.morning_h + (1.5 if weekend else 0.0)
        watts = self.base_w + self.morning_w * _bump(hour, morning, 0.9)
        watts += self.evening_w * _bump(hour, self.evening_h, 1.6)
        watts += (self.midday_w if weekend else 0.25 * self.midday_w) * _bump(hour, 13.0, 2.5)
        return watts

    def ev_session(self, day: date) -> tuple[float, float] | None:
        """Local start and end hour of the evening EV charging session, if there is one."""
        ordinal = day.toordinal()
        if _mix(self.seed, _SALT_EV, ordinal) >= 0.4:
            return None
        start = 20 + round(8 * _mix(self.seed, _SALT_EV, ordinal, 1)) / 4  # 20:00 to 22:00
        duration = 1 + round(4 * _mix(self.seed, _SALT_EV, ordinal, 2)) / 4  # 1 to 2 hours
        return start, start + duration


@dataclass(frozen=True)
class Battery:
    """Capacity and power limits, in Wh and Wh per quarter; state is the stored Wh."""

    capacity_wh: int
    charge_per_quarter: int
    discharge_per_quarter: int
    reserve_wh: int

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Battery | None:
        """Build from a scenario ``battery`` block (``capacity_wh``, ``charge_w``, ``discharge_w``)."""
        if not spec or int(spec.get("capacity_wh", 0)) <= 0:
            return None
        capacity = int(spec["capacity_wh"])
        reserve_pct = int(spec.get("reserve_pct", DEFAULT_RESERVE_PCT))
        return cls(
            capacity_wh=capacity,
            charge_per_quarter=int(spec.get("charge_w", 0)) * QUARTER // 3600,
            discharge_per_quarter=int(spec.get("discharge_w", 0)) * QUARTER // 3600,
            reserve_wh=capacity * reserve_pct // 100,
        )

    def step(self, stored: int, surplus: int) -> tuple[int, int, int]:
        """One quarter: (charged Wh, discharged Wh, stored Wh after).

        Charges from solar surplus, discharges to cover a deficit down to the reserve. The new
        state is monotone in the old one, which is what lets a day "fix" the state (see
        :meth:`Household.sync_end`).
        """
        if surplus > 0:
            headroom = self.capacity_wh - stored
            # Smallest charge that fills the headroom after losses.
            to_full = -(-headroom * 100 // CHARGE_EFFICIENCY_PCT) if headroom > 0 else 0
            charge = min(surplus, self.charge_per_quarter, to_full)
            return charge, 0, min(self.capacity_wh, stored + charge * CHARGE_EFFICIENCY_PCT // 100)
        if surplus < 0:
            discharge = min(-surplus, self.discharge_per_quarter, max(0, stored - self.reserve_wh))
            return 0, discharge, stored - discharge
        return 0, 0, stored

    def percent(self, stored: int) -> int:
        """State of charge as Enphase reports it: a whole percent."""
        return round(stored * 100 / self.capacity_wh)


@dataclass(frozen=True)
class DayFlows:
    """One local day of a system, per quarter (index i ends at ``ends[i]``), in whole Wh."""

    ordinal: int
    ends: tuple[int, ...]
    production: tuple[int, ...]
    load: tuple[int, ...]
    charge: tuple[int, ...]
    discharge: tuple[int, ...]
    stored: tuple[int, ...]  # battery Wh at each quarter's end (0 without a battery)
    grid_import: tuple[int, ...]
    grid_export: tuple[int, ...]
    ev: tuple[bool, ...]  # an EV session was charging in the quarter
    start_stored: int

    def value(self, channel: str, index: int, *, consumption_includes_battery: bool) -> int:
        """Wh of ``channel`` in quarter ``index``."""
        if channel == "production":
            return self.production[index]
        if channel == "home_load":
            return self.load[index]
        if channel == "consumption":
            if consumption_includes_battery:
                return self.load[index] + self.charge[index] - self.discharge[index]
            return self.load[index]
        if channel == "grid_import":
            return self.grid_import[index]
        if channel == "grid_export":
            return self.grid_export[index]
        if channel == "battery_charge":
            return self.charge[index]
        if channel == "battery_discharge":
            return self.discharge[index]
        raise KeyError(f"unknown channel {channel!r}")


class Household:
    """Everything behind a system's meters: production, load, battery and grid, per quarter.

    Per quarter q (whole Wh): ``surplus = production - load``; the battery charges
    ``min(surplus, charge limit, room)`` or discharges ``min(-surplus, discharge limit,
    stored - reserve)``; ``grid = load - production + charge - discharge``;
    ``import = max(0, grid)``, ``export = max(0, -grid)``. Production per quarter is the sum of
    its three 5-minute microinverter intervals, which are the differences of the rounded
    cumulative day energy the summary uses, so every sum agrees with ``energy_today``.
    """

    def __init__(self, system: SimSystem) -> None:
        """Model the home of ``system`` (its production model, battery block and devices)."""
        self.model: ProductionModel = system.model
        self.tz = system.timezone
        self.zone = ZoneInfo(self.tz)
        self.seed = system.system_id
        self.profile = LoadProfile.for_system(system.system_id, system.lat)
        self.battery = Battery.from_spec(system.battery)
        # EV sessions follow the charger the home was built with, so adding or removing one
        # later never rewrites past consumption.
        self.has_ev = bool(ev_chargers(system))
        # NOTES.md (latest_telemetry): a Net-config consumption CT gives production + grid,
        # which counts battery charging as consumption. False: the meter shows the home load.
        self.consumption_includes_battery = True
        self._flows: OrderedDict[int, DayFlows] = OrderedDict()
        self._inputs: OrderedDict[int, tuple[tuple[int, ...], ...]] = OrderedDict()
        self._starts: dict[int, int] = {}
        self._totals: dict[int, tuple[int, ...]] = {}
        self._sizes = self.model.sizes

    @property
    def first_day(self) -> date:
        """The system's first local day of production."""
        return self.model.first_day

    # --- production at 5 minutes ------------------------------------------------------------
    def micro_intervals(self, day: date) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """5-minute interval ends of local ``day`` and the Wh the microinverters made in each."""
        if day < self.first_day:
            start, end = local_day_bounds(self.tz, day)
            ends = tuple(range(start + INTERVAL, end + 1, INTERVAL))
            return ends, (0,) * len(ends)
        model = self.model
        ends, cumulative = day_shape(model.seed, model.lat, model.lon, model.tz, day.toordinal())
        total = model.day_total(day)
        out: list[int] = []
        previous = 0
        for share in cumulative:
            # Same rounding as ProductionModel.energy_on_day_until: the sums telescope to it.
            value = round(total * share)
            out.append(value - previous)
            previous = value
        return ends, tuple(out)

    # --- inputs and battery chain -------------------------------------------------------------
    def _day_inputs(self, day: date) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """Quarter ends, production and load of ``day`` (no battery yet)."""
        ordinal = day.toordinal()
        cached = self._inputs.get(ordinal)
        if cached is not None:
            self._inputs.move_to_end(ordinal)
            return cached[0], cached[1], cached[2]
        _, micro = self.micro_intervals(day)
        start, end = local_day_bounds(self.tz, day)
        ends = tuple(range(start + QUARTER, end + 1, QUARTER))
        production = tuple(
            sum(micro[i * PER_QUARTER : (i + 1) * PER_QUARTER]) for i in range(len(ends))
        )
        load = (0,) * len(ends) if day < self.first_day else self._load(day, ends)
        self._inputs[ordinal] = (ends, production, load)
        if len(self._inputs) > FLOW_CACHE_DAYS:
            self._inputs.popitem(last=False)
        return ends, production, load

    def _load(self, day: date, ends: tuple[int, ...]) -> tuple[int, ...]:
        profile = self.profile
        weekend = day.weekday() >= 5
        factor = profile.day_factor(day)
        session = profile.ev_session(day) if self.has_ev else None
        out = []
        for end in ends:
            local = datetime.fromtimestamp(end - QUARTER, self.zone)
            hour = local.hour + local.minute / 60
            watts = profile.watts(hour + 0.125, weekend=weekend) * factor
            watts *= 0.85 + 0.3 * _mix(profile.seed, _SALT_QUARTER, end)
            if session is not None and session[0] <= hour < session[1]:
                watts += EV_POWER_W
            out.append(round(watts * QUARTER / 3600))
        return tuple(out)

    def _ev_quarters(self, day: date, ends: tuple[int, ...]) -> tuple[bool, ...]:
        session = self.profile.ev_session(day) if self.has_ev and day >= self.first_day else None
        if session is None:
            return (False,) * len(ends)
        out = []
        for end in ends:
            local = datetime.fromtimestamp(end - QUARTER, self.zone)
            hour = local.hour + local.minute / 60
            out.append(session[0] <= hour < session[1])
        return tuple(out)

    def _follow_resize(self) -> None:
        """Forget the days whose production changed since they were computed.

        A resize applies from a later local day on (ProductionModel.resize), so only the days
        from there on, and the battery states after it, are computed again.
        """
        sizes = self.model.sizes
        if sizes == self._sizes:
            return
        changed = min(first for first, _ in set(sizes) ^ set(self._sizes))
        self._sizes = sizes
        for cache in (self._flows, self._inputs, self._totals):
            for key in [k for k in cache if k >= changed]:
                del cache[key]
        for key in [k for k in self._starts if k > changed]:
            del self._starts[key]

    def sync_end(self, day: date) -> int | None:
        """Battery Wh at the end of ``day`` if it does not depend on the start, else None.

        The step is monotone in the state, so if runs from an empty (reserve) and a full
        battery meet during the day, every start meets them: the day fixes the state.
        """
        battery = self.battery
        if battery is None:
            return 0
        _, production, load = self._day_inputs(day)
        low, high = battery.reserve_wh, battery.capacity_wh
        for p, q in zip(production, load, strict=True):
            low = battery.step(low, p - q)[2]
            high = battery.step(high, p - q)[2]
        return low if low == high else None

    def start_stored(self, day: date) -> int:
        """Battery Wh at the local midnight that starts ``day``."""
        battery = self.battery
        if battery is None:
            return 0
        self._follow_resize()
        ordinal = day.toordinal()
        first = self.first_day.toordinal()
        if ordinal <= first:
            return battery.reserve_wh  # a new battery is commissioned empty
        known = self._starts.get(ordinal)
        if known is not None:
            return known
        # Walk back to a day whose start is known or that fixes the state, then forward.
        x = ordinal - 1
        while True:
            if x <= first:
                base, state = first, battery.reserve_wh
                break
            if x in self._starts:
                base, state = x, self._starts[x]
                break
            end = self.sync_end(date.fromordinal(x))
            if end is not None:
                base, state = x + 1, end
                break
            if ordinal - x >= MAX_WALK_DAYS:
                base, state = x, battery.reserve_wh
                break
            x -= 1
        self._starts[base] = state
        while base < ordinal:
            state = self._simulate(date.fromordinal(base), state).stored[-1]
            base += 1
            self._starts[base] = state
        return state

    def _simulate(self, day: date, start: int) -> DayFlows:
        ends, production, load = self._day_inputs(day)
        battery = self.battery
        n = len(ends)
        charge = [0] * n
        discharge = [0] * n
        stored = [0] * n
        grid_import = [0] * n
        grid_export = [0] * n
        state = start
        for i in range(n):
            surplus = production[i] - load[i]
            if battery is not None:
                charge[i], discharge[i], state = battery.step(state, surplus)
            stored[i] = state
            grid = load[i] - production[i] + charge[i] - discharge[i]
            if grid > 0:
                grid_import[i] = grid
            else:
                grid_export[i] = -grid
        flows = DayFlows(
            ordinal=day.toordinal(),
            ends=ends,
            production=production,
            load=load,
            charge=tuple(charge),
            discharge=tuple(discharge),
            stored=tuple(stored),
            grid_import=tuple(grid_import),
            grid_export=tuple(grid_export),
            ev=self._ev_quarters(day, ends),
            start_stored=start,
        )
        self._starts[flows.ordinal] = start
        self._starts[flows.ordinal + 1] = state
        self._flows[flows.ordinal] = flows
        self._flows.move_to_end(flows.ordinal)
        if len(self._flows) > FLOW_CACHE_DAYS:
            self._flows.popitem(last=False)
        return flows

    # --- queries ----------------------------------------------------------------------------
    def day(self, day: date) -> DayFlows:
        """Return the flows of local ``day``."""
        self._follow_resize()
        ordinal = day.toordinal()
        cached = self._flows.get(ordinal)
        if cached is not None:
            self._flows.move_to_end(ordinal)
            return cached
        return self._simulate(day, self.start_stored(day))

    def day_totals(self, day: date) -> dict[str, int]:
        """Whole-day Wh per channel of local ``day``."""
        self._follow_resize()
        ordinal = day.toordinal()
        sums = self._totals.get(ordinal)
        if sums is None:
            flows = self.day(day)
            sums = tuple(
                sum(series)
                for series in (
                    flows.production,
                    flows.load,
                    flows.charge,
                    flows.discharge,
                    flows.grid_import,
                    flows.grid_export,
                )
            )
            self._totals[ordinal] = sums
        production, load, charge, discharge, grid_import, grid_export = sums
        return {
            "production": production,
            "consumption": load + (charge - discharge if self.consumption_includes_battery else 0),
            "home_load": load,
            "grid_import": grid_import,
            "grid_export": grid_export,
            "battery_charge": charge,
            "battery_discharge": discharge,
        }

    def quarters(self, lo: float, hi: float) -> Iterator[tuple[int, DayFlows, int]]:
        """(end, day flows, index) of every quarter ending in (lo, hi]."""
        if hi <= lo:
            return
        day = local_date(self.tz, lo)
        last = local_date(self.tz, hi - 1)
        while day <= last:
            flows = self.day(day)
            for index, end in enumerate(flows.ends):
                if lo < end <= hi:
                    yield end, flows, index
            day = date.fromordinal(day.toordinal() + 1)

    def value(self, flows: DayFlows, index: int, channel: str) -> int:
        """Wh of ``channel`` in one quarter, honouring the consumption switch."""
        return flows.value(
            channel, index, consumption_includes_battery=self.consumption_includes_battery
        )

    def energy(self, channel: str, lo: float, hi: float) -> int:
        """Wh of ``channel`` in the quarters ending in (lo, hi]."""
        return sum(self.value(f, i, channel) for _, f, i in self.quarters(lo, hi))

    def hourly(self, channel: str, lo: float, hi: float) -> dict[int, int]:
        """Wh of ``channel`` per UTC-aligned hour, for every hour overlapping [lo, hi)."""
        first = int(lo // 3600 * 3600)
        last = int(-(-hi // 3600) * 3600)
        out = dict.fromkeys(range(first, last, 3600), 0)
        for end, flows, index in self.quarters(first, last):
            out[(end - QUARTER) // 3600 * 3600] += self.value(flows, index, channel)
        return out

    def quarter_at(self, when: float) -> tuple[int, DayFlows, int]:
        """Return the quarter ending at or before ``when``: (end, day flows, index)."""
        end = int(when // QUARTER * QUARTER)
        flows = self.day(local_date(self.tz, end - 1))
        return end, flows, flows.ends.index(end)

    def stored_at(self, when: float) -> int:
        """Battery Wh at the end of the quarter ending at or before ``when``."""
        _, flows, index = self.quarter_at(when)
        return flows.stored[index]

    def soc_at(self, when: float) -> int | None:
        """State of charge (whole percent) at the quarter ending at or before ``when``."""
        if self.battery is None:
            return None
        return self.battery.percent(self.stored_at(when))


def epoch_hour(hour_start: int) -> datetime:
    """Turn an hour key of :meth:`Household.hourly` into an aware UTC datetime."""
    return datetime.fromtimestamp(hour_start, UTC)
