"""Fixtures for the request budget tests."""

from __future__ import annotations

import pytest

from custom_components.enphase_enlighten.budget import PlanLimits


@pytest.fixture
def watt() -> PlanLimits:
    return PlanLimits.for_plan("watt")
