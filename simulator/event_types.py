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

# What an open alarm of each type does to its system, by event_type_key; a type not listed here
# is silent (it shows only in the alarms and events reads). Data, read by simulator/alarms.py:
#   status        the system status (summary, /systems, search) while the alarm is open
#   device_status the status of each device the alarm names, for devices of `device_kinds`
#   stops_uploads the gateway uploads nothing while the alarm is open; the backlog comes in
#                 one upload when it clears, as a reconnecting gateway sends it
#   stops_device_reports the named devices' last_report_at freezes (a micro's power is 0)
# The gateway of envoy_no_report keeps its last known device status: the summary says comm.
# encharge_low_soc stays silent because Enphase recommends no action for it; battery_ev_home
# keeps one open, and its status stays normal.
ALARM_EFFECTS: dict[str, dict[str, Any]] = {
    "envoy_no_report": {"status": "comm", "stops_uploads": True},
    "pcu_no_report": {
        "status": "micro",
        "device_status": "not_reporting",
        "device_kinds": ("micros",),
        "stops_device_reports": True,
    },
    "production_low": {"status": "power"},
    "enpower_grid_outage": {"status": "power"},
    "meter_issue": {"status": "meter", "device_status": "error", "device_kinds": ("meters",)},
    "acb_sleeping": {"status": "storage_idle"},
}

# When several status-changing alarms are open, the first of these statuses in this order is
# shown: a gateway that does not report hides everything else, lost production outranks a
# silent micro, a battery that only idles comes last.
STATUS_PRIORITY: tuple[str, ...] = (
    "comm",
    "power",
    "micro",
    "meter",
    "meter_issue",
    "enpower",
    "enpower_issue",
    "encharge",
    "encharge_issue",
    "battery",
    "storage_idle",
)
DEVICE_STATUS_PRIORITY: tuple[str, ...] = ("not_reporting", "error")
