"""The ward board selector: sickest first, honest about gaps, and a constant number of queries."""

from __future__ import annotations

import pytest

from frontend.selectors import ward_board
from tests.frontend.conftest import make_alert, make_patient, make_score, new_patient

pytestmark = pytest.mark.django_db


def test_the_board_lists_the_sickest_patient_first(ward, clinician):
    # given patients of every risk band, created in an unhelpful order
    for risk in ("low", "high", "low-medium", "medium"):
        make_patient(ward, risk=risk, family_name=f"Risk-{risk}")

    # when the board is read
    rows = ward_board(user=clinician, ward_id=ward.pk)

    # then high comes first and low last
    assert [row["score"]["risk"] for row in rows] == ["high", "medium", "low-medium", "low"]


def test_a_patient_with_no_score_is_never_shown_as_low_risk(ward, clinician):
    # given one low-risk patient and one never scored
    make_patient(ward, risk="low", family_name="Scored")
    make_patient(ward, risk=None, family_name="Unscored")

    # when the board is read
    rows = ward_board(user=clinician, ward_id=ward.pk)

    # then the unscored patient has no score (not a zero) and sorts above the low-risk one
    assert rows[0]["name"].endswith("Unscored")
    assert rows[0]["score"] is None


def test_a_row_carries_the_trend_sub_scores_missing_parameters_and_scale(ward, clinician):
    # given a Scale 2 patient whose score went from 3 to 6 and lacks consciousness and temperature
    patient = new_patient(ward, spo2_scale=2)
    make_score(patient, total=3, risk="low-medium", minutes_ago=60)
    make_score(patient, total=6, risk="medium", complete=False, missing=["consciousness", "temperature"])

    # when the board is read
    (row,) = ward_board(user=clinician, ward_id=ward.pk)

    # then the trend, drivers, missing list and scale are all there
    assert row["trend"] == "up" and row["previous_total"] == 3
    assert row["spo2_scale"] == 2
    assert row["score"]["complete"] is False
    assert row["score"]["missing"] == ["ACVPU", "Temp"]
    assert sum(d["score"] for d in row["score"]["drivers"]) == 6 and all(d["score"] for d in row["score"]["drivers"])


def test_a_patient_whose_devices_are_all_offline_is_marked_not_heard_from(ward, clinician):
    # given one patient online and one whose only device is offline
    make_patient(ward, risk="low", online=True, family_name="Online")
    make_patient(ward, risk="low", online=False, family_name="Silent")

    # when the board is read
    rows = {row["name"].split()[-1]: row for row in ward_board(user=clinician, ward_id=ward.pk)}

    # then only the silent patient is "not heard from", with when the silence began
    assert rows["Silent"]["not_heard_from"] is True
    assert rows["Silent"]["devices"][0]["silent_since"] is not None
    assert rows["Online"]["not_heard_from"] is False


def test_a_clinician_sees_only_their_own_wards_patients(ward, other_ward, clinician):
    # given a patient on the clinician's ward and one on another ward
    make_patient(ward, family_name="Mine")
    make_patient(other_ward, family_name="Theirs")

    # when the all-wards board is read
    rows = ward_board(user=clinician)

    # then only the clinician's own patient appears
    assert [row["name"].split()[-1] for row in rows] == ["Mine"]


def test_open_alerts_appear_on_the_row_and_resolved_ones_do_not(ward, clinician):
    # given a patient with one open and one resolved alert
    patient = make_patient(ward, risk="high")
    open_alert = make_alert(patient)
    make_alert(patient, state="resolved", kind="fall", title="Fall")

    # when the board is read
    (row,) = ward_board(user=clinician, ward_id=ward.pk)

    # then only the open alert is on the row
    assert [a["id"] for a in row["alerts"]] == [open_alert.pk]


def _board_queries(count, ward, user, django_assert_max_num_queries):
    for n in range(count):
        patient = make_patient(ward, risk=("low", "medium", "high")[n % 3])
        make_alert(patient)
    with django_assert_max_num_queries(100) as captured:
        rows = ward_board(user=user, ward_id=ward.pk)
    assert len(rows) == count
    return len(captured.captured_queries)


def test_the_board_costs_the_same_queries_for_five_patients_as_for_fifty(
    ward, other_ward, clinician, django_assert_max_num_queries
):
    # given a ward of 5 and a ward of 50 patients, each with a device, two scores and an alert
    other_ward.staff.add(clinician)
    five = _board_queries(5, ward, clinician, django_assert_max_num_queries)

    # when the board for the larger ward is read
    fifty = _board_queries(50, other_ward, clinician, django_assert_max_num_queries)

    # then both cost the same small number of queries
    assert five == fifty
    assert fifty <= 5
