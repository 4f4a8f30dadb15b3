"""In a real browser: add the integration, see its device, pick it on the Energy dashboard, reauth.

Chromium (Debian's package, driven by Playwright) against a real `hass` and the simulator, the
way a person clicks through it. Each step saves a PNG in ARTIFACTS/<test>/; when a step fails
the screenshots and the hass and simulator logs stay there and the failure names the folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import os
from pathlib import Path
import re
import shutil
import socket
import time
from typing import Any

import aiohttp
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
import pytest

from scripts.demo_bootstrap import (
    DEMO_NAME,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    DOMAIN,
    ROOT,
    SIM_API_KEY,
    SIM_CLIENT_ID,
    SIM_CLIENT_SECRET,
    HomeAssistantClient,
    Processes,
    prepare_config_dir,
    set_simulator_plan,
    start_hass,
    start_simulator,
    wait_for_http,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "tests" / "browser" / "artifacts"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Nothing reaches the internet here: no first-run, sync, update or QUIC traffic, no GPU.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCENARIO = "demo_home"
# Kilowatt, as in the demo: the Watt plan's 10 requests a minute are nearly spent by setup.
PLAN = "Kilowatt"
STEP_TIMEOUT_MS = 30_000
DATA_TIMEOUT_MS = 90_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _run[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on its own loop, beside Playwright's."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass(slots=True)
class Stack:
    """The running simulator and Home Assistant, and where the test keeps what it saw."""

    base_url: str
    api_url: str
    artifacts: Path
    hass_log: Path
    steps: list[str] = field(default_factory=list)

    async def _client(self, session: aiohttp.ClientSession) -> HomeAssistantClient:
        client = HomeAssistantClient(session, self.base_url)
        await client.login(DEMO_USERNAME, DEMO_PASSWORD)
        return client

    def call[T](
        self, action: Callable[[HomeAssistantClient, aiohttp.ClientSession], Coroutine[Any, Any, T]]
    ) -> T:
        """Run action with a logged-in Home Assistant client (what the test checks through)."""

        async def run() -> T:
            async with aiohttp.ClientSession() as session:
                return await action(await self._client(session), session)

        return _run(run())


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path, socket_enabled: None) -> Iterator[Stack]:
    """Start the simulator (its consent page shown) and an onboarded hass on free ports."""
    artifacts = ARTIFACTS / request.node.name
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    sim_port, ha_port = _free_port(), _free_port()
    config_dir = tmp_path / "config"
    prepare_config_dir(config_dir, source_config=ROOT / "config" / "configuration.yaml")
    hass_log, sim_log = artifacts / "hass.log", artifacts / "simulator.log"
    stack = Stack(
        f"http://127.0.0.1:{ha_port}", f"http://127.0.0.1:{sim_port}", artifacts, hass_log
    )
    processes = Processes()
    with hass_log.open("wb") as hass_out, sim_log.open("wb") as sim_out:
        try:
            processes.add(
                "simulator",
                start_simulator(sim_port, scenario=SCENARIO, auto_approve=False, stdout=sim_out),
            )
            processes.add(
                "hass",
                start_hass(
                    config_dir,
                    port=ha_port,
                    api_url=stack.api_url,
                    host="127.0.0.1",
                    stdout=hass_out,
                ),
            )

            async def onboard() -> None:
                async with aiohttp.ClientSession() as session:
                    await wait_for_http(
                        session, f"{stack.api_url}/_sim/clock", within=30, processes=processes
                    )
                    await set_simulator_plan(session, stack.api_url, PLAN.lower())
                    await wait_for_http(
                        session, f"{stack.base_url}/manifest.json", within=180, processes=processes
                    )
                    client = HomeAssistantClient(session, stack.base_url)
                    await client.onboard(
                        name=DEMO_NAME, username=DEMO_USERNAME, password=DEMO_PASSWORD
                    )

            _run(onboard())
            yield stack
        finally:
            processes.stop()


class Steps:
    """Screenshots named by step, in order, in the stack's artifacts folder."""

    def __init__(self, stack: Stack) -> None:
        """Save into stack.artifacts."""
        self.stack = stack

    def shot(self, page: Page, name: str) -> Path:
        """Save what page shows now as NN-name.png."""
        self.stack.steps.append(name)
        path = self.stack.artifacts / f"{len(self.stack.steps):02d}-{name}.png"
        page.screenshot(path=path)
        return path


def _dialog_title(page: Page, title: str) -> None:
    expect(page.get_by_text(title, exact=True).first).to_be_visible()


def _sign_in_at_enphase(context: BrowserContext, steps: Steps, popup: Page, name: str) -> None:
    """The simulated Enphase consent page: Approve, then the window closes itself."""
    popup.wait_for_load_state()
    expect(popup.get_by_role("button", name="Approve")).to_be_visible()
    steps.shot(popup, name)
    # The callback page closes the window at once: listen before clicking.
    with popup.expect_event("close"):
        popup.get_by_role("button", name="Approve").click()
    assert len(context.pages) == 1, [page.url for page in context.pages]


def _system_device(stack: Stack) -> dict[str, Any]:
    async def find(client: HomeAssistantClient, _session: aiohttp.ClientSession) -> Any:
        (entry,) = await client.config_entries()
        devices = await client.integration_devices(entry["entry_id"])
        # Systems head the device tree; the API usage device is a service.
        return [
            device
            for device in devices
            if device["via_device_id"] is None and device["entry_type"] is None
        ]

    (system,) = stack.call(find)
    return dict(system)


def _expect_device_values(page: Page) -> None:
    """The system's Sensors card lists power and energy as numbers with units.

    Right after a (re)load the entities are unavailable until the first update arrives, so
    this waits for numbers (an unavailable sensor shows none). The page's Activity card may
    say "became unavailable" meanwhile: the check keeps to the Sensors card.
    """
    expect(page.locator("body")).to_match_aria_snapshot(
        '- heading "Sensors"\n'
        r"- list: /.*Current power \d[\d,.]* k?W .*Energy today \d[\d,.]* kWh"
        r" .*Lifetime energy \d[\d,.]* kWh.*/",
        timeout=DATA_TIMEOUT_MS,
    )


def test_add_energy_and_reauth_in_the_browser(stack: Stack) -> None:
    """The whole first day of a user, in Chromium, ending with a sign-in that expired."""
    started = time.monotonic()
    steps = Steps(stack)
    profile = stack.artifacts / "chromium-profile"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 860},
        )
        context.set_default_timeout(STEP_TIMEOUT_MS)
        # Home Assistant's keyboard shortcuts ("e" opens the entity search) would catch what the
        # test types when a busy machine focuses a field late; a user's profile can turn them off.
        context.add_init_script("window.localStorage.setItem('enableShortcuts', 'false');")
        page = context.pages[0] if context.pages else context.new_page()
        try:
            _walk(stack, steps, context, page)
        except BaseException as err:
            last = stack.steps[-1] if stack.steps else "start"
            steps.shot(page, "failure")
            for other in context.pages[1:]:
                steps.shot(other, "failure-popup")
            context.close()
            pytest.fail(
                f"Browser step after {last!r} failed: {err}\n"
                f"Screenshots, hass.log and simulator.log: {stack.artifacts}",
                pytrace=True,
            )
        context.close()
    shutil.rmtree(profile, ignore_errors=True)
    # Shown with -s, and in the captured output of a later failure.
    print(f"browser test: {time.monotonic() - started:.1f} s, screenshots in {stack.artifacts}")  # noqa: T201


# True once the deepest focused element (through open shadow roots) is a text field.
FOCUSED_FIELD = """() => {
    let active = document.activeElement;
    while (active && active.shadowRoot && active.shadowRoot.activeElement) {
        active = active.shadowRoot.activeElement;
    }
    return !!active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA");
}"""


def _walk(stack: Stack, steps: Steps, context: BrowserContext, page: Page) -> None:
    base = stack.base_url

    # Log in.
    page.goto(f"{base}/")
    page.get_by_role("textbox", name="Username").fill(DEMO_USERNAME)
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    steps.shot(page, "login")
    page.get_by_role("button", name="Log in").click()

    # Settings -> Devices & services -> Add integration -> Enphase Enlighten.
    page.locator('a[href="/config"]').first.click()
    page.locator('a[href="/config/integrations"]').first.click()
    page.wait_for_url("**/config/integrations/dashboard")
    page.get_by_role("button", name="Add integration").click()
    page.get_by_role("textbox", name="Search for a brand name").fill("Enphase")
    steps.shot(page, "add-integration")
    page.get_by_text("Enphase Enlighten", exact=True).click()

    # Application credentials; adding them starts the flow, which opens Enphase's sign-in.
    _dialog_title(page, "Add application credentials")
    page.get_by_role("textbox", name="Name").fill("Enphase simulator")
    page.get_by_role("textbox", name="OAuth client ID").fill(SIM_CLIENT_ID)
    page.get_by_role("textbox", name="OAuth client secret").fill(SIM_CLIENT_SECRET)
    steps.shot(page, "application-credentials")
    with context.expect_page() as popup:
        page.get_by_role("button", name="Add", exact=True).click()
    _sign_in_at_enphase(context, steps, popup.value, "enphase-sign-in")

    # API key, systems, plan.
    _dialog_title(page, "Enphase API key")
    page.get_by_role("textbox", name="API key").fill(SIM_API_KEY)
    steps.shot(page, "api-key")
    page.get_by_role("button", name="Submit").click()
    _dialog_title(page, "Enphase systems")
    system_checkbox = page.get_by_role("checkbox").first
    expect(system_checkbox).to_be_checked()
    steps.shot(page, "systems")
    page.get_by_role("button", name="Submit").click()
    _dialog_title(page, "Enphase plan")
    page.get_by_role("radio", name=PLAN).click()
    steps.shot(page, "plan")
    page.get_by_role("button", name="Submit").click()
    _dialog_title(page, "Devices created")
    steps.shot(page, "devices-created")
    page.get_by_role("button", name=re.compile("finish", re.IGNORECASE)).click()

    # The system's device page, reached from the integration's page, with values.
    system = _system_device(stack)
    page.goto(f"{base}/config/integrations/integration/{DOMAIN}")
    page.get_by_role("link", name=re.compile(r"\d+ devices")).click()
    page.get_by_text(system["name"], exact=True).first.click()
    page.wait_for_url(f"**/config/devices/device/{system['id']}")
    _expect_device_values(page)
    steps.shot(page, "device-page")

    # Energy dashboard settings: the system's lifetime energy as solar production.
    page.goto(f"{base}/config/energy")
    page.get_by_text("Add solar production").click()
    _dialog_title(page, "Configure solar panels")
    page.get_by_text("Select a statistic").first.click()
    page.wait_for_function(FOCUSED_FIELD)
    page.keyboard.type(f"{system['name']} Lifetime energy")
    page.get_by_text(system["name"], exact=False).first.click()
    steps.shot(page, "energy-solar-picked")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"{system['name']} Lifetime energy", exact=True)).to_be_visible()
    steps.shot(page, "energy-settings")

    async def energy_source(client: HomeAssistantClient, _session: aiohttp.ClientSession) -> Any:
        async with client.websocket() as ws:
            prefs = await ws.call("energy/get_prefs")
        return [(source["type"], source["stat_energy_from"]) for source in prefs["energy_sources"]]

    ((kind, statistic),) = stack.call(energy_source)
    assert kind == "solar"
    assert statistic.startswith("sensor.")
    assert statistic.endswith("_lifetime_energy")

    # Enphase forgets the refresh token; the next sign-in the integration needs fails, and
    # Home Assistant asks to authenticate again.
    async def revoke(client: HomeAssistantClient, session: aiohttp.ClientSession) -> Any:
        for path in ("/_sim/tokens/revoke", "/_sim/tokens/expire"):
            async with session.post(f"{stack.api_url}{path}", json={}) as resp:
                assert resp.status == 200, (path, resp.status)
        (entry,) = await client.config_entries()
        await client.request("POST", f"/api/config/config_entries/entry/{entry['entry_id']}/reload")
        # The reload asks Enphase nothing (its answers are held and fresh), so it loads; the
        # next fetch, asked for by hand, meets the forgotten sign-in.
        (entry,) = await client.config_entries()
        state = entry["state"]
        registry = await client.integration_entities()
        enabled = [e["entity_id"] for e in registry if e["disabled_by"] is None]
        await client.request(
            "POST", "/api/services/homeassistant/update_entity", json={"entity_id": enabled}
        )
        return state

    assert stack.call(revoke) == "loaded"
    page.goto(f"{base}/config/integrations/dashboard")
    reconfigure = page.get_by_role("button", name="Reconfigure")
    expect(reconfigure.first).to_be_visible()
    steps.shot(page, "reauth-prompt")
    reconfigure.first.click()
    _dialog_title(page, "Sign in to Enphase again")
    steps.shot(page, "reauth-confirm")
    with context.expect_page() as popup:
        page.get_by_role("button", name="Submit").click()
    _sign_in_at_enphase(context, steps, popup.value, "enphase-sign-in-again")
    expect(page.get_by_text("Re-authentication was successful")).to_be_visible()
    steps.shot(page, "reauth-done")
    page.locator("step-flow-abort").get_by_role("button", name="Close").click()

    # Data again.
    page.goto(f"{base}/config/devices/device/{system['id']}")
    _expect_device_values(page)
    steps.shot(page, "device-page-after-reauth")

    async def entry_state(client: HomeAssistantClient, _session: aiohttp.ClientSession) -> Any:
        (entry,) = await client.config_entries()
        return entry["state"]

    assert stack.call(entry_state) == "loaded"
