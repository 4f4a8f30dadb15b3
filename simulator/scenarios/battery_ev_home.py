"""battery_ev_home: PV with IQ Batteries, System Controller, AC Batteries, IQ Relays and an EV charger."""

from __future__ import annotations

from typing import Any

from . import Scenario
from ._helpers import gateway, meters, micros, neighbour_system, neighbour_user

SYSTEM_ID = 701644354
USER_ID = 4120333
GATEWAY_SERIAL = "202241095486"


def _device(kind_id: int, name: str, serial: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": kind_id,
        "name": name,
        "serial_number": serial,
        "status": "normal",
        "active": True,
        **fields,
    }


def build() -> Scenario:
    """Return the scenario."""
    devices: dict[str, list[dict[str, Any]]] = {
        "micros": micros(
            16,
            first_id=1023300100,
            first_serial=482110037001,
            watts=384,
            sku="IQ8M-72-2-US",
            model="IQ8M",
            part_number="800-01367-r02",
            envoy=GATEWAY_SERIAL,
        ),
        "meters": meters(1059640400, GATEWAY_SERIAL),
        "gateways": [
            gateway(
                1059563100,
                GATEWAY_SERIAL,
                cellular=True,
                plan_end_date=1803999600,
                signal_strength=3,
            ),
        ],
        "q_relays": [
            _device(
                1059640316,
                "IQ Relay 912158973973",
                "912158973973",
                part_number="800-00595-r01",
                sku="Q-RELAY-1P-INT",
                model="",
                product_name="IQ Relay",
            ),
            _device(
                1059640326,
                "IQ Relay 912163603334",
                "912163603334",
                part_number="800-00595-r01",
                sku="Q-RELAY-1P-INT",
                model="",
                product_name="IQ Relay",
            ),
        ],
        # Both AC Batteries share one id, as in the reference.
        "acbs": [
            _device(
                1059640321,
                "AC Battery 911364446952",
                "911364446952",
                part_number="800-00560-r03",
                sku="IQ7-B1200-LN-I-INT01-RV0",
                model="",
                product_name="ACB",
            ),
            _device(
                1059640321,
                "AC Battery 911499228280",
                "911499228280",
                part_number="800-00560-r03",
                sku="IQ7-B1200-LN-I-INT01-RV0",
                model="",
                product_name="ACB",
            ),
        ],
        "encharges": [
            _device(
                1059640295,
                "IQ Battery 492312001241",
                "121593621979",
                part_number="800-00562-r01",
                sku="B03-A01-US00-1-3",
                model="",
                product_name="IQ Battery R3 - 5P",
            ),
            _device(
                1059640296,
                "IQ Battery 492312001242",
                "121593621980",
                part_number="800-00562-r01",
                sku="B03-A01-US00-1-3",
                model="",
                product_name="IQ Battery R3 - 5P",
            ),
        ],
        "enpowers": [
            _device(
                1059640294,
                "IQ System Controller 482218007023",
                "121245173988",
                part_number="800-01135-r02",
                sku="EP200G101-M240US00",
                model="",
                product_name="IQ System Controller",
            ),
        ],
        # EV chargers: "active" is a string and there is "firmware" but no product_name.
        "ev_chargers": [
            {
                "id": 202313029329,
                "name": "IQ EV Charger 202313029329",
                "serial_number": "202313029329",
                "part_number": "861-02006 09",
                "sku": "IQ-EVSE-NA-1060-0100-0100",
                "model": "IQ-EVSE-60R",
                "status": "normal",
                "active": "true",
                "firmware": "v0.04.17",
            },
        ],
    }
    system: dict[str, Any] = {
        "system_id": SYSTEM_ID,
        "name": "Mountain View Battery Home",
        "public_name": "Residential System",
        "timezone": "America/Denver",
        "address": {"city": "Boulder", "state": "CO", "country": "US", "postal_code": "80302"},
        "connection_type": "cellular",
        "status": "normal",
        "operational_at": 1672531200,  # 2023-01-01
        "attachment_type": "acm",
        "interconnect_date": "2022-12-20",
        "reference": "ACME-2211",
        "other_references": ["ACME-2211", "PERMIT-88123"],
        "lat": 40.01,
        "lon": -105.27,
        "nmi": None,
        "source": "meter",
        # Two IQ Battery 5P (3.84 kW, 5 kWh each) and two AC Batteries (270 W, 1.2 kWh each).
        "battery": {"charge_w": 8220, "discharge_w": 8220, "capacity_wh": 12480},
        "devices": devices,
        "events": [
            {
                "event_type_id": 4781,
                "serial_number": "911364446952",
                "hours_ago": 30,
                "duration_h": 4,
            },
            {
                "event_type_id": 4781,
                "serial_number": "911499228280",
                "hours_ago": 29,
                "duration_h": 3,
            },
            {"event_type_id": 3612, "serial_number": "121593621979", "hours_ago": 5},
            {
                "event_type_id": 5120,
                "serial_number": "202313029329",
                "hours_ago": 50,
                "duration_h": 1,
            },
        ],
        "alarms": [
            {
                "id": "1082701555",
                "event_type_id": 3612,
                "severity": 3,
                "serial_number": "121593621979",
                "hours_ago": 4,
            },
            {
                "id": "1082701401",
                "event_type_id": 5120,
                "severity": 2,
                "serial_number": "202313029329",
                "hours_ago": 50,
                "duration_h": 1,
            },
        ],
    }
    return Scenario(
        name="battery_ev_home",
        description=(
            "A home with IQ Batteries, a System Controller, AC Batteries, IQ Relays, an EV "
            "charger and a cellular gateway."
        ),
        users=[
            {
                "user_id": USER_ID,
                "name": "Bea Battery",
                "email": "bea@example.com",
                "company_id": "",
                "systems": [SYSTEM_ID],
            },
            neighbour_user(),
        ],
        systems=[system, neighbour_system()],
        default_user_id=USER_ID,
    )
