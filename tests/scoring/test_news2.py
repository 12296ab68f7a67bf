"""NEWS2 engine against the RCP NEWS2 (2017) chart, every boundary on both sides."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.news2 import (
    PARAMETERS,
    SCALE_2_OXYGEN_UNKNOWN_NOTE,
    Risk,
    Vitals,
    band_for,
    score,
    score_parameter,
)

# A complete set of observations that scores 0 on every parameter.
NORMAL = Vitals(
    respiratory_rate=16,
    spo2=97,
    on_oxygen=False,
    systolic_bp=120,
    heart_rate=70,
    consciousness="A",
    temperature=37.0,
)


def normal_with(**changes: object) -> Vitals:
    fields = {parameter: getattr(NORMAL, parameter) for parameter in PARAMETERS}
    fields.update(changes)
    return Vitals(**fields)  # type: ignore[arg-type]


# (value, expected score), each chart boundary from both sides.
RESPIRATORY_RATE_BOUNDARIES = [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3)]
SPO2_SCALE_1_BOUNDARIES = [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0)]
SYSTOLIC_BP_BOUNDARIES = [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]
HEART_RATE_BOUNDARIES = [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)]
TEMPERATURE_BOUNDARIES = [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2)]


@pytest.mark.parametrize(("value", "expected"), RESPIRATORY_RATE_BOUNDARIES)
def test_respiratory_rate_scores_by_the_chart_at_each_boundary(value: float, expected: int) -> None:
    assert score_parameter("respiratory_rate", value) == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE_1_BOUNDARIES)
def test_spo2_on_scale_1_scores_by_the_chart_at_each_boundary(value: float, expected: int) -> None:
    assert score_parameter("spo2", value, spo2_scale=1) == expected


@pytest.mark.parametrize("on_oxygen", [True, False])
def test_spo2_on_scale_1_does_not_depend_on_oxygen(on_oxygen: bool) -> None:
    assert score_parameter("spo2", 99, spo2_scale=1, on_oxygen=on_oxygen) == 0


@pytest.mark.parametrize(
    ("value", "on_oxygen", "expected"),
    [
        # Below the 88-92% target, oxygen makes no difference.
        (83, False, 3), (84, False, 2), (85, False, 2), (86, False, 1), (87, False, 1), (88, False, 0),
        (83, True, 3), (84, True, 2), (85, True, 2), (86, True, 1), (87, True, 1), (88, True, 0),
        # At and above the target on air: always 0.
        (92, False, 0), (93, False, 0), (94, False, 0), (95, False, 0), (96, False, 0), (97, False, 0), (100, False, 0),
        # Above the target on oxygen: over-oxygenation scores.
        (92, True, 0), (93, True, 1), (94, True, 1), (95, True, 2), (96, True, 2), (97, True, 3), (100, True, 3),
    ],
)  # fmt: skip
def test_spo2_on_scale_2_scores_by_the_chart_on_air_and_on_oxygen(value: float, on_oxygen: bool, expected: int) -> None:
    assert score_parameter("spo2", value, spo2_scale=2, on_oxygen=on_oxygen) == expected


@pytest.mark.parametrize(("on_oxygen", "expected"), [(True, 2), (False, 0)])
def test_supplemental_oxygen_scores_2_and_air_scores_0(on_oxygen: bool, expected: int) -> None:
    assert score_parameter("on_oxygen", on_oxygen) == expected


@pytest.mark.parametrize(("value", "expected"), SYSTOLIC_BP_BOUNDARIES)
def test_systolic_bp_scores_by_the_chart_at_each_boundary(value: float, expected: int) -> None:
    assert score_parameter("systolic_bp", value) == expected


@pytest.mark.parametrize(("value", "expected"), HEART_RATE_BOUNDARIES)
def test_pulse_scores_by_the_chart_at_each_boundary(value: float, expected: int) -> None:
    assert score_parameter("heart_rate", value) == expected


@pytest.mark.parametrize(
    ("level", "expected"),
    [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3), ("a", 0), ("c", 3), ("u", 3)],
)
def test_consciousness_scores_alert_0_and_new_confusion_voice_pain_unresponsive_3(level: str, expected: int) -> None:
    assert score_parameter("consciousness", level) == expected


@pytest.mark.parametrize(("value", "expected"), TEMPERATURE_BOUNDARIES)
def test_temperature_scores_by_the_chart_at_each_boundary(value: float, expected: int) -> None:
    assert score_parameter("temperature", value) == expected


@pytest.mark.parametrize(
    ("parameter", "value", "expected"),
    [
        ("respiratory_rate", 0, 3),
        ("respiratory_rate", 80, 3),
        ("spo2", 0, 3),
        ("spo2", 100, 0),
        ("systolic_bp", 0, 3),
        ("systolic_bp", 400, 3),
        ("heart_rate", 0, 3),
        ("heart_rate", 300, 3),
        ("temperature", 20.0, 3),
        ("temperature", 46, 2),
        ("temperature", 1e308, 2),
        ("heart_rate", 10**400, 3),
        ("respiratory_rate", -5, 3),
    ],
)
def test_values_beyond_the_ends_of_the_chart_score_by_the_end_band(parameter: str, value: float, expected: int) -> None:
    assert score_parameter(parameter, value) == expected


@pytest.mark.parametrize(
    ("parameter", "value", "expected"),
    [
        ("respiratory_rate", 8.5, 3),  # 8 -> 3, 9 -> 1
        ("respiratory_rate", 11.5, 1),  # 11 -> 1, 12 -> 0
        ("respiratory_rate", 20.5, 2),  # 20 -> 0, 21 -> 2
        ("respiratory_rate", 24.5, 3),  # 24 -> 2, 25 -> 3
        ("spo2", 91.5, 3),  # 91 -> 3, 92 -> 2
        ("spo2", 93.5, 2),  # 93 -> 2, 94 -> 1
        ("spo2", 95.5, 1),  # 95 -> 1, 96 -> 0
        ("systolic_bp", 90.5, 3),  # 90 -> 3, 91 -> 2
        ("systolic_bp", 110.5, 1),  # 110 -> 1, 111 -> 0
        ("systolic_bp", 219.5, 3),  # 219 -> 0, 220 -> 3
        ("heart_rate", 40.5, 3),  # 40 -> 3, 41 -> 1
        ("heart_rate", 50.5, 1),  # 50 -> 1, 51 -> 0
        ("heart_rate", 90.5, 1),  # 90 -> 0, 91 -> 1
        ("heart_rate", 130.5, 3),  # 130 -> 2, 131 -> 3
        ("temperature", 35.05, 3),  # 35.0 -> 3, 35.1 -> 1
        ("temperature", 36.05, 1),  # 36.0 -> 1, 36.1 -> 0
        ("temperature", 38.05, 1),  # 38.0 -> 0, 38.1 -> 1
        ("temperature", 39.05, 2),  # 39.0 -> 1, 39.1 -> 2
        ("temperature", 37.55, 0),  # 37.5 -> 0, 37.6 -> 0
        ("temperature", Decimal("36.0000001"), 1),
    ],
)
def test_a_value_between_printed_steps_takes_the_higher_neighbouring_score(
    parameter: str, value: float, expected: int
) -> None:
    assert score_parameter(parameter, value) == expected


@pytest.mark.parametrize(
    ("value", "on_oxygen", "expected"),
    [(92.5, True, 1), (92.5, False, 0), (87.5, False, 1), (96.5, True, 3)],
)
def test_a_scale_2_spo2_between_printed_steps_takes_the_higher_neighbouring_score(
    value: float, on_oxygen: bool, expected: int
) -> None:
    assert score_parameter("spo2", value, spo2_scale=2, on_oxygen=on_oxygen) == expected


def test_temperature_36_05_is_not_under_scored_by_float_error() -> None:
    # 36.05 is 36.04999... as a binary float; flooring that would still land on
    # 36.0, but the ceiling must be 36.1, not 36.0.
    assert score_parameter("temperature", 36.05) == 1
    assert score_parameter("temperature", 36.1) == 0


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("respiratory_rate", math.nan),
        ("spo2", math.inf),
        ("systolic_bp", -math.inf),
        ("temperature", Decimal("NaN")),
        ("heart_rate", "80"),
        ("heart_rate", True),
        ("heart_rate", None),
        ("temperature", [37.0]),
        ("on_oxygen", "yes"),
        ("on_oxygen", 1),
        ("consciousness", "X"),
        ("consciousness", "alert"),
        ("consciousness", ""),
        ("consciousness", 0),
        ("blood_glucose", 5.0),
    ],
)
def test_garbage_input_raises_a_value_error_instead_of_scoring(parameter: str, value: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        score_parameter(parameter, value)  # type: ignore[arg-type]


@pytest.mark.parametrize("spo2_scale", [0, 3, True, -1])
def test_an_spo2_scale_other_than_1_or_2_is_rejected(spo2_scale: int) -> None:
    with pytest.raises(ValueError, match="spo2_scale"):
        Vitals(spo2=95, spo2_scale=spo2_scale)
    with pytest.raises(ValueError, match="spo2_scale"):
        score_parameter("spo2", 95, spo2_scale=spo2_scale)


def test_an_oxygen_status_that_is_not_a_boolean_is_rejected() -> None:
    with pytest.raises(ValueError, match="on_oxygen"):
        score_parameter("spo2", 95, spo2_scale=2, on_oxygen="yes")  # type: ignore[arg-type]


def test_score_rejects_non_finite_vitals() -> None:
    with pytest.raises(ValueError, match="finite"):
        score(normal_with(temperature=math.nan))


def test_score_rejects_an_unknown_consciousness_level() -> None:
    with pytest.raises(ValueError, match="consciousness"):
        score(normal_with(consciousness="drowsy"))


def test_a_complete_normal_set_scores_zero_with_routine_12_hourly_monitoring() -> None:
    result = score(NORMAL)

    assert result.total == 0
    assert result.band == "zero"
    assert result.risk is Risk.LOW
    assert result.complete is True
    assert result.missing == ()
    assert result.single_parameter_3 is False
    assert result.clinical_response == "Continue routine NEWS monitoring"
    assert result.monitoring_frequency == "Minimum 12-hourly"
    assert result.monitoring_interval == timedelta(hours=12)


# RCP NEWS2 (2017) chart 2 risk for each band, and our reading of chart 4's
# minimum monitoring frequency as an interval.
RISK_AND_INTERVAL_BY_BAND = {
    "zero": (Risk.LOW, timedelta(hours=12)),
    "low": (Risk.LOW, timedelta(hours=4)),
    "low-medium": (Risk.LOW_MEDIUM, timedelta(hours=1)),
    "medium": (Risk.MEDIUM, timedelta(hours=1)),
    "high": (Risk.HIGH, timedelta(minutes=15)),
}


@pytest.mark.parametrize(
    ("changes", "total", "band"),
    [
        ({}, 0, "zero"),
        ({"heart_rate": 95}, 1, "low"),
        # 1 + 1 + 1 without a single 3 is still low.
        ({"heart_rate": 95, "temperature": 38.5, "spo2": 95}, 3, "low"),
        ({"heart_rate": 115, "respiratory_rate": 21}, 4, "low"),
        ({"heart_rate": 115, "respiratory_rate": 21, "spo2": 95}, 5, "medium"),
        ({"heart_rate": 115, "respiratory_rate": 21, "on_oxygen": True}, 6, "medium"),
        ({"heart_rate": 115, "respiratory_rate": 21, "on_oxygen": True, "spo2": 95}, 7, "high"),
        # A single 3 with an aggregate below 5 is low-medium ...
        ({"consciousness": "C"}, 3, "low-medium"),
        ({"systolic_bp": 85, "heart_rate": 95}, 4, "low-medium"),
        # ... but an aggregate of 5 or more outranks the single-3 rule.
        ({"respiratory_rate": 25, "on_oxygen": True}, 5, "medium"),
        ({"respiratory_rate": 25, "systolic_bp": 85, "on_oxygen": True}, 8, "high"),
    ],
)
def test_the_aggregate_falls_into_the_rcp_trigger_band(changes: dict[str, object], total: int, band: str) -> None:
    result = score(normal_with(**changes))

    assert result.complete is True
    assert result.total == total
    assert result.band == band
    assert (result.risk, result.monitoring_interval) == RISK_AND_INTERVAL_BY_BAND[band]


@pytest.mark.parametrize(
    ("total", "single_parameter_3", "band", "frequency"),
    [
        (0, False, "zero", "Minimum 12-hourly"),
        (1, False, "low", "Minimum 4–6-hourly"),
        (4, False, "low", "Minimum 4–6-hourly"),
        (3, True, "low-medium", "Minimum 1-hourly"),
        (4, True, "low-medium", "Minimum 1-hourly"),
        (5, True, "medium", "Minimum 1-hourly"),
        (5, False, "medium", "Minimum 1-hourly"),
        (6, False, "medium", "Minimum 1-hourly"),
        (7, False, "high", "Continuous monitoring of vital signs"),
        (20, True, "high", "Continuous monitoring of vital signs"),
    ],
)
def test_band_for_gives_the_band_and_monitoring_frequency(
    total: int, single_parameter_3: bool, band: str, frequency: str
) -> None:
    assert band_for(total, single_parameter_3).name == band
    assert band_for(total, single_parameter_3).monitoring_frequency == frequency


def test_the_high_band_asks_for_an_emergency_response_at_registrar_level() -> None:
    response = band_for(7, False).clinical_response

    assert "specialist registrar" in response
    assert "critical care competencies" in response


@pytest.mark.parametrize(("total", "single_parameter_3"), [(-1, False), (2, True), (0, True)])
def test_band_for_rejects_impossible_totals(total: int, single_parameter_3: bool) -> None:
    with pytest.raises(ValueError, match="total"):
        band_for(total, single_parameter_3)


def test_an_empty_set_of_vitals_is_incomplete_not_normal() -> None:
    result = score(Vitals())

    assert result.complete is False
    assert result.missing == PARAMETERS
    assert result.total == 0
    assert all(sub.score is None for sub in result.sub_scores.values())


def test_a_missing_parameter_adds_no_points_and_is_listed_in_parameters_order() -> None:
    result = score(Vitals(respiratory_rate=22, temperature=39.5, heart_rate=95))

    assert result.total == 2 + 2 + 1
    assert result.risk is Risk.MEDIUM  # a lower bound: the missing could only add
    assert result.complete is False
    assert result.missing == ("spo2", "on_oxygen", "systolic_bp", "consciousness")
    assert result.sub_scores["spo2"].score is None
    assert result.sub_scores["spo2"].value is None


def test_every_parameter_has_a_sub_score_even_when_missing() -> None:
    result = score(Vitals(heart_rate=72))

    assert tuple(result.sub_scores) == PARAMETERS
    assert result.sub_scores["heart_rate"].score == 0
    assert result.sub_scores["heart_rate"].value == 72


def test_consciousness_is_normalised_to_upper_case_in_the_sub_score() -> None:
    result = score(normal_with(consciousness="v"))

    assert result.sub_scores["consciousness"].value == "V"
    assert result.sub_scores["consciousness"].score == 3
    assert result.single_parameter_3 is True


def test_scale_2_spo2_above_target_with_oxygen_unknown_is_a_noted_lower_bound() -> None:
    result = score(normal_with(spo2=97, on_oxygen=None, spo2_scale=2))

    assert result.sub_scores["spo2"].score == 0
    assert result.sub_scores["spo2"].note == SCALE_2_OXYGEN_UNKNOWN_NOTE
    assert result.complete is False
    assert "on_oxygen" in result.missing
    assert result.spo2_scale == 2


@pytest.mark.parametrize("spo2", [85, 90, 92])
def test_scale_2_spo2_at_or_below_target_needs_no_oxygen_status(spo2: float) -> None:
    result = score(Vitals(spo2=spo2, spo2_scale=2))

    assert result.sub_scores["spo2"].note is None


def test_scale_2_spo2_on_oxygen_above_target_scores_over_oxygenation() -> None:
    result = score(normal_with(spo2=97, on_oxygen=True, spo2_scale=2))

    assert result.sub_scores["spo2"].score == 3
    assert result.sub_scores["on_oxygen"].score == 2
    assert result.total == 5
    assert result.band == "medium"


finite_in_range = st.floats(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False)


@given(
    respiratory_rate=st.none() | finite_in_range,
    spo2=st.none() | finite_in_range,
    on_oxygen=st.none() | st.booleans(),
    systolic_bp=st.none() | finite_in_range,
    heart_rate=st.none() | finite_in_range,
    consciousness=st.none() | st.sampled_from(["A", "C", "V", "P", "U", "a", "c", "v", "p", "u"]),
    temperature=st.none() | finite_in_range,
    spo2_scale=st.sampled_from([1, 2]),
)
def test_score_never_raises_for_finite_values_and_sub_scores_stay_within_0_to_3(
    respiratory_rate: float | None,
    spo2: float | None,
    on_oxygen: bool | None,
    systolic_bp: float | None,
    heart_rate: float | None,
    consciousness: str | None,
    temperature: float | None,
    spo2_scale: int,
) -> None:
    vitals = Vitals(
        respiratory_rate=respiratory_rate,
        spo2=spo2,
        on_oxygen=on_oxygen,
        systolic_bp=systolic_bp,
        heart_rate=heart_rate,
        consciousness=consciousness,
        temperature=temperature,
        spo2_scale=spo2_scale,
    )

    result = score(vitals)

    known = [sub.score for sub in result.sub_scores.values() if sub.score is not None]
    assert all(0 <= points <= 3 for points in known)
    assert result.total == sum(known)
    assert result.complete == (not result.missing)
    assert len(known) + len(result.missing) == len(PARAMETERS)


@given(
    value=st.floats(min_value=0, max_value=300, allow_nan=False),
    parameter=st.sampled_from(["respiratory_rate", "spo2", "systolic_bp", "heart_rate", "temperature"]),
)
def test_an_in_between_value_never_scores_below_either_neighbouring_whole_step(value: float, parameter: str) -> None:
    # Temperature is printed to 0.1, the rest to whole numbers.
    step = 0.1 if parameter == "temperature" else 1.0
    below = round(math.floor(round(value / step, 9)) * step, 1)
    above = round(math.ceil(round(value / step, 9)) * step, 1)

    points = score_parameter(parameter, value)

    assert points >= score_parameter(parameter, below)
    assert points >= score_parameter(parameter, above)
