"""Which readings need a prompt NEWS2 rescore: every chart boundary on both sides, and the risk rule."""

import math

import pytest

from scoring.news2 import Risk
from scoring.urgency import needs_prompt_rescore


def reading(parameter: str, value: float | None = None, code: str = "") -> tuple[str, float | None, str]:
    """One reading as stored on Observation: (type, value, code)."""
    return (parameter, value, code)


def prompt_for_stable(*readings, spo2_scale: int = 1) -> bool:
    """The answer for a patient whose current score is low risk."""
    return needs_prompt_rescore(readings, spo2_scale=spo2_scale, current_risk="low")


# Each pair straddles a boundary of RCP NEWS2 chart 1 between a score of 0 and a score above 0.
@pytest.mark.parametrize(
    ("parameter", "value", "prompt"),
    [
        ("respiratory_rate", 11, True),
        ("respiratory_rate", 12, False),
        ("respiratory_rate", 20, False),
        ("respiratory_rate", 21, True),
        ("respiratory_rate", 20.5, True),  # between printed steps: the higher neighbour (21 scores 2)
        ("heart_rate", 50, True),
        ("heart_rate", 51, False),
        ("heart_rate", 90, False),
        ("heart_rate", 91, True),
        ("systolic_bp", 110, True),
        ("systolic_bp", 111, False),
        ("systolic_bp", 219, False),
        ("systolic_bp", 220, True),
        ("temperature", 36.0, True),
        ("temperature", 36.05, True),  # scores like 36.0, never rounded up into the normal band
        ("temperature", 36.1, False),
        ("temperature", 38.0, False),
        ("temperature", 38.1, True),
        ("spo2", 95, True),
        ("spo2", 96, False),
        ("spo2", 100, False),
        ("on_oxygen", 0.0, False),
        ("on_oxygen", 1.0, True),
    ],
)
def test_a_numeric_reading_is_routine_only_while_it_scores_0(parameter, value, prompt):
    # given a low-risk patient on SpO2 Scale 1 / when one reading arrives
    # then it is prompt exactly when the chart gives it a score
    assert prompt_for_stable(reading(parameter, float(value))) is prompt


@pytest.mark.parametrize(
    ("spo2", "prompt"),
    [
        (83, True),  # 3 on air and oxygen
        (85, True),  # 2 on air and oxygen
        (86, True),  # 1 on air and oxygen
        (87, True),
        (88, False),  # the 88-92% target scores 0 on air and on oxygen
        (90, False),
        (92, False),
        (93, True),  # 0 on air but 1 on oxygen: the oxygen state is not known, so the worse
        (96, True),
        (97, True),
        (100, True),
    ],
)
def test_spo2_on_scale_2_is_judged_by_its_worse_score_on_air_or_oxygen(spo2, prompt):
    # given a low-risk patient on Scale 2 / when an SpO2 reading arrives
    # then it is routine only inside the 88-92% target, where neither chart scores it
    assert prompt_for_stable(reading("spo2", float(spo2)), spo2_scale=2) is prompt


@pytest.mark.parametrize(
    ("code", "prompt"),
    [("A", False), ("a", False), ("C", True), ("V", True), ("P", True), ("U", True), ("", True), ("X", True)],
)
def test_consciousness_is_routine_only_when_alert(code, prompt):
    # given a low-risk patient / when an ACVPU reading arrives (the letter is in `code`)
    # then only Alert scores 0; new confusion, V, P, U, a missing or an unknown letter are prompt
    assert prompt_for_stable(reading("consciousness", None, code)) is prompt


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("heart_rate", None),
        ("spo2", None),
        ("on_oxygen", None),
        ("on_oxygen", 0.5),
        ("temperature", math.nan),
        ("systolic_bp", math.inf),
    ],
)
def test_a_missing_or_unscorable_value_is_prompt(parameter, value):
    # given a low-risk patient / when a reading arrives that the chart cannot score
    # then it is never treated as normal
    assert prompt_for_stable(reading(parameter, value)) is True


def test_an_unknown_spo2_scale_makes_every_news2_reading_prompt():
    # given a patient whose scale is not 1 or 2 / when a normal pulse arrives / then it is prompt
    assert prompt_for_stable(reading("heart_rate", 72.0), spo2_scale=3) is True


@pytest.mark.parametrize(
    "other",
    [
        reading("fall_detected", 1.0),
        reading("weight", 80.0),
        reading("diastolic_bp", 130.0),
        reading("o2_flow_rate", 2.0),
        reading("glucose", 25.0),
        reading("weight", None),
    ],
)
def test_readings_outside_news2_neither_make_it_prompt_nor_stop_it(other):
    # given a low-risk patient
    # when a non-NEWS2 reading arrives alone, or beside a normal or a scoring NEWS2 reading
    # then only the NEWS2 readings decide
    assert prompt_for_stable(other) is False
    assert prompt_for_stable(other, reading("heart_rate", 72.0)) is False
    assert prompt_for_stable(other, reading("heart_rate", 95.0)) is True


def test_one_scoring_reading_among_normal_ones_makes_the_batch_prompt():
    # given a low-risk patient / when a batch of normal readings holds one that scores
    batch = [reading("heart_rate", 72.0)] * 50 + [reading("respiratory_rate", 22.0)] + [reading("spo2", 98.0)] * 50
    # then the batch is prompt; without it, routine
    assert prompt_for_stable(*batch) is True
    assert prompt_for_stable(*(r for r in batch if r[0] != "respiratory_rate")) is False


def test_an_empty_batch_for_a_stable_patient_is_routine():
    assert prompt_for_stable() is False


@pytest.mark.parametrize(
    ("current_risk", "prompt"),
    [
        (Risk.LOW, False),
        ("low", False),
        (None, True),  # no score yet: nothing says the patient is stable
        ("low-medium", True),  # a single 3: watched, and improvements matter promptly too
        ("medium", True),
        ("high", True),
        ("", True),
    ],
)
def test_only_a_patient_currently_at_low_risk_can_wait(current_risk, prompt):
    # given a patient with this current risk / when perfectly normal readings arrive
    readings = [reading("heart_rate", 72.0), reading("spo2", 98.0), reading("consciousness", None, "A")]
    # then they wait only for a low-risk patient
    assert needs_prompt_rescore(readings, spo2_scale=1, current_risk=current_risk) is prompt


def test_the_readings_may_be_any_iterable_even_a_generator():
    # given a generator of normal readings, read once / then it is routine for a low-risk patient
    readings = (reading("heart_rate", float(value)) for value in (60, 70, 80))
    assert needs_prompt_rescore(readings, spo2_scale=1, current_risk="low") is False


@pytest.mark.parametrize(
    ("new_reading", "current_sub_scores", "prompt"),
    [
        (reading("heart_rate", 95.0), {"heart_rate": 1}, False),  # 1, as now
        (reading("heart_rate", 110.0), {"heart_rate": 1}, False),  # 1, the top of its band
        (reading("heart_rate", 111.0), {"heart_rate": 1}, True),  # 2: more than now
        (reading("heart_rate", 72.0), {"heart_rate": 1}, False),  # 0: lower
        (reading("heart_rate", 95.0), {"heart_rate": 0}, True),  # 0 -> 1
        (reading("heart_rate", 95.0), {"heart_rate": None}, True),  # missing counts as 0
        (reading("heart_rate", 95.0), {}, True),  # not in the score at all
        (reading("respiratory_rate", 22.0), {"respiratory_rate": 2}, False),
        (reading("respiratory_rate", 25.0), {"respiratory_rate": 2}, True),  # 3
        (reading("spo2", 95.0), {"spo2": 1}, False),  # Scale 1: 94-95 -> 1
        (reading("spo2", 93.0), {"spo2": 1}, True),  # 92-93 -> 2
        (reading("temperature", 38.5), {"heart_rate": 1}, True),  # another parameter rising
        (reading("consciousness", None, "C"), {"consciousness": 0}, True),
        (reading("heart_rate", None), {"heart_rate": 3}, True),  # unscorable is never normal
    ],
)
def test_a_reading_may_wait_only_if_it_scores_no_more_than_its_parameter_does_now(
    new_reading, current_sub_scores, prompt
):
    # given a low-risk patient whose current score has these sub-scores / when the reading arrives
    result = needs_prompt_rescore(
        [new_reading], spo2_scale=1, current_risk="low", current_sub_scores=current_sub_scores
    )
    # then it waits only if it cannot raise its parameter's score
    assert result is prompt
