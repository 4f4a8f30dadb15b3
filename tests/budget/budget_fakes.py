"""Fakes shared by the request budget tests (imported by module name: unique on purpose)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from custom_components.enphase_enlighten.budget import RequestPlanner, SystemProfile

LA = "America/Los_Angeles"
# 2026-06-15 12:00 local in Sebastopol, CA (UTC-7).
NOON = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Record:
    """Shape of the client's RequestRecord."""

    endpoint: str
    status: int | None
    started_at: float
    method: str = "GET"
    duration: float = 0.01


@dataclass(frozen=True, slots=True)
class Summary:
    """Shape of the client's Summary, as far as the planner reads it."""

    last_report_at: datetime | None
    status: str | None = "normal"
    battery_capacity_wh: int | None = None


class MemoryStore:
    """An in-memory stand-in for Home Assistant's Store."""

    def __init__(self, data: Any = None) -> None:
        self.data = data
        self.saves = 0

    async def async_load(self) -> Any:
        return self.data

    async def async_save(self, data: Any) -> None:
        self.data = data
        self.saves += 1


def home(system_id: int = 1, **kwargs: Any) -> SystemProfile:
    """A home in Sebastopol, CA."""
    kwargs.setdefault("timezone", LA)
    kwargs.setdefault("latitude", 38.4)
    kwargs.setdefault("longitude", -122.8)
    return SystemProfile(system_id, **kwargs)


def count(
    planner: RequestPlanner,
    when: datetime,
    n: int = 1,
    endpoint: str = "summary",
    status: int | None = 200,
) -> None:
    for _ in range(n):
        planner.record_request(Record(endpoint, status, when.timestamp()))
