"""Event types served by /systems/event_types: the reference's two plus common ones."""

from __future__ import annotations

from typing import Any

EVENT_TYPES: tuple[dict[str, Any], ...] = (
    {
        "event_type_id": 28,
        "event_type_key": "envoy_no_report",
        "stateful": True,
        "event_name": "Gateway not reporting",
        "event_description": "The broadband Internet connection that the Enphase gateway uses to communicate to the Enphase servers is experiencing a problem.",
        "recommended_action": "Check that your gateway and Internet router are plugged in and that the site's Internet service is not experiencing an outage.",
    },
    {
        "event_type_id": 4781,
        "event_type_key": "acb_sleeping",
        "stateful": False,
        "event_name": "AC Battery Sleeping",
        "event_description": "AC Battery has entered the target state of charge band. Cleared when the battery exits the state of charge target, or sleep mode is removed.",
        "recommended_action": "No action is required.",
    },
    {
        "event_type_id": 6,
        "event_type_key": "pcu_no_report",
        "stateful": True,
        "event_name": "Microinverter not reporting",
        "event_description": "One or more microinverters have not reported to the gateway for an extended period.",
        "recommended_action": "Check the breaker feeding the microinverters and the gateway's power line communication.",
    },
    {
        "event_type_id": 12,
        "event_type_key": "production_low",
        "stateful": True,
        "event_name": "Low production",
        "event_description": "The system produced significantly less energy than expected for the weather.",
        "recommended_action": "Check for shading, soiling or an open breaker.",
    },
    {
        "event_type_id": 47,
        "event_type_key": "meter_issue",
        "stateful": True,
        "event_name": "Meter issue",
        "event_description": "A revenue-grade or consumption meter reports inconsistent readings.",
        "recommended_action": "Contact your installer to check the meter's current transformers.",
    },
    {
        "event_type_id": 3612,
        "event_type_key": "encharge_low_soc",
        "stateful": True,
        "event_name": "IQ Battery low state of charge",
        "event_description": "An IQ Battery has stayed below its minimum state of charge.",
        "recommended_action": "No action is required if the battery recharges in the next sunny period.",
    },
    {
        "event_type_id": 3620,
        "event_type_key": "enpower_grid_outage",
        "stateful": True,
        "event_name": "Grid outage",
        "event_description": "The IQ System Controller detected a grid outage and formed a microgrid.",
        "recommended_action": "No action is required; the system reconnects when the grid returns.",
    },
    {
        "event_type_id": 5120,
        "event_type_key": "evse_fault",
        "stateful": True,
        "event_name": "EV charger fault",
        "event_description": "The IQ EV Charger reported a fault and stopped charging.",
        "recommended_action": "Unplug and re-plug the vehicle; contact your installer if the fault persists.",
    },
    {
        "event_type_id": 7001,
        "event_type_key": "cellular_plan_expiring",
        "stateful": False,
        "event_name": "Cellular plan expiring",
        "event_description": "The gateway's cellular data plan ends within 30 days.",
        "recommended_action": "Renew the cellular plan or connect the gateway to broadband.",
    },
)
