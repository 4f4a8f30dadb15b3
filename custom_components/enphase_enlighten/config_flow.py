"""Config flow for Enphase Enlighten: OAuth2 sign-in, API key, systems and plan."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import EnphaseClient, System, TokenProvider
from .application_credentials import DEVELOPER_PORTAL_URL
from .compat import vol
from .const import (
    CONF_API_KEY,
    CONF_PLAN,
    CONF_REQUESTS_PER_MINUTE,
    CONF_REQUESTS_PER_MONTH,
    CONF_SYSTEMS,
    DOMAIN,
)
from .flow_account import (
    CREDENTIALS_GONE,
    FlowRequests,
    ReauthRequiredError,
    async_entry_token_provider,
    async_list_systems,
    async_resolve_selection,
)
from .flow_forms import (
    API_KEY_SCHEMA,
    CONF_RESERVE,
    PLAN_SCHEMA,
    RESERVE_SECTION,
    form_plan_limits,
    plan_suggestions,
    reserve_options,
    reserve_suggestions,
    system_selection,
    systems_schema,
)
from .options import plan_limits

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .runtime import EnphaseConfigEntry

_LOGGER = logging.getLogger(__name__)


DEFAULT_TITLE = "Enphase Enlighten"


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
        self._requests = FlowRequests()

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
            # Re-check the stored key against the new token; the form only shows if it fails
            # (or if the entry lost its key: then it asks for it).
            if stored := self._get_reauth_entry().data.get(CONF_API_KEY):
                return await self.async_step_api_key({CONF_API_KEY: stored})
            return await self.async_step_api_key()
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
            self._token_provider = await async_entry_token_provider(self.hass, entry)
        except CREDENTIALS_GONE:
            return self.async_abort(reason="missing_credentials")
        return self._show_api_key_form({CONF_API_KEY: entry.data.get(CONF_API_KEY) or ""}, {})

    async def async_step_api_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the application's API key and check it with a real request."""
        if user_input is None:
            return self._show_api_key_form({}, {})
        api_key = str(user_input[CONF_API_KEY]).strip()
        try:
            systems, error = await async_list_systems(self._client(api_key))
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
            data_schema=self.add_suggested_values_to_schema(API_KEY_SCHEMA, suggested),
            errors=errors,
            description_placeholders={"developer_url": DEVELOPER_PORTAL_URL},
        )

    async def async_step_systems(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the systems to follow, or add one by its gateway serial number."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._selected, errors = await async_resolve_selection(
                self._client(self._api_key), user_input
            )
            await self._requests.async_count(self.hass, self._api_key)
            if not errors:
                return await self.async_step_plan()
        # A homeowner's single system comes ticked; an installer picks from the list.
        default = [self._systems[0].system_id] if len(self._systems) == 1 else []
        schema = self.add_suggested_values_to_schema(
            systems_schema(self._systems, default), user_input or system_selection(default)
        )
        return self.async_show_form(step_id="systems", data_schema=schema, errors=errors)

    async def async_step_plan(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the Enphase plan of the application, or custom limits."""
        errors: dict[str, str] = {}
        if user_input is not None:
            plan = user_input[CONF_PLAN]
            limits, errors = form_plan_limits(plan, user_input)
            if not errors:
                plan_data = {
                    CONF_PLAN: plan,
                    CONF_REQUESTS_PER_MINUTE: limits[0],
                    CONF_REQUESTS_PER_MONTH: limits[1],
                }
                return self._async_finish(plan_data)
            suggested: Mapping[str, Any] = user_input
        elif self.source == SOURCE_RECONFIGURE:
            suggested = plan_suggestions(self._get_reconfigure_entry().data)
        else:
            suggested = {}
        return self.async_show_form(
            step_id="plan",
            data_schema=self.add_suggested_values_to_schema(PLAN_SCHEMA, suggested),
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


class EnphaseOptionsFlow(OptionsFlowWithReload):
    """Choose which of the account's systems the entry follows, and the request reserve.

    Saving changed options reloads the entry once (OptionsFlowWithReload); the entry has
    no update listener, so token refreshes, which update the entry too, reload nothing.
    """

    config_entry: EnphaseConfigEntry

    def __init__(self) -> None:
        """Start without the account's systems; they are read when the form opens."""
        self._client: EnphaseClient | None = None
        self._systems: list[System] = []
        self._requests = FlowRequests()

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the account's systems, the selected ones ticked, and the request reserve."""
        errors: dict[str, str] = {}
        api_key = self.config_entry.data.get(CONF_API_KEY)
        if not api_key:
            # The entry lost its API key: the reauth flow set-up started asks for it.
            return self.async_abort(reason="reauth_required")
        limits = plan_limits(self.config_entry)
        if self._client is None:
            try:
                token_provider = await async_entry_token_provider(self.hass, self.config_entry)
            except CREDENTIALS_GONE:
                return self.async_abort(reason="missing_credentials")
            client = EnphaseClient(
                async_get_clientsession(self.hass),
                token_provider,
                api_key,
                on_request=self._requests.record,
            )
            try:
                self._systems, error = await async_list_systems(client)
            except ReauthRequiredError:
                return self.async_abort(reason="reauth_required")
            finally:
                await self._requests.async_count(self.hass, api_key)
            if error is not None:
                return self.async_abort(reason=error)
            self._client = client
        if user_input is not None:
            reserve, errors = reserve_options(user_input.get(CONF_RESERVE, {}), limits)
            if not errors:
                selected, errors = await async_resolve_selection(self._client, user_input)
                await self._requests.async_count(self.hass, api_key)
            if not errors:
                return self.async_create_entry(data={CONF_SYSTEMS: selected, **reserve})
        selected = self.config_entry.options.get(CONF_SYSTEMS, [])
        suggested = user_input or {
            **system_selection(selected),
            CONF_RESERVE: reserve_suggestions(self.config_entry, limits),
        }
        schema = self.add_suggested_values_to_schema(
            systems_schema(self._systems, selected).extend(
                {vol.Optional(CONF_RESERVE): RESERVE_SECTION}
            ),
            suggested,
        )
        return self.async_show_form(
            step_id="init",
            data_schema=schema,
            errors=errors,
            description_placeholders={"quota": f"{limits.per_month:,}"},
        )
