"""The optional `network` object of a `status` message (spec "Network information"), field by field."""

import json

import pytest

from devices.protocol import NetworkInfo, parse_status

KEPT = "; field dropped, the rest of the status kept"
TYPES = "is not one of cellular, wifi, ethernet, other"
TEXT16 = "network.technology must be text of 1-16 characters"
CONTROL = "contains control characters or an unpaired surrogate"


def status_with(network: object) -> bytes:
    return json.dumps({"state": "online", "battery": 81, "network": network}).encode()


def test_the_spec_example_is_read_whole() -> None:
    # given the example from the spec
    payload = (
        b'{"state": "online", "battery": 81, "network": {"type": "cellular", "operator": "23415",'
        b' "rssi_dbm": -97, "technology": "4G", "cell": "2341512345"}}'
    )
    # when it is parsed
    status = parse_status(payload)
    # then every field is kept and nothing is rejected
    assert status.network == NetworkInfo("cellular", "23415", -97, "4G", "2341512345")
    assert (status.state, status.battery, status.network_rejections) == ("online", 81, ())


def test_a_status_without_network_information_is_accepted_as_before() -> None:
    status = parse_status(b'{"state": "online", "battery": 50}')
    assert (status.network, status.network_rejections) == (None, ())


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ({"type": "cellular"}, NetworkInfo(type="cellular")),
        ({"type": "wifi"}, NetworkInfo(type="wifi")),
        ({"type": "ethernet"}, NetworkInfo(type="ethernet")),
        ({"type": "other"}, NetworkInfo(type="other")),
        ({"operator": "23415"}, NetworkInfo(operator="23415")),  # 5 digits
        ({"operator": "310410"}, NetworkInfo(operator="310410")),  # 6 digits
        ({"type": "cellular", "operator": "00101"}, NetworkInfo(type="cellular", operator="00101")),
        ({"rssi_dbm": -140}, NetworkInfo(rssi_dbm=-140)),  # lowest
        ({"rssi_dbm": 0}, NetworkInfo(rssi_dbm=0)),  # highest
        ({"rssi_dbm": -97}, NetworkInfo(rssi_dbm=-97)),
        ({"technology": "N"}, NetworkInfo(technology="N")),
        ({"technology": "x" * 16}, NetworkInfo(technology="x" * 16)),
        ({"technology": "NB-IoT"}, NetworkInfo(technology="NB-IoT")),
        ({"cell": "c"}, NetworkInfo(cell="c")),
        ({"cell": "c" * 32}, NetworkInfo(cell="c" * 32)),
        ({"type": "wifi", "cell": "aa:bb:cc:dd:ee:ff"}, NetworkInfo(type="wifi", cell="aa:bb:cc:dd:ee:ff")),
        ({"type": "cellular", "band": 20, "apn": "iot"}, NetworkInfo(type="cellular")),  # unknown ignored
        ({"type": "cellular", "operator": None}, NetworkInfo(type="cellular")),  # null is absent
    ],
)
def test_a_valid_network_field_is_kept(network: dict, expected: NetworkInfo) -> None:
    status = parse_status(status_with(network))
    assert (status.network, status.network_rejections) == (expected, ())


@pytest.mark.parametrize(
    ("network", "kept", "reason"),
    [
        ({"type": "satellite"}, NetworkInfo(), f"network.type 'satellite' {TYPES}"),
        ({"type": "Cellular"}, NetworkInfo(), f"network.type 'Cellular' {TYPES}"),
        ({"type": 1}, NetworkInfo(), f"network.type 1 {TYPES}"),
        ({"operator": "2341"}, NetworkInfo(), "network.operator '2341' is not an MCC+MNC of 5 or 6 digits"),
        ({"operator": "2341567"}, NetworkInfo(), "network.operator '2341567' is not an MCC+MNC of 5 or 6 digits"),
        ({"operator": 23415}, NetworkInfo(), "network.operator 23415 is not an MCC+MNC of 5 or 6 digits"),
        ({"operator": "234-15"}, NetworkInfo(), "network.operator '234-15' is not an MCC+MNC of 5 or 6 digits"),
        ({"operator": "２３４１５"}, NetworkInfo(), "network.operator '２３４１５' is not an MCC+MNC of 5 or 6 digits"),
        (
            {"type": "wifi", "operator": "23415"},
            NetworkInfo(type="wifi"),
            "network.operator is given for a wifi network; only a cellular one has an operator",
        ),
        ({"rssi_dbm": -141}, NetworkInfo(), "network.rssi_dbm must be an integer from -140 to 0 dBm (got -141)"),
        ({"rssi_dbm": 1}, NetworkInfo(), "network.rssi_dbm must be an integer from -140 to 0 dBm (got 1)"),
        ({"rssi_dbm": -97.5}, NetworkInfo(), "network.rssi_dbm must be an integer from -140 to 0 dBm (got -97.5)"),
        ({"rssi_dbm": "-97"}, NetworkInfo(), "network.rssi_dbm must be an integer from -140 to 0 dBm (got '-97')"),
        ({"rssi_dbm": True}, NetworkInfo(), "network.rssi_dbm must be an integer from -140 to 0 dBm (got true)"),
        ({"technology": "x" * 17}, NetworkInfo(), f"{TEXT16} (got '{'x' * 17}')"),
        ({"technology": ""}, NetworkInfo(), "network.technology must be text of 1-16 characters (got '')"),
        ({"technology": 4}, NetworkInfo(), "network.technology must be text of 1-16 characters (got 4)"),
        ({"technology": "4G\x00"}, NetworkInfo(), f"network.technology {CONTROL} (got '4G\\u0000')"),
        # The cell id is personal data: a reason never repeats it.
        ({"cell": "c" * 33}, NetworkInfo(), "network.cell must be text of 1-32 characters"),
        ({"cell": 2341512345}, NetworkInfo(), "network.cell must be text of 1-32 characters"),
        ({"cell": "ab\ncd"}, NetworkInfo(), "network.cell contains control characters or an unpaired surrogate"),
    ],
)
def test_a_bad_network_field_is_dropped_with_its_reason(network: dict, kept: NetworkInfo, reason: str) -> None:
    # when a status carries one bad field
    status = parse_status(status_with(network))
    # then that field alone is dropped, with its reason, and the status stands
    assert status.network_rejections == (reason + KEPT,)
    assert status.network == (kept if kept != NetworkInfo() else None)
    assert (status.state, status.battery) == ("online", 81)


def test_the_good_fields_beside_a_bad_one_are_kept() -> None:
    status = parse_status(status_with({"type": "cellular", "operator": "23415", "rssi_dbm": -200, "cell": "42"}))
    assert status.network == NetworkInfo(type="cellular", operator="23415", cell="42")
    assert len(status.network_rejections) == 1


@pytest.mark.parametrize("network", [[1, 2], "cellular", 5, True])
def test_a_network_that_is_not_an_object_is_dropped_and_the_status_stands(network: object) -> None:
    status = parse_status(status_with(network))
    assert status.network is None
    assert status.network_rejections[0].startswith("network is not a JSON object")
    assert status.state == "online"
