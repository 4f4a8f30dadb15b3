"""The fetches the planner schedules (tasks), and what it reads from the API client."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime


class TaskKind(StrEnum):
    """A kind of fetch the planner schedules, in order of value."""

    SUMMARY = "summary"
    ALARMS = "alarms"
    INVERTERS = "inverters_summary"
    DEVICES = "devices"
    SYSTEMS = "systems"
    EVENT_TYPES = "event_types"
    # Interval energy for the long-term statistics: exact, but not urgent (a few a day).
    TELEMETRY = "telemetry"


PRIORITY = {kind: index for index, kind in enumerate(TaskKind)}


@dataclass(frozen=True, slots=True)
class Task:
    """One fetch: a kind, the entry (owner) it is for and, for per-system kinds, the system."""

    kind: TaskKind
    owner: str
    system_id: int | None = None

    @property
    def key(self) -> str:
        """Stable text key, used in storage."""
        return f"{self.kind}:{self.owner}:{'' if self.system_id is None else self.system_id}"


class RequestRecordLike(Protocol):
    """What the budget reads from the API client's ``RequestRecord``."""

    @property
    def endpoint(self) -> str:
        """Endpoint name."""

    @property
    def status(self) -> int | None:
        """HTTP status, None without a response."""

    @property
    def started_at(self) -> float:
        """Epoch seconds."""


class SummaryLike(Protocol):
    """What the budget reads from the API client's ``Summary``."""

    @property
    def last_report_at(self) -> datetime | None:
        """When the gateway last reported."""

    @property
    def status(self) -> str | None:
        """System status."""

    @property
    def battery_capacity_wh(self) -> int | None:
        """Battery capacity, if any."""
