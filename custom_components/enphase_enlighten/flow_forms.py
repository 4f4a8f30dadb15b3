"""The config and options flows' forms: their schemas, suggested values and input checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .budget import PlanLimits, Reserve
from .compat import vol
from .const import (
    CONF_API_KEY,
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    CONF_RESERVE_MANUAL,
    CONF_RESERVE_OTHER,
    CONF_SYSTEMS,
    PLAN_CUSTOM,
    PLAN_WATT,
    PLANS,
)
from .options import plan_reserve

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .api import (
        System,
    )
    from .runtime import EnphaseConfigEntry


# Flow-only field: a gateway serial number, looked up with retrieve_system_id. It is never
# stored; only the system id it resolves to is.
CONF_SERIAL_NUMBER = "serial_number"
# Options form section holding the request reserve fields (stored flat in the options).
CONF_RESERVE = "reserve"

API_KEY_SCHEMA = vol.Schema(
    {vol.Required(CONF_API_KEY): TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))}
)

# min=0, not 1: below the selector's minimum the form would answer with the selector's own
# untranslated "Value 0.0 is too small" beside the previous submit's errors; the flow says
# "limit_too_small" itself (form_plan_limits).
LIMIT_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=0, max=1_000_000_000, step=1, mode=NumberSelectorMode.BOX)
)
PLAN_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_PLAN, default=PLAN_WATT): SelectSelector(
            SelectSelectorConfig(
                options=[*PLANS, PLAN_CUSTOM],
                mode=SelectSelectorMode.LIST,
                translation_key=CONF_PLAN,
            )
        ),
        vol.Optional(CONF_REQUESTS_PER_MINUTE): LIMIT_SELECTOR,
        vol.Optional(CONF_REQUESTS_PER_MONTH): LIMIT_SELECTOR,
    }
)


RESERVE_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=0, max=1_000_000_000, step=1, mode=NumberSelectorMode.BOX)
)
RESERVE_SECTION = section(
    vol.Schema(
        {
            vol.Optional(CONF_RESERVE_OTHER): RESERVE_SELECTOR,
            vol.Optional(CONF_RESERVE_MANUAL): RESERVE_SELECTOR,
        }
    ),
    {"collapsed": True},
)


def systems_schema(systems: Sequence[System], selected: Sequence[int]) -> vol.Schema:
    """Build the systems form: a multi-select of the account's systems and a serial field.

    The current selection is filled in as suggested values by the caller, not as defaults,
    so that unticking every system is not silently undone.
    """
    options = [
        SelectOptionDict(value=str(system.system_id), label=system_label(system))
        for system in sorted(systems, key=lambda system: system.system_id)
    ]
    known = {system.system_id for system in systems}
    # Selected systems the account no longer lists stay visible so they can be unticked.
    options.extend(
        SelectOptionDict(value=str(system_id), label=str(system_id))
        for system_id in sorted(set(selected) - known)
    )
    return vol.Schema(
        {
            vol.Optional(CONF_SYSTEMS): SelectSelector(
                SelectSelectorConfig(options=options, multiple=True, mode=SelectSelectorMode.LIST)
            ),
            vol.Optional(CONF_SERIAL_NUMBER): TextSelector(),
        }
    )


def system_selection(system_ids: Sequence[int]) -> dict[str, Any]:
    """Return the systems form's suggested values for these system ids."""
    return {CONF_SYSTEMS: [str(system_id) for system_id in system_ids]}


def system_label(system: System) -> str:
    """Label a system by its name and id; addresses are never shown."""
    name = system.name or system.public_name
    return f"{name} ({system.system_id})" if name else str(system.system_id)


def form_plan_limits(
    plan: str, user_input: Mapping[str, Any]
) -> tuple[tuple[int, int], dict[str, str]]:
    """Return (per minute, per month) for the plan, or the form errors of custom limits."""
    if plan != PLAN_CUSTOM:
        return PLANS[plan], {}
    errors = {
        field: "limit_required"
        for field in (CONF_REQUESTS_PER_MINUTE, CONF_REQUESTS_PER_MONTH)
        if user_input.get(field) is None
    }
    errors.update(
        {
            field: "limit_too_small"
            for field in (CONF_REQUESTS_PER_MINUTE, CONF_REQUESTS_PER_MONTH)
            if field not in errors
            and (user_input[field] < 1 or user_input[field] != int(user_input[field]))
        }
    )
    if errors:
        return (0, 0), errors
    per_minute = int(user_input[CONF_REQUESTS_PER_MINUTE])
    per_month = int(user_input[CONF_REQUESTS_PER_MONTH])
    if per_minute > per_month:
        return (0, 0), {"base": "minute_above_month"}
    return (per_minute, per_month), {}


def plan_suggestions(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the plan form's suggested values for an existing entry."""
    suggested: dict[str, Any] = {CONF_PLAN: data[CONF_PLAN]}
    if data[CONF_PLAN] == PLAN_CUSTOM:
        suggested[CONF_REQUESTS_PER_MINUTE] = data[CONF_REQUESTS_PER_MINUTE]
        suggested[CONF_REQUESTS_PER_MONTH] = data[CONF_REQUESTS_PER_MONTH]
    return suggested


def reserve_suggestions(entry: EnphaseConfigEntry, limits: PlanLimits) -> dict[str, int]:
    """Return the reserve the entry uses now (the default one if its options have none)."""
    reserve = plan_reserve(entry, limits)
    return {
        CONF_RESERVE_OTHER: reserve.other,
        CONF_RESERVE_MANUAL: reserve.manual_for(limits),
    }


def reserve_options(
    user_input: Mapping[str, Any], limits: PlanLimits
) -> tuple[dict[str, int], dict[str, str]]:
    """Return the reserve options to store, or the form errors.

    An empty field means the default. Only values other than the default are stored, so a
    manual reserve left at its default keeps following the plan (3% of its monthly quota).
    """
    values: dict[str, int] = {}
    default_manual = Reserve().manual_for(limits)
    for field, default in ((CONF_RESERVE_OTHER, 0), (CONF_RESERVE_MANUAL, default_manual)):
        value = user_input.get(field)
        if value is None:
            values[field] = default
            continue
        # The selector keeps it at zero or more, but not whole.
        if value != int(value):
            return {}, {"base": "reserve_not_whole"}
        values[field] = int(value)
    if values[CONF_RESERVE_OTHER] + values[CONF_RESERVE_MANUAL] >= limits.per_month:
        return {}, {"base": "reserve_too_large"}
    options: dict[str, int] = {}
    if values[CONF_RESERVE_OTHER]:
        options[CONF_RESERVE_OTHER] = values[CONF_RESERVE_OTHER]
    if values[CONF_RESERVE_MANUAL] != default_manual:
        options[CONF_RESERVE_MANUAL] = values[CONF_RESERVE_MANUAL]
    return options, {}
