"""quality_scale.yaml lists every current rule, and what it claims holds in the code and README."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re
from typing import Any

import homeassistant
from homeassistant.util.yaml import load_yaml
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "custom_components" / "enphase_enlighten"
README = (ROOT / "README.md").read_text()
STRINGS = json.loads((PACKAGE / "strings.json").read_text())
MANIFEST = json.loads((PACKAGE / "manifest.json").read_text())

# The current rules by tier (hassfest's script/hassfest/quality_scale.py, Home Assistant 2026.11;
# docs-conditions and docs-triggers joined Bronze in 2026.x).
TIERS: dict[str, set[str]] = {
    "bronze": {
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow-test-coverage",
        "config-flow",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    },
    "silver": {
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    },
    "gold": {
        "devices",
        "diagnostics",
        "discovery-update-info",
        "discovery",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    },
    "platinum": {"async-dependency", "inject-websession", "strict-typing"},
}
ALL_RULES = set().union(*TIERS.values())

# The README section each docs rule is answered in (a heading of that name).
DOCS_SECTIONS = {
    "docs-high-level-description": "What it does",
    "docs-installation-instructions": "Installation",
    "docs-removal-instructions": "Removal",
    "docs-actions": "Actions",
    "docs-installation-parameters": "Configuration steps",
    "docs-configuration-parameters": "Options",
    "docs-data-update": "How data is updated",
    "docs-examples": "Automations",
    "docs-known-limitations": "Known limitations",
    "docs-supported-devices": "Supported devices",
    "docs-supported-functions": "What you get",
    "docs-troubleshooting": "Troubleshooting",
    "docs-use-cases": "Use cases",
    "docs-triggers": "Device triggers",
    "docs-conditions": "Device conditions",
}

# Exceptions a user reads (in the UI, the log, an action's answer).
USER_ERRORS = {
    "HomeAssistantError",
    "ServiceValidationError",
    "ConfigEntryNotReady",
    "ConfigEntryAuthFailed",
    "ConfigEntryError",
    "UpdateFailed",
    # messages.update_failure builds either an UpdateFailed or an action's HomeAssistantError.
    "error_type",
}


def _rules() -> dict[str, dict[str, Any]]:
    scale = load_yaml(PACKAGE / "quality_scale.yaml")
    assert isinstance(scale, dict)
    return {
        rule: value if isinstance(value, dict) else {"status": value}
        for rule, value in scale["rules"].items()
    }


def _status(rule: str) -> str:
    return str(_rules()[rule]["status"])


def _headings() -> set[str]:
    return {match.strip() for match in re.findall(r"^#{2,4} (.+)$", README, re.MULTILINE)}


def _module(name: str) -> ast.Module:
    return ast.parse((PACKAGE / name).read_text())


def _user_errors(name: str) -> list[ast.Call]:
    """Every construction of an error a user reads in one module."""
    return [
        node
        for node in ast.walk(_module(name))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", "")) in USER_ERRORS
    ]


def _untranslated(call: ast.Call) -> str | None:
    """Why an error construction is not translated properly, or None."""
    keywords = {k.arg: k.value for k in call.keywords}
    if call.args:
        return "passes a message instead of a translation key"
    if "translation_domain" not in keywords or "translation_key" not in keywords:
        return "has no translation_domain and translation_key"
    placeholders = keywords.get("translation_placeholders")
    if placeholders is not None:
        text = ast.unparse(placeholders)
        # Data (a status, a time, a title) only, never an exception's text.
        if re.search(r"\b(err|error|exc|exception|last_exception)\b", text):
            return f"passes exception text as a placeholder: {text}"
    return None


def _package_modules() -> list[str]:
    return [str(path.relative_to(PACKAGE)) for path in sorted(PACKAGE.rglob("*.py"))]


def test_every_current_rule_is_listed_once_with_a_status() -> None:
    """Bronze to Platinum: every rule, done or exempt with a reason (one documented todo)."""
    rules = _rules()
    assert set(rules) == ALL_RULES, set(rules) ^ ALL_RULES
    for rule, value in rules.items():
        if value["status"] != "done":
            assert str(value.get("comment", "")).strip(), rule
        if value["status"] == "todo":
            assert rule == "integration-owner", rule
        else:
            assert value["status"] in {"done", "exempt"}, rule


def test_rules_of_the_installed_home_assistant_are_listed() -> None:
    """A rule core integrations of this Home Assistant use is one of ours (newer ones fail)."""
    core = Path(homeassistant.__file__).parent / "components"
    seen: set[str] = set()
    for path in core.glob("*/quality_scale.yaml"):
        seen |= set(re.findall(r"^  ([a-z-]+):", path.read_text(), re.MULTILINE))
    if not seen:
        pytest.fail("this Home Assistant ships no quality_scale.yaml to compare with")
    assert seen <= ALL_RULES, seen - ALL_RULES


def test_integration_owner_todo_while_nobody_owns_it() -> None:
    """No invented owner: todo exactly while the manifest has no code owner."""
    assert (_status("integration-owner") == "done") == bool(MANIFEST["codeowners"])


def test_docs_rules_have_their_readme_sections() -> None:
    """A done docs rule has its section in the README; an exempt one says why it needs none."""
    headings = _headings()
    for rule, section in DOCS_SECTIONS.items():
        if _status(rule) == "done":
            assert section in headings, f"{rule}: README has no '{section}' section"


def test_device_triggers_and_conditions_match_the_code() -> None:
    """docs-triggers/docs-conditions are done with the module, exempt without it."""
    for rule, module, variable in (
        ("docs-triggers", "device_trigger.py", "TRIGGER_TYPES"),
        ("docs-conditions", "device_condition.py", "CONDITION_TYPES"),
    ):
        path = PACKAGE / module
        if _status(rule) == "exempt":
            assert not path.exists(), f"{rule} exempt but {module} exists"
            continue
        assert path.exists(), f"{rule} done without {module}"
        source = path.read_text()
        assert re.search(rf"^{variable}\b", source, re.MULTILINE), f"{module}: no {variable}"
        assert DOCS_SECTIONS[rule] in _headings()


@pytest.mark.parametrize("module", _package_modules())
def test_exception_translations(module: str) -> None:
    """exception-translations: every error a user reads has its key, no passed-through text."""
    assert _status("exception-translations") == "done"
    problems = [
        f"{module}:{call.lineno} {why}"
        for call in _user_errors(module)
        if (why := _untranslated(call)) is not None
    ]
    assert not problems


def test_no_message_is_only_a_placeholder() -> None:
    """No exception or issue text just passes something through ('{error}')."""
    for section in ("exceptions", "issues"):
        for key, texts in STRINGS[section].items():
            for text in texts.values():
                assert "{error}" not in text, f"{section}.{key}"
                assert re.sub(r"\{[^}]*\}", "", text).strip(" :.") != "", f"{section}.{key}"


def test_action_exceptions() -> None:
    """action-exceptions: the actions raise only translated errors, and raise some."""
    assert _status("action-exceptions") == "done"
    raised = _user_errors("services.py") + _user_errors("messages.py")
    assert raised
    assert [call.lineno for call in raised if _untranslated(call)] == []
    raises = [node for node in ast.walk(_module("services.py")) if isinstance(node, ast.Raise)]
    for node in raises:
        # Every raise in services.py is a user error or a helper returning one.
        assert isinstance(node.exc, ast.Call), ast.unparse(node)
        name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", ""))
        assert name in USER_ERRORS | {"refresh_refused", "enphase_failure", "rate_limit_refusal"}, (
            ast.unparse(node)
        )


def test_entity_rules() -> None:
    """has-entity-name and entity-translations: entities named by translation keys."""
    assert _status("has-entity-name") == "done"
    assert _status("entity-translations") == "done"
    entity = (PACKAGE / "entity.py").read_text()
    assert "_attr_has_entity_name = True" in entity
    assert "_attr_translation_key = description.key" in entity
    for platform in ("sensor", "binary_sensor", "event"):
        assert STRINGS["entity"][platform]
        source = (PACKAGE / f"{platform}.py").read_text()
        # Platform entities name themselves only by translation keys, never a hard-coded name.
        assert "_attr_name =" not in source, platform
        assert re.search(r"^PARALLEL_UPDATES = \d+$", source, re.MULTILINE), platform


def test_flow_rules() -> None:
    """config-flow, reauthentication-flow, reconfiguration-flow: the steps exist."""
    source = (PACKAGE / "config_flow.py").read_text()
    assert MANIFEST["config_flow"] is True
    expected = {
        "reauthentication-flow": "async def async_step_reauth(",
        "reconfiguration-flow": "async def async_step_reconfigure(",
        "config-flow": "async def async_step_",
    }
    for rule, definition in expected.items():
        assert _status(rule) == "done"
        assert definition in source, rule


def test_files_the_rules_need() -> None:
    """diagnostics, icon-translations, brands, repair-issues, strict-typing and the others."""
    assert _status("diagnostics") == "done"
    diagnostics = (PACKAGE / "diagnostics.py").read_text()
    assert "async def async_get_config_entry_diagnostics(" in diagnostics
    assert "async def async_get_device_diagnostics(" in diagnostics
    assert _status("icon-translations") == "done"
    assert json.loads((PACKAGE / "icons.json").read_text())["entity"]
    assert _status("brands") == "done"
    assert (PACKAGE / "brand" / "icon.png").exists()
    assert _status("repair-issues") == "done"
    assert "async_create_issue(" in (PACKAGE / "repairs.py").read_text()
    assert STRINGS["issues"]
    assert _status("strict-typing") == "done"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^\[tool\.mypy\]\n(?:.*\n)*?strict = true$", pyproject, re.MULTILINE)
    assert 'mypy" --strict' in (ROOT / "scripts" / "lint").read_text()
    assert _status("runtime-data") == "done"
    assert "entry.runtime_data = " in (PACKAGE / "runtime.py").read_text()
    assert _status("inject-websession") == "done"
    assert "async_get_clientsession(" in (PACKAGE / "runtime.py").read_text()
    assert _status("diagnostics") == "done"


def test_exempt_rules_are_true() -> None:
    """The exemptions hold: no requirement, nothing to discover on the network."""
    assert _status("dependency-transparency") == "exempt"
    assert MANIFEST["requirements"] == []
    for rule in ("discovery", "discovery-update-info"):
        assert _status(rule) == "exempt"
    assert MANIFEST["iot_class"] == "cloud_polling"
    assert not {"zeroconf", "ssdp", "dhcp", "usb", "bluetooth", "mqtt", "homekit"} & set(MANIFEST)
    assert _status("async-dependency") == "done"
    for module in _package_modules():
        tree = _module(module)
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert not {"requests", "urllib3", "httpx"} & imported, module
