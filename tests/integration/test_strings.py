"""Every translation key and icon the runtime uses exists, in strings.json and en.json alike."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re

import homeassistant

from custom_components.enphase_enlighten.alarm_sensor import ACTIVE_ALARMS
from custom_components.enphase_enlighten.alarms import ChangeKind
from custom_components.enphase_enlighten.binary_sensor import (
    ACTIVE_ALARM,
    DEVICE_PROBLEM,
    SYSTEM_BINARY_SENSORS,
)
from custom_components.enphase_enlighten.budget import RefreshRefusal
from custom_components.enphase_enlighten.device_trigger import CONF_EVENT_TYPE_ID, TRIGGER_TYPES
from custom_components.enphase_enlighten.energy import (
    ENDPOINT_LATEST_TELEMETRY,
    GROUPS,
    refused_issue_key,
)
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

TELEMETRY_REFUSED = {
    refused_issue_key(endpoint) for endpoint in (*GROUPS, ENDPOINT_LATEST_TELEMETRY)
}
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
        *TELEMETRY_REFUSED,
    }
    # One text per refused endpoint (energy.refused_issue_key): what stops is in the words.
    for key in TELEMETRY_REFUSED:
        for placeholder in ("{entry}", "{system_id}", "{plan}", "{needed}"):
            assert placeholder in issues[key]["description"], (key, placeholder)
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


# The walk: every translation key the package's code uses, found in its syntax tree, and every
# key of strings.json used by some code. A key added to strings.json only, or used only in the
# code, fails here.

HA = Path(homeassistant.__file__).parent
# Abort reasons and results Home Assistant's own flow code raises for an OAuth2 config flow.
HA_FLOW_SOURCES = (
    HA / "config_entries.py",
    HA / "data_entry_flow.py",
    HA / "helpers" / "config_entry_oauth2_flow.py",
)
FLOW_MODULES = ("config_flow.py", "flow_forms.py", "flow_account.py")
# What an f-string key's placeholder can be, by the key's prefix.
FSTRING_KEYS = {"refresh_": [str(reason) for reason in RefreshRefusal]}
# A key taken from another error, not written out (services.py re-raises the coordinator's).
REUSED_KEYS = {"cause.translation_key"}
# A flow's reason held in a variable: its values are the form errors collected below.
FLOW_VARIABLES = {"error"}


def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text())
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _constants() -> dict[str, str]:
    """Module-level string constants (const.py and each module), to resolve Name keys."""
    found: dict[str, str] = {}
    for tree in _modules().values():
        for node in tree.body:
            if (
                isinstance(node, (ast.Assign, ast.AnnAssign))
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = node.value.value
    return found


def _returned_keys() -> dict[str, set[str]]:
    """The string literals each module-level function of the package returns."""
    found: dict[str, set[str]] = {}
    for tree in _modules().values():
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                found[node.name] = {
                    inner.value.value
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Return)
                    and isinstance(inner.value, ast.Constant)
                    and isinstance(inner.value.value, str)
                }
    return found


def _func_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _keys_of(node: ast.expr, constants: dict[str, str], where: str) -> set[str]:
    """The keys an expression can be: a literal, a constant, an f-string, a conditional."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name) and node.id in constants:
        return {constants[node.id]}
    if isinstance(node, ast.IfExp):
        return _keys_of(node.body, constants, where) | _keys_of(node.orelse, constants, where)
    if isinstance(node, ast.Call) and (returns := _returned_keys().get(_func_name(node))):
        # A helper picking the key (repairs.plan_issue_key): every literal it returns.
        return returns
    if isinstance(node, ast.JoinedStr):
        prefix = node.values[0]
        assert isinstance(prefix, ast.Constant), where
        assert prefix.value in FSTRING_KEYS, f"{where}: f-string key {prefix.value}..."
        return {f"{prefix.value}{value}" for value in FSTRING_KEYS[prefix.value]}
    raise AssertionError(f"{where}: cannot tell which key {ast.unparse(node)} is")


def used_keys() -> dict[str, set[str]]:
    """Every key the code uses, by the strings.json section it belongs in."""
    constants = _constants()
    used: dict[str, set[str]] = {
        "exceptions": set(),
        "issues": set(),
        "selector": set(),
        "flow": set(),
        "step": set(),
    }
    used |= {f"entity.{platform}": set() for platform in PLATFORM_KEYS}
    for name, tree in _modules().items():
        platform = name.removesuffix(".py")
        for node in ast.walk(tree):
            where = f"{name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call):
                func = _func_name(node)
                keywords = {k.arg: k.value for k in node.keywords}
                if func.endswith("Description"):
                    # entity.py uses the key when no translation_key is given; the class
                    # says the platform (alarm_sensor.py's is a sensor too).
                    kind = (
                        "binary_sensor"
                        if "BinarySensor" in func
                        else "sensor"
                        if "Sensor" in func
                        else "event"
                        if "Event" in func
                        else platform
                    )
                    key = keywords.get("translation_key", keywords.get("key"))
                    if key is not None and f"entity.{kind}" in used:
                        used[f"entity.{kind}"] |= _keys_of(key, constants, where)
                    continue
                if "translation_key" in keywords:
                    value = keywords["translation_key"]
                    if ast.unparse(value) in REUSED_KEYS:
                        continue
                    keys = _keys_of(value, constants, where)
                    if func == "async_create_issue":
                        used["issues"] |= keys
                    elif func.endswith("SelectorConfig"):
                        used["selector"] |= keys
                    else:
                        used["exceptions"] |= keys
                if (
                    name in FLOW_MODULES
                    and "reason" in keywords
                    and ast.unparse(keywords["reason"]) not in FLOW_VARIABLES
                ):
                    used["flow"] |= _keys_of(keywords["reason"], constants, where)
                if name in FLOW_MODULES and "step_id" in keywords:
                    used["step"] |= _keys_of(keywords["step_id"], constants, where)
            elif name in FLOW_MODULES and isinstance(node, ast.Dict):
                # Form errors: {"base": "key"} or {CONF_FIELD: "key"}.
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        (isinstance(key, ast.Constant) and key.value == "base")
                        or (isinstance(key, ast.Name) and key.id.startswith("CONF_"))
                    ) and isinstance(value, ast.Constant):
                        used["flow"] |= _keys_of(value, constants, where)
            elif name in FLOW_MODULES and isinstance(node, ast.DictComp):
                if isinstance(node.value, ast.Constant):
                    used["flow"] |= _keys_of(node.value, constants, where)
            elif name in FLOW_MODULES and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                # error_key and its kin return a form error's key; `error = "..."` sets one.
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Return) and inner.value is not None:
                        values = (
                            inner.value.elts
                            if isinstance(inner.value, ast.Tuple)
                            else [inner.value]
                        )
                        for value in values:
                            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                                used["flow"].add(value.value)
                    if (
                        isinstance(inner, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "error" for t in inner.targets)
                        and isinstance(inner.value, ast.Constant)
                    ):
                        used["flow"].add(inner.value.value)
            elif (
                isinstance(node, ast.Assign)
                and any(
                    isinstance(t, ast.Attribute) and t.attr == "_attr_translation_key"
                    for t in node.targets
                )
                and isinstance(node.value, ast.Constant)
                and f"entity.{platform}" in used
            ):
                used[f"entity.{platform}"].add(node.value.value)
    return used


def _ha_flow_words() -> set[str]:
    words: set[str] = set()
    for source in HA_FLOW_SOURCES:
        words |= set(re.findall(r'"([a-z_]+)"', source.read_text()))
    return words


def test_every_used_key_has_a_string_and_every_string_is_used() -> None:
    """The code's keys and strings.json's keys are the same sets, section by section."""
    used = used_keys()
    assert used["exceptions"] == set(STRINGS["exceptions"])
    assert used["issues"] == set(STRINGS["issues"])
    assert used["selector"] == set(STRINGS["selector"])
    for platform in PLATFORM_KEYS:
        assert used[f"entity.{platform}"] == set(STRINGS["entity"][platform]), platform
    assert set(STRINGS["entity"]) == set(PLATFORM_KEYS)

    flow_strings = {
        key
        for flow in ("config", "options")
        for part in ("error", "abort")
        for key in STRINGS[flow].get(part, {})
    }
    # Our flows' errors and reasons all have a text...
    assert used["flow"] - {"base"} <= flow_strings, used["flow"] - flow_strings
    # ...and every text is one our flows produce or Home Assistant's flow code raises.
    unused = flow_strings - used["flow"] - _ha_flow_words()
    assert not unused, unused
    # Steps: ours, and the OAuth2 flow's implementation picker.
    steps = set(STRINGS["config"]["step"]) | set(STRINGS["options"]["step"])
    assert steps == used["step"] | {"pick_implementation"}


def test_every_action_is_described() -> None:
    """Each registered action has its strings, and no strings name an action not registered."""
    constants = _constants()
    registered = {
        next(iter(_keys_of(node.args[1], constants, name)))
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _func_name(node) == "async_register"
    }
    assert "refresh" in registered
    assert registered == set(STRINGS["services"])


def test_every_section_is_checked() -> None:
    """A new top-level section of strings.json needs a check here first."""
    checked = {
        "application_credentials",
        "config",
        "options",
        "selector",
        "entity",
        "exceptions",
        "services",
        "issues",
    }
    assert set(STRINGS) <= checked | {"device_automation"}
    assert STRINGS == EN


def test_device_triggers_and_event_changes_translated() -> None:
    """Each device trigger, its alarm type field, and each change the event fires has a text."""
    automation = STRINGS["device_automation"]
    assert sorted(automation["trigger_type"]) == sorted(TRIGGER_TYPES)
    assert automation["extra_fields"][CONF_EVENT_TYPE_ID]
    assert automation["extra_fields_descriptions"][CONF_EVENT_TYPE_ID]
    states = STRINGS["entity"]["event"]["alarm"]["state_attributes"]["event_type"]["state"]
    assert sorted(states) == sorted(kind.value for kind in ChangeKind)
    assert EN["device_automation"] == automation
