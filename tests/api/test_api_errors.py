"""Every error status in the reference becomes the typed error a caller can act on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.enphase_enlighten.api import (
    EnphaseApiKeyMismatchError,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseConnectionError,
    EnphaseError,
    EnphaseForbiddenError,
    EnphaseInvalidRequestError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    EnphaseResponseError,
    EnphaseServerError,
    EnphaseWindowError,
    RequestRecord,
)
from tests.api.fake_enphase import API_KEY, NOW, TOKEN, FakeEnphase

Call = Callable[[EnphaseClient], Awaitable[Any]]

# Endpoint name -> (HTTP method, path, a call of the client method).
CALLS: dict[str, tuple[str, str, Call]] = {
    "systems": ("GET", "/systems", lambda c: c.systems()),
    "search": ("POST", "/systems/search", lambda c: c.search_systems(ids=[1])),
    "system": ("GET", "/systems/1", lambda c: c.system(1)),
    "summary": ("GET", "/systems/1/summary", lambda c: c.summary(1)),
    "devices": ("GET", "/systems/1/devices", lambda c: c.devices(1)),
    "retrieve_system_id": (
        "GET",
        "/systems/retrieve_system_id",
        lambda c: c.retrieve_system_id("121842012242"),
    ),
    "events": ("GET", "/systems/1/events", lambda c: c.events(1, NOW - timedelta(days=1))),
    "alarms": ("GET", "/systems/1/alarms", lambda c: c.alarms(1, NOW - timedelta(days=1))),
    "event_types": ("GET", "/systems/event_types", lambda c: c.event_types()),
    "inverters_summary": (
        "GET",
        "/systems/inverters_summary_by_envoy_or_site",
        lambda c: c.inverters_summary(site_id=1),
    ),
}

# The error responses the reference documents for each endpoint: (status, fixture).
DOCUMENTED: dict[str, list[tuple[int, str]]] = {
    "systems": [
        (401, "error_401"),
        (405, "error_405"),
        (422, "error_422_sort"),
        (429, "error_429_plain"),
        (501, "error_501"),
    ],
    "search": [
        (401, "error_401"),
        (405, "error_405"),
        (422, "error_422_search"),
        (429, "error_429_plain"),
        (501, "error_501"),
    ],
    "system": [
        (401, "error_401"),
        (403, "error_403"),
        (404, "error_404_system"),
        (405, "error_405"),
        (429, "error_429_plain"),
        (501, "error_501"),
    ],
    "summary": [
        (401, "error_401"),
        (403, "error_403"),
        (404, "error_404_system"),
        (405, "error_405"),
        (429, "error_429_minute"),
        (501, "error_501"),
    ],
    "devices": [
        (401, "error_401"),
        (403, "error_403"),
        (404, "error_404_system"),
        (405, "error_405"),
        (429, "error_429_plain"),
        (500, "error_500"),
        (501, "error_501"),
    ],
    "retrieve_system_id": [
        (401, "error_401"),
        (404, "error_404_envoy"),
        (405, "error_405"),
        (422, "error_422_serial"),
        (429, "error_429_minute"),
        (501, "error_501"),
    ],
    "events": [
        (401, "error_401"),
        (403, "error_403"),
        (404, "error_404_system"),
        (405, "error_405"),
        (422, "error_422_start_time"),
        (429, "error_429_plain"),
        (501, "error_501"),
    ],
    "alarms": [
        (401, "error_401"),
        (403, "error_403"),
        (404, "error_404_system"),
        (405, "error_405"),
        (422, "error_422_start_time"),
        (429, "error_429_plain"),
        (501, "error_501"),
    ],
    "event_types": [
        (401, "error_401"),
        (404, "error_404_event_type"),
        (405, "error_405"),
        (429, "error_429_plain"),
        (501, "error_501"),
    ],
    "inverters_summary": [
        (401, "error_401"),
        (405, "error_405"),
        (422, "error_422_envoy_or_site"),
        (429, "error_429_minute"),
        (501, "error_501"),
    ],
}

# What each fixture must become: (exact error class, message, details).
EXPECTED: dict[str, tuple[type[EnphaseError], str | None, str | None]] = {
    "error_401": (EnphaseAuthError, "Not Authorized", "User is not authorized"),
    "error_403": (EnphaseForbiddenError, "Forbidden", "Not authorized to access this resource"),
    "error_404_system": (EnphaseNotFoundError, "Not Found", 'System not found for {:id=>"1"}'),
    "error_404_envoy": (
        EnphaseNotFoundError,
        "Not Found",
        "Envoy not found with this serial number",
    ),
    "error_404_event_type": (
        EnphaseNotFoundError,
        "Not Found",
        'Event type not found for {:id=>"12345"}',
    ),
    "error_405": (EnphaseInvalidRequestError, "Method not allowed", None),
    "error_422_sort": (
        EnphaseInvalidRequestError,
        "Unprocessable Entity",
        "Invalid request because of 'The sorting parameter is not supported. Please use id for"
        " sorting by Asc or -id for sorting by Desc'",
    ),
    "error_422_search": (
        EnphaseInvalidRequestError,
        "Unprocessable Entity",
        "system is missing at Json body location",
    ),
    "error_422_serial": (
        EnphaseInvalidRequestError,
        "Unprocessable Entity",
        "Provide envoy serial number",
    ),
    "error_422_start_time": (
        EnphaseInvalidRequestError,
        "Unprocessable Entity",
        "start_time is required",
    ),
    "error_422_envoy_or_site": (
        EnphaseInvalidRequestError,
        "Unprocessable Entity",
        "Envoy serial number or Site id mandatory",
    ),
    "error_429_minute": (
        EnphaseRateLimitError,
        "Too Many Requests",
        "Usage limit exceeded for plan Kilowatt",
    ),
    "error_429_plain": (
        EnphaseRateLimitError,
        "Too Many Requests",
        "Usage limit exceeded for plan Kilowatt",
    ),
    "error_500": (EnphaseServerError, "Internal Server Error", "unable to fetch data"),
    "error_501": (EnphaseServerError, "Not Implemented", None),
}

CASES = [
    pytest.param(endpoint, status, fixture, id=f"{endpoint}-{fixture}")
    for endpoint, documented in DOCUMENTED.items()
    for status, fixture in documented
]


@pytest.mark.parametrize(("endpoint", "status", "fixture"), CASES)
async def test_documented_error(
    client: EnphaseClient,
    fake: FakeEnphase,
    records: list[RequestRecord],
    endpoint: str,
    status: int,
    fixture: str,
) -> None:
    method, path, call = CALLS[endpoint]
    fake.reply(method, path, status=status, fixture=fixture)
    error_class, message, details = EXPECTED[fixture]

    with pytest.raises(EnphaseError) as caught:
        await call(client)

    err = caught.value
    assert type(err) is error_class
    assert err.status == status
    assert err.message == message
    assert err.details == details
    assert str(status) in str(err)
    assert (details or message or "") in str(err)
    assert TOKEN not in str(err)
    assert API_KEY not in str(err)
    assert [(r.endpoint, r.status) for r in records] == [(endpoint, status)]
    assert len(fake.received) == 1  # an error is never retried by the client


async def test_rate_limit_with_period(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/1/summary", status=429, fixture="error_429_minute")

    with pytest.raises(EnphaseRateLimitError) as caught:
        await client.summary(1)

    err = caught.value
    assert err.period == "minute"
    assert err.period_start == datetime.fromtimestamp(1623825660, UTC)
    assert err.period_end == datetime.fromtimestamp(1623825720, UTC)
    assert err.limit == 5
    assert "per minute limit of 5" in str(err)
    assert "2021-06-16T06:42:00+00:00" in str(err)


async def test_rate_limit_without_period(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems/1/summary", status=429, fixture="error_429_plain")

    with pytest.raises(EnphaseRateLimitError) as caught:
        await client.summary(1)

    err = caught.value
    assert (err.period, err.period_start, err.period_end, err.limit) == (None, None, None, None)


async def test_rate_limit_month(client: EnphaseClient, fake: FakeEnphase) -> None:
    body = {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
        "period": "Month",
        "period_start": 1780272000,
        "period_end": "1782864000",
        "limit": "1000",
    }
    fake.reply("GET", "/systems", status=429, data=body)

    with pytest.raises(EnphaseRateLimitError) as caught:
        await client.systems()

    assert caught.value.period == "month"
    assert caught.value.period_end == datetime.fromtimestamp(1782864000, UTC)
    assert caught.value.limit == 1000


async def test_api_key_mismatch_told_apart(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems", status=401, fixture="error_401_key_mismatch")

    with pytest.raises(EnphaseApiKeyMismatchError) as caught:
        await client.systems()

    # Still an authentication error for callers that only care about that.
    assert isinstance(caught.value, EnphaseAuthError)
    assert caught.value.details == "API Key -Client mismatch"
    assert "different application" in str(caught.value)


async def test_405_and_501_message_lists_are_joined(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    fake.reply("GET", "/systems", status=405, data={"reason": "405", "message": ["a", "b"]})

    with pytest.raises(EnphaseInvalidRequestError) as caught:
        await client.systems()

    assert caught.value.message == "a; b"
    assert caught.value.details is None


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, EnphaseInvalidRequestError),
        (409, EnphaseInvalidRequestError),
        (502, EnphaseServerError),
        (503, EnphaseServerError),
        (504, EnphaseServerError),
        (304, EnphaseResponseError),
    ],
)
async def test_other_statuses(
    client: EnphaseClient,
    fake: FakeEnphase,
    records: list[RequestRecord],
    status: int,
    error_class: type[EnphaseError],
) -> None:
    # Proxies answer with HTML, not Enphase's JSON.
    fake.reply("GET", "/systems", status=status, text="<html>oops</html>", content_type="text/html")

    with pytest.raises(error_class) as caught:
        await client.systems()

    assert caught.value.status == status
    assert caught.value.message is None
    assert caught.value.details is None
    assert str(status) in str(caught.value)
    assert records[0].status == status


async def test_error_body_with_unexpected_shapes(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems", status=422, data={"message": None, "details": {"field": "x"}})

    with pytest.raises(EnphaseInvalidRequestError) as caught:
        await client.systems()

    assert caught.value.message is None
    assert caught.value.details == '{"field": "x"}'


async def test_error_list_body(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("GET", "/systems", status=500, data=["boom"])

    with pytest.raises(EnphaseServerError) as caught:
        await client.systems()

    assert caught.value.message is None
    assert str(caught.value) == "Enphase API server error (HTTP 500)"


async def test_secrets_echoed_by_the_server_are_scrubbed(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    serial = "121842012242"
    fake.reply(
        "GET",
        "/systems/retrieve_system_id",
        status=404,
        data={
            "message": f"Bearer {TOKEN} not valid",
            "details": f"key {API_KEY} has no envoy {serial} (page 1)",
            "code": 404,
        },
    )

    with pytest.raises(EnphaseNotFoundError) as caught:
        await client.retrieve_system_id(serial)

    err = caught.value
    for secret in (TOKEN, API_KEY, serial):
        assert secret not in str(err)
        assert secret not in (err.message or "")
        assert secret not in (err.details or "")
    assert err.details == "key *** has no envoy *** (page 1)"


async def test_no_error_message_contains_token_or_key(
    make_client: Callable[..., EnphaseClient], fake: FakeEnphase
) -> None:
    """Walk every failure path and check every sentence the client produces."""
    client = make_client(timeout=0.2)
    fake.reply("GET", "/systems", status=401, fixture="error_401")
    fake.reply("GET", "/systems", status=429, fixture="error_429_minute")
    fake.reply("GET", "/systems", status=500, fixture="error_500")
    fake.reply("GET", "/systems", text="<html/>", content_type="text/html")
    fake.reply("GET", "/systems", data=[1, 2])

    async def hang(_: object) -> None:
        await fake.release.wait()

    fake.add("GET", "/systems", hang)  # type: ignore[arg-type]
    messages: list[str] = []
    for _ in range(6):
        with pytest.raises(EnphaseError) as caught:
            await client.systems()
        messages.append(str(caught.value))
        messages.append(repr(caught.value))
    with pytest.raises(EnphaseWindowError) as window:
        await client.events(1, NOW, NOW - timedelta(seconds=1))
    messages.append(str(window.value))

    assert any("Timed out" in m for m in messages)
    for message in messages:
        assert TOKEN not in message
        assert API_KEY not in message
        assert "SECRET" not in message


def test_errors_can_be_built_by_callers() -> None:
    err = EnphaseRateLimitError(
        period="month", period_end=datetime(2026, 7, 1, tzinfo=UTC), limit=1000
    )
    assert err.status == 429
    assert str(err) == (
        "Enphase API rate limit exceeded (HTTP 429) (per month limit of 1000);"
        " resets at 2026-07-01T00:00:00+00:00"
    )
    assert str(EnphaseRateLimitError(period="minute")) == (
        "Enphase API rate limit exceeded (HTTP 429) (per minute limit)"
    )
    assert str(EnphaseConnectionError()) == "Cannot reach the Enphase API"
    assert str(EnphaseAuthError("custom text", status=401)) == "custom text"
    window = EnphaseWindowError("bad window")
    assert isinstance(window, ValueError)
    assert isinstance(window, EnphaseError)
