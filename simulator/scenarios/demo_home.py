"""The demo's home: battery_ev_home's hardware behind a broadband gateway.

battery_ev_home's gateway is cellular and uploads every six hours, so in a real-time demo its
values would hardly move; this one uploads every 15 minutes like most homes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .battery_ev_home import SYSTEM_ID, build as build_battery_ev_home

if TYPE_CHECKING:
    from . import Scenario


def build() -> Scenario:
    """Build the demo home."""
    scenario = build_battery_ev_home()
    for system in scenario.systems:
        if system["system_id"] == SYSTEM_ID:
            system["connection_type"] = "ethernet"
    scenario.name = "demo_home"
    scenario.description = SCENARIO_DESCRIPTION
    return scenario


SCENARIO_DESCRIPTION = (
    "The demo's home: IQ Batteries, a System Controller, AC Batteries, IQ Relays and an EV "
    "charger behind a broadband gateway (uploads every 15 minutes)."
)
