"""Simulated Enphase objects: apps, users, and systems whose data follow the production model."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import alarms as alarm_rules
from .household import Household
from .solar import INTERVAL, ProductionModel, local_date, local_day_bounds

if TYPE_CHECKING:
    from collections.abc import Callable

BROADBAND_UPLOAD = 900  # seconds between gateway uploads on ethernet/wifi
CELLULAR_UPLOAD = 6 * 3600  # cellular gateways upload every few hours
UPLOAD_PROCESSING = 60  # an upload carries intervals that ended at least this long before it

DEVICE_KIND_ORDER = (
    "micros",
    "meters",
    "gateways",
    "q_relays",
    "acbs",
    "encharges",
    "enpowers",
    "ev_chargers",
)

PLAN_LIMITS: dict[str, tuple[int, int]] = {
    "watt": (10, 1_000),
    "kilowatt": (50, 50_000),
    "megawatt": (100, 300_000),
    "partner": (300, 1_500_000),
}


@dataclass
class App:
    """A developer application: OAuth client plus API key, with its plan's limits."""

    client_id: str
    client_secret: str
    api_key: str
    name: str = "Simulated app"
    plan: str = "watt"
    per_minute: int = 10
    per_month: int = 1000

    def set_plan(
        self, plan: str, per_minute: int | None = None, per_month: int | None = None
    ) -> None:
        """Switch plan; ``custom`` (or explicit numbers) sets the limits directly."""
        plan = plan.lower()
        if plan in PLAN_LIMITS:
            self.per_minute, self.per_month = PLAN_LIMITS[plan]
        elif plan != "custom":
            raise ValueError(f"unknown plan {plan!r}")
        self.plan = plan
        if per_minute is not None:
            self.per_minute = int(per_minute)
        if per_month is not None:
            self.per_month = int(per_month)

    @property
    def plan_title(self) -> str:
        """Plan name as Enphase spells it in 429 details."""
        return self.plan.capitalize()


@dataclass
class User:
    """An Enlighten user (``enl_uid``) and the systems they may access."""

    user_id: int
    name: str
    email: str
    company_id: str = ""
    system_ids: list[int] = field(default_factory=list)


@dataclass
class Usage:
    """Request counters of one API key on the simulated clock."""

    minute_start: int = 0
    minute_count: int = 0
    month_start: int = 0
    month_count: int = 0
    total: int = 0
    rejected: int = 0


def month_bounds(epoch: float) -> tuple[int, int]:
    """UTC calendar month containing ``epoch``, as epoch seconds [start, end)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    end = datetime(moment.year + (moment.month == 12), moment.month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


def months_back(epoch: float, months: int) -> float:
    """``epoch`` moved back by calendar months (day clamped to the month's length)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_first = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_first - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day)).timestamp()


def _public(device: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in device.items() if not k.startswith("_")}


class SimSystem:
    """One system: its static description, devices, events and alarms, and its production."""

    def __init__(self, spec: dict[str, Any], clock: Callable[[], float]) -> None:
        """Build from a scenario system dict; ``clock`` returns simulated epoch seconds.

        Relative times in the scenario (``hours_ago`` of events and alarms, ``offline_hours``)
        are anchored on the simulated clock when first needed (see :meth:`anchor`), so a test
        that moves the clock (freezegun) before its first request sees them where it expects.
        """
        spec = copy.deepcopy(spec)
        self.system_id = int(spec["system_id"])
        self.devices: dict[str, list[dict[str, Any]]] = spec.pop("devices", {}) or {}
        events = spec.pop("events", []) or []
        alarms = spec.pop("alarms", []) or []
        self.lat = float(spec.pop("lat", 37.0))
        self.lon = float(spec.pop("lon", -122.0))
        self.nmi = spec.pop("nmi", None)
        self.source = spec.pop("source", "microinverters")
        self.battery: dict[str, int] | None = spec.pop("battery", None)
        offline_hours = spec.pop("offline_hours", None)
        upload = spec.pop("upload_interval", None)
        self.spec = spec
        self.spec.setdefault("timezone", "UTC")
        self.spec.setdefault("status", "normal")
        self.spec.setdefault("connection_type", "ethernet")
        self.spec.setdefault("operational_at", int(clock()) // 86400 * 86400 - 365 * 86400)
        if upload is None:
            upload = (
                CELLULAR_UPLOAD if self.spec["connection_type"] == "cellular" else BROADBAND_UPLOAD
            )
        self.upload_interval = int(upload)
        # Spread systems over the upload period so they do not all report at the same instant.
        self.upload_phase = (self.system_id * 7919 % (self.upload_interval // 60)) * 60
        self._clock = clock
        self._pending: tuple[Any, list[Any], list[Any]] | None = (offline_hours, events, alarms)
        self._offline_since: float | None = None
        self._events: list[dict[str, Any]] = []
        self._alarms: list[dict[str, Any]] = []
        self._anchor_base = 0
        self.lifetime_lag = 0  # seconds after local midnight before energy_lifetime rolls over
        # Event types and alarm kinds; the Simulator shares one instance between its systems.
        self.rules = alarm_rules.AlarmRules()
        self.model = ProductionModel(
            seed=self.system_id,
            lat=self.lat,
            lon=self.lon,
            tz=self.timezone,
            size_w=self.size_w or 1,
            operational_at=int(self.spec["operational_at"]),
        )
        # Consumption, battery and grid behind the meters (simulator/household.py).
        self.household = Household(self)

    # --- relative scenario times ----------------------------------------------------------
    def anchor(self, at: float | None = None) -> None:
        """Fix relative scenario times (hours ago) against ``at`` (default: the clock now)."""
        if self._pending is None:
            return
        offline_hours, events, alarms = self._pending
        self._pending = None
        base = int((self._clock() if at is None else at) // 3600 * 3600)
        self._anchor_base = base
        if offline_hours is not None:
            self._offline_since = base - float(offline_hours) * 3600
        self._events = [
            {**self._event_from_spec(e, base), "id": str(e.get("id", f"{self.system_id}.s{i}"))}
            for i, e in enumerate(events)
        ] + self._events
        self._alarms = [self._alarm_from_spec(a, base) for a in alarms] + self._alarms

    @property
    def events(self) -> list[dict[str, Any]]:
        """Events (internal form: start/end epoch, event_type_id, serial_number)."""
        self.anchor()
        return self._events

    @property
    def alarms(self) -> list[dict[str, Any]]:
        """Alarms (internal form: id, severity, start/end, events)."""
        self.anchor()
        return self._alarms

    @property
    def offline_since(self) -> float | None:
        """When the gateway stopped uploading, or None while it reports."""
        self.anchor()
        return self._offline_since

    @offline_since.setter
    def offline_since(self, value: float | None) -> None:
        self.anchor()
        self._offline_since = value

    def device_report(
        self, device: dict[str, Any], report: int, *, kind: str = "", now: float | None = None
    ) -> int:
        """Last report of one device: the gateway's, unless the device stopped reporting.

        ``_offline_hours`` (relative to the scenario anchor) or ``_last_report_at`` (epoch)
        freeze a device's reports, like a microinverter that no longer reports; so does an
        open alarm of a kind that stops the device's reports (of ``kind`` devices, at ``now``).
        """
        if now is not None:
            silenced = alarm_rules.device_silenced_at(self, kind, device, now)
            if silenced is not None:
                report = min(report, silenced)
        if "_last_report_at" in device:
            return min(report, int(device["_last_report_at"]))
        if "_offline_hours" in device:
            self.anchor()
            return min(report, self._anchor_base - int(float(device["_offline_hours"]) * 3600))
        return report

    # --- static facts -------------------------------------------------------------------
    @property
    def timezone(self) -> str:
        """IANA timezone of the system."""
        return str(self.spec["timezone"])

    @property
    def micros(self) -> list[dict[str, Any]]:
        """Active microinverters."""
        return [d for d in self.devices.get("micros", []) if self._is_active(d)]

    @property
    def size_w(self) -> int:
        """System size: the sum of the active microinverters' ratings."""
        return sum(int(d.get("_watts", 300)) for d in self.micros)

    def gateways(self, *, include_retired: bool = False) -> list[dict[str, Any]]:
        """Gateways of the system (retired ones only on request)."""
        return [
            d for d in self.devices.get("gateways", []) if include_retired or self._is_active(d)
        ]

    @staticmethod
    def _is_active(device: dict[str, Any]) -> bool:
        return not device.get("_retired") and device.get("active") not in (False, "false")

    def resize(self, now: float) -> None:
        """Re-read the size after devices changed; production follows from the next day."""
        self.model.resize(self.size_w or 1, now)

    # --- upload timing ------------------------------------------------------------------
    def set_upload_interval(self, seconds: int) -> None:
        """Upload every ``seconds`` (900 broadband, hours for cellular) from now on."""
        if seconds < 300:
            raise ValueError("upload_interval must be at least 300 seconds")
        self.upload_interval = seconds
        self.upload_phase = (self.system_id * 7919 % (seconds // 60)) * 60

    def is_reporting(self, now: float) -> bool:
        """Tell whether the gateway still uploads at ``now`` (not switched off, no outage alarm)."""
        return alarm_rules.is_reporting(self, now)

    def last_upload(self, now: float) -> int:
        """Epoch of the gateway's last upload at or before ``now`` (outages: see alarms.py)."""
        return alarm_rules.last_upload(self, now)

    def cutoff(self, now: float) -> int:
        """End of the last 5-minute interval included in the last upload."""
        upload = self.last_upload(now)
        return (upload - UPLOAD_PROCESSING) // INTERVAL * INTERVAL

    def data_date(self, now: float) -> date:
        """Local date of the last uploaded interval: the summary's default date."""
        return local_date(self.timezone, self.cutoff(now) - 1)

    def status(self, now: float) -> str:
        """System status: pinned, or from open alarms (``comm`` once the gateway stops)."""
        return alarm_rules.system_status(self, now)

    def last_energy_at(self, now: float) -> int | None:
        """End of the last uploaded interval that produced energy."""
        return self.model.last_energy_interval(self.cutoff(now))

    # --- responses ----------------------------------------------------------------------
    def system_json(self, now: float, *, style: str = "list") -> dict[str, Any]:
        """Render the system as /systems (``list``) or /systems/search (``search``) shows it."""
        spec = self.spec
        address = dict(spec.get("address") or {})
        last_report = self.last_upload(now)
        last_energy = self.last_energy_at(now)
        if style == "search":
            address.pop("city", None)
            body: dict[str, Any] = {
                "system_id": self.system_id,
                "name": spec.get("name"),
                "public_name": spec.get("public_name"),
                "timezone": spec.get("timezone"),
                "address": address,
                "connection_type": spec.get("connection_type"),
                "status": self.status(now),
                "last_report_at": last_report,
                "last_energy_at": last_energy,
                "operational_at": spec.get("operational_at"),
                "attachment_type": spec.get("attachment_type"),
                "interconnect_date": spec.get("interconnect_date"),
                "energy_lifetime": -1,
                "energy_today": -1,
                "system_size": -1,
            }
        else:
            body = {
                "system_id": self.system_id,
                "name": spec.get("name"),
                "public_name": spec.get("public_name"),
                "timezone": spec.get("timezone"),
                "address": address,
                "connection_type": spec.get("connection_type"),
                "energy_lifetime": -1,
                "energy_today": -1,
                "system_size": -1,
                "status": self.status(now),
                "last_report_at": last_report,
                "last_energy_at": last_energy,
                "operational_at": spec.get("operational_at"),
                "attachment_type": spec.get("attachment_type"),
                "interconnect_date": spec.get("interconnect_date"),
            }
        if "reference" in spec:
            body["reference"] = spec["reference"]
            body["other_references"] = list(spec.get("other_references") or [])
        return body

    def summary_json(self, now: float, summary_date: date | None = None) -> dict[str, Any]:
        """Render the summary, energy split into lifetime and today exactly as NOTES.md says."""
        model = self.model
        cutoff = self.cutoff(now)
        data_day = local_date(self.timezone, cutoff - 1)
        today = local_date(self.timezone, now)
        explicit = summary_date is not None
        day = summary_date if summary_date is not None else data_day
        if day < data_day:
            energy_today = model.day_total(day)
            lifetime = model.energy_before(day)
            day_end = local_day_bounds(self.timezone, day)[1]
            last_interval = model.last_energy_interval(min(day_end, cutoff))
        elif day == data_day:
            energy_today = model.energy_on_day_until(day, cutoff)
            lifetime = model.energy_before(day)
            last_interval = model.last_energy_interval(cutoff)
            midnight = local_day_bounds(self.timezone, day)[0]
            if self.lifetime_lag and now - midnight < self.lifetime_lag:
                # Quirk switch: the daily roll-up has not run yet, yesterday is missing.
                lifetime = model.energy_before(day - timedelta(days=1))
        else:
            # A date after the last upload: nothing uploaded for it yet.
            energy_today = 0
            lifetime = model.energy_before(data_day) + model.energy_on_day_until(data_day, cutoff)
            last_interval = model.last_energy_interval(cutoff)
        past = explicit and day < today
        body: dict[str, Any] = {
            "system_id": self.system_id,
            "current_power": 0 if past or day != data_day else model.interval_power(cutoff),
            "energy_lifetime": lifetime,
            "energy_today": energy_today,
            "last_interval_end_at": last_interval if last_interval is not None else cutoff,
            "last_report_at": self.last_upload(now),
            "modules": 0 if past else len(self.micros),
            "operational_at": self.spec.get("operational_at"),
            "size_w": 0 if past else self.size_w,
            "nmi": self.nmi,
            "source": self.source,
            "status": self.status(now),
            "summary_date": day.isoformat(),
        }
        if self.battery:
            body["battery_charge_w"] = int(self.battery.get("charge_w", 0))
            body["battery_discharge_w"] = int(self.battery.get("discharge_w", 0))
            body["battery_capacity_wh"] = int(self.battery.get("capacity_wh", 0))
        return body

    def devices_json(self, now: float) -> dict[str, Any]:
        """Active devices by kind, in the reference's key order."""
        report = self.last_upload(now)
        kinds = [k for k in DEVICE_KIND_ORDER if k in self.devices]
        kinds += [k for k in self.devices if k not in DEVICE_KIND_ORDER]
        out: dict[str, list[dict[str, Any]]] = {}
        for kind in kinds:
            items = []
            for device in self.devices[kind]:
                if not self._is_active(device):
                    continue
                public = _public(device)
                ordered: dict[str, Any] = {"id": public.pop("id", None)}
                ordered["last_report_at"] = self.device_report(device, report, kind=kind, now=now)
                ordered.update(public)
                if "status" in ordered:
                    ordered["status"] = alarm_rules.device_status(self, kind, device, now)
                items.append(ordered)
            if items:
                out[kind] = items
        return {
            "system_id": self.system_id,
            "total_devices": sum(len(v) for v in out.values()),
            "items": "devices",
            "devices": out,
        }

    def micro_summaries(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        """(envoy serial, microinverter summary) for every active micro, power split by rating."""
        cutoff = self.cutoff(now)
        report = self.last_upload(now)
        day = local_date(self.timezone, cutoff - 1)
        power = self.model.interval_power(cutoff)
        produced = self.model.energy_before(day) + self.model.energy_on_day_until(day, cutoff)
        size = self.size_w or 1
        default_envoy = next((g["serial_number"] for g in self.gateways()), None)
        out = []
        for index, micro in enumerate(self.micros):
            share = int(micro.get("_watts", 300)) / size
            micro_report = self.device_report(micro, report, kind="micros", now=now)
            micro_power = round(power * share) if micro_report == report else 0
            envoy = micro.get("_envoy") or default_envoy
            out.append(
                (
                    str(envoy),
                    {
                        "id": micro.get("id"),
                        "serial_number": micro.get("serial_number"),
                        "model": micro.get("model"),
                        "part_number": micro.get("part_number"),
                        "sku": micro.get("sku"),
                        "status": alarm_rules.device_status(self, "micros", micro, now),
                        # Both forms appear in the reference: an object, and a bare number.
                        "power_produced": (
                            {"value": micro_power, "units": "W", "precision": 0}
                            if index % 2 == 0
                            else micro_power
                        ),
                        "proc_load": micro.get("_proc_load"),
                        "param_table": micro.get("_param_table"),
                        "envoy_serial_number": envoy,
                        "energy": {"value": round(produced * share), "units": "Wh", "precision": 0},
                        "grid_profile": micro.get("_grid_profile"),
                        "last_report_date": micro_report,
                    },
                )
            )
        return out

    # --- events and alarms ----------------------------------------------------------------
    @staticmethod
    def _event_from_spec(spec: dict[str, Any], base: int) -> dict[str, Any]:
        start = int(spec.get("start", base - float(spec.get("hours_ago", 1)) * 3600))
        duration = spec.get("duration_h")
        end = spec.get("end", None if duration is None else start + int(float(duration) * 3600))
        return {
            "event_type_id": int(spec["event_type_id"]),
            "serial_number": spec.get("serial_number"),
            "start": start,
            "end": end,
        }

    @staticmethod
    def _alarm_from_spec(spec: dict[str, Any], base: int) -> dict[str, Any]:
        start = int(spec.get("start", base - float(spec.get("hours_ago", 1)) * 3600))
        duration = spec.get("duration_h")
        end = spec.get("end", None if duration is None else start + int(float(duration) * 3600))
        serials = spec.get("serial_numbers") or [spec.get("serial_number")]
        return {
            "id": str(spec["id"]),
            "severity": int(spec.get("severity", 2)),
            "event_type_id": int(spec["event_type_id"]),
            "start": start,
            "end": end,
            "events": [{"serial_number": s, "start_date": start, "end_date": end} for s in serials],
        }

    @staticmethod
    def _overlaps(start: int, end: int | None, lo: int, hi: int) -> bool:
        return start <= hi and (end is None or end >= lo)

    def events_json(self, now: float, lo: int, hi: int) -> dict[str, Any]:
        """Events overlapping [lo, hi] that had started by ``now``."""
        events = [
            alarm_rules.event_json(event, now, stateful=self.rules.stateful(event["event_type_id"]))
            for event in sorted(self.events, key=lambda e: e["start"])
            if event["start"] <= now and self._overlaps(event["start"], event["end"], lo, hi)
        ]
        return {"events": events, "system_id": self.system_id}

    def alarms_json(self, now: float, lo: int, hi: int, *, cleared: bool) -> dict[str, Any]:
        """Active (or, with ``cleared``, cleared) alarms overlapping [lo, hi]."""
        alarms = []
        for alarm in sorted(self.alarms, key=lambda a: a["start"]):
            if alarm["start"] > now or not self._overlaps(alarm["start"], alarm["end"], lo, hi):
                continue
            rendered = alarm_rules.alarm_json(alarm, now)
            if rendered["cleared"] == cleared:
                alarms.append(rendered)
        return {"alarms": alarms, "system_id": self.system_id}
