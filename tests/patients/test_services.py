"""Patient services: admission, discharge, the SpO2 scale decision and hand-entered readings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEvent, Role
from patients.models import Observation, Patient, SpO2ScaleChange
from patients.services import observation_record_manual, patient_admit, patient_discharge, patient_set_spo2_scale
from tests.factories import UserFactory, WardFactory

pytestmark = pytest.mark.django_db


# --- admission and discharge -------------------------------------------------------------------


def test_an_admitted_patient_starts_on_scale_1_with_a_normalised_nhs_number(
    ward, clinician, sent_events, django_capture_on_commit_callbacks
):
    # given a clinician of the ward
    # when they admit a patient typing the NHS number with spaces
    with django_capture_on_commit_callbacks(execute=True):
        patient = patient_admit(
            user=clinician, ward=ward, nhs_number="999 000 0018", given_name="Ada", family_name="Lovelace",
            date_of_birth=dt.date(1940, 1, 2), referral_source="gp", reason="COPD exacerbation",
        )  # fmt: skip
    # then the number is stored as ten digits, the scale is 1 and nobody has chosen it yet
    patient.refresh_from_db()
    assert patient.nhs_number == "9990000018"
    assert patient.spo2_scale == 1
    assert patient.spo2_scale_set_by is None
    assert patient.admitted_at.tzinfo is not None
    assert [event["event"] for event in sent_events] == ["patient.admitted"]
    assert AuditEvent.objects.filter(action="patient.admitted", patient=patient, actor=clinician).exists()


def test_admission_refuses_an_nhs_number_failing_its_check_digit(ward, clinician):
    with pytest.raises(ValidationError) as raised:
        patient_admit(
            user=clinician, ward=ward, nhs_number="9990000017", given_name="A", family_name="B",
            date_of_birth=dt.date(1940, 1, 2), referral_source="gp", reason="COPD exacerbation",
        )  # fmt: skip
    assert "nhs_number" in raised.value.message_dict


def test_a_clinician_cannot_admit_to_a_ward_they_do_not_belong_to(clinician):
    other_ward = WardFactory()
    with pytest.raises(PermissionDenied):
        patient_admit(
            user=clinician, ward=other_ward, nhs_number="9990000018", given_name="A", family_name="B",
            date_of_birth=dt.date(1940, 1, 2), referral_source="gp", reason="COPD exacerbation",
        )  # fmt: skip


def test_a_discharged_patient_cannot_be_discharged_twice(patient, clinician):
    # given a patient discharged once
    patient_discharge(patient=patient, user=clinician)
    patient.refresh_from_db()
    assert patient.discharged_at is not None
    # when discharged again, then it is refused with a reason
    with pytest.raises(ValidationError) as raised:
        patient_discharge(patient=patient, user=clinician)
    assert "already" in raised.value.message_dict["discharged_at"][0]


# --- SpO2 scale ----------------------------------------------------------------------------------


def test_a_clinician_setting_scale_2_is_recorded_with_who_and_when_and_the_patient_is_rescored(
    patient, clinician, sent_events, rescores, django_capture_on_commit_callbacks
):
    # given a patient on Scale 1
    # when a clinician of the ward sets Scale 2 with a reason
    with django_capture_on_commit_callbacks(execute=True):
        change = patient_set_spo2_scale(patient=patient, user=clinician, scale=2, reason="COPD, target 88-92")
    # then the patient is on Scale 2, with who and when kept on the patient and in the history
    patient.refresh_from_db()
    assert patient.spo2_scale == 2
    assert patient.spo2_scale_set_by == clinician
    assert timezone.now() - patient.spo2_scale_set_at < dt.timedelta(seconds=5)
    assert SpO2ScaleChange.objects.get() == change
    assert (change.scale, change.changed_by, change.reason) == (2, clinician, "COPD, target 88-92")
    # and the dashboards hear of it after commit, and a rescore was asked for
    assert [(e["event"], e["patient_id"], e["data"]["scale"]) for e in sent_events] == [
        ("patient.scale_changed", patient.pk, 2)
    ]
    assert rescores == [[patient.pk]]


def test_an_operator_may_not_change_the_spo2_scale(patient, sent_events, rescores):
    operator = UserFactory(role=Role.OPERATOR)
    with pytest.raises(PermissionDenied):
        patient_set_spo2_scale(patient=patient, user=operator, scale=2)
    patient.refresh_from_db()
    assert patient.spo2_scale == 1
    assert not SpO2ScaleChange.objects.exists()
    assert rescores == []


def test_an_administrator_may_change_the_spo2_scale(patient, rescores):
    administrator = UserFactory(role=Role.ADMINISTRATOR)
    patient_set_spo2_scale(patient=patient, user=administrator, scale=2, reason="Hypercapnic COPD, target 88-92")
    patient.refresh_from_db()
    assert patient.spo2_scale_set_by == administrator


def test_a_clinician_of_another_ward_may_not_change_the_spo2_scale(patient, rescores):
    stranger = UserFactory(role=Role.CLINICIAN)
    WardFactory().staff.add(stranger)
    with pytest.raises(PermissionDenied):
        patient_set_spo2_scale(patient=patient, user=stranger, scale=2)


@pytest.mark.parametrize("start,scale", [(1, 2), (2, 1)])
@pytest.mark.parametrize("reason", ["", "   "])
def test_setting_or_clearing_scale_2_without_a_reason_is_refused(patient, clinician, rescores, start, scale, reason):
    # given a patient on one scale
    Patient.objects.filter(pk=patient.pk).update(spo2_scale=start)
    patient.refresh_from_db()
    # when a clinician changes it with no reason (or only spaces)
    with pytest.raises(ValidationError) as raised:
        patient_set_spo2_scale(patient=patient, user=clinician, scale=scale, reason=reason)
    # then it is refused, saying the reason is needed, and nothing changed or was rescored
    assert "reason" in raised.value.message_dict
    patient.refresh_from_db()
    assert patient.spo2_scale == start
    assert not SpO2ScaleChange.objects.exists() and rescores == []


def test_clearing_scale_2_with_a_reason_is_recorded_with_it(patient, clinician, rescores):
    Patient.objects.filter(pk=patient.pk).update(spo2_scale=2)
    change = patient_set_spo2_scale(patient=patient, user=clinician, scale=1, reason="  Target no longer applies ")
    patient.refresh_from_db()
    assert patient.spo2_scale == 1 and change.reason == "Target no longer applies"


@pytest.mark.parametrize("scale", [0, 3, True, "2"])
def test_only_scale_1_or_2_exists(patient, clinician, rescores, scale):
    with pytest.raises(ValidationError) as raised:
        patient_set_spo2_scale(patient=patient, user=clinician, scale=scale)
    assert "scale" in raised.value.message_dict


# --- manual observations -------------------------------------------------------------------------


def test_a_hand_entered_reading_is_stored_with_who_entered_it_and_announced(
    patient, clinician, sent_events, rescores, django_capture_on_commit_callbacks
):
    # given a consciousness level judged on a video call a minute ago
    measured_at = timezone.now() - dt.timedelta(minutes=1)
    # when the clinician enters it
    with django_capture_on_commit_callbacks(execute=True):
        observation = observation_record_manual(
            patient=patient, user=clinician, type="consciousness", value="C", measured_at=measured_at
        )
    # then it is stored as the clinician's, not a device's, and is not late
    stored = Observation.objects.get(pk=observation.pk)
    assert (stored.type, stored.code, stored.value, stored.unit) == ("consciousness", "C", None, "")
    assert stored.entered_by == clinician
    assert stored.device is None
    assert stored.is_late is False
    assert stored.measured_at == measured_at
    assert stored.received_at >= measured_at
    # and it is announced after commit, and the patient rescored
    assert [(e["event"], e["data"]["value"], e["data"]["source"]) for e in sent_events] == [
        ("observation.added", "C", "manual")
    ]
    assert rescores == [[patient.pk]]


def test_a_reading_entered_hours_after_it_was_taken_is_marked_late(patient, clinician, rescores):
    observation = observation_record_manual(
        patient=patient, user=clinician, type="on_oxygen", value=True,
        measured_at=timezone.now() - dt.timedelta(hours=3),
    )  # fmt: skip
    assert observation.is_late is True
    assert observation.value == 1.0


def test_a_fahrenheit_reading_is_stored_in_celsius(patient, clinician, rescores):
    observation = observation_record_manual(
        patient=patient, user=clinician, type="temperature", value=100.4, unit="[degF]", measured_at=timezone.now()
    )
    assert (observation.value, observation.unit) == (38.0, "Cel")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"value": 150}, "value"),
        ({"value": "95"}, "value"),
        ({"type": "glucose"}, "type"),
        ({"unit": "bpm"}, "unit"),
        ({"measured_at": dt.datetime(2026, 1, 1, 10, 0)}, "measured_at"),
        ({"measured_at": "later"}, "measured_at"),
    ],
)
def test_an_implausible_reading_is_refused_naming_the_field(patient, clinician, rescores, changes, field):
    given = {"type": "spo2", "value": 95, "measured_at": timezone.now(), **changes}
    if given["measured_at"] == "later":
        given["measured_at"] = timezone.now() + dt.timedelta(minutes=10)
    with pytest.raises(ValidationError) as raised:
        observation_record_manual(patient=patient, user=clinician, **given)
    assert field in raised.value.message_dict
    assert not Observation.objects.exists()
    assert rescores == []


def test_a_reading_more_than_seven_days_old_is_refused(patient, clinician, rescores):
    with pytest.raises(ValidationError) as raised:
        observation_record_manual(
            patient=patient, user=clinician, type="spo2", value=95,
            measured_at=timezone.now() - dt.timedelta(days=7, minutes=1),
        )  # fmt: skip
    assert "7 days" in raised.value.message_dict["measured_at"][0]


def test_no_reading_can_be_entered_for_a_discharged_patient(patient, clinician, rescores):
    patient_discharge(patient=patient, user=clinician)
    patient.refresh_from_db()
    with pytest.raises(ValidationError) as raised:
        observation_record_manual(patient=patient, user=clinician, type="spo2", value=95, measured_at=timezone.now())
    assert "patient" in raised.value.message_dict


def test_an_operator_may_enter_a_reading_but_a_clinician_of_another_ward_may_not(patient, rescores):
    operator = UserFactory(role=Role.OPERATOR)
    stranger = UserFactory(role=Role.CLINICIAN)
    WardFactory().staff.add(stranger)
    observation_record_manual(patient=patient, user=operator, type="spo2", value=95, measured_at=timezone.now())
    with pytest.raises(PermissionDenied):
        observation_record_manual(patient=patient, user=stranger, type="spo2", value=95, measured_at=timezone.now())
    assert Observation.objects.filter(patient=patient).count() == 1
