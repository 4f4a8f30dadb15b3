"""Release checks run offline: what HACS and hassfest would say about the repository's files."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re
import struct
from typing import Any

from awesomeversion import AwesomeVersion
from homeassistant.core import HomeAssistant
from homeassistant.util.yaml import load_yaml
import pytest
import voluptuous as vol

from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.services import (
    IMPORT_HISTORY_SCHEMA,
    REFRESH_SCHEMA,
    async_setup_services,
)
from custom_components.enphase_enlighten.services_history import (
    ALARMS_SCHEMA,
    EVENTS_SCHEMA,
    async_setup_history_services,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "custom_components" / DOMAIN

# HACS's hacs.json keys (its manifest schema) and hassfest's manifest values.
HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
    "render_readme",
}
INTEGRATION_TYPES = {
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
}
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
QUALITY_STATUSES = {"done", "exempt", "todo"}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = _json(PACKAGE / "manifest.json")
    return manifest


def test_hacs_json() -> None:
    """hacs.json has the integration's name, the minimum Home Assistant, and shows the README."""
    hacs = _json(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS, set(hacs) - HACS_KEYS
    assert hacs["name"] == _manifest()["name"]
    assert hacs["render_readme"] is True
    minimum = AwesomeVersion(hacs["homeassistant"])
    assert minimum.valid
    assert minimum.section(0) >= 2026
    # The README names the same minimum in its supported versions.
    assert f"**{hacs['homeassistant']}** (the minimum" in (ROOT / "README.md").read_text()
    # HACS wants the integration in custom_components/<domain>/, one integration, not in root.
    assert not hacs.get("content_in_root", False)
    assert [p.name for p in (ROOT / "custom_components").iterdir() if p.is_dir()] == [DOMAIN]


def test_manifest_keys_and_values() -> None:
    """hassfest's rules: domain, name, then the other keys in alphabetical order, valid values."""
    manifest = _manifest()
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == DOMAIN == PACKAGE.name
    for key in (
        "codeowners",
        "config_flow",
        "dependencies",
        "documentation",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "requirements",
        "version",
    ):
        assert key in manifest, key
    assert isinstance(manifest["codeowners"], list)
    assert all(re.fullmatch(r"@[\w-]+(/[\w-]+)?", owner) for owner in manifest["codeowners"])
    assert manifest["config_flow"] is True
    assert "application_credentials" in manifest["dependencies"]
    for key in ("documentation", "issue_tracker"):
        assert manifest[key].startswith("https://"), key
    assert manifest["integration_type"] in INTEGRATION_TYPES
    assert manifest["iot_class"] in IOT_CLASSES
    assert isinstance(manifest["requirements"], list)
    # A custom integration needs a version Home Assistant can parse.
    assert AwesomeVersion(manifest["version"]).valid
    assert AwesomeVersion(manifest["version"]).strategy != "unknown"


def test_license_is_mit() -> None:
    """HACS reports a repository without a licence; ours is the OSI-approved MIT licence."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert "MIT licence" in (ROOT / "README.md").read_text()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_brand_images() -> None:
    """Brand images in the integration's brand/ folder, at the sizes the brands repo asks."""
    brand = PACKAGE / "brand"
    assert _png_size(brand / "icon.png") == (256, 256)
    assert _png_size(brand / "icon@2x.png") == (512, 512)
    width, height = _png_size(brand / "logo.png")
    assert 128 <= height <= 256
    assert width >= height


def test_readme_screenshots_exist() -> None:
    """Every image the README shows is in the repository."""
    readme = (ROOT / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert images
    for image in images:
        assert (ROOT / image).is_file(), image
        _png_size(ROOT / image)


def test_readme_screenshots_come_from_the_browser_test() -> None:
    """The README's screenshots are the ones the browser test copies into docs/ (its DOCS)."""
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"!\[[^\]]*\]\(docs/([^)]+)\)", readme)) - {"hacs-badge.png"}
    # Read, not imported: Playwright is installed on the oldest end only.
    tree = ast.parse((ROOT / "tests" / "browser" / "test_browser.py").read_text())
    (docs,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == "DOCS" for target in node.targets)
    ]
    assert shown == set(docs.values())


def test_strings_and_english_translation_are_identical() -> None:
    """translations/en.json is strings.json, byte for byte."""
    assert (PACKAGE / "strings.json").read_bytes() == (
        PACKAGE / "translations" / "en.json"
    ).read_bytes()


async def test_services_yaml_matches_registered_services(hass: HomeAssistant) -> None:
    """services.yaml and strings.json describe exactly the registered actions and fields."""
    async_setup_services(hass)
    async_setup_history_services(hass)
    registered = hass.services.async_services_for_domain(DOMAIN)
    described = load_yaml(PACKAGE / "services.yaml")
    assert isinstance(described, dict)
    assert set(described) == set(registered)
    strings = _json(PACKAGE / "strings.json")["services"]
    assert set(strings) == set(registered)
    schemas = {
        "refresh": REFRESH_SCHEMA,
        "import_history": IMPORT_HISTORY_SCHEMA,
        "get_alarms": ALARMS_SCHEMA,
        "get_events": EVENTS_SCHEMA,
    }
    assert set(schemas) == set(registered)
    for service, schema in schemas.items():
        assert registered[service].schema is schema
        keys = {str(key): isinstance(key, vol.Required) for key in schema.schema}
        fields = described[service]["fields"]
        assert {name: bool(spec.get("required", False)) for name, spec in fields.items()} == keys
        assert set(strings[service]["fields"]) == set(keys)
        assert strings[service]["name"]
        assert strings[service]["description"]


def test_quality_scale_parses() -> None:
    """Every rule has a known status; exempt and todo rules say why."""
    scale = load_yaml(PACKAGE / "quality_scale.yaml")
    assert isinstance(scale, dict)
    assert set(scale) == {"rules"}
    rules = scale["rules"]
    assert rules
    for rule, value in rules.items():
        status = value if isinstance(value, str) else value["status"]
        assert status in QUALITY_STATUSES, rule
        if status != "done":
            assert isinstance(value, dict), f"{rule}: {status} without a comment"
            assert value.get("comment", "").strip(), rule


@pytest.mark.parametrize("rule", ["integration-owner"])
def test_no_invented_owner(rule: str) -> None:
    """Without code owners in the manifest, the quality scale does not claim an owner."""
    rules = load_yaml(PACKAGE / "quality_scale.yaml")["rules"]  # type: ignore[index]
    owners = _manifest()["codeowners"]
    status = rules[rule] if isinstance(rules[rule], str) else rules[rule]["status"]
    assert (status == "done") == bool(owners)
