"""The Home Assistant version differences the integration depends on, in one place.

Supported: Home Assistant 2026.2.3 (the minimum in hacs.json) to 2026.11. Each difference
names the version that changed it and when its fallback can go; the rest of the integration
calls what is here and never checks a version itself.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

from aiohttp import ClientResponseError
from homeassistant import exceptions
from homeassistant.helpers import device_registry as dr

# Home Assistant moved from voluptuous to probatio after 2026.2.3 (2026.11 has it; it aliases
# voluptuous to probatio at run time, but type checkers read the real voluptuous, whose
# schemas its signatures refuse); the fallback can go once the minimum validates with
# probatio. Against 2026.2.3 mypy types this module as Any.
try:
    import probatio as vol  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - the oldest end imports voluptuous
    import voluptuous as vol  # type: ignore[no-redef, unused-ignore]

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import RequestInfo

__all__ = [
    "get_device",
    "get_device_by_id",
    "link_to_parent",
    "owns_device",
    "remove_device",
    "token_request_error",
    "vol",
]

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


# 2026.8 made a device belong to one config entry: identifiers are unique per entry only,
# so a device is looked up by identifier and entry, a hardware device links to its parent
# by registry id, and a device is removed rather than unlinked. Each fallback below can go
# once the minimum is 2026.8.
_GET_BY_IDENTIFIER: (
    Callable[[dr.DeviceRegistry, tuple[str, str], str], dr.DeviceEntry | None] | None
) = getattr(dr.DeviceRegistry, "async_get_device_by_identifier", None)
_ONE_ENTRY_PER_DEVICE = _GET_BY_IDENTIFIER is not None


def get_device(
    registry: dr.DeviceRegistry, identifier: tuple[str, str], entry_id: str
) -> dr.DeviceEntry | None:
    """Return the config entry's device with this identifier, if registered."""
    if _GET_BY_IDENTIFIER is not None:
        return _GET_BY_IDENTIFIER(registry, identifier, entry_id)
    device = registry.async_get_device(identifiers={identifier})
    return device if device is not None and owns_device(device, entry_id) else None


def get_device_by_id(registry: dr.DeviceRegistry, device_id: str) -> dr.DeviceEntry | None:
    """Return the device with this registry id, if it is a (main) device.

    2026.8 added child devices, which the registry's lookup by id returns too; the
    integration registers none, so one is never its device.
    """
    device = registry.async_get(device_id)
    return device if isinstance(device, dr.DeviceEntry) else None


def owns_device(device: dr.DeviceEntry, entry_id: str) -> bool:
    """Whether the device belongs to the config entry."""
    if _ONE_ENTRY_PER_DEVICE:
        return bool(getattr(device, "config_entry_id") == entry_id)  # noqa: B009
    return entry_id in device.config_entries


def device_entry_ids(device: dr.DeviceEntry) -> list[str]:
    """Return the ids of the config entries the device belongs to."""
    if _ONE_ENTRY_PER_DEVICE:
        entry_id = getattr(device, "config_entry_id")  # noqa: B009
        return [entry_id] if entry_id else []
    return list(device.config_entries)


def remove_device(registry: dr.DeviceRegistry, device: dr.DeviceEntry, entry_id: str) -> None:
    """Take the device away from the config entry: remove it, or unlink it where shared."""
    if _ONE_ENTRY_PER_DEVICE:
        registry.async_remove_device(device.id)
    else:
        registry.async_update_device(device.id, remove_config_entry_id=entry_id)


def link_to_parent(
    info: dr.DeviceInfo,
    registry: dr.DeviceRegistry,
    parent: tuple[str, str],
    entry_id: str,
) -> dr.DeviceInfo:
    """Make the device described by `info` part of the entry's device `parent`; return info.

    The parent must be registered first for the link (a registry id) to be known.
    """
    # Each version's DeviceInfo types only its own key.
    fields = cast("dict[str, Any]", info)
    if not _ONE_ENTRY_PER_DEVICE:
        fields["via_device"] = parent
    elif (device := get_device(registry, parent, entry_id)) is not None:
        fields["via_device_id"] = device.id
    return info
