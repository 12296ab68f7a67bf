"""The outage grouping rule (alerts.grouping), pure: which silences are one outage."""

import datetime as dt

import pytest

from alerts.grouping import Dropout, GroupRule, densest, expected_in_window, find_outages, threshold

T0 = dt.datetime(2026, 12, 4, 10, 42, tzinfo=dt.UTC)
RULE = GroupRule()


def silent(n: int, *, operator: str = "23415", cell: str = "", ward: int = 1, spread_s: float = 0, first: int = 0):
    return [
        Dropout(first + i, T0 + dt.timedelta(seconds=spread_s * i / max(n - 1, 1)), ward, operator, cell, "cellular")
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("usual_per_day", "expected_threshold"),
    [
        (0, 5),  # no history: the minimum of five
        (360, 5),  # 0.5 expected in 2 min: 0.5 + 4 x 0.71 = 3.3, so the minimum
        (720, 6),  # 1 expected: 1 + 4 x 1 = 5 is still explained, 6 is not
        (1440, 8),  # 2 expected: 2 + 4 x 1.41 = 7.7, so 8
        (7200, 23),  # 10 expected: 10 + 4 x 3.16 = 22.6, so 23
    ],
)
def test_the_threshold_grows_with_a_groups_usual_dropout_rate(usual_per_day: int, expected_threshold: int) -> None:
    assert threshold(expected_in_window(usual_per_day, RULE), RULE) == expected_threshold


@pytest.mark.parametrize(("count", "outage"), [(4, False), (5, True)])
def test_one_networks_devices_silent_together_are_an_outage_from_five(count: int, outage: bool) -> None:
    outages = find_outages(silent(count), {})
    assert [(o.kind, o.value, len(o.device_ids)) for o in outages] == ([("operator", "23415", count)] if outage else [])


@pytest.mark.parametrize(("spread_s", "grouped"), [(120, 5), (121, 4)])
def test_silences_must_fall_within_the_window_of_each_other(spread_s: float, grouped: int) -> None:
    # given five devices whose silences are spread over the window, or just over it
    outages = find_outages(silent(5, spread_s=spread_s), {})
    # then at the window they are one outage; one second more and only four fit: none
    assert sum(len(o.device_ids) for o in outages) == (5 if grouped == 5 else 0)


def test_a_group_that_usually_drops_this_often_is_not_an_outage() -> None:
    # given a network that loses 7,200 devices a day (10 in any two minutes)
    usual = {("operator", "23415"): 7200, ("ward", "1"): 7200, ("broker", ""): 7200}
    # when 22 of its devices go silent together, and then 23
    # then 22 is its usual noise, 23 is not
    assert find_outages(silent(22), usual) == []
    assert len(find_outages(silent(23), usual)[0].device_ids) == 23


def test_two_networks_failing_together_are_one_broker_incident() -> None:
    dropouts = silent(6, operator="23415") + silent(6, operator="23420", first=100)
    outages = find_outages(dropouts, {})
    assert [(o.kind, len(o.device_ids), o.extra["networks"]) for o in outages] == [("broker", 12, ["23415", "23420"])]


def test_devices_without_an_operator_are_grouped_by_cell_then_by_ward() -> None:
    by_cell = silent(5, operator="", cell="cell-a", ward=1) + silent(2, operator="", cell="cell-b", ward=2, first=50)
    by_ward = silent(5, operator="", ward=3, first=100)
    outages = find_outages(by_cell + by_ward, {})
    assert sorted((o.kind, o.value, len(o.device_ids)) for o in outages) == [("cell", "cell-a", 5), ("ward", "3", 5)]


def test_a_device_joins_one_outage_only() -> None:
    # given six devices on one operator and one cell in one ward
    outages = find_outages(silent(6, cell="cell-a"), {})
    # then they are one operator outage, not also a cell and a ward outage
    assert [(o.kind, len(o.device_ids)) for o in outages] == [("operator", 6)]


def test_the_outage_began_at_its_earliest_silence() -> None:
    outage = find_outages(silent(5, spread_s=60), {})[0]
    assert outage.started_at == T0


def test_the_densest_window_is_found_among_scattered_silences() -> None:
    times = [0, 300, 301, 302, 303, 600]
    dropouts = [Dropout(i, T0 + dt.timedelta(seconds=s), 1) for i, s in enumerate(times)]
    assert [d.device_id for d in densest(dropouts, dt.timedelta(seconds=120))] == [1, 2, 3, 4]
