"""Repair issue texts as the frontend renders them: plural forms, numbers, what to do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import re
import string

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_enlighten.budget import FreshnessVerdict
from custom_components.enphase_enlighten.const import DOMAIN
from custom_components.enphase_enlighten.messages import format_time
from custom_components.enphase_enlighten.repairs import (
    async_update_plan_issue,
    async_update_quota_issue,
    freshness_issue_id,
    quota_issue_id,
)

STRINGS = json.loads(
    (Path(__file__).parents[2] / "custom_components" / DOMAIN / "strings.json").read_text()
)
ARGUMENT = re.compile(r"\{(\w+)(?:, (plural|select), )?")


def render_icu(message: str, values: dict[str, str]) -> str:
    """Render the ICU message format subset the frontend uses: {x}, plural (=N, one, other, #)."""
    out: list[str] = []
    i = 0
    while i < len(message):
        if message[i] != "{":
            out.append(message[i])
            i += 1
            continue
        match = ARGUMENT.match(message, i)
        assert match, message[i:]
        name, kind = match.group(1), match.group(2)
        if kind is None:
            end = message.index("}", i)
            out.append(values[name])
            i = end + 1
            continue
        i = match.end()
        cases: dict[str, str] = {}
        while message[i] != "}":
            selector_end = message.index("{", i)
            selector = message[i:selector_end].strip()
            depth, j = 1, selector_end + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(message[j], 0)
                j += 1
            cases[selector] = message[selector_end + 1 : j - 1]
            i = j
            while message[i] == " ":
                i += 1
        i += 1
        number = int(values[name])
        case = cases.get(f"={number}") or cases.get("one" if number == 1 else "other")
        assert case is not None, (name, cases)
        out.append(render_icu(case.replace("#", str(number)), values))
    return "".join(out)


def _verdict(systems: int, max_systems: int) -> FreshnessVerdict:
    return FreshnessVerdict(
        ok=False,
        systems=systems,
        daylight_interval=timedelta(minutes=95),
        limit=timedelta(hours=1),
        max_systems=max_systems,
    )


def _rendered(hass: HomeAssistant, issue_id: str, key: str) -> str:
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == key
    placeholders = dict(issue.translation_placeholders or {})
    return render_icu(STRINGS["issues"][key]["description"], placeholders)


@pytest.mark.parametrize(
    ("systems", "max_systems", "key", "says", "never_says"),
    [
        (
            1,
            0,
            "plan_too_small_one_system",
            ["follows one system,", "its data", "too small even for one system", "bigger plan"],
            ["1 systems", "at most 0", "fewer systems"],
        ),
        (
            3,
            0,
            "plan_too_small_for_any",
            ["follows 3 systems,", "each system's data", "too small even for one system"],
            ["at most 0", "fewer systems"],
        ),
        (
            3,
            1,
            "plan_too_small_max_one",
            ["follows 3 systems,", "each system's data", "at most one system.", "fewer systems"],
            ["at most 1 systems"],
        ),
        (
            30,
            12,
            "plan_too_small",
            ["follows 30 systems,", "at most 12 systems.", "fewer systems"],
            [],
        ),
    ],
)
async def test_plan_too_small_reads_right(
    hass: HomeAssistant,
    systems: int,
    max_systems: int,
    key: str,
    says: list[str],
    never_says: list[str],
) -> None:
    """Singular and plural forms, no "at most 0", no "fewer systems" for one system."""
    entry = MockConfigEntry(domain=DOMAIN, title="Sunny Cottage")
    entry.add_to_hass(hass)
    async_update_plan_issue(hass, entry, 50_000, _verdict(systems, max_systems), has_systems=True)
    text = _rendered(hass, freshness_issue_id(entry.entry_id), key)
    assert text.startswith("Sunny Cottage follows")
    assert "(50,000 requests a month)" in text
    for part in says:
        assert part in text, (part, text)
    for part in never_says:
        assert part not in text, (part, text)
    assert "{" not in text


def _strings(node: object, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [pair for key, value in node.items() for pair in _strings(value, f"{path}.{key}")]
    return [(path, node)] if isinstance(node, str) else []


def test_every_string_parses_as_home_assistant_reads_it() -> None:
    """Home Assistant (2026.11) checks each translation with Python's string formatter and
    drops one it cannot parse, such as ICU plural forms: every string here must parse, with
    plain placeholders only."""
    formatter = string.Formatter()
    for path, text in _strings(STRINGS):
        fields = [field for _, field, spec, _ in formatter.parse(text) if field is not None]
        assert all(re.fullmatch(r"\w+", field) for field in fields), (path, fields)


async def test_quota_issue_numbers_and_time_zone(hass: HomeAssistant) -> None:
    """The spent-quota issue formats the quota and names the time zone of its time."""
    await hass.config.async_set_time_zone("America/Los_Angeles")
    entry = MockConfigEntry(domain=DOMAIN, title="Sunny Cottage")
    entry.add_to_hass(hass)
    resume = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    async_update_quota_issue(hass, entry, 1000, resume)
    text = _rendered(hass, quota_issue_id(entry.entry_id), "quota_exhausted")
    assert "its 1,000 requests" in text
    assert "resumes at 2026-07-01 00:00 PDT," in text
    assert format_time(resume) == "2026-07-01 00:00 PDT"
    assert dt_util.get_default_time_zone().key == "America/Los_Angeles"


def test_refused_refresh_claims_no_reserve_it_may_not_have() -> None:
    """A spent budget does not say something is kept for other uses when nothing may be."""
    message = STRINGS["exceptions"]["refresh_budget"]["message"]
    assert "what is left is kept" not in message
    assert "any reserve" in message
