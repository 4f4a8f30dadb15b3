"""The Home Assistant version differences the integration depends on, in one place.

Supported: Home Assistant 2026.2.3 (the minimum in hacs.json) to 2026.11. Each difference
names the version that changed it and when its fallback can go; the rest of the integration
calls what is here and never checks a version itself.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import ClientResponseError
from homeassistant import exceptions

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import RequestInfo

# 2026.3 added Home Assistant's own token request errors, and its OAuth flow aborts with
# oauth_unauthorized only for the reauth one; the fallback can go once the minimum is 2026.3.
_TOKEN_REAUTH_ERROR: Callable[..., ClientResponseError] | None = getattr(
    exceptions, "OAuth2TokenRequestReauthError", None
)
_TOKEN_TRANSIENT_ERROR: Callable[..., ClientResponseError] | None = getattr(
    exceptions, "OAuth2TokenRequestTransientError", None
)


def token_request_error(
    request_info: RequestInfo, status: int, message: str, *, domain: str
) -> ClientResponseError:
    """Return the error for a token request the server answered with an error status.

    Where Home Assistant has its own token errors it gets them: a 4xx other than 429 means
    only a new sign-in helps (Home Assistant then starts reauthentication itself and the
    sign-in flow says authorization was refused), 429 and 5xx are worth a retry. Either
    is a ClientResponseError with the status, as older versions get.
    """
    if _TOKEN_REAUTH_ERROR is None or _TOKEN_TRANSIENT_ERROR is None:
        return ClientResponseError(request_info, (), status=status, message=message)
    error: Callable[..., ClientResponseError] = (
        _TOKEN_REAUTH_ERROR
        if 400 <= status < 500 and status != HTTPStatus.TOO_MANY_REQUESTS
        else _TOKEN_TRANSIENT_ERROR
    )
    return error(domain=domain, request_info=request_info, status=status, message=message)
