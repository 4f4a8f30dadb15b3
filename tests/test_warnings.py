"""Deprecation warnings raised for the integration's own calls fail the suite on every end."""

from __future__ import annotations

import warnings

import pytest

# aiohttp and Home Assistant warn with a stacklevel that points at the caller, so a warning
# about the integration's call is attributed to the integration's module.
CALLERS = ["custom_components.enphase_enlighten.api.transport", "simulator.app"]


@pytest.mark.parametrize("module", CALLERS)
def test_deprecation_attributed_to_our_code_is_an_error(module: str) -> None:
    # aiohttp 3.14's words for one it deprecated, the kind pyproject's filterwarnings catch.
    with pytest.raises(DeprecationWarning, match="'auth' parameter is deprecated"):
        warnings.warn_explicit(
            "The 'auth' parameter is deprecated and will be removed in v4",
            DeprecationWarning,
            filename="transport.py",
            lineno=1,
            module=module,
        )


def test_deprecation_attributed_to_a_dependency_is_reported_only() -> None:
    # A dependency's own deprecated calls are its maintainers' to fix: shown, not failed.
    with pytest.warns(DeprecationWarning, match="is discouraged"):
        warnings.warn_explicit(
            "Inheritance class HomeAssistantApplication from web.Application is discouraged",
            DeprecationWarning,
            filename="server.py",
            lineno=1,
            module="homeassistant.components.http.server",
        )
