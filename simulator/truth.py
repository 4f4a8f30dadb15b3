"""Ground truth for tests and benchmarks: what each system really produced, used, stored and traded."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import SimulatorError
from .household import CHANNELS, QUARTER, channels_of, epoch_hour

if TYPE_CHECKING:
    from .model import SimSystem


def as_epoch(when: datetime | float) -> float:
    """Epoch seconds of an aware datetime or a number."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise SimulatorError("times need a timezone (an aware datetime)")
        return when.timestamp()
    return float(when)


class TruthMixin:
    """The truth API of :class:`~simulator.Simulator` (see simulator/README.md, "Ground truth").

    The truth is the model itself, whether or not the gateway has uploaded it yet: an hour's
    value is what the telemetry endpoints report for it once the upload that carries its last
    quarter is in (``last_report_at``). It honours the hardware: a channel the system does not
    meter raises :class:`SimulatorError`.
    """

    if TYPE_CHECKING:

        def system(self, system_id: int) -> SimSystem:
            """Return the system."""

        def now(self) -> float:
            """Return the simulated epoch."""

    def _metered(self, system_id: int, channel: str) -> SimSystem:
        system = self.system(system_id)
        if channel not in CHANNELS:
            raise SimulatorError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}")
        if channel not in channels_of(system):
            raise SimulatorError(f"system {system.system_id} does not measure {channel}")
        return system

    def truth_channels(self, system_id: int) -> list[str]:
        """Return the channels system ``system_id`` measures.

        production always; consumption, home_load, grid_import and grid_export with a
        consumption meter; battery_charge and battery_discharge with a battery.
        """
        return channels_of(self.system(system_id))

    def hourly_truth(
        self,
        system_id: int,
        channel: str,
        start: datetime | float,
        end: datetime | float,
    ) -> dict[datetime, int]:
        """Wh of ``channel`` per hour: {aware UTC hour start: Wh} for every hour in [start, end).

        Hours are UTC-aligned (as Home Assistant's hourly statistics); ``start`` is rounded
        down and ``end`` up to whole hours. Every quarter (15 minutes) falls in one hour, so the
        sums are exact whatever the timezone (+05:45 included) and DST.
        """
        system = self._metered(system_id, channel)
        hours = system.household.hourly(channel, as_epoch(start), as_epoch(end))
        return {epoch_hour(hour): wh for hour, wh in hours.items()}

    def energy_truth(
        self,
        system_id: int,
        channel: str,
        start: datetime | float,
        end: datetime | float,
    ) -> int:
        """Wh of ``channel`` in the quarters ending in (start, end]."""
        system = self._metered(system_id, channel)
        return system.household.energy(channel, as_epoch(start), as_epoch(end))

    def power_truth(self, system_id: int, channel: str, at: datetime | float | None = None) -> int:
        """Mean W of ``channel`` over the quarter ending at or before ``at`` (default: now)."""
        system = self._metered(system_id, channel)
        when = self.now() if at is None else as_epoch(at)
        household = system.household
        _, flows, index = household.quarter_at(when)
        return household.value(flows, index, channel) * 3600 // QUARTER

    def battery_truth(self, system_id: int, at: datetime | float | None = None) -> dict[str, Any]:
        """State of charge at the quarter ending at or before ``at`` (default: now).

        ``{"percent": int (what Enphase reports), "stored_wh", "capacity_wh", "reserve_wh"}``.
        """
        system = self.system(system_id)
        battery = system.household.battery
        if battery is None:
            raise SimulatorError(f"system {system.system_id} has no battery")
        when = self.now() if at is None else as_epoch(at)
        stored = system.household.stored_at(when)
        return {
            "percent": battery.percent(stored),
            "stored_wh": stored,
            "capacity_wh": battery.capacity_wh,
            "reserve_wh": battery.reserve_wh,
        }

    def soc_truth(self, system_id: int, at: datetime | float | None = None) -> int:
        """State of charge in whole percent at the quarter ending at or before ``at``."""
        percent: int = self.battery_truth(system_id, at)["percent"]
        return percent
