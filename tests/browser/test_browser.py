"""In a real browser: add the integration, see its device, fill the Energy dashboard, reauth.

Chromium (Debian's package, driven by Playwright) against a real `hass` and the simulator, the
way a person clicks through it. Each step saves a PNG in ARTIFACTS/<test>/; when a step fails
the screenshots and the hass and simulator logs stay there and the failure names the folder.
With BROWSER_UPDATE_DOCS=1 a passing run also copies the README's screenshots into docs/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
import os
from pathlib import Path
import re
import shutil
import socket
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from playwright.sync_api import BrowserContext, Locator, Page, expect, sync_playwright
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
# The demo's home: consumption meters (Net consumption CTs) and batteries, so its system has
# all six imported statistics (simulator/README.md).
SCENARIO = "demo_home"
# Kilowatt, as in the demo: the Watt plan's 10 requests a minute are nearly spent by setup.
PLAN = "Kilowatt"
STEP_TIMEOUT_MS = 30_000
DATA_TIMEOUT_MS = 90_000
VIEWPORT = {"width": 1280, "height": 860}
# Tall enough for every filled slot of the Energy settings, and the dashboard's first cards.
SETTINGS_VIEWPORT = {"width": 1280, "height": 1400}
DASHBOARD_VIEWPORT = {"width": 1280, "height": 1000}
# The README's screenshots: step name -> file under docs/ (copied with BROWSER_UPDATE_DOCS=1).
DOCS = {
    "device-page": "device-page.png",
    "energy-settings": "energy-settings.png",
    "energy-dashboard": "energy-dashboard.png",
}
# What the frontend's statistic picker finds our statistics by: it searches an external
# statistic by its id and its integration's name, not by the statistic's own name.
PICKER_SEARCH = "Enphase"
CHANNELS = (
    "production",
    "consumption",
    "grid_import",
    "grid_export",
    "battery_charge",
    "battery_discharge",
)
# The names the statistics carry after the system's name (statistics.CHANNEL_NAMES).
CHANNEL_NAMES = {
    "production": "solar production",
    "consumption": "consumption",
    "grid_import": "energy from the grid",
    "grid_export": "energy to the grid",
    "battery_charge": "energy into the battery",
    "battery_discharge": "energy out of the battery",
}


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
    shots: dict[str, Path] = field(default_factory=dict)

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
        # Transitions finished (gauges, fading lists): the picture shows where they end.
        page.screenshot(path=path, animations="disabled")
        self.stack.shots[name] = path
        return path


def _update_docs(stack: Stack) -> None:
    """Copy the README's screenshots from this run into docs/ (BROWSER_UPDATE_DOCS=1)."""
    for step, name in DOCS.items():
        shutil.copyfile(stack.shots[step], ROOT / "docs" / name)


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


def _expect_device_values(page: Page, *, live: bool = False) -> None:
    """The system's Sensors card lists power and energy as numbers with units.

    Right after a (re)load the entities are unavailable until the first update arrives, so
    this waits for numbers (an unavailable sensor shows none). The page's Activity card may
    say "became unavailable" meanwhile: the check keeps to the Sensors card. With live, the
    telemetry's live values too (they appear with the first telemetry fetch): battery and
    consumption power and grid power (negative while discharging or exporting). Not the
    state of charge: a first set-up's battery telemetry reads the back-fill's oldest days.
    """
    number, signed = r"\d[\d,.]*", r"-?\d[\d,.]*"
    battery = (
        rf".*Battery charging power {signed} k?W .*Consumption power {number} k?W" if live else ""
    )
    grid = rf" .*Grid power {signed} k?W" if live else ""
    expect(page.locator("body")).to_match_aria_snapshot(
        '- heading "Sensors"\n'
        rf"- list: /{battery}.*Current power {number} k?W .*Energy today {number} kWh{grid}"
        rf" .*Lifetime energy {number} kWh.*/",
        timeout=DATA_TIMEOUT_MS,
    )


def test_add_energy_and_reauth_in_the_browser(stack: Stack) -> None:
    """The whole first day of a user, in Chromium, ending with a sign-in that expired."""
    started = time.monotonic()
    steps = Steps(stack)
    profile = stack.artifacts / "chromium-profile"
    time_zone = _time_zone(stack)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport=VIEWPORT,
            # The person sits at home: the browser's days are Home Assistant's, as on the
            # Energy dashboard's date picker. No animations: screenshots show what is there.
            timezone_id=time_zone,
            reduced_motion="reduce",
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
    if os.environ.get("BROWSER_UPDATE_DOCS") == "1":
        _update_docs(stack)
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
    # Once the first telemetry import is done, the live values are there too.
    _wait_for_statistics(stack, system)
    _expect_device_values(page, live=True)
    steps.shot(page, "device-page")

    # The Energy dashboard, every slot from the system's imported statistics, then its data.
    _energy_settings(stack, steps, page, system)
    _energy_dashboard(stack, steps, page, system)

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


def _time_zone(stack: Stack) -> str:
    async def config(client: HomeAssistantClient, _session: aiohttp.ClientSession) -> Any:
        async with client.websocket() as ws:
            return await ws.call("get_config")

    return str(stack.call(config)["time_zone"])


def _statistic_ids(system: dict[str, Any]) -> dict[str, str]:
    """Each channel's external statistic id for the system (its device's identifier)."""
    (system_id,) = [ident for domain, ident in system["identifiers"] if domain == DOMAIN]
    return {channel: f"{DOMAIN}:{system_id}_{channel}" for channel in CHANNELS}


def _wait_for_statistics(stack: Stack, system: dict[str, Any]) -> None:
    """Wait for the first import: the recorder lists the system's six statistics by name."""
    wanted = {
        stat_id: f"{system['name']} {CHANNEL_NAMES[channel]}"
        for channel, stat_id in _statistic_ids(system).items()
    }

    async def listed(client: HomeAssistantClient, _session: aiohttp.ClientSession) -> Any:
        async with client.websocket() as ws:
            found = await ws.call("recorder/list_statistic_ids", statistic_type="sum")
        return {item["statistic_id"]: item["name"] for item in found if item["source"] == DOMAIN}

    deadline = time.monotonic() + DATA_TIMEOUT_MS / 1000
    while (found := stack.call(listed)) != wanted:
        assert time.monotonic() < deadline, f"statistics {found} instead of {wanted}"
        time.sleep(1)


def _pick_statistic(page: Page, dialog: Locator, label: str) -> None:
    """Open the dialog's next empty statistic picker, search for ours, choose label."""
    dialog.get_by_text("Select a statistic").first.click()
    page.wait_for_function(FOCUSED_FIELD)
    page.keyboard.type(PICKER_SEARCH)
    dialog.get_by_text(label, exact=True).click()
    # The list closes; the picker shows the chosen statistic.
    expect(dialog.get_by_role("textbox", name="Search")).to_have_count(0)
    expect(dialog.get_by_text(label, exact=True)).to_be_visible()


def _fill_slot(
    page: Page, steps: Steps, button: Locator, title: str, labels: list[str], shot: str
) -> None:
    """Click an Add button of the Energy settings, pick each statistic in turn, save."""
    button.click()
    heading = page.get_by_role("heading", name=title)
    expect(heading).to_be_visible()
    # The dialog's content is slotted into ha-dialog, outside its alertdialog's subtree.
    dialog = page.locator("ha-dialog").filter(has_text=title)
    for label in labels:
        _pick_statistic(page, dialog, label)
    steps.shot(page, shot)
    dialog.get_by_role("button", name="Save").click()
    expect(heading).to_be_hidden()
    for label in labels:
        expect(page.get_by_text(label, exact=True).first).to_be_visible()


# Every scrolled element, through open shadow roots, back to its top.
SCROLL_TO_TOP = """() => {
    const walk = (root) => {
        for (const element of root.querySelectorAll("*")) {
            if (element.scrollTop > 0) element.scrollTop = 0;
            if (element.shadowRoot) walk(element.shadowRoot);
        }
    };
    walk(document);
}"""


def _energy_settings(stack: Stack, steps: Steps, page: Page, system: dict[str, Any]) -> None:
    """Settings -> Dashboards -> Energy: every slot from the system's imported statistics."""
    ids = _statistic_ids(system)
    label = {channel: f"{system['name']} {CHANNEL_NAMES[channel]}" for channel in CHANNELS}
    _wait_for_statistics(stack, system)
    page.goto(f"{stack.base_url}/config/energy")
    add = page.get_by_role
    _fill_slot(
        page,
        steps,
        add("button", name="Add consumption"),
        "Configure grid consumption",
        [label["grid_import"]],
        "energy-grid-consumption-picked",
    )
    _fill_slot(
        page,
        steps,
        add("button", name="Add return"),
        "Configure grid production",
        [label["grid_export"]],
        "energy-return-picked",
    )
    _fill_slot(
        page,
        steps,
        add("button", name="Add solar production"),
        "Configure solar panels",
        [label["production"]],
        "energy-solar-picked",
    )
    # The dialog's first picker is the energy charged into the battery, the second what
    # came out of it.
    _fill_slot(
        page,
        steps,
        add("button", name="Add battery system"),
        "Configure battery system",
        [label["battery_charge"], label["battery_discharge"]],
        "energy-battery-picked",
    )
    # Individual devices (the electricity ones; water devices have an Add device too).
    _fill_slot(
        page,
        steps,
        page.locator("ha-energy-device-settings").get_by_role("button", name="Add device"),
        "Add a device",
        [label["consumption"]],
        "energy-device-picked",
    )
    # Saved: they are there when the page is opened again, every slot in view.
    page.set_viewport_size(SETTINGS_VIEWPORT)
    page.goto(f"{stack.base_url}/config/energy")
    for text in label.values():
        expect(page.get_by_text(text, exact=True)).to_be_visible()
    # Chromium restores the scroll position of a page loaded again.
    page.evaluate(SCROLL_TO_TOP)
    steps.shot(page, "energy-settings")
    page.set_viewport_size(VIEWPORT)

    async def saved(client: HomeAssistantClient, _session: aiohttp.ClientSession) -> Any:
        async with client.websocket() as ws:
            return await ws.call("energy/get_prefs"), await ws.call("energy/validate")

    prefs, validation = stack.call(saved)
    sources = {source["type"]: source for source in prefs["energy_sources"]}
    assert sorted(sources) == ["battery", "grid", "solar"], prefs
    assert sources["solar"]["stat_energy_from"] == ids["production"]
    # 2026.2's form (flow lists); the browser test runs on the oldest end only.
    grid = sources["grid"]
    assert [flow["stat_energy_from"] for flow in grid["flow_from"]] == [ids["grid_import"]]
    assert [flow["stat_energy_to"] for flow in grid["flow_to"]] == [ids["grid_export"]]
    assert sources["battery"]["stat_energy_to"] == ids["battery_charge"]
    assert sources["battery"]["stat_energy_from"] == ids["battery_discharge"]
    assert [d["stat_consumption"] for d in prefs["device_consumption"]] == [ids["consumption"]]
    # One list of issues per source and device: all empty.
    assert validation["energy_sources"] == [[], [], []], validation
    assert validation["device_consumption"] == [[]], validation


def _day_with_data(stack: Stack, system: dict[str, Any], time_zone: str) -> dict[str, Any]:
    """The latest local day every statistic has whole (the next day has hours), with sun.

    Returns the day and each channel's Wh on it, as the recorder sums them.
    """
    ids = _statistic_ids(system)
    zone = ZoneInfo(time_zone)
    # The first set-up back-fills at most 90 days (Kilowatt; Watt: the month).
    start = datetime.now(UTC) - timedelta(days=100)

    async def days(client: HomeAssistantClient, _session: aiohttp.ClientSession) -> Any:
        async with client.websocket() as ws:
            return await ws.call(
                "recorder/statistics_during_period",
                start_time=start.isoformat(),
                statistic_ids=list(ids.values()),
                period="day",
                types=["change"],
            )

    found = stack.call(days)
    by_day: dict[str, dict[date, float]] = {
        channel: {
            datetime.fromtimestamp(row["start"] / 1000, zone).date(): row["change"]
            for row in found.get(stat_id, [])
        }
        for channel, stat_id in ids.items()
    }
    whole = [
        day
        for day in by_day["production"]
        if by_day["production"][day] > 0
        and all(day in rows and day + timedelta(days=1) in rows for rows in by_day.values())
    ]
    assert whole, f"no day has all six statistics whole: {found}"
    day = max(whole)
    return {"day": day, **{channel: by_day[channel][day] for channel in CHANNELS}}


def _kwh(wh: float) -> str:
    """Wh as the Energy dashboard's tables show kWh (at most two decimals, en locale)."""
    value = (Decimal(round(wh)) / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _choose_day(page: Page, day: date) -> None:
    """The date bar's calendar: back to day's month, the day as start and end, Select."""
    page.get_by_role("button", name="Select time period").click()
    calendar = page.locator("date-range-picker")
    month = day.strftime("%B %Y")
    for _ in range(12):
        if calendar.locator("th.month").first.inner_text().strip() == month:
            break
        calendar.locator("th.prev").first.click()
    expect(calendar.locator("th.month").first).to_have_text(month)
    # Days of the neighbouring months are shown greyed ("off") too.
    cell = calendar.locator(f'td[data-date="{day.isoformat()}"]:not(.off)')
    cell.click()
    cell.click()
    page.get_by_role("button", name="Select", exact=True).click()
    expect(page.get_by_text(f"{day:%B} {day.day}, {day.year}", exact=True)).to_be_visible()


# How many pixels of a canvas are clearly coloured (bars), not grey (axes, grid, labels).
COLORED_PIXELS = """canvas => {
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let colored = 0;
    for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) colored += 1;
    }
    return colored;
}"""
# A day of sun draws thousands; a chart without data none.
MIN_BAR_PIXELS = 500


def _energy_dashboard(stack: Stack, steps: Steps, page: Page, system: dict[str, Any]) -> None:
    """The Energy dashboard on the latest day with data: the recorder's figures, as bars."""
    data = _day_with_data(stack, system, _time_zone(stack))
    name = system["name"]
    # Sized before the charts draw: a resize redraws them.
    page.set_viewport_size(DASHBOARD_VIEWPORT)
    page.goto(f"{stack.base_url}/energy")
    _choose_day(page, data["day"])
    # The Sources table: each statistic's energy that day, to the hundredth of a kWh; what
    # goes into the battery and out to the grid counts negative.
    rows = {
        "production": "",
        "battery_discharge": "",
        "grid_import": "",
        "battery_charge": "-",
        "grid_export": "-",
    }
    for channel, sign in rows.items():
        value = _kwh(data[channel])
        shown = re.escape(f"{sign}{value}") if value != "0" else "-?0"
        expect(
            page.get_by_role(
                "row",
                name=re.compile(rf"^{re.escape(f'{name} {CHANNEL_NAMES[channel]}')} {shown} kWh$"),
            )
        ).to_be_visible(timeout=DATA_TIMEOUT_MS)
    # The charts draw on canvases: wait for their bars (coloured pixels; the axes are grey).
    for card in ("hui-energy-usage-graph-card", "hui-energy-solar-graph-card"):
        canvas = page.locator(f"{card} canvas").first
        deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
        while (colored := canvas.evaluate(COLORED_PIXELS)) < MIN_BAR_PIXELS:
            assert time.monotonic() < deadline, f"{card}: {colored} coloured pixels"
            time.sleep(0.2)
    steps.shot(page, "energy-dashboard")
    page.set_viewport_size(VIEWPORT)
