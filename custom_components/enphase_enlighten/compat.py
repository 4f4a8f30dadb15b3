"""The Home Assistant version differences the integration depends on, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.const import UnitOfEnergy
from homeassistant.util.unit_conversion import EnergyConverter

if TYPE_CHECKING:
    from homeassistant.components.recorder.models import StatisticMetaData


def energy_statistic_metadata(statistic_id: str, name: str, source: str) -> StatisticMetaData:
    """Return the metadata of an external hourly energy statistic with a sum (Wh).

    Since 2025.3 a statistic says its mean type (here none, it only has a sum) and its unit
    class; ``has_mean`` is deprecated and goes in 2026.4, so it is not sent.
    """
    return {
        "mean_type": StatisticMeanType.NONE,
        "has_sum": True,
        "name": name,
        "source": source,
        "statistic_id": statistic_id,
        "unit_class": EnergyConverter.UNIT_CLASS,
        "unit_of_measurement": UnitOfEnergy.WATT_HOUR,
    }
