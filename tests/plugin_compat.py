"""Adapts pytest-homeassistant-custom-component to the Home Assistant it runs on (tests only).

The newest end pins Home Assistant 2026.11.0 with pytest-homeassistant-custom-component
0.13.375, the newest plugin release, which was made for Home Assistant 2026.10.4. Each shim
below says what moved and when it can go: as soon as requirements_test_newest.txt pins a
plugin release made for the Home Assistant it pins. On the oldest end (2026.2.3 with its own
plugin release) every shim finds nothing to do.

`apply()` runs in tests/conftest.py before the plugin is imported (the plugin is loaded from
there, not from its entry point, see pyproject.toml), and Home Assistant itself is imported
before any other plugin by `-p homeassistant.const`: 2026.11 aliases httpx to httpx2 on import
and refuses to once respx's plugin has imported httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from homeassistant.helpers.restore_state import StoredState


def apply() -> None:
    """Make this Home Assistant offer what the installed plugin imports and sets."""
    _logger_overwrites()
    _restore_state_last_states()


def _logger_overwrites() -> None:
    # 2026.11 moved _clear_logger_overwrites to logger.helpers; the plugin imports it from the
    # package. Remove with a plugin release for 2026.11.
    from homeassistant.components import logger

    if hasattr(logger, "_clear_logger_overwrites"):
        return
    from homeassistant.components.logger import helpers

    logger._clear_logger_overwrites = helpers._clear_logger_overwrites


def _restore_state_last_states() -> None:
    # 2026.11 indexes restore states by entity registry id (last_states_by_entity_registry_id)
    # and no longer reads `last_states`, which the plugin's mock_restore_cache* set. Remove
    # with a plugin release for 2026.11.
    from homeassistant.helpers import entity_registry as er, restore_state as rs

    data_cls = rs.RestoreStateData
    if hasattr(data_cls, "last_states") or not hasattr(data_cls, "_async_load_stored_states"):
        return
    entry_created = rs._entity_registry_entry_created_filter

    def _get(self: rs.RestoreStateData) -> dict[str, StoredState]:
        return {
            **self.last_states_by_entity_id,
            **{s.state.entity_id: s for s in self.last_states_by_entity_registry_id.values()},
        }

    def _set(self: rs.RestoreStateData, states: dict[str, StoredState]) -> None:
        # As loading from storage would: a state whose entity is registered follows its
        # registry id, one registered later moves there when its entry is created.
        registry = er.async_get(self.hass)
        self.last_states_by_entity_id = {}
        self.last_states_by_entity_registry_id = {}
        for entity_id, stored in states.items():
            if (entry := registry.async_get(entity_id)) is None:
                self.last_states_by_entity_id[entity_id] = stored
            else:
                stored.entity_registry_id = entry.id
                self.last_states_by_entity_registry_id[entry.id] = stored
        self.hass.bus.async_listen(
            er.EVENT_ENTITY_REGISTRY_UPDATED,
            self._async_entity_registry_entry_created,
            event_filter=entry_created,
        )

    prop: Any = property(_get, _set)
    data_cls.last_states = prop
