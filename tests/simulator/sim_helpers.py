"""Shape comparison against the reference fixtures (tests/fixtures)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "fixtures"
CLIENT_SECRET = "sim-client-secret"


def basic(client_id: str = "sim-client-id", secret: str = CLIENT_SECRET) -> dict[str, str]:
    """HTTP Basic client authentication header for the token endpoint."""
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def load_fixture(name: str) -> Any:
    """A reference example from tests/fixtures."""
    return json.loads((FIXTURES / name).read_text())


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_same_shape(
    actual: Any, expected: Any, path: str = "$", *, nullable: bool = True
) -> None:
    """Assert ``actual`` has ``expected``'s keys and value types, recursively.

    A ``null`` in either is accepted against any type (the reference uses nulls as
    placeholders, the simulator fills some in); lists compare each actual element against
    the expected elements with the same keys, cycling through them.
    """
    if expected is None or (actual is None and nullable):
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected object, got {_kind(actual)}"
        assert set(actual) == set(expected), (
            f"{path}: keys differ: missing {sorted(set(expected) - set(actual))}, "
            f"extra {sorted(set(actual) - set(expected))}"
        )
        for key, value in expected.items():
            assert_same_shape(actual[key], value, f"{path}.{key}", nullable=nullable)
        return
    if isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected list, got {_kind(actual)}"
        if not expected:
            return
        for index, item in enumerate(actual):
            template = expected[0]
            if isinstance(item, dict):
                # Reference lists alternate shapes (power_produced object, then number):
                # cycle through the examples with the same keys.
                same = [e for e in expected if isinstance(e, dict) and set(e) == set(item)]
                template = same[index % len(same)] if same else expected[0]
            if isinstance(template, dict) and isinstance(item, dict):
                assert_same_shape(item, template, f"{path}[{index}]", nullable=nullable)
            else:
                assert (
                    _kind(item) == _kind(template)
                    or isinstance(template, dict)
                    or isinstance(item, dict)
                ), f"{path}[{index}]: {_kind(item)} vs {_kind(template)}"
        return
    assert _kind(actual) == _kind(expected), f"{path}: {_kind(actual)} vs {_kind(expected)}"
