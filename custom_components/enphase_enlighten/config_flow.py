"""Config flow for Enphase Enlighten: OAuth2 sign-in, API key, systems and plan."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
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
from homeassistant.helpers.update_coordinator import UpdateFailed
import voluptuous as vol

from .api import (
    EnphaseApiKeyMismatchError,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseConnectionError,
    EnphaseError,
    EnphaseForbiddenError,
    EnphaseInvalidRequestError,
    EnphaseNotFoundError,
    EnphaseRateLimitError,
    EnphaseServerError,
    RequestRecord,
    System,
    TokenProvider,
)
from .application_credentials import DEVELOPER_PORTAL_URL
from .auth import EnphaseAuth
from .budget import PlanLimits, Reserve
from .const import (
    CONF_API_KEY,
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    CONF_RESERVE_MANUAL,
    CONF_RESERVE_OTHER,
    CONF_SYSTEMS,
    DOMAIN,
    PLAN_CUSTOM,
    PLAN_WATT,
    PLANS,
)
from .entry_budget import async_count_flow_requests
from .options import plan_limits, plan_reserve

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .runtime import EnphaseConfigEntry

_LOGGER = logging.getLogger(__name__)

# Flow-only field: a gateway serial number, looked up with retrieve_system_id. It is never
# stored; only the system id it resolves to is.
CONF_SERIAL_NUMBER = "serial_number"
# Options form section holding the request reserve fields (stored flat in the options).
CONF_RESERVE = "reserve"
DEFAULT_TITLE = "Enphase Enlighten"

_API_KEY_SCHEMA = vol.Schema(
    {vol.Required(CONF_API_KEY): TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))}
)

_LIMIT_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=1, max=1_000_000_000, step=1, mode=NumberSelectorMode.BOX)
)
_PLAN_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_PLAN, default=PLAN_WATT): SelectSelector(
            SelectSelectorConfig(
                options=[*PLANS, PLAN_CUSTOM],
                mode=SelectSelectorMode.LIST,
                translation_key=CONF_PLAN,
            )
        ),
        vol.Optional(CONF_REQUESTS_PER_MINUTE): _LIMIT_SELECTOR,
        vol.Optional(CONF_REQUESTS_PER_MONTH): _LIMIT_SELECTOR,
    }
)


_RESERVE_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=0, max=1_000_000_000, step=1, mode=NumberSelectorMode.BOX)
)
_RESERVE_SECTION = section(
    vol.Schema(
        {
            vol.Optional(CONF_RESERVE_OTHER): _RESERVE_SELECTOR,
            vol.Optional(CONF_RESERVE_MANUAL): _RESERVE_SELECTOR,
        }
    ),
    {"collapsed": True},
)


# What looking up an entry's OAuth implementation raises when its application credentials
# were deleted: ValueError on 2026.2, ImplementationUnavailableError on later versions.
_CREDENTIALS_GONE = (ValueError, config_entry_oauth2_flow.ImplementationUnavailableError)


class ReauthRequiredError(Exception):
    """The saved refresh token was rejected; only signing in again can fix it."""


def _error_key(err: EnphaseError) -> str:
    """Return the translation key of the form error for an API error."""
    if isinstance(err, EnphaseApiKeyMismatchError):
        return "api_key_mismatch"
    if isinstance(err, EnphaseAuthError):
        return "invalid_api_key"
    if isinstance(err, EnphaseRateLimitError):
        return "quota_exceeded"
    if isinstance(err, (EnphaseConnectionError, EnphaseServerError)):
        return "cannot_connect"
    _LOGGER.warning("Unexpected Enphase API error: %s", err)
    return "unknown"


async def _async_list_systems(client: EnphaseClient) -> tuple[list[System], str | None]:
    """Read every system on the account; return them, or the form error key."""
    try:
        systems = await client.all_systems()
    except EnphaseError as err:
        return [], _error_key(err)
    except ReauthRequiredError:
        raise
    except Exception:
        _LOGGER.exception("Unexpected error while reading the Enphase systems")
        return [], "unknown"
    return systems, None


def _systems_schema(systems: Sequence[System], selected: Sequence[int]) -> vol.Schema:
    """Build the systems form: a multi-select of the account's systems and a serial field.

    The current selection is filled in as suggested values by the caller, not as defaults,
    so that unticking every system is not silently undone.
    """
    options = [
        SelectOptionDict(value=str(system.system_id), label=_system_label(system))
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


def _selection(system_ids: Sequence[int]) -> dict[str, Any]:
    """Return the systems form's suggested values for these system ids."""
    return {CONF_SYSTEMS: [str(system_id) for system_id in system_ids]}


def _system_label(system: System) -> str:
    """Label a system by its name and id; addresses are never shown."""
    name = system.name or system.public_name
    return f"{name} ({system.system_id})" if name else str(system.system_id)


async def _async_resolve_selection(
    client: EnphaseClient, user_input: Mapping[str, Any]
) -> tuple[list[int], dict[str, str]]:
    """Turn the systems form into system ids, looking up a gateway serial number if given."""
    selected = {int(value) for value in user_input.get(CONF_SYSTEMS, [])}
    if serial := str(user_input.get(CONF_SERIAL_NUMBER, "")).strip():
        try:
            selected.add(await client.retrieve_system_id(serial))
        except (EnphaseNotFoundError, EnphaseForbiddenError, EnphaseInvalidRequestError):
            return [], {CONF_SERIAL_NUMBER: "serial_not_found"}
        except EnphaseError as err:
            return [], {"base": _error_key(err)}
        except Exception:
            _LOGGER.exception("Unexpected error while looking up a gateway serial number")
            return [], {"base": "unknown"}
    if not selected:
        return [], {"base": "no_systems_selected"}
    return sorted(selected), {}


class _FlowRequests:
    """Collects a flow's API requests until they are added to the key's monthly count.

    No entry (and so no planner) may exist yet, but the requests count against the
    application's quota all the same.
    """

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []

    @callback
    def record(self, record: RequestRecord) -> None:
        """Keep one request the client reports (its on_request callback)."""
        self._records.append(record)

    async def async_count(self, hass: HomeAssistant, api_key: str) -> None:
        """Add the requests kept so far to the API key's monthly count."""
        records, self._records = self._records, []
        await async_count_flow_requests(hass, api_key, records)

    def discard(self) -> None:
        """Forget the requests kept so far (an unknown key has no quota to count them in)."""
        self._records = []


async def _async_entry_token_provider(
    hass: HomeAssistant, entry: EnphaseConfigEntry
) -> TokenProvider:
    """Return a token provider for an existing entry, refreshing its token when due.

    A loaded entry's own refresh path is shared: Enphase rotates refresh tokens, so a
    second session refreshing at the same moment would be left with a dead one. Either way
    the new token is written to the entry at once, so an abandoned flow loses nothing.
    """
    if entry.state is ConfigEntryState.LOADED:
        get_access_token = entry.runtime_data.auth.async_get_access_token
    else:
        implementation = await config_entry_oauth2_flow.async_get_config_entry_implementation(
            hass, entry
        )
        session = config_entry_oauth2_flow.OAuth2Session(hass, entry, implementation)
        get_access_token = EnphaseAuth(hass, session).async_get_access_token

    async def token_provider() -> str:
        try:
            return await get_access_token()
        except ConfigEntryAuthFailed as err:
            # Only a new sign-in helps: offer it now rather than at the next poll (Home
            # Assistant skips this while a reconfigure flow of the entry is open).
            entry.async_start_reauth(hass)
            raise ReauthRequiredError from err
        except UpdateFailed as err:
            raise EnphaseConnectionError("Could not refresh the Enphase access token") from err

    return token_provider


class EnphaseFlowHandler(config_entry_oauth2_flow.AbstractOAuth2FlowHandler, domain=DOMAIN):
    """Set up an Enphase account: sign in, API key, systems, plan."""

    DOMAIN = DOMAIN
    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing known about the account."""
        super().__init__()
        self._oauth_data: dict[str, Any] = {}
        # Set by the step that knows the token: the sign-in, or the entry on reconfigure.
        self._token_provider: TokenProvider
        self._api_key = ""
        self._systems: list[System] = []
        self._selected: list[int] = []
        self._requests = _FlowRequests()

    @property
    def logger(self) -> logging.Logger:
        """Return the logger used by the OAuth2 steps."""
        return _LOGGER

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: EnphaseConfigEntry) -> EnphaseOptionsFlow:
        """Return the options flow (which systems to follow)."""
        return EnphaseOptionsFlow()

    def _client(self, api_key: str) -> EnphaseClient:
        return EnphaseClient(
            async_get_clientsession(self.hass),
            self._token_provider,
            api_key,
            on_request=self._requests.record,
        )

    async def async_oauth_create_entry(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Identify the account from the token, then ask for the API key."""
        enl_uid = data["token"].get("enl_uid")
        if enl_uid is None:
            return self.async_abort(reason="missing_account_id")
        await self.async_set_unique_id(str(enl_uid))
        self._oauth_data = data
        access_token = str(data["token"]["access_token"])

        async def token_provider() -> str:
            # Fresh from the sign-in and valid for a day: nothing to refresh during a flow.
            return access_token

        self._token_provider = token_provider
        if self.source == SOURCE_REAUTH:
            self._abort_if_unique_id_mismatch(reason="wrong_account")
            # Re-check the stored key against the new token; the form only shows if it fails.
            return await self.async_step_api_key(
                {CONF_API_KEY: self._get_reauth_entry().data[CONF_API_KEY]}
            )
        self._abort_if_unique_id_configured()
        return await self.async_step_api_key()

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauthentication after Enphase rejected the refresh token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Tell the user why they must sign in again."""
        if user_input is None:
            return self.async_show_form(
                step_id="reauth_confirm",
                description_placeholders={"name": self._get_reauth_entry().title},
            )
        return await self.async_step_user()

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API key and the plan of an existing entry."""
        entry = self._get_reconfigure_entry()
        try:
            self._token_provider = await _async_entry_token_provider(self.hass, entry)
        except _CREDENTIALS_GONE:
            return self.async_abort(reason="missing_credentials")
        return self._show_api_key_form({CONF_API_KEY: entry.data[CONF_API_KEY]}, {})

    async def async_step_api_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the application's API key and check it with a real request."""
        if user_input is None:
            return self._show_api_key_form({}, {})
        api_key = str(user_input[CONF_API_KEY]).strip()
        try:
            systems, error = await _async_list_systems(self._client(api_key))
        except ReauthRequiredError:
            await self._requests.async_count(self.hass, api_key)
            return self.async_abort(reason="reauth_required")
        if error == "invalid_api_key":
            self._requests.discard()
        else:
            await self._requests.async_count(self.hass, api_key)
        if error is None and not systems:
            error = "no_systems"
        if error is not None:
            return self._show_api_key_form(user_input, {"base": error})
        self._api_key = api_key
        self._systems = systems
        if self.source == SOURCE_REAUTH:
            return self.async_update_reload_and_abort(
                self._get_reauth_entry(),
                data_updates={**self._oauth_data, CONF_API_KEY: api_key},
            )
        if self.source == SOURCE_RECONFIGURE:
            return await self.async_step_plan()
        return await self.async_step_systems()

    def _show_api_key_form(
        self, suggested: Mapping[str, Any], errors: dict[str, str]
    ) -> ConfigFlowResult:
        return self.async_show_form(
            step_id="api_key",
            data_schema=self.add_suggested_values_to_schema(_API_KEY_SCHEMA, suggested),
            errors=errors,
            description_placeholders={"developer_url": DEVELOPER_PORTAL_URL},
        )

    async def async_step_systems(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the systems to follow, or add one by its gateway serial number."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._selected, errors = await _async_resolve_selection(
                self._client(self._api_key), user_input
            )
            await self._requests.async_count(self.hass, self._api_key)
            if not errors:
                return await self.async_step_plan()
        # A homeowner's single system comes ticked; an installer picks from the list.
        default = [self._systems[0].system_id] if len(self._systems) == 1 else []
        schema = self.add_suggested_values_to_schema(
            _systems_schema(self._systems, default), user_input or _selection(default)
        )
        return self.async_show_form(step_id="systems", data_schema=schema, errors=errors)

    async def async_step_plan(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the Enphase plan of the application, or custom limits."""
        errors: dict[str, str] = {}
        if user_input is not None:
            plan = user_input[CONF_PLAN]
            limits, errors = _plan_limits(plan, user_input)
            if not errors:
                plan_data = {
                    CONF_PLAN: plan,
                    CONF_REQUESTS_PER_MINUTE: limits[0],
                    CONF_REQUESTS_PER_MONTH: limits[1],
                }
                return self._async_finish(plan_data)
            suggested: Mapping[str, Any] = user_input
        elif self.source == SOURCE_RECONFIGURE:
            suggested = _plan_suggestions(self._get_reconfigure_entry().data)
        else:
            suggested = {}
        return self.async_show_form(
            step_id="plan",
            data_schema=self.add_suggested_values_to_schema(_PLAN_SCHEMA, suggested),
            errors=errors,
        )

    def _async_finish(self, plan_data: dict[str, Any]) -> ConfigFlowResult:
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(),
                data_updates={CONF_API_KEY: self._api_key, **plan_data},
            )
        # The one system of a homeowner account names the entry; otherwise a generic title.
        title = DEFAULT_TITLE
        if len(self._systems) == 1 and self._systems[0].name:
            title = self._systems[0].name
        return self.async_create_entry(
            title=title,
            data={**self._oauth_data, CONF_API_KEY: self._api_key, **plan_data},
            options={CONF_SYSTEMS: self._selected},
        )


def _plan_limits(
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
    if errors:
        return (0, 0), errors
    per_minute = int(user_input[CONF_REQUESTS_PER_MINUTE])
    per_month = int(user_input[CONF_REQUESTS_PER_MONTH])
    if per_minute > per_month:
        return (0, 0), {"base": "minute_above_month"}
    return (per_minute, per_month), {}


def _plan_suggestions(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the plan form's suggested values for an existing entry."""
    suggested: dict[str, Any] = {CONF_PLAN: data[CONF_PLAN]}
    if data[CONF_PLAN] == PLAN_CUSTOM:
        suggested[CONF_REQUESTS_PER_MINUTE] = data[CONF_REQUESTS_PER_MINUTE]
        suggested[CONF_REQUESTS_PER_MONTH] = data[CONF_REQUESTS_PER_MONTH]
    return suggested


class EnphaseOptionsFlow(OptionsFlow):
    """Choose which of the account's systems the entry follows, and the request reserve.

    The entry's update listener (in __init__.py) reloads it when these options change;
    OptionsFlowWithReload would refuse to run alongside that listener.
    """

    config_entry: EnphaseConfigEntry

    def __init__(self) -> None:
        """Start without the account's systems; they are read when the form opens."""
        self._client: EnphaseClient | None = None
        self._systems: list[System] = []
        self._requests = _FlowRequests()

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the account's systems, the selected ones ticked, and the request reserve."""
        errors: dict[str, str] = {}
        api_key = self.config_entry.data[CONF_API_KEY]
        limits = plan_limits(self.config_entry)
        if self._client is None:
            try:
                token_provider = await _async_entry_token_provider(self.hass, self.config_entry)
            except _CREDENTIALS_GONE:
                return self.async_abort(reason="missing_credentials")
            client = EnphaseClient(
                async_get_clientsession(self.hass),
                token_provider,
                api_key,
                on_request=self._requests.record,
            )
            try:
                self._systems, error = await _async_list_systems(client)
            except ReauthRequiredError:
                return self.async_abort(reason="reauth_required")
            finally:
                await self._requests.async_count(self.hass, api_key)
            if error is not None:
                return self.async_abort(reason=error)
            self._client = client
        if user_input is not None:
            reserve, errors = _reserve_options(user_input.get(CONF_RESERVE, {}), limits)
            if not errors:
                selected, errors = await _async_resolve_selection(self._client, user_input)
                await self._requests.async_count(self.hass, api_key)
            if not errors:
                return self.async_create_entry(data={CONF_SYSTEMS: selected, **reserve})
        selected = self.config_entry.options.get(CONF_SYSTEMS, [])
        suggested = user_input or {
            **_selection(selected),
            CONF_RESERVE: _reserve_suggestions(self.config_entry, limits),
        }
        schema = self.add_suggested_values_to_schema(
            _systems_schema(self._systems, selected).extend(
                {vol.Optional(CONF_RESERVE): _RESERVE_SECTION}
            ),
            suggested,
        )
        return self.async_show_form(
            step_id="init",
            data_schema=schema,
            errors=errors,
            description_placeholders={"quota": str(limits.per_month)},
        )


def _reserve_suggestions(entry: EnphaseConfigEntry, limits: PlanLimits) -> dict[str, int]:
    """Return the reserve the entry uses now (the default one if its options have none)."""
    reserve = plan_reserve(entry, limits)
    return {
        CONF_RESERVE_OTHER: reserve.other,
        CONF_RESERVE_MANUAL: reserve.manual_for(limits),
    }


def _reserve_options(
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
