"""Assembling the current vitals from the newest reading of each parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from scoring.freshness import DEFAULT_FRESHNESS, Reading, current_vitals
from scoring.news2 import PARAMETERS, Vitals, score

NOW = datetime(2025, 3, 30, 12, 0, tzinfo=UTC)

NORMAL_VALUES: dict[str, float | bool | str] = {
    "respiratory_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "systolic_bp": 120,
    "heart_rate": 70,
    "consciousness": "A",
    "temperature": 37.0,
}


def reading(parameter: str, age: timedelta, value: float | bool | str | None = None) -> Reading:
    return Reading(
        parameter=parameter,
        value=NORMAL_VALUES[parameter] if value is None else value,
        measured_at=NOW - age,
        observation_id=42,
    )


def all_readings(age: timedelta) -> dict[str, Reading]:
    return {parameter: reading(parameter, age) for parameter in PARAMETERS}


def test_the_default_windows_cover_every_parameter() -> None:
    assert set(DEFAULT_FRESHNESS) == set(PARAMETERS)
    assert DEFAULT_FRESHNESS["spo2"] == timedelta(hours=1)
    assert DEFAULT_FRESHNESS["heart_rate"] == timedelta(hours=1)
    assert DEFAULT_FRESHNESS["respiratory_rate"] == timedelta(hours=1)
    assert DEFAULT_FRESHNESS["systolic_bp"] == timedelta(hours=4)
    assert DEFAULT_FRESHNESS["temperature"] == timedelta(hours=4)
    assert DEFAULT_FRESHNESS["consciousness"] == timedelta(hours=12)
    assert DEFAULT_FRESHNESS["on_oxygen"] == timedelta(hours=12)


def test_fresh_readings_make_complete_vitals() -> None:
    newest = all_readings(timedelta(minutes=5))

    current = current_vitals(newest, now=NOW, spo2_scale=1)

    assert current.vitals == Vitals(**NORMAL_VALUES)  # type: ignore[arg-type]
    assert current.used == newest
    assert current.stale == ()
    assert score(current.vitals).complete is True


@pytest.mark.parametrize("parameter", PARAMETERS)
def test_a_reading_exactly_one_window_old_is_still_fresh(parameter: str) -> None:
    newest = {parameter: reading(parameter, DEFAULT_FRESHNESS[parameter])}

    current = current_vitals(newest, now=NOW, spo2_scale=1)

    assert parameter in current.used
    assert getattr(current.vitals, parameter) == NORMAL_VALUES[parameter]
    assert current.stale == ()


@pytest.mark.parametrize("parameter", PARAMETERS)
def test_a_reading_a_microsecond_past_its_window_is_stale_and_treated_as_missing(
    parameter: str,
) -> None:
    age = DEFAULT_FRESHNESS[parameter] + timedelta(microseconds=1)
    newest = {parameter: reading(parameter, age)}

    current = current_vitals(newest, now=NOW, spo2_scale=1)

    assert current.stale == (parameter,)
    assert parameter not in current.used
    assert getattr(current.vitals, parameter) is None
    assert parameter in score(current.vitals).missing


def test_stale_parameters_are_listed_in_parameters_order() -> None:
    newest = all_readings(timedelta(hours=2))

    current = current_vitals(newest, now=NOW, spo2_scale=1)

    assert current.stale == ("respiratory_rate", "spo2", "heart_rate")
    assert set(current.used) == {"on_oxygen", "systolic_bp", "consciousness", "temperature"}


def test_a_parameter_with_no_reading_is_missing_but_not_stale() -> None:
    current = current_vitals({"heart_rate": reading("heart_rate", timedelta(0))}, now=NOW, spo2_scale=1)

    assert current.stale == ()
    assert current.vitals == Vitals(heart_rate=70)


def test_an_override_window_replaces_only_the_parameters_it_names() -> None:
    newest = {
        "heart_rate": reading("heart_rate", timedelta(minutes=20)),
        "spo2": reading("spo2", timedelta(minutes=20)),
    }

    current = current_vitals(newest, now=NOW, spo2_scale=1, freshness={"heart_rate": timedelta(minutes=15)})

    assert current.stale == ("heart_rate",)
    assert set(current.used) == {"spo2"}


def test_the_spo2_scale_is_carried_into_the_vitals() -> None:
    current = current_vitals({"spo2": reading("spo2", timedelta(0), 90)}, now=NOW, spo2_scale=2)

    assert current.vitals.spo2_scale == 2
    assert score(current.vitals).sub_scores["spo2"].score == 0


def test_readings_in_another_time_zone_compare_by_instant() -> None:
    # 12:30 in UTC+1 is 11:30 UTC: thirty minutes old, so fresh.
    plus_one = timezone(timedelta(hours=1))
    newest = {"heart_rate": Reading("heart_rate", 70, datetime(2025, 3, 30, 12, 30, tzinfo=plus_one))}

    current = current_vitals(newest, now=NOW, spo2_scale=1)

    assert current.vitals.heart_rate == 70


def test_a_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        current_vitals({}, now=datetime(2025, 3, 30, 12, 0), spo2_scale=1)


def test_a_naive_measured_at_is_rejected() -> None:
    newest = {"heart_rate": Reading("heart_rate", 70, datetime(2025, 3, 30, 11, 55))}

    with pytest.raises(ValueError, match="time-zone aware"):
        current_vitals(newest, now=NOW, spo2_scale=1)


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("on_oxygen", "yes"),
        ("on_oxygen", 1),
        ("consciousness", 0),
        ("heart_rate", "70"),
        ("heart_rate", True),
    ],
)
def test_a_reading_of_the_wrong_type_is_rejected(parameter: str, value: object) -> None:
    newest = {parameter: Reading(parameter, value, NOW)}  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="invalid value"):
        current_vitals(newest, now=NOW, spo2_scale=1)


def test_a_reading_filed_under_the_wrong_parameter_is_rejected() -> None:
    newest = {"heart_rate": reading("respiratory_rate", timedelta(0))}

    with pytest.raises(ValueError, match="filed under"):
        current_vitals(newest, now=NOW, spo2_scale=1)


def test_an_unknown_parameter_is_rejected_rather_than_ignored() -> None:
    newest = {"pulse": Reading("pulse", 70, NOW)}

    with pytest.raises(ValueError, match="unknown"):
        current_vitals(newest, now=NOW, spo2_scale=1)


def test_an_unknown_freshness_window_is_rejected_rather_than_ignored() -> None:
    with pytest.raises(ValueError, match="unknown"):
        current_vitals({}, now=NOW, spo2_scale=1, freshness={"pulse": timedelta(hours=1)})


def test_an_invalid_spo2_scale_is_rejected() -> None:
    with pytest.raises(ValueError, match="spo2_scale"):
        current_vitals({}, now=NOW, spo2_scale=3)
