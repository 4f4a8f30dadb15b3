"""The request budget: count an API key's requests and plan which data to fetch next, and when.

No Home Assistant here: times are passed in, storage is any ``UsageStore``. The planner is
built in layers, each a module: ``persistence`` (its state, saved) -> ``counters`` (the
month, the minute, 429 pauses, task costs) -> ``intervals`` (daylight and how often each
kind of data fits the quota) -> ``planner`` (what is due, for which entry). ``registry``
hands out one planner per API key.
"""

from __future__ import annotations

from .daylight import (
    DaylightProvider,
    SolarDaylight,
    SystemProfile,
    known_timezone,
    timezone_daylight,
    with_fallback_zone,
)
from .limits import (
    UPLOAD_INTERVAL,
    UPLOAD_LAG,
    BlockPeriod,
    BudgetStats,
    FreshnessVerdict,
    PlanLimits,
    RefreshDecision,
    RefreshRefusal,
    Reserve,
    quota_month,
    storage_key,
)
from .persistence import STORAGE_VERSION, UsageStore
from .planner import RequestPlanner
from .registry import PlannerRegistry
from .tasks import RequestRecordLike, SummaryLike, Task, TaskKind

__all__ = [
    "STORAGE_VERSION",
    "UPLOAD_INTERVAL",
    "UPLOAD_LAG",
    "BlockPeriod",
    "BudgetStats",
    "DaylightProvider",
    "FreshnessVerdict",
    "PlanLimits",
    "PlannerRegistry",
    "RefreshDecision",
    "RefreshRefusal",
    "RequestPlanner",
    "RequestRecordLike",
    "Reserve",
    "SolarDaylight",
    "SummaryLike",
    "SystemProfile",
    "Task",
    "TaskKind",
    "UsageStore",
    "known_timezone",
    "quota_month",
    "storage_key",
    "timezone_daylight",
    "with_fallback_zone",
]
