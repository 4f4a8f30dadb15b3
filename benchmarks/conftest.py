"""Fixtures for benchmarks that run a real Home Assistant: the test suite's own."""

from tests.conftest import sim, sim_scenario, sim_url
from tests.integration.conftest import (
    auto_enable_custom_integrations,
    config_entry,
    plan,
    setup_credentials,
)

__all__ = [
    "auto_enable_custom_integrations",
    "config_entry",
    "plan",
    "setup_credentials",
    "sim",
    "sim_scenario",
    "sim_url",
]
