"""Alarms and events: open_alarms/open_events, status-changing and silent kinds, event controls."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sim_helpers import assert_same_shape, load_fixture

from simulator import Simulator, SimulatorError
from simulator.alarms import AlarmKind

SYSTEM_ID = 698910067
GATEWAY = "202323054201"
MICRO = "902167438951"
OTHER_MICRO = "902167438958"
METER = "202323054201EIM1"
FOREIGN_SYSTEM_ID = 698906018
# Noon in Sebastopol: the small home produces.
START = datetime(2026, 6, 21, 19, 0, tzinfo=UTC)
NOW = int(START.timestamp())

# The Swagger's 200 examples (monitoring-api-v4.swagger.json), verbatim.
OPEN_ALARMS_EXAMPLE: dict[str, Any] = {
    "alarms": [
        {
            "id": "698957008.8.1766109572000",
            "severity": 2,
            "events": [
                {"serial_number": "202241095486", "start_date": 1737750626, "end_date": None}
            ],
            "event_type_id": 28,
            "alarm_start_time": 1737750626,
        }
    ],
    "system_id": 701644354,
}
OPEN_EVENTS_EXAMPLE: dict[str, Any] = {
    "events": [
        {
            "status": "open",
            "event_type_id": 28,
            "event_start_time": 1740213328,
            "event_end_time": None,
            "serial_number": "202241095486",
        }
    ],
    "system_id": 701644354,
}


@pytest.fixture(autouse=True)
def frozen(sim: Simulator) -> None:
    """Stop the clock at START before any token is issued."""
    sim.clock.set(START, speed=0)


async def ctl(
    http: aiohttp.ClientSession, sim_url: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, f"{sim_url}/_sim{path}", json=body) as resp:
        return resp.status, await resp.json()


def frozen_sim(scenario: str = "small_home", when: datetime = START) -> Simulator:
    return Simulator(scenario, start=when, speed=0)


def total(summary: dict[str, Any]) -> int:
    return int(summary["energy_lifetime"]) + int(summary["energy_today"])


def window(days: float = 7) -> dict[str, int]:
    return {"start_time": NOW - int(days * 86400), "end_time": NOW}


# --- shapes -------------------------------------------------------------------------------
async def test_open_alarms_shape_matches_the_swagger(sim: Simulator, call: Any) -> None:
    alarm = sim.raise_alarm(SYSTEM_ID, 28, severity=2)
    status, body = await call(f"/{SYSTEM_ID}/open_alarms")
    assert status == 200
    assert_same_shape(body, OPEN_ALARMS_EXAMPLE, nullable=False)
    assert list(body) == list(OPEN_ALARMS_EXAMPLE)
    assert list(body["alarms"][0]) == list(OPEN_ALARMS_EXAMPLE["alarms"][0])
    assert body == {
        "alarms": [
            {
                "id": alarm["id"],
                "severity": 2,
                "events": [{"serial_number": GATEWAY, "start_date": NOW, "end_date": None}],
                "event_type_id": 28,
                "alarm_start_time": NOW,
            }
        ],
        "system_id": SYSTEM_ID,
    }
    # Enphase's ids: system, event type, then a millisecond-like epoch.
    assert alarm["id"].startswith(f"{SYSTEM_ID}.28.{NOW}")


async def test_open_events_shape_matches_the_swagger(sim: Simulator, call: Any) -> None:
    sim.raise_alarm(SYSTEM_ID, 28)
    status, body = await call(f"/{SYSTEM_ID}/open_events")
    assert status == 200
    assert_same_shape(body, OPEN_EVENTS_EXAMPLE, nullable=False)
    assert list(body["events"][0]) == list(OPEN_EVENTS_EXAMPLE["events"][0])
    # The Swagger spells it "open" here, "Open" in /events.
    assert body["events"] == [
        {
            "status": "open",
            "event_type_id": 28,
            "event_start_time": NOW,
            "event_end_time": None,
            "serial_number": GATEWAY,
        }
    ]


async def test_nothing_open_gives_empty_lists(call: Any) -> None:
    # small_home's scenario alarm and event were cleared days ago.
    assert await call(f"/{SYSTEM_ID}/open_alarms") == (
        200,
        {"alarms": [], "system_id": SYSTEM_ID},
    )
    assert await call(f"/{SYSTEM_ID}/open_events") == (
        200,
        {"events": [], "system_id": SYSTEM_ID},
    )


async def test_old_open_alarm_appears_in_open_alarms_only_window_free(
    sim: Simulator, call: Any
) -> None:
    weeks3 = sim.raise_alarm(SYSTEM_ID, 28, at=START - timedelta(weeks=3))
    ancient = sim.raise_alarm(SYSTEM_ID, 47, serial_number=METER, at=START - timedelta(days=400))
    cleared = sim.raise_alarm(
        SYSTEM_ID, 6, at=START - timedelta(days=2), clear_at=START - timedelta(days=1)
    )
    future = sim.raise_alarm(SYSTEM_ID, 12, at=START + timedelta(hours=1))
    _, body = await call(f"/{SYSTEM_ID}/open_alarms")
    assert [a["id"] for a in body["alarms"]] == [ancient["id"], weeks3["id"]]
    assert body["alarms"][1]["alarm_start_time"] == NOW - 21 * 86400
    # Neither the cleared one nor the one raised in an hour.
    assert {cleared["id"], future["id"]}.isdisjoint(a["id"] for a in body["alarms"])
    # The windowed read cannot look back 400 days: 9 months at most.
    status, error = await call(
        f"/{SYSTEM_ID}/alarms",
        params={"start_time": NOW - 400 * 86400, "end_time": NOW - 394 * 86400},
    )
    assert (status, error["code"]) == (422, 422)
    _, events = await call(f"/{SYSTEM_ID}/open_events")
    assert [e["event_start_time"] for e in events["events"]] == [
        NOW - 400 * 86400,
        NOW - 21 * 86400,
    ]


# --- status-changing kinds ----------------------------------------------------------------
async def test_gateway_not_reporting_turns_comm_and_freezes_uploads(
    sim: Simulator, call: Any, http: aiohttp.ClientSession, sim_url: str
) -> None:
    _, before = await call(f"/{SYSTEM_ID}/summary")
    assert before["status"] == "normal"
    status, alarm = await ctl(
        http, sim_url, "POST", f"/systems/{SYSTEM_ID}/alarms", {"event_type_id": 28}
    )
    assert status == 201
    assert alarm["kind"]["status"] == "comm"
    assert alarm["kind"]["stops_uploads"] is True
    _, raised = await call(f"/{SYSTEM_ID}/summary")
    assert raised["status"] == "comm"
    assert raised["last_report_at"] == before["last_report_at"]
    _, devices_before = await call(f"/{SYSTEM_ID}/devices")

    sim.clock.advance(timedelta(hours=3))
    _, later = await call(f"/{SYSTEM_ID}/summary")
    # Three hours of midday sun and nothing moves: no upload came in.
    assert later == raised
    _, devices_later = await call(f"/{SYSTEM_ID}/devices")
    assert devices_later == devices_before
    _, listed = await call("")
    assert {s["system_id"]: s["status"] for s in listed["systems"]}[SYSTEM_ID] == "comm"
    _, found = await call("/search", method="POST", json_body={"system": {"statuses": ["comm"]}})
    assert [s["system_id"] for s in found["systems"]] == [SYSTEM_ID]
    _, detail = await call(f"/{SYSTEM_ID}")
    assert (detail["status"], detail["last_report_at"]) == ("comm", before["last_report_at"])

    status, _ = await ctl(http, sim_url, "POST", f"/alarms/{alarm['id']}/clear")
    assert status == 200
    _, back = await call(f"/{SYSTEM_ID}/summary")
    assert back["status"] == "normal"
    # The gateway sends its backlog the moment it reconnects.
    assert back["last_report_at"] == int(sim.now())
    assert total(back) > total(later)
    system = sim.systems[SYSTEM_ID]
    cutoff = (int(sim.now()) - 60) // 300 * 300
    assert back["last_interval_end_at"] == cutoff
    assert total(back) == system.model.energy_before(START.date()) + (
        system.model.energy_on_day_until(START.date(), cutoff)
    )


def test_no_energy_lost_after_an_outage_across_midnight() -> None:
    tz = ZoneInfo("America/Los_Angeles")
    raised_at = datetime(2026, 6, 21, 16, 0, tzinfo=tz)
    cleared_at = datetime(2026, 6, 22, 11, 0, tzinfo=tz)
    sim = frozen_sim(when=raised_at - timedelta(hours=1))
    twin = frozen_sim(when=raised_at - timedelta(hours=1))
    system, twin_system = sim.systems[SYSTEM_ID], twin.systems[SYSTEM_ID]
    sim.raise_alarm(SYSTEM_ID, 28, at=raised_at, clear_at=cleared_at)
    frozen = None
    seen = []
    moment = raised_at - timedelta(minutes=30)
    while moment < cleared_at + timedelta(hours=2):
        sim.clock.set(moment, speed=0)
        twin.clock.set(moment, speed=0)
        ours = system.summary_json(sim.now())
        theirs = twin_system.summary_json(twin.now())
        seen.append(total(ours))
        if raised_at <= moment < cleared_at:
            frozen = frozen or ours
            assert {**ours, "status": "normal"} == {**frozen, "status": "normal"}
            assert ours["status"] == "comm"
            # The summary date stays the day of the last upload.
            assert ours["summary_date"] == "2026-06-21"
        elif moment >= cleared_at + timedelta(minutes=15):
            # One regular upload after the reconnection both sims show the same.
            assert ours == theirs
        moment += timedelta(minutes=5)
    assert frozen is not None
    assert seen == sorted(seen)  # never steps backwards
    # The first summary after the reconnection: the new day, and yesterday in the lifetime.
    sim.clock.set(cleared_at, speed=0)
    first = system.summary_json(sim.now())
    assert first["summary_date"] == "2026-06-22"
    assert first["energy_lifetime"] == system.model.energy_before(date(2026, 6, 22))
    assert first["last_report_at"] == int(cleared_at.timestamp())


async def test_micro_not_reporting_turns_micro(sim: Simulator, call: Any) -> None:
    alarm = sim.raise_alarm(SYSTEM_ID, 6, serial_number=MICRO)
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert summary["status"] == "micro"
    sim.clock.advance(timedelta(hours=1))
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert summary["last_report_at"] > NOW - 900  # uploads go on
    _, devices = await call(f"/{SYSTEM_ID}/devices")
    micros = {m["serial_number"]: m for m in devices["devices"]["micros"]}
    assert micros[MICRO]["status"] == "not_reporting"
    assert micros[OTHER_MICRO]["status"] == "normal"
    assert micros[MICRO]["last_report_at"] < micros[OTHER_MICRO]["last_report_at"]
    assert micros[OTHER_MICRO]["last_report_at"] == summary["last_report_at"]
    assert devices["devices"]["gateways"][0]["status"] == "normal"
    _, inverters = await call(
        "/inverters_summary_by_envoy_or_site", params={"site_id": SYSTEM_ID, "size": 100}
    )
    rows = {m["serial_number"]: m for m in inverters[0]["micro_inverters"]}
    assert rows[MICRO]["status"] == "not_reporting"
    assert rows[MICRO]["power_produced"] in (0, {"value": 0, "units": "W", "precision": 0})
    assert rows[MICRO]["last_report_date"] == micros[MICRO]["last_report_at"]
    sim.clear_alarm(alarm["id"])
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert summary["status"] == "normal"
    _, devices = await call(f"/{SYSTEM_ID}/devices")
    micros = {m["serial_number"]: m for m in devices["devices"]["micros"]}
    assert micros[MICRO]["status"] == "normal"
    assert micros[MICRO]["last_report_at"] == micros[OTHER_MICRO]["last_report_at"]


async def test_meter_issue_turns_meter_and_marks_the_meter(sim: Simulator, call: Any) -> None:
    sim.raise_alarm(SYSTEM_ID, 47, serial_number=METER)
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert summary["status"] == "meter"
    _, devices = await call(f"/{SYSTEM_ID}/devices")
    meters = {m["serial_number"]: m["status"] for m in devices["devices"]["meters"]}
    assert meters == {METER: "error", "202323054201EIM2": "normal"}


@pytest.mark.parametrize(
    ("event_type_id", "status"), [(12, "power"), (3620, "power"), (4781, "storage_idle")]
)
def test_other_status_changing_kinds(event_type_id: int, status: str) -> None:
    sim = frozen_sim()
    alarm = sim.raise_alarm(SYSTEM_ID, event_type_id)
    assert sim.systems[SYSTEM_ID].status(sim.now()) == status
    sim.clear_alarm(alarm["id"])
    assert sim.systems[SYSTEM_ID].status(sim.now()) == "normal"


@pytest.mark.parametrize("event_type_id", [3612, 5120, 7001, 999999])
async def test_silent_alarm_changes_no_status(
    sim: Simulator, call: Any, event_type_id: int
) -> None:
    _, devices_before = await call(f"/{SYSTEM_ID}/devices")
    alarm = sim.raise_alarm(SYSTEM_ID, event_type_id, serial_number=MICRO)
    assert sim.alarm_kind(event_type_id).silent
    sim.clock.advance(timedelta(minutes=30))
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert summary["status"] == "normal"
    assert summary["last_report_at"] > NOW  # uploads go on
    _, devices = await call(f"/{SYSTEM_ID}/devices")
    statuses = {
        d["serial_number"]: d["status"] for kind in devices["devices"].values() for d in kind
    }
    assert set(statuses.values()) == {"normal"}
    assert devices["total_devices"] == devices_before["total_devices"]
    _, body = await call(f"/{SYSTEM_ID}/open_alarms")
    assert [a["id"] for a in body["alarms"]] == [alarm["id"]]


def test_priority_when_several_are_open() -> None:
    sim = frozen_sim()
    system = sim.systems[SYSTEM_ID]
    micro = sim.raise_alarm(SYSTEM_ID, 6, serial_number=MICRO)
    meter = sim.raise_alarm(SYSTEM_ID, 47, serial_number=METER)
    assert system.status(sim.now()) == "micro"
    gateway = sim.raise_alarm(SYSTEM_ID, 28)
    assert system.status(sim.now()) == "comm"
    sim.clock.advance(60)
    sim.clear_alarm(gateway["id"])
    assert system.status(sim.now()) == "micro"
    sim.clear_alarm(micro["id"])
    assert system.status(sim.now()) == "meter"
    sim.clear_alarm(meter["id"])
    assert system.status(sim.now()) == "normal"


def test_pinned_status_and_switched_off_gateway() -> None:
    sim = frozen_sim()
    system = sim.systems[SYSTEM_ID]
    alarm = sim.raise_alarm(SYSTEM_ID, 6, serial_number=MICRO)
    sim.update_system(SYSTEM_ID, {"status": "power"})
    # A status set by the scenario or PATCH wins over alarms, as before.
    assert system.status(sim.now()) == "power"
    sim.update_system(SYSTEM_ID, {"status": "normal", "reporting": False})
    assert system.status(sim.now()) == "comm"
    sim.update_system(SYSTEM_ID, {"reporting": True})
    assert system.status(sim.now()) == "micro"
    sim.clear_alarm(alarm["id"])
    assert system.status(sim.now()) == "normal"


def test_overlapping_outages_merge() -> None:
    sim = frozen_sim()
    system = sim.systems[SYSTEM_ID]
    first = sim.raise_alarm(SYSTEM_ID, 28, at=START - timedelta(hours=3))
    second = sim.raise_alarm(SYSTEM_ID, 28, at=START - timedelta(hours=2))
    frozen_at = system.last_upload(NOW - 3 * 3600)
    sim.clear_alarm(first["id"], at=START - timedelta(hours=1))
    assert system.summary_json(sim.now())["last_report_at"] == frozen_at
    assert not system.is_reporting(sim.now())
    sim.clear_alarm(second["id"])
    assert system.is_reporting(sim.now())
    assert system.summary_json(sim.now())["last_report_at"] == NOW


def test_default_scenarios_keep_their_statuses() -> None:
    # battery_ev_home keeps an IQ Battery low-charge alarm open: a silent kind.
    battery = frozen_sim("battery_ev_home")
    home = battery.systems[701644354]
    assert [a.event_type_key for a in battery.alarm_records() if a.is_open(battery.now())] == [
        "encharge_low_soc"
    ]
    assert home.status(battery.now()) == "normal"
    devices = home.devices_json(battery.now())["devices"]
    assert {d["status"] for kind in devices.values() for d in kind} == {"normal"}
    # installer_28: the two gateways that stopped reporting show comm, their records unchanged.
    installer = frozen_sim("installer_28")
    now = installer.now()
    comm = [s for s in installer.system_ids if installer.systems[s].status(now) == "comm"]
    assert len(comm) == 2
    for system_id in comm:
        gateways = installer.systems[system_id].devices_json(now)["devices"]["gateways"]
        assert [g["status"] for g in gateways] == ["normal"]


# --- raising at a given time ----------------------------------------------------------------
def test_alarm_at_a_given_time_and_scheduled_clear() -> None:
    sim = frozen_sim()
    system = sim.systems[SYSTEM_ID]
    alarm = sim.raise_alarm(
        SYSTEM_ID,
        6,
        serial_number=MICRO,
        at=START + timedelta(hours=1),
        clear_at=START + timedelta(hours=2),
    )
    assert system.status(sim.now()) == "normal"
    assert sim.status_at(SYSTEM_ID, START + timedelta(hours=1)) == "micro"
    assert sim.status_at(SYSTEM_ID, START + timedelta(hours=2)) == "normal"
    sim.clock.advance(timedelta(minutes=90))
    assert system.status(sim.now()) == "micro"
    assert (
        system.alarms_json(sim.now(), NOW, NOW + 86400, cleared=False)["alarms"][0]["id"]
        == (alarm["id"])
    )
    sim.clock.advance(timedelta(minutes=30))
    assert system.status(sim.now()) == "normal"
    assert (
        system.alarms_json(sim.now(), NOW, NOW + 86400, cleared=True)["alarms"][0]["alarm_end_time"]
        == NOW + 7200
    )


def test_ground_truth_for_benchmarks() -> None:
    sim = frozen_sim()
    silent = sim.raise_alarm(SYSTEM_ID, 5120, at=START - timedelta(hours=2))
    comm = sim.raise_alarm(SYSTEM_ID, 28, severity=1)
    sim.clock.advance(600)
    sim.clear_alarm(comm["id"])
    records = {r.alarm_id: r for r in sim.alarm_records(SYSTEM_ID)}
    # The scenario's own cleared alarm is there too.
    assert "1082701398" in records
    truth = records[comm["id"]]
    assert (truth.raised_at, truth.cleared_at) == (NOW, NOW + 600)
    assert truth.changes_status
    assert not truth.silent
    assert truth.kind.stops_uploads
    assert (truth.event_type_key, truth.severity, truth.serial_numbers) == (
        "envoy_no_report",
        1,
        (GATEWAY,),
    )
    assert truth.is_open(NOW + 599)
    assert not truth.is_open(NOW + 600)
    quiet = records[silent["id"]]
    assert (quiet.raised_at, quiet.cleared_at, quiet.silent) == (NOW - 7200, None, True)
    assert not quiet.changes_status
    assert [r.alarm_id for r in sim.alarm_records()][-2:] == [silent["id"], comm["id"]]
    assert sim.alarm_records(FOREIGN_SYSTEM_ID) == []
    events = [e for e in sim.event_records(SYSTEM_ID) if e.alarm_id == comm["id"]]
    assert [(e.opened_at, e.closed_at, e.serial_number) for e in events] == [
        (NOW, NOW + 600, GATEWAY)
    ]


def test_kinds_can_be_changed() -> None:
    sim = frozen_sim("battery_ev_home")
    home = sim.systems[701644354]
    battery_serial = "121593621979"
    kind = sim.set_alarm_kind(
        3612, {"status": "battery", "device_status": "error", "device_kinds": ["encharges"]}
    )
    assert kind == AlarmKind(status="battery", device_status="error", device_kinds=("encharges",))
    # The scenario's open low-charge alarm now changes the status.
    assert home.status(sim.now()) == "battery"
    encharges = home.devices_json(sim.now())["devices"]["encharges"]
    assert {e["serial_number"]: e["status"] for e in encharges}[battery_serial] == "error"
    assert sim.set_alarm_kind(3612, None).silent
    assert home.status(sim.now()) == "normal"
    with pytest.raises(SimulatorError):
        sim.set_alarm_kind(3612, {"stat": "battery"})


# --- events --------------------------------------------------------------------------------
async def test_events_open_and_close(
    sim: Simulator, call: Any, http: aiohttp.ClientSession, sim_url: str
) -> None:
    status, event = await ctl(
        http,
        sim_url,
        "POST",
        f"/systems/{SYSTEM_ID}/events",
        {"event_type_id": 12, "at": NOW - 3600},
    )
    assert status == 201
    assert (event["start"], event["end"], event["serial_number"]) == (NOW - 3600, None, GATEWAY)
    _, body = await call(f"/{SYSTEM_ID}/events", params={"start_time": NOW - 7200})
    assert body["events"] == [
        {
            "status": "Open",
            "event_type_id": 12,
            "event_start_time": NOW - 3600,
            "event_end_time": None,
            "serial_number": GATEWAY,
        }
    ]
    _, opened = await call(f"/{SYSTEM_ID}/open_events")
    assert [e["event_start_time"] for e in opened["events"]] == [NOW - 3600]
    # An event alone changes no status: Enphase raises an alarm when one stays open.
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert summary["status"] == "normal"
    _, alarms = await call(f"/{SYSTEM_ID}/open_alarms")
    assert alarms["alarms"] == []

    sim.clock.advance(300)
    status, closed = await ctl(http, sim_url, "POST", f"/events/{event['id']}/close")
    assert (status, closed["end"]) == (200, NOW + 300)
    _, body = await call(f"/{SYSTEM_ID}/events", params={"start_time": NOW - 7200})
    assert [(e["status"], e["event_end_time"]) for e in body["events"]] == [("Closed", NOW + 300)]
    _, opened = await call(f"/{SYSTEM_ID}/open_events")
    assert opened["events"] == []
    status, records = await ctl(http, sim_url, "GET", f"/events?system_id={SYSTEM_ID}")
    mine = next(r for r in records if r["id"] == event["id"])
    assert (mine["opened_at"], mine["closed_at"], mine["alarm_id"]) == (NOW - 3600, NOW + 300, None)


async def test_transient_events_are_info_and_never_open(sim: Simulator, call: Any) -> None:
    sim.open_event(SYSTEM_ID, 7001)
    _, body = await call(f"/{SYSTEM_ID}/events", params={"start_time": NOW - 60})
    assert [(e["event_type_id"], e["status"]) for e in body["events"]] == [(7001, "Info")]
    _, opened = await call(f"/{SYSTEM_ID}/open_events")
    assert opened["events"] == []


async def test_alarm_events_follow_the_alarm(sim: Simulator, call: Any) -> None:
    alarm = sim.raise_alarm(SYSTEM_ID, 6, serial_numbers=[MICRO, OTHER_MICRO], severity=3)
    _, opened = await call(f"/{SYSTEM_ID}/open_events")
    assert [(e["event_type_id"], e["serial_number"]) for e in opened["events"]] == [
        (6, MICRO),
        (6, OTHER_MICRO),
    ]
    # One micro comes back: its event closes, the alarm stays open (as in the reference's
    # alarms example, an uncleared alarm with an ended event).
    sim.clock.advance(600)
    first_event = alarm["events"][0]["event_id"]
    sim.close_event(first_event)
    _, body = await call(f"/{SYSTEM_ID}/open_alarms")
    assert body["alarms"][0]["events"] == [
        {"serial_number": MICRO, "start_date": NOW, "end_date": NOW + 600},
        {"serial_number": OTHER_MICRO, "start_date": NOW, "end_date": None},
    ]
    _, windowed = await call(f"/{SYSTEM_ID}/alarms", params={"start_time": NOW - 60})
    assert windowed["alarms"][0]["cleared"] is False
    assert windowed["alarms"][0]["events"][0]["end_date"] == NOW + 600
    devices = sim.systems[SYSTEM_ID].devices_json(sim.now())["devices"]["micros"]
    statuses = {m["serial_number"]: m["status"] for m in devices}
    assert (statuses[MICRO], statuses[OTHER_MICRO]) == ("normal", "not_reporting")
    _, opened = await call(f"/{SYSTEM_ID}/open_events")
    assert [e["serial_number"] for e in opened["events"]] == [OTHER_MICRO]
    # Clearing the alarm closes what is still open.
    sim.clock.advance(600)
    sim.clear_alarm(alarm["id"])
    _, opened = await call(f"/{SYSTEM_ID}/open_events")
    assert opened["events"] == []
    _, body = await call(f"/{SYSTEM_ID}/events", params={"start_time": NOW - 60})
    assert [(e["status"], e["event_end_time"]) for e in body["events"]] == [
        ("Closed", NOW + 600),
        ("Closed", NOW + 1200),
    ]


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({}, "start_time is required"),
        ({"start_time": "soon"}, "Failed to parse date soon"),
        (
            {"start_time": NOW - 280 * 86400},
            "Invalid request because of 'start_time cannot be older than 9 months from the current time'",
        ),
        (
            {"start_time": NOW - 8 * 86400, "end_time": NOW},
            "Invalid request because of 'Maximum 1 week of data can be retrieved in a single call'",
        ),
        (
            {"start_time": NOW, "end_time": NOW - 1},
            "Invalid request because of 'Invalid date/time range'",
        ),
    ],
)
async def test_events_window_rules(call: Any, params: dict[str, Any], details: str) -> None:
    status, body = await call(f"/{SYSTEM_ID}/events", params=params)
    assert (status, body) == (
        422,
        {"message": "Unprocessable Entity", "details": details, "code": 422},
    )


async def test_events_window_edges(sim: Simulator, call: Any) -> None:
    assert await call(f"/{SYSTEM_ID}/events", params={}) == (
        422,
        load_fixture("error_422_start_time.json"),
    )
    event = sim.open_event(
        SYSTEM_ID, 12, at=START - timedelta(days=2), close_at=START - timedelta(days=1)
    )
    # Exactly one week is allowed; the default end is one day after the start.
    status, body = await call(
        f"/{SYSTEM_ID}/events", params={"start_time": NOW - 7 * 86400, "end_time": NOW}
    )
    assert status == 200
    assert event["start"] in [e["event_start_time"] for e in body["events"]]
    _, body = await call(f"/{SYSTEM_ID}/events", params={"start_time": NOW - 4 * 86400})
    assert event["start"] not in [e["event_start_time"] for e in body["events"]]
    _, body = await call(f"/{SYSTEM_ID}/events", params={"start_time": NOW - 3 * 86400 + 60})
    assert event["start"] in [e["event_start_time"] for e in body["events"]]


# --- the rules every endpoint follows -------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["open_alarms", "open_events"])
async def test_counted_against_the_rate_limits(sim: Simulator, call: Any, endpoint: str) -> None:
    for _ in range(10):
        assert (await call(f"/{SYSTEM_ID}/{endpoint}"))[0] == 200
    status, body = await call(f"/{SYSTEM_ID}/{endpoint}")
    # Like the Swagger's example: message, details and code only.
    assert (status, body) == (
        429,
        load_fixture("error_429_plain.json") | {"details": "Usage limit exceeded for plan Watt"},
    )
    usage = sim.usage_report()["sim-api-key"]
    assert (usage["minute_count"], usage["month_count"], usage["rejected"]) == (10, 10, 1)
    assert [e["endpoint"] for e in sim.request_log] == [endpoint] * 11
    assert [e["status"] for e in sim.request_log][-2:] == [200, 429]


async def test_month_quota_counts_them_too(sim: Simulator, call: Any) -> None:
    sim.set_plan(api_key="sim-api-key", plan="custom", per_minute=100, per_month=3)
    assert (await call(f"/{SYSTEM_ID}/open_alarms"))[0] == 200
    assert (await call(f"/{SYSTEM_ID}/open_events"))[0] == 200
    assert (await call(f"/{SYSTEM_ID}/summary"))[0] == 200
    assert (await call(f"/{SYSTEM_ID}/open_alarms"))[0] == 429


@pytest.mark.parametrize("endpoint", ["open_alarms", "open_events"])
async def test_auth_and_errors(
    sim: Simulator, call: Any, tokens: dict[str, Any], endpoint: str
) -> None:
    path = f"/{SYSTEM_ID}/{endpoint}"
    status, body = await call(path, key=None)
    assert (status, body["details"]) == (401, "Invalid API key")
    assert await call(path, token="not-a-token") == (401, load_fixture("error_401.json"))
    assert await call(path, key="sim-other-api-key") == (
        401,
        load_fixture("error_401_key_mismatch.json"),
    )
    sim.expire_access_tokens()
    assert await call(path) == (401, load_fixture("error_401.json"))
    fresh = sim.issue_tokens()["access_token"]
    assert await call(f"/1/{endpoint}", token=fresh) == (404, load_fixture("error_404_system.json"))
    assert await call(f"/{FOREIGN_SYSTEM_ID}/{endpoint}", token=fresh) == (
        403,
        load_fixture("error_403.json"),
    )
    assert await call(path, method="POST", token=fresh) == (405, load_fixture("error_405.json"))
    # Failed authentication is not counted; the 404 and 403 are.
    assert sim.usage_report()["sim-api-key"]["month_count"] == 2
    assert {e.get("auth_error") for e in sim.request_log[:4]} == {
        "api_key",
        "token",
        "mismatch",
        "token_expired",
    }


@pytest.mark.parametrize("endpoint", ["open_alarms", "open_events"])
async def test_fault_injection(sim: Simulator, call: Any, endpoint: str) -> None:
    sim.fail_next(1, 500, endpoint=endpoint)
    sim.fail_next(1, 503, endpoint="summary")
    assert await call(f"/{SYSTEM_ID}/{endpoint}") == (500, load_fixture("error_500.json"))
    assert (await call(f"/{SYSTEM_ID}/{endpoint}"))[0] == 200
    assert sim.request_log[0]["fault"] is True
    # Faulted requests are not counted.
    assert sim.usage_report()["sim-api-key"]["month_count"] == 1
    sim.set_latency(0.05, endpoint=endpoint)
    assert (await call(f"/{SYSTEM_ID}/{endpoint}"))[0] == 200


@pytest.mark.parametrize("plan", ["watt", "kilowatt", "megawatt", "partner"])
async def test_on_every_plan(sim: Simulator, call: Any, plan: str) -> None:
    # System Details: NOTES.md puts them on every plan, the free Watt included.
    sim.set_plan(api_key="sim-api-key", plan=plan)
    sim.raise_alarm(SYSTEM_ID, 28)
    for endpoint in ("open_alarms", "open_events"):
        status, body = await call(f"/{SYSTEM_ID}/{endpoint}")
        assert status == 200
        assert len(body[endpoint.removeprefix("open_")]) == 1


# --- control API ----------------------------------------------------------------------------
async def test_control_api_for_alarms(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str, call: Any
) -> None:
    status, alarm = await ctl(
        http,
        sim_url,
        "POST",
        f"/systems/{SYSTEM_ID}/alarms",
        {
            "event_type_id": 6,
            "serial_numbers": [MICRO],
            "severity": 3,
            "id": "my-alarm",
            "at": (START - timedelta(hours=1)).isoformat(),
            "clear_at": NOW + 3600,
        },
    )
    assert status == 201
    assert (alarm["id"], alarm["start"], alarm["end"]) == ("my-alarm", NOW - 3600, NOW + 3600)
    assert alarm["kind"]["status"] == "micro"
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert summary["status"] == "micro"
    status, records = await ctl(http, sim_url, "GET", f"/alarms?system_id={SYSTEM_ID}")
    assert status == 200
    mine = next(r for r in records if r["id"] == "my-alarm")
    assert (mine["raised_at"], mine["cleared_at"], mine["changes_status"], mine["silent"]) == (
        NOW - 3600,
        NOW + 3600,
        True,
        False,
    )
    status, cleared = await ctl(http, sim_url, "POST", "/alarms/my-alarm/clear", {"at": NOW - 60})
    assert (status, cleared["end"]) == (200, NOW - 60)
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert summary["status"] == "normal"
    status, kinds = await ctl(http, sim_url, "GET", "/alarm_kinds")
    by_id = {k["event_type_id"]: k for k in kinds}
    assert (by_id[28]["status"], by_id[28]["stops_uploads"], by_id[5120]["silent"]) == (
        "comm",
        True,
        True,
    )
    status, kind = await ctl(
        http,
        sim_url,
        "PUT",
        "/alarm_kinds/5120",
        {"status": "power", "device_kinds": "ev_chargers"},
    )
    assert (status, kind["status"], kind["device_kinds"]) == (200, "power", ["ev_chargers"])
    assert sim.alarm_kind(5120).status == "power"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"/systems/{SYSTEM_ID}/alarms", {"event_type": 28}),
        ("POST", f"/systems/{SYSTEM_ID}/alarms", {"serial_numbers": MICRO}),
        ("POST", f"/systems/{SYSTEM_ID}/alarms", {"at": "yesterday"}),
        ("POST", f"/systems/{SYSTEM_ID}/alarms", {"at": "2026-06-21T12:00:00"}),
        ("POST", f"/systems/{SYSTEM_ID}/alarms", {"at": NOW, "clear_at": NOW - 1}),
        ("POST", f"/systems/{SYSTEM_ID}/alarms", {"id": "1082701398"}),
        ("POST", "/systems/1/alarms", {}),
        ("POST", "/alarms/nope/clear", {}),
        ("POST", f"/systems/{SYSTEM_ID}/events", {}),
        ("POST", f"/systems/{SYSTEM_ID}/events", {"event_type_id": 12, "close": 1}),
        ("POST", "/events/nope/close", {}),
        ("PUT", "/alarm_kinds/28", {"stops": True}),
    ],
)
async def test_bad_control_input(
    http: aiohttp.ClientSession, sim_url: str, method: str, path: str, body: Any
) -> None:
    status, answer = await ctl(http, sim_url, method, path, body)
    assert status == 400
    assert answer["error"]


def test_clear_before_raise_is_refused() -> None:
    sim = frozen_sim()
    alarm = sim.raise_alarm(SYSTEM_ID, 28)
    with pytest.raises(SimulatorError):
        sim.clear_alarm(alarm["id"], at=NOW - 1)
    event = sim.open_event(SYSTEM_ID, 12)
    with pytest.raises(SimulatorError):
        sim.close_event(event["id"], at=NOW - 1)
    # Clearing twice keeps the first clear.
    sim.clock.advance(60)
    sim.clear_alarm(alarm["id"])
    sim.clock.advance(60)
    assert sim.clear_alarm(alarm["id"])["end"] == NOW + 60
    sim.close_event(event["id"])
    sim.clock.advance(60)
    assert sim.close_event(event["id"])["end"] == NOW + 120
