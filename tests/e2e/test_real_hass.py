"""End to end: the simulator and a real `hass` process, set up over HTTP as a person would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import os
from pathlib import Path
import re
import signal
import socket
import time
from typing import Any

import aiohttp
import pytest

from scripts.demo_bootstrap import (
    DOMAIN,
    ROOT,
    HomeAssistantClient,
    Processes,
    bootstrap,
    prepare_config_dir,
    start_hass,
    start_simulator,
    wait_for_http,
)
from simulator import Simulator
from tests.ha_compat import grid_source

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SCENARIO = "battery_ev_home"
# The demo's plan: the Watt plan's 10 requests a minute would be nearly spent by the setup
# alone, and a 429 would keep the refresh this test asks for from happening.
PLAN = "kilowatt"
# Units Home Assistant accepts for an energy statistic on the Energy dashboard.
ENERGY_UNITS = {"Wh", "kWh", "MWh"}
# Hardware the scenario has; each must show up as a device (matched in model or name).
HARDWARE_KINDS = ("microinverter", "gateway", "battery")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@dataclass(slots=True)
class RealHass:
    """A running simulator and Home Assistant, and where their output goes."""

    base_url: str
    api_url: str
    config_dir: Path
    processes: Processes
    hass_log: Path
    sim_log: Path
    restart_simulator: Callable[[], None]
    start_hass_again: Callable[[], None]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path.name} missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def real_hass(
    tmp_path: Path, request: pytest.FixtureRequest, socket_enabled: None
) -> Iterator[RealHass]:
    """Start the simulator and hass on free loopback ports; stop both whatever happens.

    `socket_enabled` lifts the Home Assistant test plugin's socket block; its 127.0.0.1-only
    allow list stays in force, and the child processes are not affected by it anyway.
    """
    sim_port, ha_port = _free_port(), _free_port()
    config_dir = tmp_path / "config"
    prepare_config_dir(config_dir, source_config=ROOT / "config" / "configuration.yaml")
    hass_log, sim_log = tmp_path / "hass.log", tmp_path / "simulator.log"
    processes = Processes()
    api_url = f"http://127.0.0.1:{sim_port}"
    with hass_log.open("wb") as hass_out, sim_log.open("wb") as sim_out:
        try:
            processes.add(
                "simulator",
                start_simulator(sim_port, scenario=SCENARIO, auto_approve=True, stdout=sim_out),
            )
            processes.add(
                "hass",
                start_hass(
                    config_dir, port=ha_port, api_url=api_url, host="127.0.0.1", stdout=hass_out
                ),
            )

            def restart_simulator() -> None:
                """Replace the simulator by a new one: same port, fresh state (no tokens)."""
                old = processes.get("simulator")
                os.killpg(old.pid, signal.SIGTERM)
                old.wait(30)
                processes.replace(
                    "simulator",
                    start_simulator(sim_port, scenario=SCENARIO, auto_approve=True, stdout=sim_out),
                )

            def start_hass_again() -> None:
                """Start hass again on the same config dir and port (the old one is dead)."""
                processes.replace(
                    "hass",
                    start_hass(
                        config_dir,
                        port=ha_port,
                        api_url=api_url,
                        host="127.0.0.1",
                        stdout=hass_out,
                    ),
                )

            yield RealHass(
                f"http://127.0.0.1:{ha_port}",
                api_url,
                config_dir,
                processes,
                hass_log,
                sim_log,
                restart_simulator,
                start_hass_again,
            )
        finally:
            processes.stop()
            # Shown by pytest only when the test failed.
            request.node.add_report_section("teardown", "hass output", _tail(hass_log))
            request.node.add_report_section("teardown", "simulator output", _tail(sim_log, 20))


def _number(state: dict[str, Any]) -> float:
    try:
        return float(state["state"])
    except ValueError:
        pytest.fail(f"{state['entity_id']} is not a number: {state['state']!r}")


async def _wait_for_states(
    client: HomeAssistantClient, entity_ids: set[str], within: float
) -> dict[str, dict[str, Any]]:
    """Wait until the first refresh has given every listed entity a state."""
    deadline = time.monotonic() + within
    while True:
        states = {state["entity_id"]: state for state in await client.states()}
        pending = {
            entity_id
            for entity_id in entity_ids
            if states.get(entity_id, {}).get("state") in (None, "unavailable")
        }
        if not pending or time.monotonic() > deadline:
            return states
        await asyncio.sleep(1)


async def test_real_hass_demo(real_hass: RealHass) -> None:
    """Onboard, add the integration through its real config flow, and check what a user sees."""
    entry_id = await bootstrap(
        real_hass.base_url,
        add=True,
        processes=real_hass.processes,
        api_url=real_hass.api_url,
        plan=PLAN,
        within=120,
    )
    assert entry_id is not None

    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(session, real_hass.base_url)
        await client.login("demo", "demo-password")

        # The frontend shows "Loading data" until get_services (among others) answers; it
        # fails when a service description needs a package that is not installed.
        async with client.websocket() as ws:
            services = await ws.call("get_services")
        assert "homeassistant" in services
        # Saved automations run, and the README's alarm example has its notify target.
        assert "reload" in services["automation"]
        assert "persistent_notification" in services["notify"]

        entries = await client.config_entries()
        assert [entry["entry_id"] for entry in entries] == [entry_id]
        assert entries[0]["state"] == "loaded"

        registry = await client.integration_entities()
        enabled = {entity["entity_id"] for entity in registry if entity["disabled_by"] is None}
        assert enabled
        states = await _wait_for_states(client, enabled, within=60)

        # No enabled entity of the integration is unavailable once it has set up.
        unavailable = sorted(e for e in enabled if states.get(e, {}).get("state") == "unavailable")
        assert not unavailable, unavailable
        assert enabled <= states.keys()

        devices = await client.integration_devices(entry_id)
        systems = [device for device in devices if device["via_device_id"] is None]
        assert len(systems) >= 1
        system_ids = {device["id"] for device in systems}
        system_entities = [entity for entity in registry if entity["device_id"] in system_ids]

        # The system: power, lifetime energy the Energy dashboard can use, status.
        power = _one(system_entities, "current_power")
        assert _number(states[power]) >= 0
        assert states[power]["attributes"]["unit_of_measurement"] in {"W", "kW"}

        lifetime = _one(system_entities, "lifetime_energy")
        assert _number(states[lifetime]) > 0
        attributes = states[lifetime]["attributes"]
        assert attributes["unit_of_measurement"] in ENERGY_UNITS
        assert attributes["device_class"] == "energy"
        assert attributes["state_class"] == "total_increasing"

        status = _one(system_entities, "status")
        assert states[status]["state"] in states[status]["attributes"]["options"]

        # Hardware: microinverters, the gateway and the battery, each under its system and
        # each with entities.
        hardware = [device for device in devices if device["via_device_id"] in system_ids]
        for kind in HARDWARE_KINDS:
            assert any(_is_kind(device, kind) for device in hardware), (kind, hardware)
        for device in hardware:
            assert device["serial_number"], device["name"]
        with_entities = {entity["device_id"] for entity in registry}
        assert {device["id"] for device in hardware} <= with_entities

        # The Energy dashboard lists the lifetime energy as a sum statistic; the bootstrap
        # made it the solar production, and the dashboard's validation accepts it.
        async with client.websocket() as ws:
            statistic_ids = await ws.call("recorder/list_statistic_ids", statistic_type="sum")
            prefs = await ws.call("energy/get_prefs")
            validation = await ws.call("energy/validate")
        assert lifetime in {item["statistic_id"] for item in statistic_ids}
        assert [
            (source["type"], source["stat_energy_from"]) for source in prefs["energy_sources"]
        ] == [("solar", lifetime)]
        # Statistics are first compiled at the next 5-minute mark, so "not defined yet" is the
        # one issue a fresh instance may show; unit, class or state problems would be others.
        (issues,) = validation["energy_sources"]
        assert {issue["type"] for issue in issues} <= {"statistics_not_defined"}, validation

        # All six Energy dashboard slots filled with the imported statistics: solar
        # production, grid import and export, battery in and out, and the consumption as a
        # device; the dashboard's validation finds nothing wrong with any of them.
        # The system device is the one named by its numeric system id (not the API usage one).
        (system_id,) = [
            ident
            for device in systems
            for domain, ident in device["identifiers"]
            if domain == DOMAIN and ident.isdigit()
        ]
        ours = {
            channel: f"{DOMAIN}:{system_id}_{channel}"
            for channel in (
                "production",
                "consumption",
                "grid_import",
                "grid_export",
                "battery_charge",
                "battery_discharge",
            )
        }
        deadline = time.monotonic() + 90
        async with client.websocket() as ws:
            while True:
                listed = {
                    item["statistic_id"]: item
                    for item in await ws.call("recorder/list_statistic_ids", statistic_type="sum")
                }
                if set(ours.values()) <= listed.keys() or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1)
            assert set(ours.values()) <= listed.keys(), sorted(listed)
            for stat_id in ours.values():
                assert listed[stat_id]["source"] == DOMAIN
                assert listed[stat_id]["statistics_unit_of_measurement"] in ENERGY_UNITS
            await ws.call(
                "energy/save_prefs",
                energy_sources=[
                    {
                        "type": "solar",
                        "stat_energy_from": ours["production"],
                        "config_entry_solar_forecast": None,
                    },
                    grid_source(ours["grid_import"], ours["grid_export"]),
                    {
                        "type": "battery",
                        "stat_energy_from": ours["battery_discharge"],
                        "stat_energy_to": ours["battery_charge"],
                    },
                ],
                device_consumption=[{"stat_consumption": ours["consumption"]}],
            )
            energy_validation = await ws.call("energy/validate")
        assert energy_validation["energy_sources"] == [[], [], []], energy_validation
        assert energy_validation["device_consumption"] == [[]], energy_validation
        # And the slots hold the real hours: each statistic's hours so far (the back-fill
        # may still be going on) are contiguous and equal the simulated home's, to the Wh.
        await _assert_statistics_are_the_truth(client, int(system_id), ours)

        # Entities update: twelve simulated hours later (within the token's lifetime, and
        # long enough for even a cellular gateway to upload), a refresh asked for through
        # the REST API brings a later report; unless, by Home Assistant's own clock (which
        # did not jump), no new upload can exist yet: then it asks nothing and says so.
        last_report = _one(system_entities, "last_report")
        before = states[last_report]["state"]
        async with session.post(f"{real_hass.api_url}/_sim/clock", json={"advance": 12 * 3600}):
            pass
        answer = (
            await client.request(
                "POST",
                "/api/services/enphase_enlighten/refresh?return_response",
                json={"config_entry_id": entry_id},
            )
        )["service_response"]
        if answer["unchanged_systems"]:
            assert answer["requests_spent"] == 0, answer
            after = {state["entity_id"]: state for state in await client.states()}[last_report]
            assert after["state"] == before
        else:
            assert answer["requests_spent"] == len(answer["systems"]), answer
            after = await _wait_for_change(client, last_report, before, within=30)
            assert datetime.fromisoformat(after["state"]) > datetime.fromisoformat(before), (
                before,
                after["state"],
            )
        new_lifetime = {state["entity_id"]: state for state in await client.states()}[lifetime]
        assert _number(new_lifetime) >= _number(states[lifetime])

        # Every request the integration sent was one the simulated Enphase accepted.
        async with session.get(f"{real_hass.api_url}/_sim/requests") as resp:
            requests = await resp.json()
        assert requests
        refused = [(r["method"], r["path"], r["status"]) for r in requests if r["status"] >= 400]
        assert not refused, refused

    # No error was logged by or through the integration (a traceback that passes through
    # its code counts, whichever logger wrote it).
    errors = [
        record
        for record in _log_records(real_hass.hass_log.read_text(errors="replace"))
        if " ERROR " in record.partition("\n")[0] and DOMAIN in record
    ]
    assert not errors, errors


async def _assert_statistics_are_the_truth(
    client: HomeAssistantClient, system_id: int, ours: dict[str, str]
) -> None:
    """Every hour of our six statistics in the real recorder equals the simulator's truth.

    The truth comes from the scenario's model in this process: past hours do not depend on
    the simulator's clock or on what it was asked.
    """
    truth_model = Simulator(scenario=SCENARIO)
    async with client.websocket() as ws:
        rows = await ws.call(
            "recorder/statistics_during_period",
            start_time="2020-01-01T00:00:00+00:00",
            statistic_ids=list(ours.values()),
            period="hour",
            units={"energy": "Wh"},
            types=["sum"],
        )
    for channel, stat_id in ours.items():
        hours = {
            datetime.fromtimestamp(row["start"] / 1000, UTC): float(row["sum"])
            for row in rows.get(stat_id, [])
        }
        assert len(hours) >= 24, (channel, len(hours))
        ordered = sorted(hours)
        assert ordered == [ordered[0] + timedelta(hours=i) for i in range(len(ordered))], (
            f"{channel} has holes"
        )
        imported = {
            hour: round(hours[hour] - (hours[ordered[i - 1]] if i else 0.0))
            for i, hour in enumerate(ordered)
        }
        truth = truth_model.hourly_truth(
            system_id, channel, ordered[0], ordered[-1] + timedelta(hours=1)
        )
        assert imported == truth, channel
        assert sum(truth.values()) > 0, f"{channel} is all zeros: nothing compared"


async def test_real_hass_reauth(real_hass: RealHass) -> None:
    """A simulator that forgot the tokens makes the entry ask to sign in; signing in fixes it."""
    entry_id = await bootstrap(
        real_hass.base_url,
        add=True,
        processes=real_hass.processes,
        api_url=real_hass.api_url,
        plan=PLAN,
    )
    real_hass.restart_simulator()

    async with aiohttp.ClientSession() as session:
        await wait_for_http(session, f"{real_hass.api_url}/_sim/clock", within=30)
        client = HomeAssistantClient(session, real_hass.base_url)
        await client.login("demo", "demo-password")
        await client.request("POST", f"/api/config/config_entries/entry/{entry_id}/reload")
        # The reload asks Enphase nothing (its answers are held and fresh), so it loads; the
        # next request meets the forgotten sign-in, and the entry asks to sign in again. The
        # first set-up's energy back-fill (a pass a minute on Kilowatt) may meet it first:
        # then the entry already asks to sign in, and the reload cannot load it.
        (entry,) = await client.config_entries()
        assert entry["state"] in ("loaded", "setup_error"), entry
        registry = await client.integration_entities()
        enabled = [entity["entity_id"] for entity in registry if entity["disabled_by"] is None]
        await client.request(
            "POST", "/api/services/homeassistant/update_entity", json={"entity_id": enabled}
        )

        # The repair's "Reconfigure": confirm, sign in at the (simulated) Enphase, and the
        # stored API key is checked again; no new entry.
        assert await client.reauthenticate() == 1
        entry = await _wait_for_entry_state(client, "loaded", within=30)
        assert entry["entry_id"] == entry_id
        states = await _wait_for_states(client, set(enabled), within=30)
        assert not [e for e in enabled if states.get(e, {}).get("state") == "unavailable"]


def _entry_refresh_token(config_dir: Path, entry_id: str) -> str:
    """Return the refresh token Home Assistant has written to disk for the entry."""
    data = json.loads((config_dir / ".storage" / "core.config_entries").read_text())
    (entry,) = [e for e in data["data"]["entries"] if e["entry_id"] == entry_id]
    return str(entry["data"]["token"]["refresh_token"])


def _saved_refresh_token(config_dir: Path, entry_id: str) -> str | None:
    """Return the refresh token the integration saved after the last rotation, if any."""
    path = config_dir / ".storage" / f"{DOMAIN}.token.{entry_id}"
    if not path.exists():
        return None
    return str(json.loads(path.read_text())["data"]["token"]["refresh_token"])


async def _sim_call(session: aiohttp.ClientSession, method: str, url: str) -> None:
    async with session.request(method, url, json={} if method == "POST" else None) as resp:
        assert resp.status < 300, await resp.text()


async def _sim_requests(session: aiohttp.ClientSession, api_url: str) -> list[dict[str, Any]]:
    async with session.get(f"{api_url}/_sim/requests") as resp:
        requests: list[dict[str, Any]] = await resp.json()
    return requests


@pytest.mark.timeout(420)
async def test_real_hass_killed_right_after_a_token_rotation(real_hass: RealHass) -> None:
    """kill -9 a fraction of a second after Enphase rotated the refresh token: the restarted
    Home Assistant still signs in with the newest one, without asking the user."""
    entry_id = await bootstrap(
        real_hass.base_url,
        add=True,
        processes=real_hass.processes,
        api_url=real_hass.api_url,
        plan=PLAN,
    )
    assert entry_id is not None
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(session, real_hass.base_url)
        await client.login("demo", "demo-password")
        assert (await _wait_for_entry_state(client, "loaded", within=60))["state"] == "loaded"
        # Home Assistant writes what changed a little later (entries after a second, the
        # application credentials after ten): wait until both are on disk, so what is
        # there is the token the rotation below retires, and the restart finds the rest.
        storage = real_hass.config_dir / ".storage"
        deadline = time.monotonic() + 60
        while not (storage / "application_credentials").exists() or entry_id not in (
            (storage / "core.config_entries").read_text()
        ):
            assert time.monotonic() < deadline, "Home Assistant wrote nothing"
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)
        before = _entry_refresh_token(real_hass.config_dir, entry_id)
        registry = await client.integration_entities()
        # Every entity: a summary with no new upload possible yet answers from what is held,
        # the others fetch.
        entity_ids = [e["entity_id"] for e in registry if e["disabled_by"] is None]

        # Enphase expires the access token; the next fetch gets a 401 and refreshes.
        await _sim_call(session, "DELETE", f"{real_hass.api_url}/_sim/requests")
        await _sim_call(session, "POST", f"{real_hass.api_url}/_sim/tokens/expire")
        update = asyncio.create_task(
            client.request(
                "POST",
                "/api/services/homeassistant/update_entity",
                json={"entity_id": entity_ids},
            )
        )
        deadline = time.monotonic() + 30
        while not any(
            r["endpoint"] == "token" and r["status"] == 200
            for r in await _sim_requests(session, real_hass.api_url)
        ):
            assert time.monotonic() < deadline, "no token refresh"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        hass = real_hass.processes.get("hass")
        os.killpg(hass.pid, signal.SIGKILL)
        hass.wait(30)
        update.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
            await update

        # The crash came before Home Assistant wrote the entry: only the retired token
        # is in it. (If the integration saved the new one, it is another.)
        assert _entry_refresh_token(real_hass.config_dir, entry_id) == before
        assert _saved_refresh_token(real_hass.config_dir, entry_id) != before

        # Restarted, the entry must refresh again (no access token is accepted) with the
        # refresh token Enphase still honours.
        await _sim_call(session, "POST", f"{real_hass.api_url}/_sim/tokens/expire")
        await _sim_call(session, "DELETE", f"{real_hass.api_url}/_sim/requests")
        real_hass.start_hass_again()
        await wait_for_http(
            session,
            f"{real_hass.base_url}/manifest.json",
            within=120,
            processes=real_hass.processes,
        )
        client = HomeAssistantClient(session, real_hass.base_url)
        await client.login("demo", "demo-password")
        entry = await _wait_for_entry_state(client, "loaded", within=90)
        assert entry["state"] == "loaded", (entry["state"], entry.get("reason"))
        # Loaded from the held answers, it asks nothing at start: the next fetch (asked for
        # here, of every entity) meets the expired access token and refreshes.
        registry = await client.integration_entities()
        enabled = [e["entity_id"] for e in registry if e["disabled_by"] is None]
        await client.request(
            "POST", "/api/services/homeassistant/update_entity", json={"entity_id": enabled}
        )
        deadline = time.monotonic() + 30
        while not any(
            r["endpoint"] == "token" for r in await _sim_requests(session, real_hass.api_url)
        ):
            assert time.monotonic() < deadline, "no token refresh after the restart"
            await asyncio.sleep(0.2)
        async with client.websocket() as ws:
            flows = await ws.call("config_entries/flow/progress")
        assert not [f for f in flows if f["context"].get("source") == "reauth"]
        tokens = [
            r["status"]
            for r in await _sim_requests(session, real_hass.api_url)
            if r["endpoint"] == "token"
        ]
        assert tokens
        assert set(tokens) == {200}, tokens


async def _wait_for_entry_state(
    client: HomeAssistantClient, state: str, within: float
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        (entry,) = await client.config_entries()
        if entry["state"] == state or time.monotonic() > deadline:
            return entry
        await asyncio.sleep(0.5)


async def _wait_for_change(
    client: HomeAssistantClient, entity_id: str, before: str, within: float
) -> dict[str, Any]:
    """Wait until entity_id has a state other than before; return it."""
    deadline = time.monotonic() + within
    while True:
        state = {state["entity_id"]: state for state in await client.states()}[entity_id]
        if state["state"] != before or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.5)


def _log_records(text: str) -> list[str]:
    """Split Home Assistant's log into records: a timestamped line and its traceback."""
    records: list[str] = []
    for line in text.splitlines():
        if TIMESTAMP.match(line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records


def _one(entities: list[dict[str, Any]], key: str) -> str:
    """Return the entity id of the one entity whose unique id is <id>_<key>."""
    (entity_id,) = [
        entity["entity_id"] for entity in entities if entity["unique_id"].endswith(f"_{key}")
    ]
    return str(entity_id)


def _is_kind(device: dict[str, Any], kind: str) -> bool:
    return any(kind in str(device[field]).lower() for field in ("model", "name"))
