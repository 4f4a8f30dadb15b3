"""Run the simulator and a real Home Assistant, and set it up over HTTP as a person would."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass, field
from http import HTTPStatus
import json as json_module
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import IO, TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import aiohttp

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "enphase_enlighten"
API_URL_ENV = "ENPHASE_ENLIGHTEN_API_URL"
DEMO_CONFIGURATION = ROOT / "config" / "configuration.yaml"

# The simulator's built-in demo application (simulator/README.md).
SIM_CLIENT_ID = "sim-client-id"
SIM_CLIENT_SECRET = "sim-client-secret"
SIM_API_KEY = "sim-api-key"

DEMO_NAME = "Demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"

FLOW_PATH = "/api/config/config_entries/flow"
ONBOARDING_STEPS = ("user", "core_config", "analytics", "integration")

# `hass` exits with this code when asked to restart (from the UI, say); a supervisor is
# expected to start it again, which the demo does.
RESTART_EXIT_CODE = 100


class BootstrapError(Exception):
    """Home Assistant did not answer as a person clicking through the UI would see it."""


@dataclass(slots=True)
class Processes:
    """The simulator and Home Assistant child processes, stopped together."""

    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def add(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        """Track a started child process."""
        self.children.append((name, proc))

    def exited(self) -> str | None:
        """Return which child has exited and how, if any has."""
        for name, proc in self.children:
            if proc.poll() is not None:
                return f"{name} exited with code {proc.returncode}"
        return None

    def get(self, name: str) -> subprocess.Popen[bytes]:
        """Return the child process of that name."""
        return next(proc for child, proc in self.children if child == name)

    def replace(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        """Track proc instead of the exited child of that name."""
        self.children = [(child, proc if child == name else old) for child, old in self.children]

    def stop(self, timeout: float = 30.0) -> None:
        """Stop Home Assistant first (it saves its state), then the simulator."""
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _name, proc in reversed(self.children):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def prepare_config_dir(config_dir: Path, *, source_config: Path | None = None) -> None:
    """Make the integration visible to Home Assistant in config_dir.

    The symlink keeps the demo running the working tree's code, so an edit shows after a
    restart without copying anything.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    configuration = config_dir / "configuration.yaml"
    if source_config is None and not configuration.exists():
        # A new directory gets the demo's configuration, not Home Assistant's default one,
        # which would ignore the port, the URLs and everything else the demo sets.
        source_config = DEMO_CONFIGURATION
    if source_config is not None:
        shutil.copyfile(source_config, configuration)
    # configuration.yaml includes it; Home Assistant saves the UI's automations there.
    automations = config_dir / "automations.yaml"
    if not automations.exists():
        automations.write_text("[]\n")
    custom = config_dir / "custom_components"
    custom.mkdir(exist_ok=True)
    link = custom / DOMAIN
    target = ROOT / "custom_components" / DOMAIN
    if link.is_symlink() and link.resolve() == target.resolve():
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    # Relative, so the link survives moving or re-cloning the checkout.
    link.symlink_to(os.path.relpath(target, custom), target_is_directory=True)


def reset_config_dir(config_dir: Path) -> None:
    """Remove everything Home Assistant saved in config_dir except configuration.yaml."""
    for path in config_dir.iterdir():
        if path.name == "configuration.yaml":
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def start_simulator(
    port: int,
    *,
    scenario: str,
    auto_approve: bool,
    host: str = "127.0.0.1",
    extra_args: Sequence[str] = (),
    stdout: IO[bytes] | int | None = None,
) -> subprocess.Popen[bytes]:
    """Start `python -m simulator` on host:port in its own process group."""
    args = [
        sys.executable,
        "-m",
        "simulator",
        "--host",
        host,
        "--port",
        str(port),
        "--scenario",
        scenario,
        *(["--auto-approve"] if auto_approve else []),
        *extra_args,
    ]
    return subprocess.Popen(
        args, cwd=ROOT, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True
    )


def start_hass(
    config_dir: Path,
    *,
    port: int,
    api_url: str,
    host: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    stdout: IO[bytes] | int | None = None,
) -> subprocess.Popen[bytes]:
    """Start a real `hass` on config_dir, talking to the Enphase API at api_url.

    `--skip-pip` because every requirement is pinned in requirements_test.txt: Home
    Assistant must never try to install packages (there is no internet here).
    """
    env = {**os.environ, API_URL_ENV: api_url, "ENPHASE_DEMO_PORT": str(port)}
    env["ENPHASE_DEMO_URL"] = f"http://127.0.0.1:{port}"
    if host is not None:
        env["ENPHASE_DEMO_HOST"] = host
    if extra_env:
        env.update(extra_env)
    args = [sys.executable, "-m", "homeassistant", "--config", str(config_dir), "--skip-pip"]
    # Run from the config dir: `-m` puts the working directory on sys.path, and the repo's
    # own custom_components/ must not shadow the config dir's symlink.
    return subprocess.Popen(
        args,
        cwd=config_dir,
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_for_http(
    session: aiohttp.ClientSession,
    url: str,
    *,
    within: float,
    processes: Processes | None = None,
) -> None:
    """Wait until url answers with a success (or redirect) status."""
    deadline = time.monotonic() + within
    while True:
        if processes is not None and (reason := processes.exited()):
            raise BootstrapError(f"{reason} while waiting for {url}")
        try:
            async with session.get(url, allow_redirects=False) as resp:
                if resp.status < 400:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise BootstrapError(f"{url} did not answer within {within:.0f} s")
        await asyncio.sleep(0.5)


def _check(resp_status: int, body: Any, what: str) -> None:
    if resp_status >= 400:
        raise BootstrapError(f"{what}: HTTP {resp_status}: {body}")


class HomeAssistantClient:
    """The HTTP and websocket calls the frontend makes, for one logged-in user."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        """Talk to the Home Assistant at base_url (no trailing slash)."""
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.client_id = f"{self.base_url}/"
        self.access_token = ""

    @property
    def headers(self) -> dict[str, str]:
        """Return the authorization header of the logged-in user."""
        return {"Authorization": f"Bearer {self.access_token}"}

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call the REST API as the logged-in user and return the decoded JSON body."""
        async with self.session.request(
            method,
            f"{self.base_url}{path}",
            json=json,
            headers={**self.headers, **(headers or {})},
        ) as resp:
            text = await resp.text()
            try:
                body = json_module.loads(text) if text else None
            except ValueError:
                body = text
            _check(resp.status, body, f"{method} {path}")
            return body

    # -- onboarding and login ---------------------------------------------------------------

    async def onboarding_status(self) -> dict[str, bool]:
        """Return {step: done} for every onboarding step."""
        async with self.session.get(f"{self.base_url}/api/onboarding") as resp:
            if resp.status == HTTPStatus.NOT_FOUND:
                # Once onboarded, Home Assistant does not register the onboarding views.
                return dict.fromkeys(ONBOARDING_STEPS, True)
            body = await resp.json()
            _check(resp.status, body, "GET /api/onboarding")
        return {step["step"]: step["done"] for step in body}

    async def _exchange_code(self, code: str) -> None:
        async with self.session.post(
            f"{self.base_url}/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
        ) as resp:
            body = await resp.json()
            _check(resp.status, body, "POST /auth/token")
        self.access_token = body["access_token"]

    async def login(self, username: str, password: str) -> None:
        """Log in through the login flow of the Home Assistant auth provider."""
        async with self.session.post(
            f"{self.base_url}/auth/login_flow",
            json={
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self.client_id,
            },
        ) as resp:
            flow = await resp.json()
            _check(resp.status, flow, "POST /auth/login_flow")
        async with self.session.post(
            f"{self.base_url}/auth/login_flow/{flow['flow_id']}",
            json={"username": username, "password": password, "client_id": self.client_id},
        ) as resp:
            result = await resp.json()
            _check(resp.status, result, "POST /auth/login_flow/<flow_id>")
        if result.get("type") != "create_entry":
            raise BootstrapError(f"Login as {username!r} failed: {result.get('errors')}")
        await self._exchange_code(result["result"])

    async def onboard(self, *, name: str, username: str, password: str) -> None:
        """Finish every onboarding step that is not done yet, then be logged in.

        A second run against an onboarded instance just logs in with the same password.
        """
        done = await self.onboarding_status()
        if not done.get("user"):
            async with self.session.post(
                f"{self.base_url}/api/onboarding/users",
                json={
                    "client_id": self.client_id,
                    "name": name,
                    "username": username,
                    "password": password,
                    "language": "en",
                },
            ) as resp:
                body = await resp.json()
                _check(resp.status, body, "POST /api/onboarding/users")
            await self._exchange_code(body["auth_code"])
        else:
            await self.login(username, password)
        if not done.get("core_config"):
            await self.request("POST", "/api/onboarding/core_config")
        if not done.get("analytics"):
            # Marks the step done without opting in: nothing is ever sent.
            await self.request("POST", "/api/onboarding/analytics")
        if not done.get("integration"):
            await self.request(
                "POST",
                "/api/onboarding/integration",
                json={
                    "client_id": self.client_id,
                    "redirect_uri": f"{self.client_id}?auth_callback=1",
                },
            )

    # -- websocket ----------------------------------------------------------------------------

    def websocket(self) -> HassWebSocket:
        """Return an authenticated websocket connection (use as an async context manager)."""
        return HassWebSocket(self)

    # -- application credentials, config entries and states ----------------------------------

    async def ensure_application_credentials(
        self, client_id: str = SIM_CLIENT_ID, client_secret: str = SIM_CLIENT_SECRET
    ) -> None:
        """Create the application credentials for the integration unless they exist."""
        async with self.websocket() as ws:
            existing = await ws.call("application_credentials/list")
            if any(
                item["domain"] == DOMAIN and item["client_id"] == client_id for item in existing
            ):
                return
            await ws.call(
                "application_credentials/create",
                domain=DOMAIN,
                client_id=client_id,
                client_secret=client_secret,
                name="Enphase simulator",
            )

    async def config_entries(self, domain: str = DOMAIN) -> list[dict[str, Any]]:
        """Return the config entries of a domain."""
        entries: list[dict[str, Any]] = await self.request(
            "GET", f"/api/config/config_entries/entry?domain={domain}"
        )
        return entries

    async def states(self) -> list[dict[str, Any]]:
        """Return every entity state."""
        states: list[dict[str, Any]] = await self.request("GET", "/api/states")
        return states

    async def integration_entities(self) -> list[dict[str, Any]]:
        """Return the entity registry entries of the integration."""
        async with self.websocket() as ws:
            entries: list[dict[str, Any]] = await ws.call("config/entity_registry/list")
        return [entry for entry in entries if entry["platform"] == DOMAIN]

    async def integration_devices(self, entry_id: str) -> list[dict[str, Any]]:
        """Return the device registry entries of a config entry."""
        async with self.websocket() as ws:
            devices: list[dict[str, Any]] = await ws.call("config/device_registry/list")
        return [device for device in devices if entry_id in device["config_entries"]]

    # -- the integration's config flow --------------------------------------------------------

    async def add_integration(
        self,
        *,
        frontend_base: str | None = None,
        api_key: str = SIM_API_KEY,
        plan: str = "watt",
        systems: Sequence[int] | None = None,
        max_steps: int = 12,
    ) -> dict[str, Any]:
        """Add the integration through its config flow, as the frontend does it.

        The OAuth external step is followed like a browser would: the authorize URL (which
        the simulator approves by itself in auto-approve mode), then its redirect to
        Home Assistant's /auth/external/callback. Returns the create_entry result.
        """
        frontend_base = (frontend_base or self.base_url).rstrip("/")
        result = await self.request(
            "POST",
            FLOW_PATH,
            json={"handler": DOMAIN, "show_advanced_options": False},
            headers={"HA-Frontend-Base": frontend_base},
        )
        return await self._drive_flow(
            result,
            frontend_base=frontend_base,
            api_key=api_key,
            plan=plan,
            systems=systems,
            max_steps=max_steps,
        )

    async def reauthenticate(
        self, *, frontend_base: str | None = None, within: float = 10.0
    ) -> int:
        """Finish every reauthentication flow of the integration; return how many there were.

        The same path as the frontend's "Reconfigure" on a repair: the confirmation, the
        OAuth external step, and the stored API key checked again.
        """
        frontend_base = (frontend_base or self.base_url).rstrip("/")
        # Home Assistant starts the flow just after marking the entry failed.
        deadline = time.monotonic() + within
        while True:
            async with self.websocket() as ws:
                flows = await ws.call("config_entries/flow/progress")
            reauths = [
                flow
                for flow in flows
                if flow["handler"] == DOMAIN and flow["context"].get("source") == "reauth"
            ]
            if reauths or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        for flow in reauths:
            result = await self.request(
                "GET",
                f"{FLOW_PATH}/{flow['flow_id']}",
                headers={"HA-Frontend-Base": frontend_base},
            )
            await self._drive_flow(result, frontend_base=frontend_base)
        return len(reauths)

    async def _drive_flow(
        self,
        result: dict[str, Any],
        *,
        frontend_base: str,
        api_key: str = SIM_API_KEY,
        plan: str = "watt",
        systems: Sequence[int] | None = None,
        max_steps: int = 12,
    ) -> dict[str, Any]:
        """Answer a config flow's steps until it creates or updates an entry."""
        # Home Assistant builds the OAuth redirect from the request that reaches the
        # external step, so every step carries the frontend base.
        headers = {"HA-Frontend-Base": frontend_base}
        for _ in range(max_steps):
            kind = result["type"]
            flow_id = result.get("flow_id")
            if kind == "create_entry":
                return dict(result)
            if kind == "abort":
                if result.get("reason") in ("reauth_successful", "reconfigure_successful"):
                    return dict(result)
                raise BootstrapError(f"The config flow aborted: {result.get('reason')}")
            if kind == "external":
                await self._authorize(result["url"], frontend_base)
                result = await self.request("GET", f"{FLOW_PATH}/{flow_id}", headers=headers)
            elif kind in ("external_done", "progress_done"):
                result = await self.request("GET", f"{FLOW_PATH}/{flow_id}", headers=headers)
            elif kind == "form":
                if result.get("errors"):
                    raise BootstrapError(
                        f"The config flow step {result['step_id']!r} showed errors: "
                        f"{result['errors']}"
                    )
                user_input = _flow_input(result, api_key=api_key, plan=plan, systems=systems)
                result = await self.request(
                    "POST", f"{FLOW_PATH}/{flow_id}", json=user_input, headers=headers
                )
            elif kind == "progress":
                await asyncio.sleep(1)
                result = await self.request("GET", f"{FLOW_PATH}/{flow_id}", headers=headers)
            else:
                raise BootstrapError(f"Unexpected config flow result type {kind!r}")
        raise BootstrapError(f"The config flow did not finish within {max_steps} steps")

    async def _authorize(self, authorize_url: str, frontend_base: str) -> None:
        """Open the authorize URL and follow its redirect back to Home Assistant."""
        async with self.session.get(authorize_url, allow_redirects=False) as resp:
            location = resp.headers.get("Location")
            if resp.status not in (301, 302, 303, 307) or location is None:
                text = await resp.text()
                raise BootstrapError(
                    f"The authorize page answered HTTP {resp.status} without a redirect "
                    f"(is the simulator in auto-approve mode?): {text[:200]}"
                )
        callback = urlsplit(location)
        if not location.startswith(f"{frontend_base}/auth/external/callback"):
            raise BootstrapError(f"The authorize page redirected elsewhere: {callback.path}")
        # The browser would open this on the frontend base; the bootstrap may reach the same
        # Home Assistant under another address.
        callback_url = f"{self.base_url}{callback.path}?{callback.query}"
        async with self.session.get(callback_url) as resp:
            if resp.status >= 400:
                raise BootstrapError(f"/auth/external/callback answered HTTP {resp.status}")

    # -- Energy dashboard -----------------------------------------------------------------------

    async def system_lifetime_energy(self, entry_id: str) -> list[str]:
        """Return the lifetime energy sensors of the entry's systems (not of single devices).

        Systems are the devices with no parent device; unique ids are <id>_<key>.
        """
        systems = {
            device["id"]
            for device in await self.integration_devices(entry_id)
            if device["via_device_id"] is None
        }
        return sorted(
            entity["entity_id"]
            for entity in await self.integration_entities()
            if entity["device_id"] in systems
            and entity["unique_id"].endswith("_lifetime_energy")
            and entity["disabled_by"] is None
        )

    async def configure_energy_dashboard(self, entry_id: str, within: float = 30.0) -> str | None:
        """Show the first system's production on the Energy dashboard unless it has sources.

        Returns the entity used, or None when the dashboard was already set up or the
        entity did not appear in time.
        """
        async with self.websocket() as ws:
            if (await _energy_prefs(ws)).get("energy_sources"):
                return None
        deadline = time.monotonic() + within
        while not (entity_ids := await self.system_lifetime_energy(entry_id)):
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(1)
        await self.set_solar_source(entity_ids[0])
        return entity_ids[0]

    async def set_solar_source(self, stat_energy_from: str) -> dict[str, Any]:
        """Use stat_energy_from as the Energy dashboard's solar production; return validation."""
        async with self.websocket() as ws:
            prefs = await _energy_prefs(ws)
            sources = [
                source
                for source in prefs.get("energy_sources", [])
                if not (
                    source["type"] == "solar" and source["stat_energy_from"] == stat_energy_from
                )
            ]
            sources.append(
                {
                    "type": "solar",
                    "stat_energy_from": stat_energy_from,
                    "config_entry_solar_forecast": None,
                }
            )
            await ws.call("energy/save_prefs", energy_sources=sources)
            validation: dict[str, Any] = await ws.call("energy/validate")
        return validation


async def _energy_prefs(ws: HassWebSocket) -> dict[str, Any]:
    try:
        prefs: dict[str, Any] = await ws.call("energy/get_prefs")
    except BootstrapError:
        # Not configured yet: the Energy dashboard has never been saved.
        return {}
    return prefs


def _flow_input(
    result: Mapping[str, Any], *, api_key: str, plan: str, systems: Sequence[int] | None
) -> dict[str, Any]:
    """Answer one form of the config flow the way a person would."""
    step_id = result["step_id"]
    fields = {item["name"]: item for item in result.get("data_schema", [])}
    if step_id == "pick_implementation":
        options = [value for value, _label in fields["implementation"].get("options", [])]
        return {"implementation": options[0]}
    if step_id == "reauth_confirm":
        return {}
    if step_id == "api_key":
        return {"api_key": api_key}
    if step_id == "systems":
        if systems is not None:
            return {"systems": [str(system_id) for system_id in systems]}
        selector = fields["systems"]["selector"]["select"]
        return {"systems": [str(option["value"]) for option in selector["options"]]}
    if step_id == "plan":
        return {"plan": plan}
    raise BootstrapError(f"No answer for the config flow step {step_id!r}")


class HassWebSocket:
    """A minimal authenticated Home Assistant websocket connection."""

    def __init__(self, client: HomeAssistantClient) -> None:
        """Prepare a connection for the logged-in user of client."""
        self._client = client
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._next_id = 1

    async def __aenter__(self) -> Self:
        """Connect and authenticate."""
        ws = await self._client.session.ws_connect(f"{self._client.base_url}/api/websocket")
        self._ws = ws
        hello = await ws.receive_json()
        if hello.get("type") != "auth_required":
            raise BootstrapError(f"Unexpected websocket greeting {hello.get('type')!r}")
        await ws.send_json({"type": "auth", "access_token": self._client.access_token})
        answer = await ws.receive_json()
        if answer.get("type") != "auth_ok":
            raise BootstrapError("The websocket refused the access token")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the connection."""
        if self._ws is not None:
            await self._ws.close()

    async def call(self, command: str, **data: Any) -> Any:
        """Send one command and return its result; raise BootstrapError on an error."""
        assert self._ws is not None  # only used inside `async with`
        msg_id = self._next_id
        self._next_id += 1
        await self._ws.send_json({"id": msg_id, "type": command, **data})
        while True:
            msg = await self._ws.receive_json(timeout=60)
            if msg.get("id") != msg_id or msg.get("type") != "result":
                continue
            if not msg["success"]:
                raise BootstrapError(f"{command}: {msg['error']}")
            return msg["result"]


# -- the demo --------------------------------------------------------------------------------


async def bootstrap(
    base_url: str,
    *,
    add: bool,
    processes: Processes | None = None,
    api_url: str | None = None,
    plan: str = "watt",
    within: float = 120.0,
) -> str | None:
    """Onboard, create the application credentials and (if add) add the integration.

    With api_url (the simulator), the demo app's plan there is set to `plan` first, so the
    plan picked in the config flow is the one the simulator enforces.
    Returns the config entry id when the integration is (or already was) added.
    """
    async with aiohttp.ClientSession() as session:
        if api_url is not None:
            await wait_for_http(session, f"{api_url}/_sim/clock", within=30, processes=processes)
            await set_simulator_plan(session, api_url, plan)
        # The HTTP server answers before every integration is set up; the frontend's
        # manifest means the frontend, and so onboarding (a dependency), are ready.
        await wait_for_http(
            session, f"{base_url}/manifest.json", within=within, processes=processes
        )
        client = HomeAssistantClient(session, base_url)
        await client.onboard(name=DEMO_NAME, username=DEMO_USERNAME, password=DEMO_PASSWORD)
        print(f"Onboarding done; log in as {DEMO_USERNAME!r} / {DEMO_PASSWORD!r}")
        await client.ensure_application_credentials()
        print("Application credentials for the simulator are in place")
        if not add:
            return None
        if entries := await client.config_entries():
            print(f"The integration is already added ({entries[0]['title']})")
            if await _kept_entry_needs_sign_in(client, within=30):
                # A kept entry holds tokens from an earlier simulator run, which this one
                # does not know: sign in again, as the repair would ask a person to.
                count = await client.reauthenticate()
                print(f"Signed in to the simulator again ({count} reauthentication flow(s))")
            return str(entries[0]["entry_id"])
        result = await client.add_integration(plan=plan)
        entry_id = str(result["result"]["entry_id"])
        print(f"Added the integration through its config flow: {result['title']}")
        if energy := await client.configure_energy_dashboard(entry_id):
            print(f"Energy dashboard: solar production from {energy}")
        return entry_id


async def _kept_entry_needs_sign_in(client: HomeAssistantClient, within: float) -> bool:
    """Wait for the entries to finish setting up; return True if one needs a new sign-in."""
    settled = {"loaded", "setup_error", "setup_retry", "migration_error", "failed_unload"}
    deadline = time.monotonic() + within
    while True:
        states = {entry["state"] for entry in await client.config_entries()}
        if states <= settled or time.monotonic() > deadline:
            return "setup_error" in states
        await asyncio.sleep(1)


async def set_simulator_plan(
    session: aiohttp.ClientSession, api_url: str, plan: str, api_key: str = SIM_API_KEY
) -> None:
    """Put the simulator's demo app on an Enphase plan (its control API)."""
    async with session.post(
        f"{api_url}/_sim/plan", json={"api_key": api_key, "plan": plan}
    ) as resp:
        _check(resp.status, await resp.text(), "POST /_sim/plan")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/develop",
        description="Start the Enphase simulator and a real Home Assistant set up to use it.",
    )
    parser.add_argument("--port", type=int, default=8123, help="Home Assistant port (8123)")
    parser.add_argument("--sim-port", type=int, default=8090, help="simulator port (8090)")
    parser.add_argument("--scenario", default="demo_home", help="simulator scenario (demo_home)")
    parser.add_argument("--config", type=Path, default=ROOT / "config", help="config directory")
    parser.add_argument(
        "--no-add",
        action="store_true",
        help="leave the integration un-added, to add it by hand in the browser",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help=(
            "keep what Home Assistant saved in the config dir last time (by default everything "
            "but configuration.yaml is removed); the new simulator does not know the old "
            "tokens, so the kept entry's reauthentication is run like a person would"
        ),
    )
    parser.add_argument(
        "--plan",
        default="kilowatt",
        choices=("watt", "kilowatt", "megawatt", "partner"),
        help=(
            "Enphase plan of the simulator's demo app, chosen in the config flow too "
            "(kilowatt: summaries every 15 minutes; watt, the free plan, about every half hour "
            "in daylight)"
        ),
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show Home Assistant's and the simulator's output here too",
    )
    parser.add_argument(
        "--public-host",
        default=None,
        help=(
            "name or address other machines reach this one at, to use the demo from a browser "
            "elsewhere: the simulator then listens on every interface and Home Assistant sends "
            "the browser to http://PUBLIC_HOST:SIM_PORT to sign in (default: 127.0.0.1 only)"
        ),
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C."""
    args = _parse_args(argv)
    for port in (args.port, args.sim_port):
        if _port_in_use(port):
            # Otherwise the setup would talk to whatever already listens there.
            print(f"Port {port} is in use (an earlier demo still running?)", file=sys.stderr)
            return 1
    config_dir: Path = args.config.resolve()
    if not args.keep and config_dir.exists():
        reset_config_dir(config_dir)
    prepare_config_dir(config_dir)
    # Home Assistant uses this URL both for the token requests and for the sign-in page it
    # sends the browser to, so it must be reachable from both.
    api_url = f"http://{args.public_host or '127.0.0.1'}:{args.sim_port}"
    sim_host = "0.0.0.0" if args.public_host else "127.0.0.1"
    base_url = f"http://127.0.0.1:{args.port}"
    # The URL Home Assistant gives out for itself (internal_url/external_url).
    hass_env = (
        {"ENPHASE_DEMO_URL": f"http://{args.public_host}:{args.port}"} if args.public_host else {}
    )
    processes = Processes()
    # Home Assistant writes config/home-assistant.log itself; the terminal stays for the
    # demo's own messages unless --verbose asks for both processes' output there too.
    sim_log = config_dir / "simulator.log"
    sim_out: IO[bytes] | int | None = None if args.verbose else sim_log.open("wb")
    hass_out = None if args.verbose else subprocess.DEVNULL
    # Ctrl-C and `kill` both end up in the finally clause below (SIGINT explicitly, as a
    # shell leaves it ignored for a command started in the background).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        processes.add(
            "simulator",
            start_simulator(
                args.sim_port,
                scenario=args.scenario,
                auto_approve=not args.no_add,
                host=sim_host,
                stdout=sim_out,
            ),
        )
        processes.add(
            "Home Assistant",
            start_hass(
                config_dir, port=args.port, api_url=api_url, extra_env=hass_env, stdout=hass_out
            ),
        )
        print(f"Starting the simulator and Home Assistant (logs: {_shown(config_dir)}/*.log)")
        asyncio.run(
            bootstrap(
                base_url,
                add=not args.no_add,
                processes=processes,
                api_url=api_url,
                plan=args.plan,
                within=300,
            )
        )
        print()
        print(
            f"Home Assistant: http://{args.public_host or 'localhost'}:{args.port}  (user {DEMO_USERNAME!r}, password {DEMO_PASSWORD!r})"
        )
        print(f"Simulator:      {api_url}  (scenario {args.scenario})")
        if args.no_add:
            print(
                "Add the integration in Settings > Devices & services > Add integration > "
                f"Enphase Enlighten; API key: {SIM_API_KEY}"
            )
        print("Press Ctrl-C to stop both.")
        while True:
            while (reason := processes.exited()) is None:
                time.sleep(1)
            if processes.get("Home Assistant").returncode != RESTART_EXIT_CODE:
                break
            print("Home Assistant asked to restart; starting it again")
            processes.replace(
                "Home Assistant",
                start_hass(
                    config_dir, port=args.port, api_url=api_url, extra_env=hass_env, stdout=hass_out
                ),
            )
    except KeyboardInterrupt:
        print("\nStopping...")
        return 0
    except BootstrapError as err:
        print(f"Demo setup failed: {err}", file=sys.stderr)
        print(f"See {_shown(config_dir)}/home-assistant.log and simulator.log", file=sys.stderr)
        return 1
    else:
        print(f"{reason}; see {_shown(config_dir)}/home-assistant.log", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        processes.stop()
        if not isinstance(sim_out, int) and sim_out is not None:
            sim_out.close()


def _shown(path: Path) -> str:
    """Return path relative to the working directory when it is inside it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
