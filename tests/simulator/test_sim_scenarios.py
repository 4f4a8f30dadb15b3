"""Scenario contents: every device kind, quirks kept, 28 systems across timezones."""

from __future__ import annotations

from collections import Counter
import json
import subprocess
import sys
from typing import Any

import pytest
from sim_helpers import assert_same_shape, load_fixture

from simulator import SCENARIOS, Simulator, load_scenario
from simulator.__main__ import main, parse_args


@pytest.mark.parametrize("sim_scenario", ["battery_ev_home"])
async def test_battery_home_devices_match_reference(sim: Simulator, call: Any) -> None:
    system_id = sim.system_ids[0]
    status, body = await call(f"/{system_id}/devices")
    assert status == 200
    reference = load_fixture("devices.json")
    assert list(body["devices"]) == list(reference["devices"])
    for kind, items in body["devices"].items():
        for item in items:
            assert_same_shape(item, reference["devices"][kind][0])
    ev = body["devices"]["ev_chargers"][0]
    assert ev["active"] == "true"
    assert "product_name" not in ev
    acb_ids = [d["id"] for d in body["devices"]["acbs"]]
    assert acb_ids[0] == acb_ids[1]
    gateway = body["devices"]["gateways"][0]
    assert isinstance(gateway["cellular_modem"]["plan_end_date"], int)
    assert body["total_devices"] == sum(len(v) for v in body["devices"].values())


@pytest.mark.parametrize("sim_scenario", ["battery_ev_home"])
async def test_battery_home_summary_has_battery_fields(sim: Simulator, call: Any) -> None:
    system_id = sim.system_ids[0]
    status, body = await call(f"/{system_id}/summary")
    assert status == 200
    assert_same_shape(body, load_fixture("summary.json"))
    assert body["battery_capacity_wh"] > 0
    _, system = await call(f"/{system_id}")
    assert system["connection_type"] == "cellular"


@pytest.mark.parametrize("sim_scenario", ["battery_ev_home"])
async def test_battery_home_has_an_active_alarm(sim: Simulator, call: Any) -> None:
    system_id = sim.system_ids[0]
    now = int(sim.now())
    status, body = await call(
        f"/{system_id}/alarms", params={"start_time": now - 86400, "end_time": now}
    )
    assert status == 200
    assert [a["cleared"] for a in body["alarms"]] == [False]
    assert_same_shape(body, load_fixture("alarms.json"))


def test_installer_28_contents() -> None:
    sim = Simulator("installer_28")
    assert len(sim.system_ids) == 28
    owners = [u for u in sim.users.values() if len(u.system_ids) == 28]
    assert len(owners) == 1
    assert owners[0].user_id == sim.default_user_id
    now = sim.now()
    systems = [sim.systems[s] for s in sim.system_ids]
    statuses = Counter(s.status(now) for s in systems)
    assert statuses["normal"] >= 15
    assert statuses["comm"] == 2
    assert len(statuses) >= 6
    assert sum(s.spec["connection_type"] == "cellular" for s in systems) == 1
    assert len({s.timezone for s in systems}) >= 20
    tokens = sim.issue_tokens()
    assert tokens["enl_cid"]
    assert tokens["app_type"] == "partner"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_has_a_foreign_system(name: str) -> None:
    sim = Simulator(name)
    foreign = set(sim.systems) - set(sim.system_ids)
    assert foreign
    assert sim.default_user_id in sim.users
    assert load_scenario(name).name == name


def test_demo_home_is_the_battery_home_on_broadband() -> None:
    battery, demo = Simulator("battery_ev_home"), Simulator("demo_home")
    home = demo.systems[demo.system_ids[0]]
    assert demo.system_ids == battery.system_ids
    assert home.spec["connection_type"] == "ethernet"
    assert battery.systems[battery.system_ids[0]].spec["connection_type"] == "cellular"
    # Uploads every 15 minutes, so a real-time demo moves.
    assert home.upload_interval == 900
    now = demo.now()
    assert now - home.last_upload(now) < 900


def test_cli_lists_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-scenarios"]) == 0
    out = capsys.readouterr().out
    for name in SCENARIOS:
        assert name in out


def test_cli_arguments() -> None:
    args = parse_args(
        [
            "--port",
            "9000",
            "--scenario",
            "installer_28",
            "--auto-approve",
            "--speed",
            "60",
            "--start",
            "2026-06-21T12:00:00+00:00",
            "--token-lifetime",
            "120",
        ]
    )
    assert (args.port, args.scenario, args.auto_approve, args.speed, args.token_lifetime) == (
        9000,
        "installer_28",
        True,
        60.0,
        120,
    )
    assert args.start.isoformat() == "2026-06-21T12:00:00+00:00"
    assert main(["--start", "2026-06-21T12:00:00"]) == 2


def test_module_runs() -> None:
    result = subprocess.run(  # noqa: S603 - the test's own interpreter
        [sys.executable, "-m", "simulator", "--list-scenarios"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "installer_28" in result.stdout


def test_installer_micro_status_has_a_silent_microinverter() -> None:
    sim = Simulator("installer_28")
    now = sim.now()
    system = next(sim.systems[s] for s in sim.system_ids if sim.systems[s].status(now) == "micro")
    devices = system.devices_json(now)["devices"]["micros"]
    silent = [d for d in devices if d["status"] != "normal"]
    assert len(silent) == 1
    assert silent[0]["last_report_at"] < system.last_upload(now) - 86400
    summaries = {m["serial_number"]: m for _, m in system.micro_summaries(now)}
    assert summaries[silent[0]["serial_number"]]["last_report_date"] == silent[0]["last_report_at"]


def test_json_scenario_file(tmp_path: Any) -> None:
    scenario = load_scenario("small_home")
    data = {
        "users": scenario.users,
        "systems": scenario.systems,
        "default_user_id": scenario.default_user_id,
    }
    path = tmp_path / "my_home.json"
    path.write_text(json.dumps(data))
    sim = Simulator(str(path))
    assert sim.scenario.name == "my_home"
    assert sim.system_ids == [698910067]
    assert sim.systems[698910067].summary_json(sim.now())["modules"] == 10
