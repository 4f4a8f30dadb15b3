"""Events and alarms: windows split into calls of at most a week, bad windows refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiohttp import web
import pytest

from custom_components.enphase_enlighten.api import (
    EnphaseClient,
    EnphaseServerError,
    EnphaseWindowError,
    RequestRecord,
)
from tests.api.fake_enphase import NOW, FakeEnphase, Received

WEEK = 7 * 24 * 3600


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def windows_sent(fake: FakeEnphase) -> list[tuple[int, int]]:
    return [(int(r.query["start_time"]), int(r.query["end_time"])) for r in fake.received]


def empty_events(fake: FakeEnphase, system_id: int = 1) -> None:
    fake.reply("GET", f"/systems/{system_id}/events", data={"events": [], "system_id": system_id})


async def test_long_window_split_into_weeks(client: EnphaseClient, fake: FakeEnphase) -> None:
    empty_events(fake)
    start = NOW - timedelta(days=20)

    await client.events(1, start, NOW)

    s = epoch(start)
    assert windows_sent(fake) == [
        (s, s + WEEK),
        (s + WEEK, s + 2 * WEEK),
        (s + 2 * WEEK, epoch(NOW)),
    ]


async def test_exactly_one_week_is_one_call(client: EnphaseClient, fake: FakeEnphase) -> None:
    empty_events(fake)
    start = NOW - timedelta(days=8)

    await client.events(1, start, start + timedelta(days=7))

    assert windows_sent(fake) == [(epoch(start), epoch(start) + WEEK)]


async def test_one_second_over_a_week_is_two_calls(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    empty_events(fake)
    start = NOW - timedelta(days=8)

    await client.events(1, start, start + timedelta(days=7, seconds=1))

    s = epoch(start)
    assert windows_sent(fake) == [(s, s + WEEK), (s + WEEK, s + WEEK + 1)]


async def test_end_defaults_to_now(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/1/alarms", data={"alarms": [], "system_id": 1})
    start = NOW - timedelta(days=10)

    await client.alarms(1, start)

    assert windows_sent(fake) == [
        (epoch(start), epoch(start) + WEEK),
        (epoch(start) + WEEK, epoch(NOW)),
    ]
    assert all(r.query["cleared"] == "false" for r in fake.received)


async def test_empty_window_is_one_call(client: EnphaseClient, fake: FakeEnphase) -> None:
    empty_events(fake)

    await client.events(1, NOW, NOW)

    assert windows_sent(fake) == [(epoch(NOW), epoch(NOW))]


async def test_other_timezones_and_fractions(client: EnphaseClient, fake: FakeEnphase) -> None:
    empty_events(fake)
    sydney = timezone(timedelta(hours=10))
    start = (NOW - timedelta(days=2, microseconds=500_000)).astimezone(sydney)

    await client.events(1, start, NOW.astimezone(sydney))

    # Whole epoch seconds, rounded down, whatever the offset.
    assert windows_sent(fake) == [(epoch(NOW - timedelta(days=2)) - 1, epoch(NOW))]


@pytest.mark.parametrize(
    ("now", "earliest"),
    [
        (NOW, datetime(2025, 9, 21, 12, 0, tzinfo=UTC)),
        # The day is clamped to the shorter month: 30 Nov - 9 months = 28 Feb.
        (datetime(2026, 11, 30, 8, 0, tzinfo=UTC), datetime(2026, 2, 28, 8, 0, tzinfo=UTC)),
        (datetime(2026, 3, 31, 0, 0, tzinfo=UTC), datetime(2025, 6, 30, 0, 0, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("method", ["events", "alarms"])
async def test_nine_month_guard(
    make_client: Callable[..., EnphaseClient],
    fake: FakeEnphase,
    records: list[RequestRecord],
    token_calls: list[int],
    now: datetime,
    earliest: datetime,
    method: str,
) -> None:
    client = make_client(now=now.timestamp)
    fake.reply("GET", f"/systems/1/{method}", data={method: [], "system_id": 1})
    fetch = getattr(client, method)

    with pytest.raises(EnphaseWindowError) as caught:
        await fetch(1, earliest - timedelta(seconds=1), earliest + timedelta(hours=1))

    assert isinstance(caught.value, ValueError)
    assert "9 months" in str(caught.value)
    assert fake.received == []
    assert records == []
    assert token_calls == []

    # The earliest moment itself is allowed.
    await fetch(1, earliest, earliest + timedelta(hours=1))
    assert windows_sent(fake) == [(epoch(earliest), epoch(earliest) + 3600)]


@pytest.mark.parametrize("method", ["events", "alarms"])
async def test_end_before_start_refused_before_any_request(
    client: EnphaseClient,
    fake: FakeEnphase,
    records: list[RequestRecord],
    token_calls: list[int],
    method: str,
) -> None:
    with pytest.raises(EnphaseWindowError) as caught:
        await getattr(client, method)(1, NOW - timedelta(hours=1), NOW - timedelta(hours=2))

    assert "before it starts" in str(caught.value)
    assert fake.received == []
    assert records == []
    assert token_calls == []


async def test_start_in_the_future_without_end_refused(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    with pytest.raises(EnphaseWindowError):
        await client.events(1, NOW + timedelta(days=1))
    assert fake.received == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 6, 20), None),  # noqa: DTZ001 - naive on purpose
        (NOW - timedelta(days=1), datetime(2026, 6, 21)),  # noqa: DTZ001
    ],
)
async def test_naive_datetimes_refused(
    client: EnphaseClient, fake: FakeEnphase, start: datetime, end: datetime | None
) -> None:
    with pytest.raises(EnphaseWindowError, match="timezone-aware"):
        await client.alarms(1, start, end)
    assert fake.received == []


def event(type_id: int, serial: str, start: int, end: int | None, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "event_type_id": type_id,
        "event_start_time": start,
        "event_end_time": end,
        "serial_number": serial,
    }


async def test_events_concatenated_and_deduplicated(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    start = NOW - timedelta(days=10)
    spanning = event(28, "GW1", epoch(start) + WEEK - 60, None, "Open")
    first = event(5, "M1", epoch(start) + 10, epoch(start) + 20, "Closed")
    later = event(5, "M1", epoch(start) + WEEK + 10, None, "Open")
    fake.reply("GET", "/systems/1/events", data={"events": [first, spanning], "system_id": 1})
    fake.reply("GET", "/systems/1/events", data={"events": [spanning, later], "system_id": 1})

    events = await client.events(1, start)

    assert [(e.event_type_id, e.serial_number, e.status) for e in events] == [
        (5, "M1", "Closed"),
        (28, "GW1", "Open"),
        (5, "M1", "Open"),
    ]
    assert len(fake.received) == 2


async def test_alarms_deduplicated_by_id(client: EnphaseClient, fake: FakeEnphase) -> None:
    start = NOW - timedelta(days=10)
    fake.reply(
        "GET",
        "/systems/1/alarms",
        data={"alarms": [{"id": "1", "severity": 2}, {"id": "2"}], "system_id": 1},
    )
    fake.reply(
        "GET",
        "/systems/1/alarms",
        data={"alarms": [{"id": "2"}, {"id": "3", "cleared": "false"}], "system_id": 1},
    )

    alarms = await client.alarms(1, start)

    assert [a.id for a in alarms] == ["1", "2", "3"]
    assert alarms[0].severity == 2
    assert alarms[2].cleared is False


async def test_error_in_a_later_window_raises(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    empty_events(fake)
    fake.reply("GET", "/systems/1/events", status=500, fixture="error_500")

    with pytest.raises(EnphaseServerError):
        await client.events(1, NOW - timedelta(days=10))

    assert [r.status for r in records] == [200, 500]


async def test_windows_follow_the_requests_serially(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    """Each window is a separate request, in order, so a minute limit sees them one by one."""
    order: list[int] = []

    def respond(received: Received) -> web.Response:
        order.append(int(received.query["start_time"]))
        return web.json_response({"events": [], "system_id": 1})

    fake.add("GET", "/systems/1/events", respond)

    await client.events(1, NOW - timedelta(days=30))

    assert order == sorted(order)
    assert len(order) == 5


async def test_default_clock_is_read_at_call_time(
    make_client: Callable[..., EnphaseClient], fake: FakeEnphase, freezer: Any
) -> None:
    """Without an injected clock the client reads the time when it is called, not at import."""
    empty_events(fake)
    client = make_client(now=None)
    freezer.move_to(NOW)

    await client.events(1, NOW - timedelta(days=2))

    assert windows_sent(fake) == [(epoch(NOW - timedelta(days=2)), epoch(NOW))]
