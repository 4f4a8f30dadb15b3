"""A local Enphase cloud (Monitoring API v4 + OAuth) for tests, benchmarks and the demo."""

from __future__ import annotations

from .alarms import AlarmKind, AlarmRecord, EventRecord
from .clock import SimClock
from .errors import SimulatorError
from .scenarios import SCENARIOS, Scenario, load_scenario
from .server import create_app
from .state import SIM_KEY, Simulator

__all__ = [
    "SCENARIOS",
    "SIM_KEY",
    "AlarmKind",
    "AlarmRecord",
    "EventRecord",
    "Scenario",
    "SimClock",
    "Simulator",
    "SimulatorError",
    "create_app",
    "load_scenario",
]
