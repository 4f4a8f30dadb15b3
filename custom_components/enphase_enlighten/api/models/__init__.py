"""Typed, tolerant models of the Enphase Monitoring API v4 responses, one module per endpoint group.

``parse`` holds the tolerant value parsing every model shares. A new endpoint group gets
its own module beside these (the telemetry endpoints: ``telemetry.py``), re-exported here.
"""

from __future__ import annotations

from .alarms import Alarm, AlarmEvent, Event, EventType
from .devices import CellularModem, Device, Devices
from .inverters import EnvoyInvertersSummary, MicroinverterSummary
from .systems import Address, Summary, System, SystemsPage
from .telemetry import (
    BatteryInterval,
    BatteryTelemetry,
    ChannelPower,
    EnergyInterval,
    LatestTelemetry,
    LifetimeSeries,
    TelemetrySeries,
)

__all__ = [
    "Address",
    "Alarm",
    "AlarmEvent",
    "BatteryInterval",
    "BatteryTelemetry",
    "CellularModem",
    "ChannelPower",
    "Device",
    "Devices",
    "EnergyInterval",
    "EnvoyInvertersSummary",
    "Event",
    "EventType",
    "LatestTelemetry",
    "LifetimeSeries",
    "MicroinverterSummary",
    "Summary",
    "System",
    "SystemsPage",
    "TelemetrySeries",
]
