"""installer_28: an installer account owning 28 systems across timezones and statuses."""

from __future__ import annotations

from typing import Any

from . import Scenario
from ._helpers import gateway, meters, micros, neighbour_system, neighbour_user

USER_ID = 5512001
COMPANY_ID = "5512"
FIRST_SYSTEM_ID = 702000001

# (city, state, country, postal code, timezone, lat, lon, nmi)
_SITES: tuple[tuple[str, str, str, str, str, float, float, str | None], ...] = (
    ("Los Angeles", "CA", "US", "90012", "America/Los_Angeles", 34.05, -118.24, None),
    ("San Diego", "CA", "US", "92101", "US/Pacific", 32.72, -117.16, None),
    ("Phoenix", "AZ", "US", "85004", "America/Phoenix", 33.45, -112.07, None),
    ("Denver", "CO", "US", "80202", "America/Denver", 39.74, -104.99, None),
    ("Austin", "TX", "US", "78701", "America/Chicago", 30.27, -97.74, None),
    ("Chicago", "IL", "US", "60601", "America/Chicago", 41.88, -87.63, None),
    ("Miami", "FL", "US", "33130", "America/New_York", 25.76, -80.19, None),
    ("Boston", "MA", "US", "02108", "America/New_York", 42.36, -71.06, None),
    ("Honolulu", "HI", "US", "96813", "Pacific/Honolulu", 21.31, -157.86, None),
    ("Anchorage", "AK", "US", "99501", "America/Anchorage", 61.22, -149.90, None),
    ("Toronto", "ON", "CA", "M5H 2N2", "America/Toronto", 43.65, -79.38, None),
    ("Mexico City", "CMX", "MX", "06000", "America/Mexico_City", 19.43, -99.13, None),
    ("Sao Paulo", "SP", "BR", "01000-000", "America/Sao_Paulo", -23.55, -46.63, None),
    ("London", "ENG", "GB", "SW1A 1AA", "Europe/London", 51.51, -0.13, None),
    ("Amsterdam", "NH", "NL", "1012 JS", "Europe/Amsterdam", 52.37, 4.90, None),
    ("Berlin", "BE", "DE", "10117", "Europe/Berlin", 52.52, 13.40, None),
    ("Paris", "IDF", "FR", "75001", "Europe/Paris", 48.86, 2.35, None),
    ("Madrid", "MD", "ES", "28013", "Europe/Madrid", 40.42, -3.70, None),
    ("Rome", "RM", "IT", "00186", "Europe/Rome", 41.90, 12.50, None),
    ("Cape Town", "WC", "ZA", "8001", "Africa/Johannesburg", -33.92, 18.42, None),
    ("Mumbai", "MH", "IN", "400001", "Asia/Kolkata", 19.08, 72.88, None),
    ("Kathmandu", "BA", "NP", "44600", "Asia/Kathmandu", 27.72, 85.32, None),
    ("Tokyo", "13", "JP", "100-0001", "Asia/Tokyo", 35.68, 139.69, None),
    ("Perth", "WA", "AU", "6000", "Australia/Perth", -31.95, 115.86, "8001234567"),
    ("Brisbane", "QLD", "AU", "4000", "Australia/Brisbane", -27.47, 153.03, "3120456789"),
    ("Sydney", "NSW", "AU", "2127", "Australia/Sydney", -33.87, 151.21, "4102345678"),
    ("Adelaide", "SA", "AU", "5000", "Australia/Adelaide", -34.93, 138.60, "2001234567"),
    ("Auckland", "AUK", "NZ", "1010", "Pacific/Auckland", -36.85, 174.76, None),
)

# Index -> status other than normal. "comm" systems are modelled as not reporting.
_STATUSES = {
    3: "micro",
    7: "power",
    11: "meter",
    15: "battery",
    19: "meter_issue",
    22: "encharge_issue",
    25: "storage_idle",
}
_OFFLINE = {5: 30.0, 17: 80.0}  # gateway stopped uploading this many hours before start
_CELLULAR = {9}


def _system(index: int) -> dict[str, Any]:
    city, state, country, postal, tz, lat, lon, nmi = _SITES[index]
    system_id = FIRST_SYSTEM_ID + index
    envoy = f"12{index:02d}42{system_id % 1000000:06d}"
    count = 6 + (index * 5) % 19
    watts = (290, 349, 366, 384)[index % 4]
    cellular = index in _CELLULAR
    system: dict[str, Any] = {
        "system_id": system_id,
        "name": f"Customer {index + 1:02d} - {city}",
        "public_name": "Residential System",
        "timezone": tz,
        "address": {"city": city, "state": state, "country": country, "postal_code": postal},
        "connection_type": "cellular" if cellular else ("wifi" if index % 3 == 0 else "ethernet"),
        "status": _STATUSES.get(index, "normal"),
        "operational_at": 1577836800 + index * 41 * 86400,
        "attachment_type": None,
        "interconnect_date": None,
        "lat": lat,
        "lon": lon,
        "nmi": nmi,
        "source": "meter" if index % 2 == 0 else "microinverters",
        "devices": {
            "micros": micros(
                count,
                first_id=1100000000 + index * 1000,
                first_serial=480000000000 + index * 100000,
                watts=watts,
                sku="IQ8PLUS-72-2-US",
                model="IQ8PLUS",
                part_number="800-01391-r03",
                envoy=envoy,
            ),
            "gateways": [
                gateway(1060000000 + index, envoy, cellular=cellular, signal_strength=1 + index % 5)
            ],
        },
        "events": [
            {"event_type_id": 12, "serial_number": envoy, "hours_ago": 24 + index, "duration_h": 6},
        ],
    }
    if index % 2 == 0:
        system["devices"]["meters"] = meters(1070000000 + index, envoy)
    if index % 4 == 1:
        system["reference"] = f"INST-{index + 1:04d}"
        system["other_references"] = [f"INST-{index + 1:04d}"]
    if index in _OFFLINE:
        system["offline_hours"] = _OFFLINE[index]
        system["alarms"] = [
            {
                "id": f"2000{index:02d}001",
                "event_type_id": 28,
                "severity": 2,
                "serial_number": envoy,
                "hours_ago": _OFFLINE[index] - 1,
            }
        ]
        system["events"].append(
            {"event_type_id": 28, "serial_number": envoy, "hours_ago": _OFFLINE[index]}
        )
    if index == 3:
        # Status "micro": one microinverter stopped reporting a day ago.
        stale = system["devices"]["micros"][0]
        stale["status"] = "not_reporting"
        stale["_offline_hours"] = 26
    if index == 15:
        system["battery"] = {"charge_w": 3840, "discharge_w": 3840, "capacity_wh": 5000}
        system["devices"]["encharges"] = [
            {
                "id": 1080000015,
                "name": "IQ Battery 482300000015",
                "serial_number": "482300000015",
                "part_number": "800-00562-r01",
                "sku": "B05-T02-US00-1-3",
                "model": "",
                "status": "error",
                "active": True,
                "product_name": "IQ Battery 5P",
            }
        ]
    return system


def build() -> Scenario:
    """Return the scenario."""
    systems = [_system(i) for i in range(len(_SITES))]
    return Scenario(
        name="installer_28",
        description="An installer account owning 28 systems across timezones.",
        users=[
            {
                "user_id": USER_ID,
                "name": "Ida Installer",
                "email": "ida@solar-installer.example",
                "company_id": COMPANY_ID,
                "systems": [s["system_id"] for s in systems],
            },
            neighbour_user(),
        ],
        systems=[*systems, neighbour_system()],
        default_user_id=USER_ID,
    )
