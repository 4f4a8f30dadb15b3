"""small_home: one residential system with ten microinverters, a gateway and two meters."""

from __future__ import annotations

from typing import Any

from . import Scenario
from ._helpers import gateway, meters, micros, neighbour_system, neighbour_user

SYSTEM_ID = 698910067
USER_ID = 4119671
GATEWAY_SERIAL = "202323054201"
RETIRED_GATEWAY_SERIAL = "121842012242"


def build() -> Scenario:
    """Return the scenario."""
    system: dict[str, Any] = {
        "system_id": SYSTEM_ID,
        "name": "Sunny Cottage",
        "public_name": "Residential System",
        "timezone": "America/Los_Angeles",
        "address": {"city": "Sebastopol", "state": "CA", "country": "US", "postal_code": "95472"},
        "connection_type": "ethernet",
        "status": "normal",
        "operational_at": 1618012800,  # 2021-04-10
        "attachment_type": None,
        "interconnect_date": "2021-04-09",
        "reference": "106015287",
        "other_references": ["106015287"],
        "lat": 38.40,
        "lon": -122.82,
        "nmi": None,
        "source": "microinverters",
        "devices": {
            "micros": micros(
                10,
                first_id=1023273222,
                first_serial=902167438951,
                watts=349,
                sku="IQ8A-72-2-US",
                model="IQ8A",
                part_number="800-01333-r01",
                envoy=GATEWAY_SERIAL,
            ),
            "meters": meters(1059640322, GATEWAY_SERIAL),
            "gateways": [
                gateway(1059563029, GATEWAY_SERIAL),
                gateway(1059563011, RETIRED_GATEWAY_SERIAL, retired=True),
            ],
        },
        "events": [
            {
                "event_type_id": 28,
                "serial_number": GATEWAY_SERIAL,
                "hours_ago": 70,
                "duration_h": 3,
            },
        ],
        "alarms": [
            {
                "id": "1082701398",
                "event_type_id": 28,
                "severity": 2,
                "serial_number": GATEWAY_SERIAL,
                "hours_ago": 69,
                "duration_h": 2,
            },
        ],
    }
    return Scenario(
        name="small_home",
        description="One home: 10 microinverters, one gateway, two meters.",
        users=[
            {
                "user_id": USER_ID,
                "name": "Sam Homeowner",
                "email": "sam@example.com",
                "company_id": "",
                "systems": [SYSTEM_ID],
            },
            neighbour_user(),
        ],
        systems=[system, neighbour_system()],
        default_user_id=USER_ID,
    )
