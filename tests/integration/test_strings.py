"""Every translation key and icon the runtime uses exists, in strings.json and en.json alike."""

from __future__ import annotations

import json
from pathlib import Path
import re

from custom_components.enphase_enlighten.alarm_sensor import ACTIVE_ALARMS
from custom_components.enphase_enlighten.alarms import ChangeKind
from custom_components.enphase_enlighten.binary_sensor import (
    ACTIVE_ALARM,
    DEVICE_PROBLEM,
    SYSTEM_BINARY_SENSORS,
)
from custom_components.enphase_enlighten.budget import RefreshRefusal
from custom_components.enphase_enlighten.device_trigger import CONF_EVENT_TYPE_ID, TRIGGER_TYPES
from custom_components.enphase_enlighten.event import ALARM_EVENT
from custom_components.enphase_enlighten.sensor import (
    BUDGET_SENSORS,
    DEVICE_SENSORS,
    DEVICE_STATUSES,
    LIFETIME_ENERGY,
    MICRO_SENSORS,
    SUMMARY_SENSORS,
    SYSTEM_STATUSES,
)
from custom_components.enphase_enlighten.sensor_telemetry import LIVE_SENSORS

PACKAGE = Path(__file__).parent.parent.parent / "custom_components" / "enphase_enlighten"
STRINGS = json.loads((PACKAGE / "strings.json").read_text())
EN = json.loads((PACKAGE / "translations" / "en.json").read_text())
ICONS = json.loads((PACKAGE / "icons.json").read_text())

PLATFORM_KEYS = {
    "sensor": [
        d.key
        for d in (
            *SUMMARY_SENSORS,
            LIFETIME_ENERGY,
            *DEVICE_SENSORS,
            *MICRO_SENSORS,
            *BUDGET_SENSORS,
            *LIVE_SENSORS,
            ACTIVE_ALARMS,
        )
    ],
    "binary_sensor": [d.key for d in (*SYSTEM_BINARY_SENSORS, ACTIVE_ALARM, DEVICE_PROBLEM)],
    "event": [ALARM_EVENT.key],
}


def test_entity_names_translated() -> None:
    """Each entity description has a translated name; nothing unused is left behind."""
    for platform, keys in PLATFORM_KEYS.items():
        translated = STRINGS["entity"][platform]
        assert sorted(keys) == sorted(translated)
        for key in keys:
            assert translated[key]["name"]


def test_statuses_translated() -> None:
    """Every known status has a translated state."""
    sensor = STRINGS["entity"]["sensor"]
    assert sorted(sensor["status"]["state"]) == sorted(SYSTEM_STATUSES)
    assert sorted(sensor["device_status"]["state"]) == sorted(DEVICE_STATUSES)


def test_exceptions_translated() -> None:
    """Every translation_key used in the runtime modules has a message or an issue text."""
    used: set[str] = set()
    runtime_modules = (
        "__init__.py",
        "auth.py",
        "coordinator.py",
        "repairs.py",
        "runtime.py",
        "energy.py",
    )
    for name in runtime_modules:
        used |= set(re.findall(r'translation_key="([a-z_]+)"', (PACKAGE / name).read_text()))
    assert used
    assert used <= set(STRINGS["exceptions"]) | set(STRINGS["issues"])
    # A refused manual refresh says why, with the time it may be tried again.
    for reason in RefreshRefusal:
        assert "{retry_at}" in STRINGS["exceptions"][f"refresh_{reason}"]["message"]


def test_issues_translated() -> None:
    """Every repair issue has a title and a description with its placeholders."""
    issues = STRINGS["issues"]
    assert set(issues) == {
        "quota_exhausted",
        "plan_too_small",
        "plan_too_small_one_system",
        "plan_too_small_for_any",
        "plan_too_small_max_one",
        "lifetime_energy_reset",
        "system_missing",
        "settings_unreadable",
        "telemetry_refused",
    }
    for placeholder in ("{channels}", "{system_id}", "{plan}", "{needed}"):
        assert placeholder in issues["telemetry_refused"]["description"]
    assert "{settings}" in issues["settings_unreadable"]["description"]
    for placeholder in ("{entry}", "{system}", "{since}"):
        assert placeholder in issues["system_missing"]["description"]
    for placeholder in ("{entity}", "{shown}", "{read}"):
        assert placeholder in issues["lifetime_energy_reset"]["description"]
    assert "{resume_at}" in issues["quota_exhausted"]["description"]
    # One text per case of the plan-too-small issue (repairs.plan_issue_key), plain placeholders.
    for key, placeholders in {
        "plan_too_small_one_system": ("{entry}", "{quota}", "{interval}", "{limit}"),
        "plan_too_small_for_any": ("{entry}", "{systems}", "{interval}", "{limit}"),
        "plan_too_small_max_one": ("{entry}", "{systems}", "{interval}", "{limit}"),
        "plan_too_small": ("{entry}", "{systems}", "{max_systems}", "{interval}", "{limit}"),
    }.items():
        for placeholder in placeholders:
            assert placeholder in issues[key]["description"], (key, placeholder)
    for issue in issues.values():
        assert issue["title"]


def test_icons_refer_to_entities() -> None:
    """icons.json only names translation keys that exist."""
    for platform, entries in ICONS["entity"].items():
        assert set(entries) <= set(PLATFORM_KEYS[platform])


def test_english_matches_strings() -> None:
    """translations/en.json carries the same entity and exception texts as strings.json."""
    for section in ("entity", "exceptions", "issues"):
        assert EN[section] == STRINGS[section]


def test_device_triggers_and_event_changes_translated() -> None:
    """Each device trigger, its alarm type field, and each change the event fires has a text."""
    automation = STRINGS["device_automation"]
    assert sorted(automation["trigger_type"]) == sorted(TRIGGER_TYPES)
    assert automation["extra_fields"][CONF_EVENT_TYPE_ID]
    assert automation["extra_fields_descriptions"][CONF_EVENT_TYPE_ID]
    states = STRINGS["entity"]["event"]["alarm"]["state_attributes"]["event_type"]["state"]
    assert sorted(states) == sorted(kind.value for kind in ChangeKind)
    assert EN["device_automation"] == automation
