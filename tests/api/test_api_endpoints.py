"""Each endpoint's request and the parsing of its reference example, quirks included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from custom_components.enphase_enlighten.api import (
    Address,
    CellularModem,
    EnphaseClient,
    RequestRecord,
)
from tests.api.fake_enphase import NOW, FakeEnphase, fixture_json


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def test_systems_page_parsed_with_placeholders_as_none(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    fake.reply("GET", "/systems", fixture="systems_page")

    page = await client.systems()

    assert (page.total, page.current_page, page.size, page.count) == (28, 1, 2, 2)
    assert [s.system_id for s in page.systems] == [698910067, 698906018]
    first, second = page.systems
    assert first.name == "Enphase System"
    assert first.public_name == "Residential System"
    assert first.timezone == "Australia/Sydney"
    assert first.address == Address(city="Sydney", state="NSW", country="AU", postal_code="2127")
    assert first.connection_type == "ethernet"
    assert first.status == "micro"
    # The list endpoints always send -1 for these: never a value.
    assert (first.energy_lifetime, first.energy_today, first.system_size) == (None, None, None)
    assert first.last_report_at == utc(1508174262)
    assert first.last_energy_at == utc(1508174172)
    assert first.operational_at == utc(1497445200)
    assert first.last_report_at.tzinfo is UTC
    assert first.attachment_type is None
    assert first.interconnect_date is None
    assert first.reference == "106015287"
    assert first.other_references == ("106015287",)
    # The second system has no reference fields at all.
    assert second.reference is None
    assert second.other_references == ()
    assert second.status == "normal"
    assert first.raw == fixture_json("systems_page")["systems"][0]
    (request,) = fake.requests_to("/systems")
    assert request.method == "GET"
    assert request.query == {"page": "1", "size": "10"}


async def test_systems_sends_page_size_and_sort(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems", fixture="systems_page")

    await client.systems(page=3, size=50, sort_by="-id")

    assert fake.received[0].query == {"page": "3", "size": "50", "sort_by": "-id"}


async def test_search_posts_json_body_and_parses_nulls(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    fake.reply("POST", "/systems/search", fixture="search_page")

    page = await client.search_systems(
        ids=[698910067, 698906018],
        name="Enphase",
        reference="106015287",
        other_reference="other",
        statuses=["normal", "micro"],
        sort_by="-id",
        page=2,
        size=5,
    )

    (request,) = fake.received
    assert request.method == "POST"
    assert request.path == "/api/v4/systems/search"
    assert request.query == {"page": "2", "size": "5"}
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == {
        "system": {
            "ids": [698910067, 698906018],
            "name": "Enphase",
            "reference": "106015287",
            "other_reference": "other",
            "statuses": ["normal", "micro"],
        },
        "sort_by": "-id",
    }
    first, second = page.systems
    # The search example has nulls and a city-less address.
    assert first.timezone is None
    assert first.address == Address()
    assert first.last_energy_at is None
    assert first.operational_at is None
    assert first.last_report_at == utc(1557400231)
    assert first.energy_lifetime is None
    assert second.address == Address(state="CA", country="US", postal_code="94954")
    assert second.other_references == ("106015287",)


async def test_search_without_filters_still_sends_system_object(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    fake.reply("POST", "/systems/search", fixture="search_page")

    await client.search_systems()

    # Enphase answers 422 "system is missing at Json body location" otherwise.
    assert fake.received[0].json() == {"system": {}}
    assert fake.received[0].query == {"page": "1", "size": "100"}


async def test_system_parsed(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/72", fixture="system")

    system = await client.system(72)

    assert system.system_id == 72
    assert system.timezone == "America/Los_Angeles"
    assert system.connection_type == "cellular"
    assert system.attachment_type == "acm"
    assert system.interconnect_date == date(2012, 10, 13)
    assert system.operational_at == utc(1357023600)
    assert system.system_size is None
    assert fake.received[0].query == {}


async def test_summary_parsed(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/698910067/summary", fixture="summary")

    summary = await client.summary(698910067)

    assert summary.system_id == 698910067
    # Zeros are real values, not placeholders.
    assert (summary.current_power, summary.energy_lifetime, summary.energy_today) == (0, 0, 0)
    assert summary.last_interval_end_at == utc(1557400231)
    assert summary.last_report_at == utc(1557400231)
    assert summary.operational_at is None
    assert summary.modules == 5
    assert summary.size_w == 1250
    assert summary.nmi == "1213141516"
    assert summary.source == "meter"
    assert summary.status == "normal"
    assert summary.summary_date == date(2019, 5, 12)
    assert summary.battery_charge_w == 1280
    assert summary.battery_discharge_w == 1280
    assert summary.battery_capacity_wh == 3360
    assert fake.received[0].query == {}


async def test_summary_for_a_date(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/5/summary", fixture="summary")

    await client.summary(5, summary_date=date(2026, 6, 20))

    assert fake.received[0].query == {"summary_date": "2026-06-20"}


async def test_devices_every_kind_and_quirk(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/698910067/devices", fixture="devices")

    devices = await client.devices(698910067)

    assert devices.system_id == 698910067
    assert devices.total_devices == 11
    assert [d.kind for d in devices.devices] == [
        "micros",
        "micros",
        "meters",
        "meters",
        "gateways",
        "q_relays",
        "q_relays",
        "acbs",
        "acbs",
        "encharges",
        "enpowers",
        "ev_chargers",
    ]
    by_serial = devices.by_serial()
    assert len(by_serial) == 12
    # Two meters and two AC batteries share an id; serial numbers tell them apart.
    meters = [d for d in devices.devices if d.kind == "meters"]
    assert meters[0].id == meters[1].id == 1059640322
    assert {m.serial_number for m in meters} == {"901553005272EIM1", "901553005272EIM2"}
    assert by_serial["901553005272EIM1"].config_type == "Net"
    assert by_serial["901553005272EIM2"].config_type == "Production"
    assert by_serial["901553005272EIM1"].state == "enabled"
    assert by_serial["901553005272EIM1"].sku is None
    acbs = [d for d in devices.devices if d.kind == "acbs"]
    assert acbs[0].id == acbs[1].id
    assert by_serial["911364446952"] is not by_serial["911499228280"]

    micro = by_serial["902167438951"]
    assert micro.kind == "micros"
    assert micro.id == 1023273222
    assert micro.name == "Microinverter 902167438951"
    assert micro.part_number == "800-01333-r01"
    assert micro.sku == "IQ8A-72-2-US"
    assert micro.model == "M250"
    assert micro.product_name == "M250"
    assert micro.status == "normal"
    assert micro.active is True
    assert micro.last_report_at == utc(1508174262)
    assert micro.firmware is None
    assert micro.cellular_modem is None

    gateway = by_serial["901553005272"]
    assert gateway.firmware == "D4.6.11.170403 (799d2d)"
    assert gateway.cellular_modem == CellularModem(
        imei="352009112238477",
        part_num="860-00157-r01",
        sku="CELLMODEM-M1",
        plan_start_date=utc(1614796200),
        plan_end_date=utc(1772562600),
    )

    charger = by_serial["202313029329"]
    assert charger.kind == "ev_chargers"
    # The EV charger sends "true" as a string, and `firmware` instead of emu_sw_version.
    assert charger.active is True
    assert charger.firmware == "v0.04.17"
    assert charger.product_name is None
    assert charger.id == 202313029329
    assert by_serial["912158973973"].model == ""
    assert by_serial["121593621979"].product_name == "IQ Battery R3 - 5P"
    assert by_serial["121245173988"].kind == "enpowers"
    assert charger.raw == fixture_json("devices")["devices"]["ev_chargers"][0]


async def test_retrieve_system_id(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/retrieve_system_id", fixture="retrieve_system_id")

    assert await client.retrieve_system_id("121842012242") == 123
    assert fake.received[0].query == {"serial_num": "121842012242"}


async def test_events_parsed(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/701644354/events", fixture="events")
    start = NOW - timedelta(days=1)

    (event,) = await client.events(701644354, start)

    assert event.system_id == 701644354
    assert event.status == "Closed"
    assert event.event_type_id == 28
    assert event.start_time == utc(1740213328)
    assert event.end_time == utc(1740373425)
    assert event.serial_number == "202241095486"
    assert fake.received[0].query == {
        "start_time": str(int(start.timestamp())),
        "end_time": str(int(NOW.timestamp())),
    }


async def test_alarms_parsed(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/701644354/alarms", fixture="alarms")
    start = NOW - timedelta(hours=6)

    (alarm,) = await client.alarms(701644354, start)

    assert alarm.system_id == 701644354
    assert alarm.id == "1082701398"
    assert alarm.cleared is False
    assert alarm.severity == 4
    assert alarm.event_type_id == 28
    assert alarm.alarm_start_time == utc(1737750626)
    assert alarm.alarm_end_time is None
    (impacted,) = alarm.events
    assert impacted.serial_number == "202241095486"
    assert impacted.start_date == utc(1737750626)
    assert impacted.end_date == utc(1737866703)
    assert fake.received[0].query["cleared"] == "false"


async def test_cleared_alarms_requested(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/7/alarms", data={"system_id": 7, "alarms": [{"id": 9}]})

    (alarm,) = await client.alarms(7, NOW - timedelta(hours=1), NOW, cleared=True)

    assert fake.received[0].query["cleared"] == "true"
    # No `cleared` in the body: the filter asked for says what it is; numeric ids become text.
    assert alarm.cleared is True
    assert alarm.id == "9"


async def test_event_types_parsed(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/event_types", fixture="event_types")

    types = await client.event_types()

    assert [t.event_type_id for t in types] == [28, 4781]
    first, second = types
    assert first.event_type_key == "envoy_no_report"
    assert first.stateful is True
    assert first.event_name == "Gateway not reporting"
    assert first.event_description is not None
    assert first.event_description.startswith("The broadband Internet connection")
    assert first.recommended_action is not None
    assert first.recommended_action.startswith("Check that your gateway")
    assert second.stateful is False
    assert second.recommended_action == "No action is required."
    assert fake.received[0].query == {}


async def test_one_event_type(client: EnphaseClient, fake: FakeEnphase) -> None:
    single = fixture_json("event_types")["event_types"][1]
    fake.reply("GET", "/systems/event_types", data=single)

    (event_type,) = await client.event_types(4781)

    assert fake.received[0].query == {"event_type_id": "4781"}
    assert event_type.event_type_key == "acb_sleeping"


async def test_inverters_summary_power_as_object_or_number(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", fixture="inverters_summary")

    (envoy,) = await client.inverters_summary(site_id=698910067)

    assert envoy.signal_strength == 5
    assert envoy.envoy_serial_number == "121842012242"
    first, second = envoy.micro_inverters
    assert first.power_produced == 96.0  # {"value": 96, "units": "W", "precision": 0}
    assert second.power_produced == 20.0  # a bare number
    assert first.energy == 232.0
    assert second.energy == 120.0
    assert first.serial_number == "688346865858"
    assert first.id == 1059689835
    assert first.model == "M215"
    assert first.part_number == "800-00107-r01"
    assert first.sku == "M215-60-2LL-S22-NA"
    assert first.status == "normal"
    assert first.proc_load == "521-00005-r00-v02.32.01"
    assert first.param_table == "549-00018-r00-v02.32.01"
    assert first.envoy_serial_number == "121842012242"
    assert first.grid_profile == "57227c50e4d7973ae602c4e6"
    assert first.last_report_date == utc(1600427843)
    assert envoy.raw == fixture_json("inverters_summary")[0]
    assert fake.received[0].query == {"site_id": "698910067", "page": "1", "size": "100"}


async def test_inverters_summary_by_envoy(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", fixture="inverters_summary")

    await client.inverters_summary(envoy_serial_number="121842012242")

    assert fake.received[0].query == {
        "envoy_serial_number": "121842012242",
        "page": "1",
        "size": "100",
    }


async def test_every_endpoint_reports_its_name(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    fake.reply("GET", "/systems", fixture="systems_page")
    fake.reply("POST", "/systems/search", fixture="search_page")
    fake.reply("GET", "/systems/72", fixture="system")
    fake.reply("GET", "/systems/72/summary", fixture="summary")
    fake.reply("GET", "/systems/72/devices", fixture="devices")
    fake.reply("GET", "/systems/retrieve_system_id", fixture="retrieve_system_id")
    fake.reply("GET", "/systems/72/events", fixture="events")
    fake.reply("GET", "/systems/72/alarms", fixture="alarms")
    fake.reply("GET", "/systems/event_types", fixture="event_types")
    fake.reply("GET", "/systems/inverters_summary_by_envoy_or_site", fixture="inverters_summary")
    start = NOW - timedelta(days=1)

    await client.systems()
    await client.search_systems(ids=[72])
    await client.system(72)
    await client.summary(72)
    await client.devices(72)
    await client.retrieve_system_id("121842012242")
    await client.events(72, start)
    await client.alarms(72, start)
    await client.event_types()
    await client.inverters_summary(site_id=72)

    assert [(r.endpoint, r.method, r.status) for r in records] == [
        ("systems", "GET", 200),
        ("search", "POST", 200),
        ("system", "GET", 200),
        ("summary", "GET", 200),
        ("devices", "GET", 200),
        ("retrieve_system_id", "GET", 200),
        ("events", "GET", 200),
        ("alarms", "GET", 200),
        ("event_types", "GET", 200),
        ("inverters_summary", "GET", 200),
    ]
    assert all(r.started_at == NOW.timestamp() for r in records)
    assert all(r.duration >= 0 for r in records)


async def test_search_with_empty_ids_makes_no_request(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    fake.reply("POST", "/systems/search", fixture="search_page")

    page = await client.search_systems(ids=[])
    everything = await client.search_all_systems(ids=())

    # Enphase ignores empty filters and would return every system.
    assert page.systems == []
    assert (page.total, page.count) == (0, 0)
    assert everything == []
    assert fake.received == []
    assert records == []
