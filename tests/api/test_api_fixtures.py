"""The fixtures are the reference's examples, verbatim, and every example has one."""

from __future__ import annotations

import json
import re

from tests.api.fake_enphase import FIXTURES

# A copy of ../shared/enphase-api/system-details-reference.txt, kept in the repository so the
# check runs on any clean clone.
REFERENCE = FIXTURES / "reference" / "system-details-reference.txt"
# Fixtures that are not in the reference (NOTES.md describes them).
NOT_IN_REFERENCE = {"error_401_key_mismatch"}


def reference_examples(text: str) -> list[str]:
    """Cut every "Example Value / Model" JSON block out of the reference."""
    lines = text.split("\n")
    examples: list[str] = []
    for index, line in enumerate(lines):
        if line != "Example Value" or lines[index + 1] != "Model":
            continue
        depth = 0
        end = index + 2
        while True:
            depth += len(re.findall(r"[\[{]", lines[end])) - len(re.findall(r"[\]}]", lines[end]))
            end += 1
            if depth == 0:
                break
        examples.append("\n".join(lines[index + 2 : end]) + "\n")
    return examples


def test_fixtures_are_valid_json() -> None:
    names = sorted(path.stem for path in FIXTURES.glob("*.json"))
    assert len(names) >= 27
    for name in names:
        json.loads((FIXTURES / f"{name}.json").read_text())


def test_fixtures_are_verbatim_reference_examples() -> None:
    examples = set(reference_examples(REFERENCE.read_text()))
    for path in FIXTURES.glob("*.json"):
        if path.stem not in NOT_IN_REFERENCE:
            assert path.read_text() in examples, path.name


def test_every_reference_example_has_a_fixture() -> None:
    fixtures = {path.read_text() for path in FIXTURES.glob("*.json")}
    examples = reference_examples(REFERENCE.read_text())
    assert len(examples) == 70  # 69 responses and the search request body
    missing = [example[:60] for example in examples if example not in fixtures]
    assert missing == []
