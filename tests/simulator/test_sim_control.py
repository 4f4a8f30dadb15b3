"""Control API (/_sim/), faults, latency, the clock and the request log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import time
from typing import Any

import aiohttp
import pytest

from simulator import SimClock, Simulator, SimulatorError

SYSTEM_ID = 698910067
GATEWAY = "202323054201"


async def ctl(
    http: aiohttp.ClientSession, sim_url: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, f"{sim_url}/_sim{path}", json=body) as resp:
        return resp.status, await resp.json()


# --- clock ---------------------------------------------------------------------------------
def test_clock_follows_real_time_by_default() -> None:
    clock = SimClock()
    assert clock.follows_real_time
    assert abs(clock.time() - time.time()) < 1


def test_clock_set_speed_advance() -> None:
    start = datetime(2026, 6, 21, 12, tzinfo=UTC)
    clock = SimClock(start, speed=0)
    assert clock.now() == start
    clock.advance(timedelta(minutes=5))
    assert clock.now() == start + timedelta(minutes=5)
    clock.set_speed(3600)
    time.sleep(0.01)
    assert clock.now() > start + timedelta(minutes=5, seconds=30)
    clock.reset()
    assert clock.follows_real_time
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="speed"):
        clock.set(start, speed=-1)
    clock.advance(60)
    assert abs(clock.time() - time.time() - 60) < 1


def test_clock_follows_freezegun(freezer: Any) -> None:
    freezer.move_to("2026-06-21 12:00:00+00:00")
    sim = Simulator("small_home")
    assert sim.clock.now() == datetime(2026, 6, 21, 12, tzinfo=UTC)
    freezer.tick(timedelta(hours=1))
    assert sim.clock.now() == datetime(2026, 6, 21, 13, tzinfo=UTC)
    sim.clock.set(datetime(2026, 1, 1, tzinfo=UTC), speed=60)
    freezer.tick(timedelta(seconds=10))
    assert sim.clock.now() == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)


async def test_clock_control_api(sim: Simulator, http: aiohttp.ClientSession, sim_url: str) -> None:
    status, body = await ctl(http, sim_url, "GET", "/clock")
    assert (status, body["follows_real_time"]) == (200, True)
    status, body = await ctl(
        http, sim_url, "POST", "/clock", {"set": "2026-06-21T12:00:00+00:00", "speed": 0}
    )
    assert (body["now"], body["speed"]) == ("2026-06-21T12:00:00+00:00", 0.0)
    status, body = await ctl(http, sim_url, "POST", "/clock", {"advance": 90})
    assert body["now"] == "2026-06-21T12:01:30+00:00"
    status, body = await ctl(http, sim_url, "POST", "/clock", {"speed": 10})
    assert body["speed"] == 10.0
    status, body = await ctl(http, sim_url, "POST", "/clock", {"real": True})
    assert body["follows_real_time"] is True
    status, body = await ctl(http, sim_url, "POST", "/clock", {"set": "2026-06-21T12:00:00"})
    assert status == 400


# --- faults and latency ----------------------------------------------------------------------
async def test_fail_next_then_recover(sim: Simulator, call: Any) -> None:
    sim.fail_next(2, 500)
    assert (await call(""))[0] == 500
    status, body = await call(f"/{SYSTEM_ID}/summary")
    assert status == 500
    assert body == {
        "message": "Internal Server Error",
        "details": "unable to fetch data",
        "code": 500,
    }
    assert (await call(""))[0] == 200


async def test_fault_for_one_endpoint_with_body(sim: Simulator, call: Any) -> None:
    body = {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Kilowatt",
        "code": 429,
    }
    sim.fail_next(1, 429, body=body, endpoint="summary")
    assert (await call(""))[0] == 200
    assert await call(f"/{SYSTEM_ID}/summary") == (429, body)
    assert (await call(f"/{SYSTEM_ID}/summary"))[0] == 200


async def test_malformed_body(sim: Simulator, call: Any) -> None:
    sim.fail_next(1, 200, malformed=True)
    status, body = await call("")
    assert status == 200
    assert isinstance(body, str)
    assert body.startswith("<html>")
    sim.fail_next(1, 200, body='{"total": 1, "systems": [')
    status, body = await call("")
    assert (status, body) == (200, '{"total": 1, "systems": [')


async def test_faults_over_control_api(
    http: aiohttp.ClientSession, sim_url: str, call: Any
) -> None:
    status, body = await ctl(
        http, sim_url, "POST", "/faults", {"count": 3, "status": 503, "endpoint": "devices"}
    )
    assert body == [
        {
            "remaining": 3,
            "status": 503,
            "body": None,
            "malformed": False,
            "endpoint": "devices",
            "disconnect": False,
        }
    ]
    assert (await call(f"/{SYSTEM_ID}/devices"))[0] == 503
    status, body = await ctl(http, sim_url, "GET", "/faults")
    assert body[0]["remaining"] == 2
    status, body = await ctl(http, sim_url, "DELETE", "/faults")
    assert body == []
    assert (await call(f"/{SYSTEM_ID}/devices"))[0] == 200
    await ctl(http, sim_url, "POST", "/faults", {"malformed": True})
    status, body = await call("")
    assert (status, isinstance(body, str)) == (200, True)


async def test_latency(http: aiohttp.ClientSession, sim_url: str, call: Any) -> None:
    _, body = await ctl(http, sim_url, "POST", "/latency", {"seconds": 0.3, "endpoint": "summary"})
    assert body == {"latency": 0.0, "endpoints": {"summary": 0.3}}
    started = time.monotonic()
    await call("")
    assert time.monotonic() - started < 0.25
    started = time.monotonic()
    await call(f"/{SYSTEM_ID}/summary")
    assert time.monotonic() - started >= 0.3
    await ctl(http, sim_url, "POST", "/latency", {"seconds": 0, "endpoint": "summary"})
    _status, body = await ctl(http, sim_url, "POST", "/latency", {"seconds": 0.2})
    started = time.monotonic()
    await call("/event_types")
    assert time.monotonic() - started >= 0.2


async def test_client_timeout_against_latency(
    sim: Simulator, sim_url: str, tokens: dict[str, Any]
) -> None:
    sim.set_latency(2)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as session:
        with pytest.raises(TimeoutError):
            await session.get(
                f"{sim_url}/api/v4/systems",
                headers={"key": "sim-api-key", "Authorization": f"Bearer {tokens['access_token']}"},
            )


# --- world changes ---------------------------------------------------------------------------
async def test_add_and_remove_system(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str, call: Any
) -> None:
    spec = {
        "system_id": 700000123,
        "name": "Garage",
        "timezone": "Europe/Berlin",
        "lat": 52.5,
        "lon": 13.4,
        "devices": {
            "micros": [{"id": 1, "serial_number": "M1", "_watts": 400}],
            "gateways": [{"id": 2, "serial_number": "G1"}],
        },
    }
    status, body = await ctl(http, sim_url, "POST", "/systems", spec)
    assert (status, body["system_id"]) == (201, 700000123)
    _, systems = await call("")
    assert [s["system_id"] for s in systems["systems"]] == [SYSTEM_ID, 700000123]
    status, summary = await call("/700000123/summary")
    assert (status, summary["modules"], summary["size_w"]) == (200, 1, 400)
    assert await call("/retrieve_system_id", params={"serial_num": "G1"}) == (
        200,
        {"system_id": 700000123},
    )
    status, _ = await ctl(http, sim_url, "POST", "/systems", spec)
    assert status == 400
    status, _ = await ctl(http, sim_url, "DELETE", "/systems/700000123")
    assert status == 200
    assert (await call("/700000123"))[0] == 404
    _, systems = await call("")
    assert systems["total"] == 1


async def test_patch_system(http: aiohttp.ClientSession, sim_url: str, call: Any) -> None:
    status, body = await ctl(
        http, sim_url, "PATCH", f"/systems/{SYSTEM_ID}", {"name": "Renamed", "status": "micro"}
    )
    assert (status, body["name"], body["status"]) == (200, "Renamed", "micro")
    _, system = await call(f"/{SYSTEM_ID}")
    assert (system["name"], system["status"]) == ("Renamed", "micro")
    status, _ = await ctl(http, sim_url, "PATCH", f"/systems/{SYSTEM_ID}", {"devices": {}})
    assert status == 400
    status, body = await ctl(
        http, sim_url, "PATCH", f"/systems/{SYSTEM_ID}", {"status": "normal", "reporting": False}
    )
    assert body["status"] == "comm"
    status, _ = await ctl(http, sim_url, "PATCH", "/systems/1", {"name": "x"})
    assert status == 400


async def test_add_update_remove_device(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str, call: Any
) -> None:
    status, device = await ctl(
        http,
        sim_url,
        "POST",
        f"/systems/{SYSTEM_ID}/devices",
        {
            "kind": "ev_chargers",
            "id": 9,
            "serial_number": "EV1",
            "name": "IQ EV Charger EV1",
            "active": "true",
            "firmware": "v1",
        },
    )
    assert (status, device["serial_number"]) == (201, "EV1")
    _, body = await call(f"/{SYSTEM_ID}/devices")
    assert body["devices"]["ev_chargers"][0]["serial_number"] == "EV1"
    assert body["total_devices"] == 14
    status, device = await ctl(
        http, sim_url, "PATCH", f"/systems/{SYSTEM_ID}/devices/EV1", {"status": "error"}
    )
    assert device["status"] == "error"
    await ctl(http, sim_url, "PATCH", f"/systems/{SYSTEM_ID}/devices/EV1", {"retired": True})
    _, body = await call(f"/{SYSTEM_ID}/devices")
    assert "ev_chargers" not in body["devices"]
    status, _ = await ctl(http, sim_url, "DELETE", f"/systems/{SYSTEM_ID}/devices/EV1")
    assert status == 200
    status, _ = await ctl(http, sim_url, "DELETE", f"/systems/{SYSTEM_ID}/devices/EV1")
    assert status == 400
    # A new microinverter counts at once in modules and size; production follows tomorrow.
    await ctl(
        http,
        sim_url,
        "POST",
        f"/systems/{SYSTEM_ID}/devices",
        {"kind": "micros", "id": 5, "serial_number": "NEWMICRO", "_watts": 400},
    )
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert (summary["modules"], summary["size_w"]) == (11, 3890)
    await ctl(http, sim_url, "DELETE", f"/systems/{SYSTEM_ID}/devices/NEWMICRO")
    _, summary = await call(f"/{SYSTEM_ID}/summary")
    assert summary["modules"] == 10


async def test_retire_gateway(http: aiohttp.ClientSession, sim_url: str, call: Any) -> None:
    await ctl(http, sim_url, "PATCH", f"/systems/{SYSTEM_ID}/devices/{GATEWAY}", {"retired": True})
    status, _ = await call("/retrieve_system_id", params={"serial_num": GATEWAY})
    assert status == 404


async def test_raise_and_clear_alarm(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str, call: Any
) -> None:
    sim.clock.set(datetime(2026, 6, 21, 12, tzinfo=UTC), speed=0)
    window = {"start_time": int(sim.now()) - 3600, "end_time": int(sim.now()) + 60}
    status, alarm = await ctl(
        http, sim_url, "POST", f"/systems/{SYSTEM_ID}/alarms", {"event_type_id": 6, "severity": 3}
    )
    assert status == 201
    _, body = await call(f"/{SYSTEM_ID}/alarms", params=window)
    assert [a["id"] for a in body["alarms"]] == [alarm["id"]]
    assert body["alarms"][0]["cleared"] is False
    assert body["alarms"][0]["events"][0]["serial_number"] == GATEWAY
    _, events = await call(f"/{SYSTEM_ID}/events", params=window)
    assert [(e["event_type_id"], e["status"]) for e in events["events"]] == [(6, "Open")]
    sim.clock.advance(600)
    status, _ = await ctl(http, sim_url, "POST", f"/alarms/{alarm['id']}/clear")
    assert status == 200
    _, body = await call(f"/{SYSTEM_ID}/alarms", params=window)
    assert body["alarms"] == []
    _, body = await call(f"/{SYSTEM_ID}/alarms", params={**window, "cleared": "true"})
    cleared = next(a for a in body["alarms"] if a["id"] == alarm["id"])
    assert cleared["alarm_end_time"] == int(sim.now())
    _, events = await call(f"/{SYSTEM_ID}/events", params=window)
    assert events["events"][-1]["status"] == "Closed"
    status, _ = await ctl(http, sim_url, "POST", "/alarms/nope/clear")
    assert status == 400


async def test_request_log(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str, call: Any
) -> None:
    await call(f"/{SYSTEM_ID}/summary")
    await call("", token="bad")
    await call("/search", method="GET")
    _, log = await ctl(http, sim_url, "GET", "/requests")
    assert [(e["endpoint"], e["status"]) for e in log] == [
        ("summary", 200),
        ("systems", 401),
        ("search", 405),
    ]
    assert log[0]["api_key"] == "sim-api-"
    assert log[0]["method"] == "GET"
    assert log[0]["path"] == f"/api/v4/systems/{SYSTEM_ID}/summary"
    assert "key" not in log[0]["query"]
    assert log == sim.request_log
    _, cleared = await ctl(http, sim_url, "DELETE", "/requests")
    assert cleared == log
    assert sim.request_log == []
    await call("")
    _status, log = await ctl(http, sim_url, "GET", "/requests?clear=1")
    assert len(log) == 1
    assert sim.request_log == []


async def test_auto_approve_toggle(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    params = {
        "response_type": "code",
        "client_id": "sim-client-id",
        "redirect_uri": "http://127.0.0.1/cb",
    }
    _status, body = await ctl(http, sim_url, "POST", "/auto_approve", {"enabled": False})
    assert body == {"auto_approve": False, "user_id": None}
    async with http.get(f"{sim_url}/oauth/authorize", params=params, allow_redirects=False) as resp:
        assert resp.status == 200
    neighbour = next(u for u in sim.users if u != sim.default_user_id)
    await ctl(http, sim_url, "POST", "/auto_approve", {"enabled": True, "user_id": neighbour})
    async with http.get(f"{sim_url}/oauth/authorize", params=params, allow_redirects=False) as resp:
        assert resp.status == 302
    code = resp.headers["Location"].split("code=")[1].split("&")[0]
    assert sim.codes[code].user_id == neighbour


async def test_expire_access_tokens(http: aiohttp.ClientSession, sim_url: str, call: Any) -> None:
    assert (await call(""))[0] == 200
    _status, body = await ctl(http, sim_url, "POST", "/tokens/expire", {})
    assert body == {"expired": 1}
    assert (await call(""))[0] == 401


async def test_revoke_all_for_user(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    sim.issue_tokens()
    sim.issue_tokens()
    _status, body = await ctl(
        http, sim_url, "POST", "/tokens/revoke", {"user_id": sim.default_user_id}
    )
    assert body == {"revoked": 2}


async def test_state(sim: Simulator, http: aiohttp.ClientSession, sim_url: str) -> None:
    _status, body = await ctl(http, sim_url, "GET", "/state")
    assert body["scenario"] == "small_home"
    assert body["default_user_id"] == sim.default_user_id
    assert {a["client_id"] for a in body["apps"]} == {"sim-client-id", "sim-other-client-id"}
    assert SYSTEM_ID in [s["system_id"] for s in body["systems"]]


async def test_bad_control_bodies(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.post(f"{sim_url}/_sim/faults", data="not json") as resp:
        assert resp.status == 400
    async with http.post(f"{sim_url}/_sim/faults", json=[1]) as resp:
        assert resp.status == 400


def test_in_process_errors() -> None:
    sim = Simulator("small_home")
    with pytest.raises(SimulatorError):
        sim.issue_tokens("nobody")
    with pytest.raises(SimulatorError):
        sim.issue_tokens(user_id=1)
    with pytest.raises(SimulatorError):
        sim.add_device(SYSTEM_ID, "micros", {"id": 1})
    with pytest.raises(SimulatorError):
        sim.add_system({"system_id": 1}, user_id=42)
    with pytest.raises(SimulatorError):
        sim.set_plan(client_id="nobody")
    with pytest.raises(KeyError):
        Simulator("nope")


def test_relative_scenario_times_anchor_at_first_use(freezer: Any) -> None:
    sim = Simulator("installer_28")  # created at real time
    freezer.move_to("2026-03-01 12:00:00+00:00")
    sim.anchor()
    now = sim.now()
    offline = [s for s in sim.system_ids if not sim.systems[s].is_reporting(now)]
    assert len(offline) == 2
    events = sim.systems[sim.system_ids[0]].events
    assert all(now - 40 * 86400 < e["start"] < now for e in events)


async def test_events_visible_after_clock_moves_back(sim: Simulator, call: Any) -> None:
    sim.clock.set(datetime(2026, 2, 1, tzinfo=UTC), speed=0)
    now = int(sim.now())
    status, body = await call(
        f"/{SYSTEM_ID}/events", params={"start_time": now - 7 * 86400, "end_time": now}
    )
    assert status == 200
    assert len(body["events"]) == 1


def test_upload_interval_knob() -> None:
    sim = Simulator("battery_ev_home", start=datetime(2026, 6, 21, 18, tzinfo=UTC), speed=0)
    system = sim.update_system(sim.system_ids[0], {"upload_interval": 900})
    first = system.last_upload(sim.now())
    sim.clock.advance(900)
    assert system.last_upload(sim.now()) == first + 900
    with pytest.raises(ValueError, match="300"):
        sim.update_system(sim.system_ids[0], {"upload_interval": 10})


async def test_disconnect_fault(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str, call: Any
) -> None:
    # aiohttp retries once when a reused keep-alive connection drops: two faults make one
    # visible failure.
    _, body = await ctl(
        http, sim_url, "POST", "/faults", {"count": 2, "disconnect": True, "endpoint": "summary"}
    )
    assert body[0]["disconnect"] is True
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(f"/{SYSTEM_ID}/summary")
    assert (await call(f"/{SYSTEM_ID}/summary"))[0] == 200
    assert [e.get("disconnect") for e in sim.request_log][-3:] == [True, True, None]
    sim.fail_next(2, endpoint="token", disconnect=True)
    with pytest.raises(aiohttp.ClientConnectionError):
        await http.post(f"{sim_url}/oauth/token")
