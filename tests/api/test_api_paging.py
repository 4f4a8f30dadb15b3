"""Paging helpers walk every page at size=100 and stop at the right page."""

from __future__ import annotations

from typing import Any

from aiohttp import web
import pytest

from custom_components.enphase_enlighten.api import (
    EnphaseClient,
    RequestRecord,
    client as client_module,
)
from tests.api.fake_enphase import FakeEnphase, Received


def system(system_id: int) -> dict[str, Any]:
    return {"system_id": system_id, "name": f"System {system_id}", "energy_lifetime": -1}


def systems_server(
    fake: FakeEnphase, method: str, path: str, pages: list[list[int]], total: int
) -> None:
    """Serve `pages` (lists of ids) by the requested page number; past the end, empty pages."""

    def respond(received: Received) -> web.Response:
        page = int(received.query["page"])
        size = int(received.query["size"])
        ids = pages[page - 1] if page <= len(pages) else []
        return web.json_response(
            {
                "total": total,
                "current_page": page,
                "size": size,
                "count": len(ids),
                "items": "systems",
                "systems": [system(i) for i in ids],
            }
        )

    fake.add(method, path, respond)


async def test_all_systems_walks_every_page(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    pages = [list(range(1, 101)), list(range(101, 201)), list(range(201, 251))]
    systems_server(fake, "GET", "/systems", pages, total=250)

    systems = await client.all_systems()

    assert [s.system_id for s in systems] == list(range(1, 251))
    assert [r.query for r in fake.received] == [
        {"page": "1", "size": "100"},
        {"page": "2", "size": "100"},
        {"page": "3", "size": "100"},
    ]
    assert [r.endpoint for r in records] == ["systems"] * 3
    assert all(s.energy_lifetime is None for s in systems)


async def test_all_systems_single_page(client: EnphaseClient, fake: FakeEnphase) -> None:
    systems_server(fake, "GET", "/systems", [[7, 8]], total=2)

    systems = await client.all_systems()

    assert [s.system_id for s in systems] == [7, 8]
    assert len(fake.received) == 1


async def test_all_systems_stops_when_total_reached(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    systems_server(fake, "GET", "/systems", [list(range(100)), list(range(100, 200))], total=200)

    systems = await client.all_systems()

    # Two full pages and total reached: no third request for an empty page.
    assert len(systems) == 200
    assert len(fake.received) == 2


async def test_all_systems_stops_on_short_page(client: EnphaseClient, fake: FakeEnphase) -> None:
    # The total claims more than exists; a short page is the last one.
    systems_server(fake, "GET", "/systems", [list(range(100)), list(range(100, 130))], total=500)

    systems = await client.all_systems()

    assert len(systems) == 130
    assert len(fake.received) == 2


async def test_all_systems_stops_on_empty_page(client: EnphaseClient, fake: FakeEnphase) -> None:
    systems_server(fake, "GET", "/systems", [list(range(100))], total=300)

    systems = await client.all_systems()

    assert len(systems) == 100
    assert [r.query["page"] for r in fake.received] == ["1", "2"]


async def test_all_systems_stops_when_server_ignores_page(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    def same_page(_: Received) -> web.Response:
        return web.json_response(
            {
                "total": 1000,
                "current_page": 1,
                "size": 100,
                "count": 100,
                "systems": [system(i) for i in range(100)],
            }
        )

    fake.add("GET", "/systems", same_page)

    systems = await client.all_systems()

    assert len(systems) == 100
    assert len(fake.received) == 2


async def test_all_systems_follows_a_smaller_server_page_size(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    def capped(received: Received) -> web.Response:
        page = int(received.query["page"])
        ids = list(range((page - 1) * 10, min(page * 10, 25)))
        return web.json_response(
            {
                "total": 25,
                "current_page": page,
                "size": 10,
                "count": len(ids),
                "systems": [system(i) for i in ids],
            }
        )

    fake.add("GET", "/systems", capped)

    systems = await client.all_systems()

    assert [s.system_id for s in systems] == list(range(25))
    assert len(fake.received) == 3


async def test_search_all_systems_walks_pages_with_filters(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    systems_server(
        fake, "POST", "/systems/search", [list(range(100)), list(range(100, 101))], total=101
    )

    systems = await client.search_all_systems(statuses=["comm"], name="Home", sort_by="id")

    assert len(systems) == 101
    assert [r.query for r in fake.received] == [
        {"page": "1", "size": "100"},
        {"page": "2", "size": "100"},
    ]
    for received in fake.received:
        assert received.json() == {
            "system": {"name": "Home", "statuses": ["comm"]},
            "sort_by": "id",
        }
    assert [r.endpoint for r in records] == ["search", "search"]


def micro(serial: str, envoy: str | None) -> dict[str, Any]:
    return {
        "serial_number": serial,
        "envoy_serial_number": envoy,
        "power_produced": 10,
        "energy": {"value": 1, "units": "kWh"},
    }


async def test_inverters_summary_walks_pages_and_merges_gateways(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    page_one = [
        {"signal_strength": 4, "micro_inverters": [micro(f"A{i}", "GW-A") for i in range(60)]},
        {"signal_strength": 2, "micro_inverters": [micro(f"B{i}", "GW-B") for i in range(40)]},
    ]
    page_two = [
        {"signal_strength": 3, "micro_inverters": [micro(f"B{i}", "GW-B") for i in range(40, 70)]},
    ]
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=page_one)
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=page_two)

    envoys = await client.inverters_summary(site_id=42)

    assert [r.query for r in fake.received] == [
        {"site_id": "42", "page": "1", "size": "100"},
        {"site_id": "42", "page": "2", "size": "100"},
    ]
    assert [r.endpoint for r in records] == ["inverters_summary"] * 2
    gateway_a, gateway_b = envoys
    assert gateway_a.envoy_serial_number == "GW-A"
    assert len(gateway_a.micro_inverters) == 60
    assert gateway_b.envoy_serial_number == "GW-B"
    assert [m.serial_number for m in gateway_b.micro_inverters] == [f"B{i}" for i in range(70)]
    # The first page's signal strength is kept; raw lists every merged microinverter.
    assert gateway_b.signal_strength == 2
    assert len(gateway_b.raw["micro_inverters"]) == 70
    assert gateway_b.micro_inverters[0].energy == 1000.0


async def test_inverters_summary_full_last_page_then_empty(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    full = [{"signal_strength": 1, "micro_inverters": [micro(f"M{i}", "GW") for i in range(100)]}]
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=full)
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=[])

    (envoy,) = await client.inverters_summary(envoy_serial_number="GW")

    assert len(envoy.micro_inverters) == 100
    assert len(fake.received) == 2


async def test_inverters_summary_stops_when_server_ignores_page(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    full = [{"signal_strength": 1, "micro_inverters": [micro(f"M{i}", "GW") for i in range(100)]}]
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=full)

    (envoy,) = await client.inverters_summary(site_id=1)

    # The second page repeats the first: nothing new, so the walk ends there.
    assert len(fake.received) == 2
    assert len(envoy.micro_inverters) == 100


async def test_inverters_summary_page_continuing_a_gateway_seen_before(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    first = [
        {"signal_strength": None, "micro_inverters": [micro(f"M{i}", "GW") for i in range(100)]}
    ]
    # The second page repeats one microinverter already seen and adds a new one.
    second = [{"signal_strength": 5, "micro_inverters": [micro("M99", "GW"), micro("M100", "GW")]}]
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=first)
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=second)

    (envoy,) = await client.inverters_summary(site_id=1)

    assert [m.serial_number for m in envoy.micro_inverters][-2:] == ["M99", "M100"]
    assert len(envoy.micro_inverters) == 101
    # No strength on the first page: the next page's is used.
    assert envoy.signal_strength == 5


async def test_inverters_summary_new_gateway_with_repeated_micro(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    first = [{"micro_inverters": [micro(f"M{i}", "GW1") for i in range(100)]}]
    second = [{"signal_strength": 3, "micro_inverters": [micro("M5", "GW2"), micro("N1", "GW2")]}]
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=first)
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=second)

    gw1, gw2 = await client.inverters_summary(site_id=1)

    # A serial number appears once across gateways.
    assert [m.serial_number for m in gw2.micro_inverters] == ["N1"]
    assert gw2.signal_strength == 3
    assert [m["serial_number"] for m in gw2.raw["micro_inverters"]] == ["N1"]
    assert len(gw1.micro_inverters) == 100


async def test_inverters_summary_gateways_without_serials_kept_apart(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    anonymous = [
        {"signal_strength": 1, "micro_inverters": [{"power_produced": 5}]},
        {"signal_strength": 2, "micro_inverters": [{"power_produced": 6}]},
    ]
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", data=anonymous)

    envoys = await client.inverters_summary(site_id=1)

    assert [e.signal_strength for e in envoys] == [1, 2]
    assert envoys[0].envoy_serial_number is None
    assert len(fake.received) == 1


async def test_walks_give_up_after_max_pages(
    client: EnphaseClient, fake: FakeEnphase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that keeps inventing pages cannot make a walk endless."""
    monkeypatch.setattr(client_module, "MAX_PAGES", 3)
    systems_server(
        fake,
        "GET",
        "/systems",
        [list(range(i * 100, i * 100 + 100)) for i in range(9)],
        total=10_000,
    )
    counter = iter(range(10_000))

    def endless(_: Received) -> web.Response:
        micros = [micro(f"M{next(counter)}", "GW") for _ in range(100)]
        return web.json_response([{"micro_inverters": micros}])

    fake.add("GET", "/systems/inverters_summary_by_envoy_or_site", endless)

    assert len(await client.all_systems()) == 300
    (envoy,) = await client.inverters_summary(site_id=1)
    assert len(envoy.micro_inverters) == 300
    assert len(fake.received) == 6
