"""Telemetry endpoints: the Swagger examples parsed, windows walked a day or week per call, limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path
from typing import Any

from aiohttp import web
import pytest

from custom_components.enphase_enlighten.api import (
    EnphaseClient,
    EnphaseForbiddenError,
    EnphaseWindowError,
)
from tests.api.fake_enphase import NOW, FakeEnphase, Received

EXAMPLES = json.loads(
    (Path(__file__).parent.parent / "simulator" / "telemetry_examples.json").read_text()
)
SYSTEM = 698905955


def example(name: str, status: str = "200") -> Any:
    return EXAMPLES[name][status]


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


START = datetime.fromtimestamp(1384122700 - 900, UTC)


@pytest.fixture
def example_client(make_client: Any) -> EnphaseClient:
    """A client whose clock is a day after the Swagger examples' intervals (November 2013)."""
    client: EnphaseClient = make_client(now=lambda: START.timestamp() + 86400)
    return client


async def test_production_micro_example(example_client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", f"/systems/{SYSTEM}/telemetry/production_micro", data=example(
        "telemetry_production_micro"))  # fmt: skip

    series = await example_client.production_micro(SYSTEM, START, START + timedelta(hours=1))

    assert [(i.end_at, i.wh, i.power_w, i.seconds) for i in series.intervals] == [
        (at(1384122700), 40, 30, 300),
        (at(1384123600), 40, 20, 300),
    ]
    assert series.intervals[0].start_at == at(1384122700 - 300)
    assert series.total_devices == 9
    assert series.last_report_at == at(1445619615)
    # The last upload carries what ended a minute before it, floored to the interval.
    assert series.reported_until == at((1445619615 - 60) // 300 * 300)
    (request,) = fake.received
    assert request.query == {"start_at": str(int(START.timestamp())), "granularity": "day"}


@pytest.mark.parametrize(
    ("method", "name", "path"),
    [
        ("production_meter", "telemetry_production_meter", "telemetry/production_meter"),
        ("consumption_meter", "telemetry_consumption_meter", "telemetry/consumption_meter"),
        ("energy_import", "energy_import_telemetry", "energy_import_telemetry"),
        ("energy_export", "energy_export_telemetry", "energy_export_telemetry"),
    ],
)
async def test_quarter_series_examples(
    example_client: EnphaseClient, fake: FakeEnphase, method: str, name: str, path: str
) -> None:
    fake.reply("GET", f"/systems/{SYSTEM}/{path}", data=example(name))

    series = await getattr(example_client, method)(SYSTEM, START, START + timedelta(hours=1))

    # Import and export nest their intervals one list deeper: read the same way.
    assert [(i.end_at, i.wh, i.seconds) for i in series.intervals] == [
        (at(1384122700), 40, 900),
        (at(1384123600), 40, 900),
    ]


async def test_production_meter_without_meta_is_reported_where_devices_report(
    example_client: EnphaseClient, fake: FakeEnphase
) -> None:
    body = {
        "system_id": 1,
        "intervals": [
            {"end_at": 1384122700, "devices_reporting": 1, "wh_del": 40},
            {"end_at": 1384123600, "devices_reporting": 0, "wh_del": 0},
        ],
    }
    fake.reply("GET", "/systems/1/telemetry/production_meter", data=body)

    series = await example_client.production_meter(1, START, START + timedelta(hours=1))

    # The trailing zero is "not reported yet": the data ends with the last reporting interval.
    assert series.reported_until == at(1384122700)


async def test_battery_example(example_client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", f"/systems/{SYSTEM}/telemetry/battery", data=example("telemetry_battery"))

    battery = await example_client.battery_telemetry(SYSTEM, START, START + timedelta(hours=1))

    (interval,) = battery.intervals
    assert (interval.charge_wh, interval.discharge_wh, interval.soc_percent) == (40, 0, 25)
    assert battery.last_reported_soc == 97  # "97%" in the answer
    assert battery.latest_soc == (at(1384122700), 25)
    assert [i.wh for i in battery.channel("charge").intervals] == [40]
    assert [i.wh for i in battery.channel("discharge").intervals] == [0]
    with pytest.raises(ValueError, match="soc"):
        battery.channel("soc")
    # The state of charge now: the aggregate, dated by the gateway's last report when that
    # is newer than the window's last interval (a back-fill's window is weeks old).
    later = at(1384122700) + timedelta(days=20)
    assert battery.current_soc(later) == (later, 97)
    assert battery.current_soc(None) == (at(1384122700), 25)
    assert battery.current_soc(at(1384122700) - timedelta(hours=1)) == (at(1384122700), 25)


@pytest.mark.parametrize("soc", [None, "n/a", "140%", ""])
async def test_battery_soc_unreadable_is_none(
    example_client: EnphaseClient, fake: FakeEnphase, soc: Any
) -> None:
    body = dict(example("telemetry_battery"), last_reported_aggregate_soc=soc)
    fake.reply("GET", f"/systems/{SYSTEM}/telemetry/battery", data=body)

    battery = await example_client.battery_telemetry(SYSTEM, START, START + timedelta(hours=1))

    assert battery.last_reported_soc is None
    assert battery.current_soc(at(1384122700) + timedelta(days=1)) == battery.latest_soc


async def test_latest_telemetry_example(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/698943141/latest_telemetry", data=example("latest_telemetry"))

    latest = await client.latest_telemetry(698943141)

    # Phases without a meter are null and left out of the sums.
    assert latest.meter_power("production") == (755, at(1701418500))
    assert latest.meter_power("consumption") == (12, at(1701418500))
    assert latest.meter_power("storage") is None
    assert latest.battery_power == (-15, at(1701418467))
    assert [b.operational_mode for b in latest.batteries] == ["Idle", "Idle"]


async def test_latest_telemetry_all_null(client: EnphaseClient, fake: FakeEnphase) -> None:
    body = {
        "system_id": 1,
        "devices": {
            "meters": [{"name": "consumption", "channel": 1, "power": None}],
            "encharges": [{"name": "Encharge", "power": None, "last_report_at": None}],
        },
    }
    fake.reply("GET", "/systems/1/latest_telemetry", data=body)

    latest = await client.latest_telemetry(1)

    assert latest.meter_power("consumption") is None
    assert latest.battery_power is None


async def test_energy_lifetime_example(client: EnphaseClient, fake: FakeEnphase) -> None:
    body = dict(example("energy_lifetime"), production=[15422, 15421, 17118, 0, 0])
    fake.reply("GET", "/systems/66/energy_lifetime", data=body)

    series = await client.energy_lifetime(66, date(2013, 1, 1), production="all")

    assert series.meter_start_date == date(2013, 1, 4)
    assert series.days("production")[date(2013, 1, 5)] == 0
    # Trailing zeros are days not reported yet.
    assert series.reported("production") == {
        date(2013, 1, 1): 15422,
        date(2013, 1, 2): 15421,
        date(2013, 1, 3): 17118,
    }
    assert series.days("meter_production")[date(2013, 1, 3)] == 11388
    assert fake.received[0].query == {"start_date": "2013-01-01", "production": "all"}


@pytest.mark.parametrize(
    ("method", "name", "lists"),
    [
        ("consumption_lifetime", "consumption_lifetime", ("consumption",)),
        ("battery_lifetime", "battery_lifetime", ("charge", "discharge")),
        ("energy_import_lifetime", "energy_import_lifetime", ("import",)),
        ("energy_export_lifetime", "energy_export_lifetime", ("export",)),
    ],
)
async def test_other_lifetime_examples(
    client: EnphaseClient, fake: FakeEnphase, method: str, name: str, lists: tuple[str, ...]
) -> None:
    fake.reply("GET", f"/systems/66/{name}", data=example(name))

    series = await getattr(client, method)(66, date(2016, 8, 1), date(2016, 8, 6))

    for key in lists:
        assert series.days(key)[date(2016, 8, 1)] == 15422
        assert len(series.days(key)) == 6
    assert fake.received[0].query == {"start_date": "2016-08-01", "end_date": "2016-08-06"}


async def test_lifetime_end_before_start_refused(client: EnphaseClient, fake: FakeEnphase) -> None:
    with pytest.raises(EnphaseWindowError):
        await client.consumption_lifetime(66, date(2016, 8, 6), date(2016, 8, 1))
    assert fake.received == []


def _quarter_server(fake: FakeEnphase, path: str, field: str, stop: int | None = None) -> None:
    """Answer like Enphase: intervals of the day or week after start_at, capped at NOW."""

    def respond(request: Received) -> web.Response:
        start = int(request.query["start_at"])
        length = 86400 if request.query["granularity"] == "day" else 7 * 86400
        end = min(start + length, int(NOW.timestamp()))
        last = end if stop is None else min(end, stop)
        ends = range((start // 900 + 1) * 900, last + 1, 900)
        body = {
            "system_id": 1,
            "start_at": start,
            "end_at": end,
            "intervals": [{"end_at": e, "devices_reporting": 1, field: 1} for e in ends],
        }
        return web.json_response(body)

    fake.add("GET", path, respond)


async def test_long_window_walked_in_weeks(client: EnphaseClient, fake: FakeEnphase) -> None:
    _quarter_server(fake, "/systems/1/telemetry/consumption_meter", "enwh")
    start = NOW - timedelta(days=16)

    series = await client.consumption_meter(1, start)

    sent = [(int(r.query["start_at"]), r.query["granularity"]) for r in fake.received]
    s = int(start.timestamp())
    assert sent == [(s, "week"), (s + 7 * 86400, "week"), (s + 14 * 86400, "week")]
    # Every quarter of the 16 days once, none twice, none outside the window.
    assert len(series.intervals) == 16 * 96
    assert series.intervals[0].end_at == start + timedelta(minutes=15)
    assert series.intervals[-1].end_at == NOW


async def test_short_window_is_one_day_call(client: EnphaseClient, fake: FakeEnphase) -> None:
    _quarter_server(fake, "/systems/1/energy_import_telemetry", "wh_imported")
    start = NOW - timedelta(hours=5)

    series = await client.energy_import(1, start, NOW - timedelta(hours=1))

    assert [r.query["granularity"] for r in fake.received] == ["day"]
    assert len(series.intervals) == 16


async def test_empty_answer_ends_the_walk(client: EnphaseClient, fake: FakeEnphase) -> None:
    # Reported up to 17 days ago.
    stop = int((NOW - timedelta(days=17)).timestamp())
    _quarter_server(fake, "/systems/1/telemetry/consumption_meter", "enwh", stop=stop)
    start = NOW - timedelta(days=27)

    series = await client.consumption_meter(1, start)

    # The third window starts after the data and comes back empty: no fourth call.
    assert len(fake.received) == 3
    assert series.intervals[-1].end_at == at(stop // 900 * 900)


async def test_start_over_two_years_back_refused_before_sending(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    with pytest.raises(EnphaseWindowError, match="2 years"):
        await client.production_micro(1, datetime(2024, 6, 20, 23, 59, tzinfo=UTC))
    with pytest.raises(EnphaseWindowError, match="future"):
        await client.battery_telemetry(1, NOW + timedelta(minutes=1))
    with pytest.raises(EnphaseWindowError, match="timezone"):
        await client.energy_export(1, datetime(2026, 6, 1))  # noqa: DTZ001
    with pytest.raises(EnphaseWindowError, match="before it starts"):
        await client.production_meter(1, NOW - timedelta(days=1), NOW - timedelta(days=2))
    assert fake.received == []


async def test_exactly_two_years_back_is_sent(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/1/telemetry/production_micro", data={"intervals": []})

    await client.production_micro(1, datetime(2024, 6, 21, 12, 0, tzinfo=UTC), NOW - timedelta(
        days=729))  # fmt: skip

    assert len(fake.received) == 1


async def test_forbidden_channel_raises(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply(
        "GET", "/systems/1/telemetry/battery", status=403, data=example("telemetry_battery", "403")
    )

    with pytest.raises(EnphaseForbiddenError):
        await client.battery_telemetry(1, NOW - timedelta(hours=2))
