"""Scenario registry: each module here builds one simulated Enphase account."""

from __future__ import annotations

from dataclasses import dataclass, field
import importlib
import json
from pathlib import Path
from typing import Any

SCENARIOS: dict[str, str] = {
    "small_home": "One home: 10 microinverters, one gateway, two meters.",
    "battery_ev_home": (
        "A home with IQ Batteries, a System Controller, AC Batteries, IQ Relays, an EV "
        "charger and a cellular gateway."
    ),
    "installer_28": "An installer account owning 28 systems across timezones.",
    "demo_home": (
        "The demo's home: battery_ev_home's hardware behind a broadband gateway that uploads "
        "every 15 minutes."
    ),
}


@dataclass
class Scenario:
    """Everything a simulated account starts with.

    ``systems`` are plain dicts shaped like the API's system objects plus private keys
    (``lat``, ``lon``, ``devices``, ``events``, ``alarms``...; see simulator/README.md).
    """

    name: str
    description: str
    users: list[dict[str, Any]]
    systems: list[dict[str, Any]]
    default_user_id: int
    apps: list[dict[str, Any]] = field(default_factory=list)
    event_types: list[dict[str, Any]] = field(default_factory=list)


def load_scenario(name: str) -> Scenario:
    """Build the scenario called ``name`` (a module in this package), or read a JSON file.

    A ``.json`` path holds the :class:`Scenario` fields as an object (``name``,
    ``description``, ``users``, ``systems``, ``default_user_id``, optional ``apps`` and
    ``event_types``).
    """
    if name.endswith(".json"):
        data = json.loads(Path(name).read_text(encoding="utf-8"))
        data.setdefault("name", Path(name).stem)
        data.setdefault("description", f"Scenario file {Path(name).name}")
        return Scenario(**data)
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}")
    module = importlib.import_module(f"{__name__}.{name}")
    scenario: Scenario = module.build()
    return scenario
