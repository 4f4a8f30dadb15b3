"""Builders for scenario device inventories, shaped like the reference's device objects."""

from __future__ import annotations

from typing import Any

NEIGHBOUR_USER_ID = 9000001
NEIGHBOUR_SYSTEM_ID = 698906018


def micros(
    count: int,
    *,
    first_id: int,
    first_serial: int,
    watts: int,
    sku: str,
    model: str,
    part_number: str,
    envoy: str,
    product_name: str | None = None,
) -> list[dict[str, Any]]:
    """Return ``count`` microinverters reporting to gateway ``envoy``."""
    return [
        {
            "id": first_id + i,
            "name": f"Microinverter {first_serial + i * 7}",
            "serial_number": str(first_serial + i * 7),
            "part_number": part_number,
            "sku": sku,
            "model": model,
            "status": "normal",
            "active": True,
            "product_name": product_name or model,
            "_watts": watts,
            "_envoy": envoy,
            "_proc_load": "521-00005-r00-v02.32.01",
            "_param_table": "549-00018-r00-v02.32.01",
            "_grid_profile": "57227c50e4d7973ae602c4e6",
        }
        for i in range(count)
    ]


def meters(meter_id: int, envoy: str) -> list[dict[str, Any]]:
    """Return the production and net consumption meters; they share one id, as in the reference."""
    return [
        {
            "id": meter_id,
            "name": "production",
            "serial_number": f"{envoy}EIM1",
            "part_number": "800-00655-r08",
            "sku": None,
            "model": "Envoy S",
            "status": "normal",
            "active": True,
            "state": "enabled",
            "config_type": "Production",
            "product_name": "RGM",
        },
        {
            "id": meter_id,
            "name": "consumption",
            "serial_number": f"{envoy}EIM2",
            "part_number": "800-00655-r08",
            "sku": None,
            "model": "Envoy S",
            "status": "normal",
            "active": True,
            "state": "enabled",
            "config_type": "Net",
            "product_name": "RGM",
        },
    ]


def gateway(
    gateway_id: int,
    serial: str,
    *,
    retired: bool = False,
    cellular: bool = False,
    plan_end_date: int = 1772562600,
    signal_strength: int = 5,
) -> dict[str, Any]:
    """Return a gateway; every gateway carries a cellular_modem block, as in the reference."""
    device: dict[str, Any] = {
        "id": gateway_id,
        "name": f"Gateway {serial}",
        "serial_number": serial,
        "part_number": "800-00655-r08",
        "emu_sw_version": "D8.2.4264 (e4c1e3)",
        "sku": "ENV-IQ-AM1-240" if not cellular else "ENV-IQ-AM3-3P",
        "model": "Envoy-S-Standard-NA" if not cellular else "Envoy-S-Metered-NA",
        "status": "normal",
        "active": not retired,
        "cellular_modem": {
            "imei": f"35200911{serial[-7:]}",
            "part_num": "860-00157-r01",
            "sku": "CELLMODEM-M1",
            "plan_start_date": 1614796200,
            "plan_end_date": plan_end_date,
        },
        "product_name": "IQ Gateway",
        "_signal_strength": signal_strength,
    }
    if retired:
        device["_retired"] = True
    return device


def neighbour_system() -> dict[str, Any]:
    """Return a system owned by another user, so every scenario can show a 403."""
    envoy = "121999000001"
    return {
        "system_id": NEIGHBOUR_SYSTEM_ID,
        "name": "Enphase Public System",
        "public_name": "Residential System",
        "timezone": "US/Pacific",
        "address": {"city": "Los Angeles", "state": "CA", "country": "US", "postal_code": "94954"},
        "connection_type": "ethernet",
        "status": "normal",
        "operational_at": 1497445200,
        "attachment_type": None,
        "interconnect_date": None,
        "lat": 34.05,
        "lon": -118.24,
        "nmi": None,
        "source": "microinverters",
        "devices": {
            "micros": micros(
                4,
                first_id=1059689835,
                first_serial=688346865858,
                watts=215,
                sku="M215-60-2LL-S22-NA",
                model="M215",
                part_number="800-00107-r01",
                envoy=envoy,
            ),
            "gateways": [gateway(1059563900, envoy)],
        },
    }


def neighbour_user() -> dict[str, Any]:
    """Return the owner of :func:`neighbour_system`."""
    return {
        "user_id": NEIGHBOUR_USER_ID,
        "name": "Nora Neighbour",
        "email": "nora@example.com",
        "company_id": "",
        "systems": [NEIGHBOUR_SYSTEM_ID],
    }
