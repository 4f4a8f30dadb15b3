"""Headers, base URL, request records, connection failures, timeouts and malformed bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import time

import aiohttp
from aiohttp.test_utils import unused_port
import pytest

from custom_components.enphase_enlighten.api import (
    API_URL_ENV,
    DEFAULT_BASE_URL,
    EnphaseClient,
    EnphaseConnectionError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    EnphaseResponseError,
    EnphaseServerError,
    RequestRecord,
    base_url_from_env,
)
from tests.api.fake_enphase import API_KEY, NOW, TOKEN, FakeEnphase


async def test_headers_sent(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/72", fixture="system")

    await client.system(72)

    (request,) = fake.received
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["key"] == API_KEY
    assert request.headers["Accept"] == "application/json"
    # The key travels in the header only, never in the URL.
    assert "key" not in request.query
    assert request.body == b""


async def test_token_asked_for_every_request(
    client: EnphaseClient, fake: FakeEnphase, token_calls: list[int]
) -> None:
    fake.reply("GET", "/systems/72", fixture="system")

    await client.system(72)
    await client.system(72)

    assert len(token_calls) == 2


async def test_token_provider_failure_is_not_a_request(
    session: aiohttp.ClientSession,
    base_url: str,
    fake: FakeEnphase,
    records: list[RequestRecord],
) -> None:
    async def broken() -> str:
        raise RuntimeError("refresh failed")

    client = EnphaseClient(session, broken, API_KEY, base_url=base_url, on_request=records.append)

    with pytest.raises(RuntimeError):
        await client.system(1)

    assert fake.received == []
    assert records == []


def test_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_URL_ENV, raising=False)
    assert base_url_from_env() == DEFAULT_BASE_URL == "https://api.enphaseenergy.com"
    monkeypatch.setenv(API_URL_ENV, "")
    assert base_url_from_env() == DEFAULT_BASE_URL
    monkeypatch.setenv(API_URL_ENV, "   ")
    assert base_url_from_env() == DEFAULT_BASE_URL
    monkeypatch.setenv(API_URL_ENV, "http://127.0.0.1:8090/")
    assert base_url_from_env() == "http://127.0.0.1:8090"


async def test_env_override_reaches_the_server(
    session: aiohttp.ClientSession,
    base_url: str,
    fake: FakeEnphase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(API_URL_ENV, base_url + "/")
    fake.reply("GET", "/systems/72", fixture="system")

    async def token() -> str:
        return TOKEN

    client = EnphaseClient(session, token, API_KEY)

    assert client.base_url == base_url
    assert (await client.system(72)).system_id == 72
    assert fake.received[0].path == "/api/v4/systems/72"


async def test_explicit_base_url_wins_over_env(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_URL_ENV, "http://127.0.0.1:1")

    async def token() -> str:
        return TOKEN

    client = EnphaseClient(session, token, API_KEY, base_url="http://127.0.0.1:2/")

    assert client.base_url == "http://127.0.0.1:2"


async def test_default_base_url(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(API_URL_ENV, raising=False)

    async def token() -> str:
        return TOKEN

    assert EnphaseClient(session, token, API_KEY).base_url == DEFAULT_BASE_URL


async def test_record_for_success(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    fake.reply("GET", "/systems/1/summary", fixture="summary")

    await client.summary(1)

    (record,) = records
    assert record.endpoint == "summary"
    assert record.method == "GET"
    assert record.status == 200
    assert record.started_at == NOW.timestamp()
    assert 0 <= record.duration < 5


async def test_sent_reported_before_the_answer(
    make_client: Callable[..., EnphaseClient], fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    """A budget can count a request as it leaves, before Enphase has answered."""
    sent: list[tuple[RequestRecord, int]] = []
    client = make_client(on_send=lambda record: sent.append((record, len(records))))
    fake.reply("GET", "/systems/9", status=404, fixture="error_404_system")

    with pytest.raises(EnphaseNotFoundError):
        await client.system(9)

    ((record, answers_so_far),) = sent
    assert answers_so_far == 0
    assert (record.endpoint, record.status, record.started_at) == (
        "system",
        None,
        NOW.timestamp(),
    )
    assert [(r.endpoint, r.status, r.started_at) for r in records] == [
        ("system", 404, NOW.timestamp())
    ]


async def test_record_for_http_error(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    fake.reply("GET", "/systems/9", status=404, fixture="error_404_system")

    with pytest.raises(EnphaseNotFoundError):
        await client.system(9)

    assert [(r.endpoint, r.method, r.status) for r in records] == [("system", "GET", 404)]


async def test_record_and_error_for_closed_port(
    make_client: Callable[..., EnphaseClient], records: list[RequestRecord]
) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{unused_port()}")

    with pytest.raises(EnphaseConnectionError) as caught:
        await client.retrieve_system_id("121842012242")

    err = caught.value
    assert err.status is None
    assert "Cannot reach the Enphase API" in str(err)
    assert "retrieve_system_id" in str(err)
    for secret in (TOKEN, API_KEY, "121842012242"):
        assert secret not in str(err)
    assert isinstance(err.__cause__, aiohttp.ClientError)
    (record,) = records
    assert (record.endpoint, record.method, record.status) == ("retrieve_system_id", "GET", None)
    assert record.started_at == NOW.timestamp()


async def test_record_and_error_for_timeout(
    make_client: Callable[..., EnphaseClient],
    fake: FakeEnphase,
    records: list[RequestRecord],
) -> None:
    client = make_client(timeout=0.2)

    async def hang(_: object) -> None:
        await fake.release.wait()

    fake.add("POST", "/systems/search", hang)  # type: ignore[arg-type]

    with pytest.raises(EnphaseConnectionError, match="Timed out") as caught:
        await client.search_systems(ids=[1])

    assert caught.value.status is None
    (record,) = records
    assert (record.endpoint, record.method, record.status) == ("search", "POST", None)
    assert record.duration >= 0.15


async def test_failing_callback_does_not_break_the_request(
    make_client: Callable[..., EnphaseClient],
    fake: FakeEnphase,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(_: RequestRecord) -> None:
        raise RuntimeError("counter broken")

    client = make_client(on_request=explode)
    fake.reply("GET", "/systems/72", fixture="system")

    assert (await client.system(72)).system_id == 72
    assert "request callback failed" in caplog.text


async def test_without_callback_and_with_default_clock(
    session: aiohttp.ClientSession, base_url: str, fake: FakeEnphase
) -> None:
    async def token() -> str:
        return TOKEN

    client = EnphaseClient(session, token, API_KEY, base_url=base_url)
    fake.reply("GET", "/systems/72", fixture="system")

    assert (await client.system(72)).system_id == 72


async def test_default_clock_used_for_records(
    session: aiohttp.ClientSession, base_url: str, fake: FakeEnphase
) -> None:
    async def token() -> str:
        return TOKEN

    records: list[RequestRecord] = []
    client = EnphaseClient(session, token, API_KEY, base_url=base_url, on_request=records.append)
    fake.reply("GET", "/systems/72", fixture="system")
    before = time.time()

    await client.system(72)

    assert before <= records[0].started_at <= time.time()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><body>Gateway</body></html>", "text/html"),
        ("", "application/json"),
        ('{"system_id": 72', "application/json"),
    ],
    ids=["html", "empty", "truncated"],
)
async def test_body_not_json(
    client: EnphaseClient,
    fake: FakeEnphase,
    records: list[RequestRecord],
    body: str,
    content_type: str,
) -> None:
    fake.reply("GET", "/systems/72", text=body, content_type=content_type)

    with pytest.raises(EnphaseResponseError, match="not JSON") as caught:
        await client.system(72)

    assert caught.value.status == 200
    assert records[0].status == 200


async def test_body_not_utf8(client: EnphaseClient, fake: FakeEnphase) -> None:
    from aiohttp import web

    fake.add("GET", "/systems/72", lambda _: web.Response(body=b"\xff\xfe{", status=200))

    with pytest.raises(EnphaseResponseError):
        await client.system(72)


WRONG_SHAPES = [
    ("systems", "GET", "/systems", [1, 2], "systems page"),
    ("systems", "GET", "/systems", {"systems": "many"}, "not a list"),
    ("systems", "GET", "/systems", {"systems": [1]}, "not an object"),
    ("systems", "GET", "/systems", {"systems": [{"name": "no id"}]}, "no system_id"),
    ("system", "GET", "/systems/1", "text", "not an object"),
    ("summary", "GET", "/systems/1/summary", [], "not an object"),
    ("devices", "GET", "/systems/1/devices", {"devices": ["micros"]}, "not an object"),
    ("devices", "GET", "/systems/1/devices", {"devices": {"micros": "x"}}, "not a list"),
    ("retrieve_system_id", "GET", "/systems/retrieve_system_id", {"id": 1}, "no system_id"),
    ("retrieve_system_id", "GET", "/systems/retrieve_system_id", [123], "no system_id"),
    ("events", "GET", "/systems/1/events", [], "not an object"),
    ("alarms", "GET", "/systems/1/alarms", {"alarms": [{"severity": 1}]}, "no id"),
    ("event_types", "GET", "/systems/event_types", {"event_types": [{}]}, "event_type_id"),
    ("event_types", "GET", "/systems/event_types", 5, "not an object"),
    (
        "inverters_summary",
        "GET",
        "/systems/inverters_summary_by_envoy_or_site",
        "none",
        "not a list",
    ),
]


@pytest.mark.parametrize(
    ("endpoint", "method", "path", "data", "match"),
    WRONG_SHAPES,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(WRONG_SHAPES)],
)
async def test_json_of_wrong_shape(
    client: EnphaseClient,
    fake: FakeEnphase,
    records: list[RequestRecord],
    endpoint: str,
    method: str,
    path: str,
    data: object,
    match: str,
) -> None:
    fake.reply(method, path, data=data)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "systems": lambda: client.systems(),
        "system": lambda: client.system(1),
        "summary": lambda: client.summary(1),
        "devices": lambda: client.devices(1),
        "retrieve_system_id": lambda: client.retrieve_system_id("1"),
        "events": lambda: client.events(1, NOW.replace(hour=0)),
        "alarms": lambda: client.alarms(1, NOW.replace(hour=0)),
        "event_types": lambda: client.event_types(),
        "inverters_summary": lambda: client.inverters_summary(site_id=1),
    }

    with pytest.raises(EnphaseResponseError, match=match):
        await calls[endpoint]()

    assert [(r.endpoint, r.status) for r in records] == [(endpoint, 200)]


# Nested deeper than Python's recursion limit: json.loads raises RecursionError.
DEEP_JSON = "[" * 100_000 + "]" * 100_000


async def test_deeply_nested_json(
    client: EnphaseClient, fake: FakeEnphase, records: list[RequestRecord]
) -> None:
    """Too deep to decode is a malformed response, not a RecursionError."""
    fake.reply("GET", "/systems/1/summary", text=DEEP_JSON, content_type="application/json")

    with pytest.raises(EnphaseResponseError, match="not JSON"):
        await client.summary(1)

    assert [(r.endpoint, r.status) for r in records] == [("summary", 200)]


async def test_deeply_nested_error_body(client: EnphaseClient, fake: FakeEnphase) -> None:
    """An error body too deep to decode still gives the status's own error."""
    fake.reply(
        "GET", "/systems/1/summary", text=DEEP_JSON, status=500, content_type="application/json"
    )

    with pytest.raises(EnphaseServerError):
        await client.summary(1)


# A time with an offset that is out of range once converted to UTC (astimezone overflows).
OUT_OF_RANGE_TIMES = ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"]
ODD_TIMES = [
    ("summary", "/systems/1/summary", lambda t: {"system_id": 1, "last_report_at": t}),
    ("system", "/systems/1", lambda t: {"system_id": 1, "last_report_at": t}),
    (
        "devices",
        "/systems/1/devices",
        lambda t: {"system_id": 1, "devices": {"micros": [{"id": 1, "last_report_at": t}]}},
    ),
    (
        "alarms",
        "/systems/1/alarms",
        lambda t: {"alarms": [{"id": 5, "alarm_start_time": t}]},
    ),
    (
        "systems",
        "/systems",
        lambda t: {"systems": [{"system_id": 1, "operational_at": t}]},
    ),
]


@pytest.mark.parametrize("moment", OUT_OF_RANGE_TIMES)
@pytest.mark.parametrize(
    ("endpoint", "path", "build"), ODD_TIMES, ids=[case[0] for case in ODD_TIMES]
)
async def test_time_out_of_range(
    client: EnphaseClient,
    fake: FakeEnphase,
    records: list[RequestRecord],
    endpoint: str,
    path: str,
    build: Callable[[str], object],
    moment: str,
) -> None:
    """A time past the ends of the calendar is a malformed response, not an OverflowError."""
    fake.reply("GET", path, data=build(moment))
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "systems": lambda: client.systems(),
        "system": lambda: client.system(1),
        "summary": lambda: client.summary(1),
        "devices": lambda: client.devices(1),
        "alarms": lambda: client.alarms(1, NOW.replace(hour=0)),
    }

    with pytest.raises(EnphaseResponseError, match=endpoint):
        await calls[endpoint]()

    assert [(r.endpoint, r.status) for r in records] == [(endpoint, 200)]


@pytest.mark.parametrize("moment", OUT_OF_RANGE_TIMES)
async def test_429_with_time_out_of_range(
    client: EnphaseClient, fake: FakeEnphase, moment: str
) -> None:
    """A 429 whose period end cannot be read is still a 429, without that end."""
    fake.reply(
        "GET",
        "/systems/1/summary",
        status=429,
        data={"message": "Too Many Requests", "period": "minute", "period_end": moment},
    )

    with pytest.raises(EnphaseRateLimitError) as caught:
        await client.summary(1)

    assert caught.value.period == "minute"
    assert caught.value.period_end is None
