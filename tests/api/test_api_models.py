"""Models tolerate what the real API sends: missing and null fields, odd types, new kinds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from custom_components.enphase_enlighten.api import (
    Address,
    Alarm,
    Device,
    Devices,
    EnphaseClient,
    EnphaseResponseError,
    EnvoyInvertersSummary,
    Event,
    EventType,
    MicroinverterSummary,
    Summary,
    System,
    SystemsPage,
)
from tests.api.fake_enphase import FakeEnphase


def test_system_with_only_an_id() -> None:
    system = System.from_dict({"system_id": 5})

    assert system == System(system_id=5)
    assert system.address == Address()
    assert system.other_references == ()
    assert system.raw == {"system_id": 5}


def test_system_with_nulls_everywhere() -> None:
    data: dict[str, Any] = {key: None for key in System.__dataclass_fields__ if key != "raw"}
    data["system_id"] = "17"  # numeric strings are accepted

    system = System.from_dict(data)

    assert system.system_id == 17
    assert system.name is None
    assert system.address == Address()
    assert system.other_references == ()


def test_system_odd_values() -> None:
    system = System.from_dict(
        {
            "system_id": 1,
            "status": "brand_new_status",
            "system_size": 6.4,
            "energy_today": "-1",
            "energy_lifetime": 12345,
            "interconnect_date": 1357023600,
            "last_report_at": "2026-06-21T10:00:00+02:00",
            "last_energy_at": "2026-06-21T10:00:00",
            "operational_at": 0,
            "other_references": ["a", 7, None, {"x": 1}],
            "address": "not an object",
            "name": 42,
        }
    )

    # Unknown statuses are data, not errors.
    assert system.status == "brand_new_status"
    assert system.system_size == 6
    assert system.energy_today is None
    assert system.energy_lifetime == 12345
    assert system.interconnect_date == date(2013, 1, 1)
    assert system.last_report_at == datetime(2026, 6, 21, 8, 0, tzinfo=UTC)
    assert system.last_energy_at == datetime(2026, 6, 21, 10, 0, tzinfo=UTC)
    assert system.operational_at is None
    assert system.other_references == ("a", "7")
    assert system.address == Address()
    assert system.name == "42"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1508174262, datetime(2017, 10, 16, 17, 17, 42, tzinfo=UTC)),
        (1508174262.5, datetime(2017, 10, 16, 17, 17, 42, 500000, tzinfo=UTC)),
        ("1508174262", datetime(2017, 10, 16, 17, 17, 42, tzinfo=UTC)),
        ("2017-10-16T17:17:42Z", datetime(2017, 10, 16, 17, 17, 42, tzinfo=UTC)),
        ("yesterday", None),
        (-1, None),
        (0, None),
        (True, None),
        (None, None),
        ([], None),
        (1e20, None),
        (float("nan"), None),
    ],
)
def test_timestamps(value: Any, expected: datetime | None) -> None:
    assert Summary.from_dict({"system_id": 1, "last_report_at": value}).last_report_at == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-05-12", date(2019, 5, 12)),
        ("2019-05-12T23:30:00+00:00", date(2019, 5, 12)),
        (1557619200, date(2019, 5, 12)),
        ("12/05/2019", None),
        (None, None),
    ],
)
def test_dates(value: Any, expected: date | None) -> None:
    assert Summary.from_dict({"system_id": 1, "summary_date": value}).summary_date == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),
        (5.6, 6),
        ("5", 5),
        (" 5.4 ", 5),
        ("five", None),
        ("inf", None),
        (float("inf"), None),
        (True, None),
        (None, None),
        ({"value": 5}, None),
    ],
)
def test_integers(value: Any, expected: int | None) -> None:
    assert Summary.from_dict({"system_id": 1, "modules": value}).modules == expected


def test_summary_placeholders_and_nmi_number() -> None:
    summary = Summary.from_dict(
        {"energy_lifetime": -1, "energy_today": -1, "size_w": -1, "nmi": 1213141516},
        system_id=9,
    )

    # The body has no system_id: the requested one is used.
    assert summary.system_id == 9
    assert (summary.energy_lifetime, summary.energy_today, summary.size_w) == (None, None, None)
    assert summary.nmi == "1213141516"


def test_summary_without_any_system_id() -> None:
    with pytest.raises(EnphaseResponseError, match="system_id"):
        Summary.from_dict({"current_power": 5})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("True", True),
        ("false", False),
        ("0", False),
        (1, True),
        (0, False),
        (2, None),
        ("maybe", None),
        (None, None),
        (1.0, None),
    ],
)
def test_active_flag(value: Any, expected: bool | None) -> None:
    assert Device.from_dict("micros", {"active": value}).active is expected


async def test_unknown_device_kinds_and_statuses_kept(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    fake.reply(
        "GET",
        "/systems/3/devices",
        data={
            "system_id": 3,
            "devices": {
                "micros": [{"serial_number": "M1", "status": "retired_sort_of"}],
                "heat_pumps": [{"serial_number": "HP1", "id": 5, "active": "false"}],
                "meters": None,
                "encharges": [],
            },
        },
    )

    devices = await client.devices(3)

    assert [(d.kind, d.serial_number) for d in devices.devices] == [
        ("micros", "M1"),
        ("heat_pumps", "HP1"),
    ]
    assert devices.devices[0].status == "retired_sort_of"
    assert devices.devices[1].active is False
    assert devices.total_devices is None


def test_devices_missing_groups_and_serials() -> None:
    devices = Devices.from_dict(
        {
            "devices": {
                "micros": [
                    {"id": 1, "serial_number": "S1", "name": "first"},
                    {"id": 1, "serial_number": "S1", "name": "duplicate"},
                    {"id": 2},
                ]
            }
        },
        system_id=4,
    )

    assert devices.system_id == 4
    assert len(devices.devices) == 3
    # Devices without a serial number are skipped; the first of two equal serials wins.
    assert list(devices.by_serial()) == ["S1"]
    assert devices.by_serial()["S1"].name == "first"
    assert Devices.from_dict({"system_id": 4}).devices == ()
    assert Devices.from_dict({"system_id": 4, "devices": None}).devices == ()
    with pytest.raises(EnphaseResponseError):
        Devices.from_dict({"devices": {}})
    with pytest.raises(EnphaseResponseError):
        Devices.from_dict({"system_id": 1, "devices": [1]})


def test_gateway_modem_variants() -> None:
    gateway = Device.from_dict(
        "gateways", {"serial_number": "G", "cellular_modem": {"plan_end_date": None}}
    )
    assert gateway.cellular_modem is not None
    assert gateway.cellular_modem.plan_end_date is None
    assert gateway.cellular_modem.imei is None
    assert Device.from_dict("gateways", {"cellular_modem": "none"}).cellular_modem is None
    # emu_sw_version is preferred over firmware.
    both = Device.from_dict("gateways", {"emu_sw_version": "D8", "firmware": "x"})
    assert both.firmware == "D8"


@pytest.mark.parametrize(
    ("power", "expected"),
    [
        ({"value": 96, "units": "W", "precision": 0}, 96.0),
        (20, 20.0),
        (20.5, 20.5),
        ("20", 20.0),
        ({"value": 1.5, "units": "kW"}, 1500.0),
        ({"value": 2, "units": "MW"}, 2_000_000.0),
        ({"value": 250, "units": "mW"}, 0.25),
        ({"value": 7}, 7.0),
        ({"value": 7, "units": None}, 7.0),
        ({"value": 7, "units": "VA"}, 7.0),
        ({"value": 7, "units": "xW"}, 7.0),
        ({"value": None, "units": "W"}, None),
        ({"units": "W"}, None),
        (None, None),
        ("n/a", None),
        (True, None),
        ([1], None),
    ],
)
def test_power_produced(power: Any, expected: float | None) -> None:
    assert MicroinverterSummary.from_dict({"power_produced": power}).power_produced == expected


@pytest.mark.parametrize(
    ("energy", "expected"),
    [
        ({"value": 232, "units": "Wh", "precision": 0}, 232.0),
        ({"value": 1.25, "units": "kWh"}, 1250.0),
        ({"value": 3, "units": "MWh"}, 3_000_000.0),
        (500, 500.0),
    ],
)
def test_microinverter_energy_in_wh(energy: Any, expected: float) -> None:
    assert MicroinverterSummary.from_dict({"energy": energy}).energy == expected


def test_inverters_summary_lone_object() -> None:
    (envoy,) = EnvoyInvertersSummary.list_from_response(
        {"signal_strength": "3", "micro_inverters": None}
    )
    assert envoy.signal_strength == 3
    assert envoy.micro_inverters == ()
    assert envoy.envoy_serial_number is None


def test_events_as_object_of_lists_and_plain_field_names() -> None:
    """The Swagger schema describes `events` as an object of lists; accept it too."""
    events = Event.list_from_response(
        {
            "events": {
                "GW1": [{"event_type_id": 28, "start_time": 1740213328, "end_time": None}],
                "M1": {"event_type_id": 5},
            }
        },
        system_id=8,
    )

    assert [(e.system_id, e.event_type_id) for e in events] == [(8, 28), (8, 5)]
    assert events[0].start_time == datetime.fromtimestamp(1740213328, UTC)
    assert events[0].end_time is None
    assert Event.list_from_response({}, system_id=8) == []
    with pytest.raises(EnphaseResponseError):
        Event.list_from_response({"events": "none"}, system_id=8)


def test_alarm_events_as_object_and_cleared_strings() -> None:
    (alarm,) = Alarm.list_from_response(
        {
            "alarms": [
                {
                    "id": 77,
                    "cleared": "true",
                    "events": {"x": [{"serial_number": "S", "start_date": 1737750626}]},
                }
            ]
        },
        system_id=2,
    )

    assert alarm.id == "77"
    assert alarm.system_id == 2
    assert alarm.cleared is True
    assert alarm.events[0].serial_number == "S"
    assert alarm.events[0].end_date is None
    assert alarm.severity is None


def test_event_types_shapes() -> None:
    assert EventType.list_from_response([{"event_type_id": 1}]) == [EventType(event_type_id=1)]
    assert EventType.list_from_response({"event_types": None}) == []
    (single,) = EventType.list_from_response({"event_type_id": "4", "stateful": "false"})
    assert single.event_type_id == 4
    assert single.stateful is False


def test_systems_page_without_counters() -> None:
    page = SystemsPage.from_dict({"systems": [{"system_id": 1}, {"system_id": 2}]})

    assert (page.total, page.current_page, page.size, page.count) == (2, 1, 2, 2)
    empty = SystemsPage.from_dict({})
    assert (empty.total, empty.count, empty.systems) == (0, 0, [])


def test_models_are_frozen_and_compare_without_raw() -> None:
    first = System.from_dict({"system_id": 1, "extra": "a"})
    second = System.from_dict({"system_id": 1, "extra": "b"})

    assert first == second
    assert first.raw["extra"] == "a"
    with pytest.raises(AttributeError):
        first.name = "x"  # type: ignore[misc]
