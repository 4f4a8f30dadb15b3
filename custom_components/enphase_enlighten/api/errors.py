"""Typed errors raised by the Enphase API client, one class per situation a caller acts on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime


class EnphaseError(Exception):
    """Base class of every error the Enphase API client raises.

    `message` and `details` are what Enphase sent (when it sent JSON); `str(err)` is a short
    sentence meant for logs, and never contains a token, an API key or URL query values.
    """

    summary_text = "Enphase API request failed"

    def __init__(
        self,
        summary: str | None = None,
        *,
        status: int | None = None,
        message: str | None = None,
        details: str | None = None,
    ) -> None:
        """Store the HTTP status and Enphase's message and details."""
        self.status = status
        self.message = message
        self.details = details
        self.summary = summary if summary is not None else self._default_summary()
        super().__init__(self.summary)

    def _default_summary(self) -> str:
        text = self.summary_text
        if self.status is not None:
            text = f"{text} (HTTP {self.status})"
        explanation = self.details or self.message
        if explanation:
            text = f"{text}: {explanation}"
        return text

    def __str__(self) -> str:
        """Return the short human sentence."""
        return self.summary


class EnphaseAuthError(EnphaseError):
    """401: the access token is missing, expired or invalid, or the API key is wrong."""

    summary_text = "Enphase API authentication failed"


class EnphaseApiKeyMismatchError(EnphaseAuthError):
    """401 "API Key -Client mismatch": the API key belongs to another app than the token."""

    summary_text = "Enphase API key belongs to a different application than the access token"


class EnphaseForbiddenError(EnphaseError):
    """403: the endpoint is not in the plan, or the system is not the user's."""

    summary_text = "Enphase API access forbidden"


class EnphaseNotFoundError(EnphaseError):
    """404: the system, gateway or event type does not exist (or is retired)."""

    summary_text = "Enphase API resource not found"


class EnphaseInvalidRequestError(EnphaseError):
    """400, 405, 422 and other 4xx: Enphase rejected the request; `details` says why."""

    summary_text = "Enphase API rejected the request"


class EnphaseRateLimitError(EnphaseError):
    """429: a plan limit is exhausted; `period_end` (when sent) says when it resets."""

    summary_text = "Enphase API rate limit exceeded"

    def __init__(
        self,
        summary: str | None = None,
        *,
        status: int | None = 429,
        message: str | None = None,
        details: str | None = None,
        period: str | None = None,
        period_start: datetime | None = None,
        period_end: datetime | None = None,
        limit: int | None = None,
    ) -> None:
        """Store the limit's period, its bounds and the limit itself, when Enphase sent them."""
        self.period = period
        self.period_start = period_start
        self.period_end = period_end
        self.limit = limit
        super().__init__(summary, status=status, message=message, details=details)

    def _default_summary(self) -> str:
        text = super()._default_summary()
        if self.period is not None:
            text = f"{text} (per {self.period} limit"
            if self.limit is not None:
                text = f"{text} of {self.limit}"
            text = f"{text})"
        if self.period_end is not None:
            text = f"{text}; resets at {self.period_end.isoformat()}"
        return text


class EnphaseServerError(EnphaseError):
    """5xx: Enphase failed; try again later."""

    summary_text = "Enphase API server error"


class EnphaseConnectionError(EnphaseError):
    """No response: the connection failed or the request timed out."""

    summary_text = "Cannot reach the Enphase API"


class EnphaseResponseError(EnphaseError):
    """A 2xx response whose body is not JSON or not of the documented shape."""

    summary_text = "Malformed response from the Enphase API"


class EnphaseWindowError(EnphaseError, ValueError):
    """An events/alarms window Enphase would refuse; raised before any request is made."""

    summary_text = "Invalid time window for Enphase events or alarms"
