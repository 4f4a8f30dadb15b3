"""One request to the Enphase API: token and key headers, secrets scrubbed, reported, errors typed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
import json
import logging
import os
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from .const import API_KEY_MISMATCH, API_PREFIX, API_URL_ENV, DEFAULT_BASE_URL
from .errors import (
    EnphaseApiKeyMismatchError,
    EnphaseAuthError,
    EnphaseConnectionError,
    EnphaseError,
    EnphaseForbiddenError,
    EnphaseInvalidRequestError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    EnphaseResponseError,
    EnphaseServerError,
)
from .models.parse import as_datetime, as_int

if TYPE_CHECKING:
    from datetime import datetime

_LOGGER = logging.getLogger(__name__)

TokenProvider = Callable[[], Awaitable[str]]

# Query values shorter than this (page numbers, sizes, flags) identify nothing and stay readable.
_MIN_SCRUBBED_LENGTH = 6
_SCRUBBED = "***"
# Answers at least this large are decoded (and parsed, when the caller says how) in the
# executor: a 10,000-device inventory is megabytes, too much for the event loop.
LARGE_BODY = 256 * 1024


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request made to the Enphase API, for counting against the plan's quota."""

    endpoint: str
    method: str
    status: int | None
    started_at: float
    duration: float


RequestCallback = Callable[[RequestRecord], None]


def base_url_from_env() -> str:
    """Return the API base URL: $ENPHASE_ENLIGHTEN_API_URL when set, else Enphase's own."""
    value = os.environ.get(API_URL_ENV, "").strip()
    return value.rstrip("/") if value else DEFAULT_BASE_URL


def _text(value: Any) -> str | None:
    """Read Enphase's message or details: a string, or a list of strings (405/501 bodies)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [str(item) for item in value if item is not None]
        return "; ".join(parts) if parts else None
    return json.dumps(value)


def _is_key_mismatch(*texts: str | None) -> bool:
    wanted = API_KEY_MISMATCH.replace(" ", "").lower()
    return any(text and wanted in text.replace(" ", "").lower() for text in texts)


class _Scrubber:
    """Removes secrets (token, key, identifying query values) from text shown to callers."""

    def __init__(self, secrets: Sequence[str]) -> None:
        # Longest first, so a secret containing another is removed whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, _SCRUBBED)
        return text


class EnphaseTransport:
    """Makes the client's requests; the endpoint methods live in ``EnphaseClient``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_provider: TokenProvider,
        api_key: str,
        *,
        base_url: str | None = None,
        on_request: RequestCallback | None = None,
        on_send: RequestCallback | None = None,
        timeout: float = 30.0,
        now: Callable[[], float] | None = None,
    ) -> None:
        """Set up the client; `base_url` None means $ENPHASE_ENLIGHTEN_API_URL or Enphase's."""
        self._session = session
        self._token_provider = token_provider
        self._api_key = api_key
        self._base_url = (base_url or base_url_from_env()).rstrip("/")
        self._on_request = on_request
        # Told as a request leaves (status None), so a budget counts it before its answer.
        self._on_send = on_send
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # Looked up at call time, not bound at import, so a patched clock (tests) applies.
        self._now: Callable[[], float] = now or (lambda: time.time())

    @property
    def base_url(self) -> str:
        """The base URL requests go to (without /api/v4)."""
        return self._base_url

    async def _request(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Make one request, report it, and return the decoded JSON body or raise.

        ``parse``, when given, turns the decoded body into what is returned (a model); for
        a large answer both run in the executor.
        """
        token = await self._token_provider()
        query = {key: str(value) for key, value in (params or {}).items() if value is not None}
        scrub = _Scrubber(
            [
                token,
                self._api_key,
                *(value for value in query.values() if len(value) >= _MIN_SCRUBBED_LENGTH),
            ]
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "key": self._api_key,
            "Accept": "application/json",
        }
        url = f"{self._base_url}{API_PREFIX}{path}"
        status: int | None = None
        started_at = self._now()
        started = time.monotonic()
        self._report(self._on_send, RequestRecord(endpoint, method, None, started_at, 0.0))
        try:
            async with self._session.request(
                method,
                url,
                params=query or None,
                json=json_body,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                status = response.status
                body = await response.read()
        except TimeoutError as err:
            raise EnphaseConnectionError(
                f"Timed out waiting for the Enphase API ({endpoint})"
            ) from err
        except aiohttp.ClientError as err:
            raise EnphaseConnectionError(
                f"Cannot reach the Enphase API ({endpoint}: {type(err).__name__})"
            ) from err
        finally:
            # Also on cancellation: the request may have reached Enphase and count there.
            self._report(
                self._on_request,
                RequestRecord(
                    endpoint=endpoint,
                    method=method,
                    status=status,
                    started_at=started_at,
                    duration=time.monotonic() - started,
                ),
            )
        _LOGGER.debug("Enphase %s %s: HTTP %s", method, endpoint, status)
        if 200 <= status < 300:
            if len(body) >= LARGE_BODY:
                return await asyncio.get_running_loop().run_in_executor(
                    None, _decode, endpoint, status, body, parse
                )
            return _decode(endpoint, status, body, parse)
        raise _error_for(endpoint, status, body, scrub)

    def _report(self, callback: RequestCallback | None, record: RequestRecord) -> None:
        if callback is None:
            return
        try:
            callback(record)
        except Exception:
            # Counting must never turn a good response into a failure.
            _LOGGER.exception("Enphase request callback failed")


def _decode(endpoint: str, status: int, body: bytes, parse: Callable[[Any], Any] | None) -> Any:
    """Decode a successful answer, and parse it when told how."""
    try:
        decoded = json.loads(body.decode("utf-8"))
    # JSONDecodeError and UnicodeDecodeError; RecursionError for deeply nested JSON.
    except (ValueError, RecursionError) as err:
        raise EnphaseResponseError(
            f"Malformed response from the Enphase API ({endpoint}): body is not JSON",
            status=status,
        ) from err
    return decoded if parse is None else parse(decoded)


def _moment(value: Any) -> datetime | None:
    """Read a time of a 429 body; one out of range is as good as none (the 429 still counts)."""
    try:
        return as_datetime(value)
    except OverflowError:
        return None


def _error_for(
    endpoint: str, status: int, body: bytes, scrub: Callable[[str | None], str | None]
) -> EnphaseError:
    """Turn a non-2xx response into the typed error a caller can act on."""
    try:
        decoded: Any = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        decoded = None
    data: Mapping[str, Any] = decoded if isinstance(decoded, Mapping) else {}
    message = scrub(_text(data.get("message")))
    details = scrub(_text(data.get("details")))
    fields: dict[str, Any] = {"status": status, "message": message, "details": details}
    where = f" ({endpoint})"
    if status == 401:
        if _is_key_mismatch(message, details):
            return EnphaseApiKeyMismatchError(**fields)
        return EnphaseAuthError(**fields)
    if status == 403:
        return EnphaseForbiddenError(**fields)
    if status == 404:
        return EnphaseNotFoundError(**fields)
    if status == 429:
        period = _text(data.get("period"))
        return EnphaseRateLimitError(
            **fields,
            period=period.lower() if period else None,
            period_start=_moment(data.get("period_start")),
            period_end=_moment(data.get("period_end")),
            limit=as_int(data.get("limit")),
        )
    if status >= 500:
        return EnphaseServerError(**fields)
    if 400 <= status < 500:
        return EnphaseInvalidRequestError(**fields)
    return EnphaseResponseError(f"Unexpected HTTP {status} from the Enphase API{where}", **fields)
