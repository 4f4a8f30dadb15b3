"""open_alarms, open_events and windowed events: one request for what is open, weeks for history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.enphase_enlighten.api import (
    EnphaseClient,
    EnphaseWindowError,
    Event,
    RequestRecord,
)
from tests.api.fake_enphase import NOW, FakeEnphase

# The Swagger's examples of the two endpoints (the reference text has none).
OPEN_ALARMS = {
    "alarms": [
        {
            "id": "698957008.8.1766109572000",
            "severity": 2,
            "events": [
                {"serial_number": "202241095486", "start_date": 1737750626, "end_date": None}
            ],
            "event_type_id": 28,
            "alarm_start_time": 1737750626,
        }
    ],
    "system_id": 701644354,
}
OPEN_EVENTS = {
    "events": [
        {
            "status": "open",
            "event_type_id": 28,
            "event_start_time": 1740213328,
            "event_end_time": None,
            "serial_number": "202241095486",
        }
    ],
    "system_id": 701644354,
}


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def test_open_alarms_one_request_no_window(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    fake.reply("GET", "/systems/701644354/open_alarms", data=OPEN_ALARMS)

    (alarm,) = await client.open_alarms(701644354)

    assert alarm.id == "698957008.8.1766109572000"
    assert alarm.cleared is False
    assert alarm.severity == 2
    assert alarm.event_type_id == 28
    # A year old and still returned: no window, no 9-month limit.
    assert alarm.alarm_start_time == utc(1737750626)
    assert alarm.alarm_end_time is None
    assert alarm.serial_numbers == ("202241095486",)
    assert fake.received[0].query == {}
    assert [(r.endpoint, r.status) for r in records] == [("open_alarms", 200)]


async def test_open_events_parsed_lower_case_status(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    fake.reply("GET", "/systems/701644354/open_events", data=OPEN_EVENTS)

    (event,) = await client.open_events(701644354)

    assert event.status == "open"
    assert event.is_open
    assert event.start_time == utc(1740213328)
    assert event.end_time is None
    assert event.serial_number == "202241095486"
    assert fake.received[0].query == {}
    assert [(r.endpoint, r.status) for r in records] == [("open_events", 200)]


async def test_event_ids_stable_and_without_the_serial() -> None:
    event = Event.from_dict(OPEN_EVENTS["events"][0], system_id=701644354)
    again = Event.from_dict(dict(OPEN_EVENTS["events"][0]), system_id=701644354)
    other = Event.from_dict(
        {**OPEN_EVENTS["events"][0], "serial_number": "202241095487"}, system_id=701644354
    )
    assert event.id == again.id
    assert event.id != other.id
    assert "202241095486" not in event.id
    assert event.id.startswith("701644354.28.1740213328.")


@pytest.mark.parametrize(
    ("status", "end", "is_open"),
    [("Open", None, True), ("Closed", 1740373425, False), ("Info", None, False)],
)
def test_event_open_from_status_and_end(status: str, end: int | None, is_open: bool) -> None:
    event = Event.from_dict(
        {"status": status, "event_type_id": 1, "event_start_time": 1, "event_end_time": end},
        system_id=1,
    )
    assert event.is_open is is_open


async def test_events_over_two_weeks_two_requests_each_event_once(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    fake.reply("GET", "/systems/7/events", data=OPEN_EVENTS | {"system_id": 7})
    start = NOW - timedelta(days=10)

    events = await client.events(7, start)

    assert len(events) == 1
    assert [r.query["start_time"] for r in fake.received] == [
        str(int(start.timestamp())),
        str(int((start + timedelta(days=7)).timestamp())),
    ]
    assert client.window_count(start) == 2
    assert client.window_count(NOW - timedelta(hours=1)) == 1


async def test_window_count_refuses_what_the_read_would(client: EnphaseClient) -> None:
    with pytest.raises(EnphaseWindowError):
        client.window_count(NOW - timedelta(days=300))
    with pytest.raises(EnphaseWindowError):
        client.window_count(NOW, NOW - timedelta(days=1))
