"""Tolerant parsing of Enphase's JSON values, shared by every model (placeholders, units, times)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
import math
from typing import Any

from ..errors import EnphaseError, EnphaseResponseError

# Fields that Enphase fills with -1 when it has no value (always in list responses).
PLACEHOLDER = -1


# Unit prefixes a {"value", "units"} object may carry, as multipliers to W or Wh.
UNIT_SCALE: dict[str, float] = {
    "": 1.0,
    "k": 1_000.0,
    "K": 1_000.0,
    "M": 1_000_000.0,
    "G": 1_000_000_000.0,
    "m": 0.001,
}


def empty_raw() -> Mapping[str, Any]:
    """Return an empty raw mapping (the default of a model built by hand)."""
    return {}


def as_int(value: Any) -> int | None:
    """Return an int for ints, integral floats and numeric strings; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
            return round(number) if math.isfinite(number) else None
    return None


def as_float(value: Any) -> float | None:
    """Return a finite number, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_str(value: Any) -> str | None:
    """Return strings as they are and numbers as text (nmi is a number in the Swagger file)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def as_bool(value: Any) -> bool | None:
    """Accept true/false and their string forms ("true" is what EV chargers send)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        return None
    if isinstance(value, int):
        return value != 0 if value in (0, 1) else None
    return None


def without_placeholder(value: Any) -> int | None:
    """Return an int, or None for Enphase's -1 placeholder."""
    number = as_int(value)
    return None if number == PLACEHOLDER else number


def as_datetime(value: Any) -> datetime | None:
    """Turn epoch seconds (or an ISO 8601 string) into an aware UTC datetime."""
    if isinstance(value, str):
        text = value.strip()
        if as_float(text) is None:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        value = text
    seconds = as_float(value)
    # Zero and negative epochs are placeholders, not moments in 1970.
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def as_date(value: Any) -> date | None:
    """Accept "YYYY-MM-DD" (the documented form), a full ISO timestamp, or epoch seconds."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    moment = as_datetime(value)
    return moment.date() if moment is not None else None


def as_mapping(value: Any) -> Mapping[str, Any] | None:
    """Return the value if it is a mapping, else None."""
    return value if isinstance(value, Mapping) else None


def require_mapping(value: Any, what: str) -> Mapping[str, Any]:
    """Return the value as a mapping, or raise that ``what`` is malformed."""
    if not isinstance(value, Mapping):
        raise EnphaseResponseError(
            f"Malformed response from the Enphase API: {what} is not an object"
        )
    return value


def require_int(data: Mapping[str, Any], key: str, what: str) -> int:
    """Return ``data[key]`` as an int, or raise that ``what`` lacks it."""
    number = as_int(data.get(key))
    if number is None:
        raise EnphaseResponseError(f"Malformed response from the Enphase API: {what} has no {key}")
    return number


def object_list(value: Any, what: str) -> list[Mapping[str, Any]]:
    """Return the objects of a list; missing or null is empty.

    The Swagger file also describes some lists as objects of lists, so those are flattened.
    """
    if value is None:
        return []
    items: Iterable[Any]
    if isinstance(value, list):
        items = value
    elif isinstance(value, Mapping):
        items = [
            item
            for group in value.values()
            for item in (group if isinstance(group, list) else [group])
        ]
    else:
        raise EnphaseResponseError(f"Malformed response from the Enphase API: {what} is not a list")
    return [require_mapping(item, f"an item of {what}") for item in items]


def quantity(value: Any, base_unit: str) -> float | None:
    """Read a bare number or a {"value", "units"} object, converted to the base unit (W or Wh)."""
    obj = as_mapping(value)
    if obj is None:
        return as_float(value)
    number = as_float(obj.get("value"))
    if number is None:
        return None
    units = as_str(obj.get("units"))
    if not units:
        return number
    unit = units.strip()
    if unit.lower().endswith(base_unit.lower()):
        scale = UNIT_SCALE.get(unit[: len(unit) - len(base_unit)])
        if scale is not None:
            return number * scale
    return number


@contextmanager
def malformed(endpoint: str) -> Iterator[None]:
    """Turn any failure while reading an answer into the typed malformed-response error.

    Values no model expects (a date past year 9999 once converted to UTC, say) raise
    whatever the standard library raises; a caller must see one error it can back off on.
    """
    try:
        yield
    except EnphaseError:
        raise
    except Exception as err:
        raise EnphaseResponseError(
            f"Malformed response from the Enphase API ({endpoint}): {type(err).__name__}"
        ) from err
