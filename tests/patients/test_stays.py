"""A stay per admission: opening, readmission within 30 days, discharge, and the end of monitoring."""

from __future__ import annotations

import datetime as dt
import importlib
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEvent
from alerts.models import Alert, AlertState, Category, Severity
from devices.models import Device, DeviceCertificate, KitTask
from patients.models import Direction, Patient, Stay
from patients.monitoring import KIT_REMEDY, kit_to_collect
from patients.services import patient_admit, patient_discharge
from patients.signals import patient_discharged
from patients.stays import READMISSION_DAYS, StayDetails, patient_readmit, readmission_of
from tests.factories import DeviceFactory, PatientFactory, WardFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def admit(ward, clinician, **changes):
    fields = {
        "user": clinician, "ward": ward, "nhs_number": "9990000018", "given_name": "Ada", "family_name": "Lovelace",
        "date_of_birth": dt.date(1940, 1, 2), "referral_source": "gp", "reason": "COPD exacerbation", **changes,
    }  # fmt: skip
    return patient_admit(**fields)


# --- opening a stay ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "direction"),
    [
        ("gp", Direction.STEP_UP),
        ("nhs_111", Direction.STEP_UP),
        ("community", Direction.STEP_UP),
        ("care_home", Direction.STEP_UP),
        ("emergency_department", Direction.STEP_UP),
        ("ambulance", Direction.STEP_UP),
        ("hospital_ward", Direction.STEP_DOWN),
    ],
)
def test_an_admission_opens_a_stay_whose_direction_follows_the_referral_source(ward, clinician, source, direction):
    patient = admit(ward, clinician, referral_source=source, expected_discharge_on=timezone.localdate())
    stay = patient.stays.get()
    assert (stay.direction, stay.referral_source, stay.admitted_by) == (direction, source, clinician)
    assert (stay.ward, stay.admitted_at, stay.discharged_at) == (patient.ward, patient.admitted_at, None)
    assert stay.pathway == ward.pathway and not stay.is_readmission


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"referral_source": ""}, "referral_source"),
        ({"referral_source": "not_recorded"}, "referral_source"),
        ({"referral_source": "the moon"}, "referral_source"),
        ({"reason": "   "}, "reason"),
        ({"expected_discharge_on": timezone.localdate() - dt.timedelta(days=1)}, "expected_discharge_on"),
    ],
)
def test_an_admission_without_its_referral_details_is_refused_naming_the_field(ward, clinician, changes, field):
    with pytest.raises(ValidationError) as raised:
        admit(ward, clinician, **changes)
    assert field in raised.value.message_dict
    assert not Patient.objects.exists() and not Stay.objects.exists()


def test_an_expected_discharge_on_the_day_of_admission_is_accepted(ward, clinician):
    patient = admit(ward, clinician, expected_discharge_on=timezone.localdate())
    assert patient.stays.get().expected_discharge_on == timezone.localdate()


def test_a_patient_already_on_a_ward_cannot_be_admitted_twice(ward, clinician):
    admit(ward, clinician)
    with pytest.raises(ValidationError) as raised:
        admit(ward, clinician)
    assert "already on a virtual ward" in raised.value.message_dict["nhs_number"][0]
    assert Stay.objects.count() == 1


# --- readmission ------------------------------------------------------------------------------


def _discharged_on(ward, local_day: dt.date) -> Patient:
    discharged = dt.datetime.combine(local_day, dt.time(16, 0), LONDON)
    return PatientFactory(ward=ward, admitted_at=discharged - dt.timedelta(days=5), discharged_at=discharged)


@pytest.mark.parametrize(
    ("days_after", "flagged"),
    [(0, True), (1, True), (READMISSION_DAYS - 1, True), (READMISSION_DAYS, True), (READMISSION_DAYS + 1, False)],
)
def test_a_readmission_within_30_days_of_discharge_is_flagged(ward, clinician, days_after, flagged):
    # given a patient discharged at 16:00 on a day (local time)
    day = timezone.localdate() - dt.timedelta(days=days_after)
    patient = _discharged_on(ward, day)
    first = patient.stays.get()
    # when readmitted at 09:00 (or, the same day, at 17:00) days_after calendar days later
    at = dt.datetime.combine(timezone.localdate(), dt.time(17 if days_after == 0 else 9), LONDON)
    at = min(at, timezone.now())
    at = max(at, first.discharged_at)
    stay = patient_readmit(
        patient=patient, user=clinician, ward=ward, admitted_at=at, details=StayDetails("gp", "chest infection")
    )
    # then the new stay readmits the first one only within the 30 days
    assert stay.readmission_of == (first if flagged else None)
    assert stay.is_readmission is flagged


def test_the_30_days_are_local_calendar_days_across_the_clock_change(ward):
    # discharged 23:30 BST on 1 October, readmitted 00:30 GMT on 31 October: day 30, a readmission
    patient = PatientFactory(
        ward=ward,
        admitted_at=dt.datetime(2026, 9, 20, 9, tzinfo=LONDON),
        discharged_at=dt.datetime(2026, 10, 1, 23, 30, tzinfo=LONDON),
    )
    assert readmission_of(patient, dt.datetime(2026, 10, 31, 0, 30, tzinfo=LONDON)) is not None
    assert readmission_of(patient, dt.datetime(2026, 11, 1, 0, 30, tzinfo=LONDON)) is None


def test_admitting_a_discharged_patient_by_nhs_number_opens_a_new_stay_on_the_same_record(ward, clinician):
    patient = admit(ward, clinician)
    patient_discharge(patient=patient, user=clinician, outcome="recovered")
    other_ward = WardFactory(pathway="frailty")
    other_ward.staff.add(clinician)

    again = admit(other_ward, clinician, referral_source="hospital_ward", reason="step-down after pneumonia")

    assert again.pk == patient.pk and again.ward == other_ward and again.discharged_at is None
    first, second = patient.stays.order_by("admitted_at")
    assert first.outcome == "recovered" and second.readmission_of == first
    assert (second.direction, second.pathway) == (Direction.STEP_DOWN, "frailty")
    assert AuditEvent.objects.filter(action="patient.readmitted", patient=patient).count() == 1


def test_an_nhs_number_with_another_date_of_birth_is_not_taken_for_a_readmission(ward, clinician):
    patient = admit(ward, clinician)
    patient_discharge(patient=patient, user=clinician, outcome="recovered")
    with pytest.raises(ValidationError) as raised:
        admit(ward, clinician, date_of_birth=dt.date(1941, 1, 2))
    assert "different date of birth" in raised.value.message_dict["nhs_number"][0]
    assert patient.stays.count() == 1


def test_a_readmission_before_the_last_discharge_is_refused(ward, clinician):
    patient = _discharged_on(ward, timezone.localdate() - dt.timedelta(days=2))
    with pytest.raises(ValidationError) as raised:
        patient_readmit(
            patient=patient, user=clinician, ward=ward, details=StayDetails("gp", "x"),
            admitted_at=patient.discharged_at - dt.timedelta(minutes=1),
        )  # fmt: skip
    assert "admitted_at" in raised.value.message_dict


# --- discharge --------------------------------------------------------------------------------


def test_discharge_ends_the_stay_with_its_outcome_and_signals_after_commit(
    patient, clinician, django_capture_on_commit_callbacks
):
    heard = []

    def listener(sender, patient, user, **kwargs):
        heard.append((patient.pk, user))

    patient_discharged.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            patient_discharge(patient=patient, user=clinician, outcome="hospital", destination="St Elsewhere ED")
        assert heard == []  # nothing before commit
        for callback in callbacks:
            callback()
    finally:
        patient_discharged.disconnect(listener)
    stay = patient.stays.get()
    patient.refresh_from_db()
    assert heard == [(patient.pk, clinician)]
    assert (stay.outcome, stay.destination, stay.discharged_by) == ("hospital", "St Elsewhere ED", clinician)
    assert stay.discharged_at == patient.discharged_at is not None


@pytest.mark.parametrize(("outcome", "destination"), [("hospital", ""), ("other_service", "   ")])
def test_a_transfer_must_say_where_the_patient_went(patient, clinician, outcome, destination):
    # the rule is the service's, so the API and the page refuse it alike
    with pytest.raises(ValidationError) as raised:
        patient_discharge(patient=patient, user=clinician, outcome=outcome, destination=destination)
    assert "Say which hospital or service" in raised.value.message_dict["destination"][0]
    assert patient.stays.get().is_open


@pytest.mark.parametrize(
    ("shift", "field"),
    [(dt.timedelta(days=-3), "discharged_at"), (dt.timedelta(hours=1), "discharged_at")],
)
def test_a_discharge_before_admission_or_in_the_future_is_refused(patient, clinician, shift, field):
    at = (patient.admitted_at if shift < dt.timedelta(0) else timezone.now()) + shift
    with pytest.raises(ValidationError) as raised:
        patient_discharge(patient=patient, user=clinician, discharged_at=at, outcome="recovered")
    assert field in raised.value.message_dict
    assert patient.stays.get().is_open


def test_an_unknown_outcome_is_refused(patient, clinician):
    with pytest.raises(ValidationError) as raised:
        patient_discharge(patient=patient, user=clinician, outcome="better")
    assert "outcome" in raised.value.message_dict


def test_a_clinician_of_another_ward_cannot_discharge(patient):
    from tests.factories import UserFactory

    with pytest.raises(PermissionDenied):
        patient_discharge(patient=patient, user=UserFactory(), outcome="recovered")


def test_a_patient_recorded_without_a_stay_is_still_discharged_onto_one(ward, clinician):
    patient = PatientFactory(ward=ward, stay=None)
    patient_discharge(patient=patient, user=clinician, outcome="died")
    stay = patient.stays.get()
    assert (stay.outcome, stay.referral_source) == ("died", "not_recorded")


def test_discharge_ends_monitoring_devices_credentials_certificates_alerts_and_lists_the_kit(
    patient, clinician, django_capture_on_commit_callbacks, monkeypatch
):
    # given a patient with two paired devices (one with a client certificate), a device-offline
    # alert, an overdue-readings alert and a clinical alert
    refreshed = []
    monkeypatch.setattr("devices.broker_auth.broker_refresh", lambda: refreshed.append(1))
    oximeter = DeviceFactory(patient=patient, kind="pulse_oximeter", secret_hash="$7$hash")
    cuff = DeviceFactory(patient=patient, kind="bp_monitor", secret_hash="$7$hash", overdue_at=timezone.now())
    now = timezone.now()
    certificate = DeviceCertificate.objects.create(
        device=oximeter, common_name=oximeter.device_id, serial_number="abc123", fingerprint_sha256="f" * 64,
        issued_at=now, not_after=now + dt.timedelta(days=30),
    )  # fmt: skip
    offline = _alert(patient, "device_offline", Category.TECHNICAL, device=cuff)
    overdue = _alert(patient, "observations_overdue", Category.TECHNICAL)
    clinical = _alert(patient, "news2_risk", Category.CLINICAL)

    # when the patient is discharged
    with django_capture_on_commit_callbacks(execute=True):
        patient_discharge(patient=patient, user=clinician, outcome="recovered")

    # then every device is revoked with no secret and no overdue time, its certificate is revoked
    for device in Device.objects.filter(pk__in=[oximeter.pk, cuff.pk]):
        assert device.revoked_at is not None and device.secret_hash == "" and device.overdue_at is None
        assert not device.is_paired
    certificate.refresh_from_db()
    assert certificate.revoked_at is not None
    assert refreshed == [1], "the broker's password, ACL and CRL files are rewritten once, after commit"
    # the technical alerts are closed automatically; the clinical one waits for a person
    states = dict(Alert.objects.values_list("pk", "state"))
    assert states[offline.pk] == states[overdue.pk] == AlertState.RESOLVED
    assert states[clinical.pk] == AlertState.OPEN
    # and the kit to collect is listed, one task per device
    listed = list(kit_to_collect(patient))
    assert {task.device_id for task in listed} == {oximeter.pk, cuff.pk}
    assert all(task.remedy == KIT_REMEDY for task in listed)
    assert AuditEvent.objects.filter(action="device.unpaired", patient=patient).count() == 2


def test_an_open_kit_task_for_a_dropping_device_becomes_its_collection(patient, clinician):
    device = DeviceFactory(patient=patient)
    KitTask.objects.create(
        device=device, patient=patient, reason="drops daily", remedy="move the hub", created_at=timezone.now()
    )
    patient_discharge(patient=patient, user=clinician, outcome="recovered")
    task = KitTask.objects.get(device=device)
    assert task.remedy == KIT_REMEDY and task.state == KitTask.State.OPEN


def _alert(patient, kind, category, device=None):
    now = timezone.now()
    return Alert.objects.create(
        kind=kind, category=category, severity=Severity.MEDIUM, patient=patient, device=device, title=kind,
        opened_at=now, updated_at=now,
    )  # fmt: skip


# --- the data migration -----------------------------------------------------------------------


def test_the_migration_gives_every_patient_without_a_stay_one_that_mirrors_the_record(ward):
    active = PatientFactory(ward=ward, stay=None)
    left = PatientFactory(
        ward=ward, stay=None, admitted_at=timezone.now() - dt.timedelta(days=9),
        discharged_at=timezone.now() - dt.timedelta(days=1),
    )  # fmt: skip
    kept = PatientFactory(ward=ward)
    migration = importlib.import_module("patients.migrations.0006_a_stay_for_every_patient")

    migration.forwards(apps, None)

    assert active.stays.get().is_open and active.stays.get().outcome == ""
    stay = left.stays.get()
    assert (stay.admitted_at, stay.discharged_at, stay.outcome) == (
        left.admitted_at,
        left.discharged_at,
        "not_recorded",
    )
    assert stay.direction == "not_recorded" and kept.stays.count() == 1


# --- expected discharge -----------------------------------------------------------------------


def test_the_expected_discharge_date_may_be_the_admission_day_but_not_before(patient, clinician):
    from patients.stays import stay_set_expected_discharge

    stay = patient.stays.get()
    admitted_on = timezone.localdate(stay.admitted_at)
    assert stay_set_expected_discharge(stay=stay, user=clinician, expected_discharge_on=admitted_on)
    with pytest.raises(ValidationError):
        stay_set_expected_discharge(stay=stay, user=clinician, expected_discharge_on=admitted_on - dt.timedelta(days=1))
    stay_set_expected_discharge(stay=stay, user=clinician, expected_discharge_on=None)
    stay.refresh_from_db()
    assert stay.expected_discharge_on is None and not stay.is_due_for_discharge
    events = AuditEvent.objects.filter(action="stay.expected_discharge_set", patient=patient)
    assert events.count() == 2


@pytest.mark.parametrize(("days", "due"), [(-1, True), (0, True), (1, False)])
def test_a_stay_is_due_for_discharge_on_and_after_its_expected_date(patient, days, due):
    stay = patient.stays.get()
    stay.expected_discharge_on = timezone.localdate() + dt.timedelta(days=days)
    assert stay.is_due_for_discharge is due


def test_an_ended_stays_expected_discharge_cannot_change(patient, clinician):
    from patients.stays import stay_set_expected_discharge

    patient_discharge(patient=patient, user=clinician, outcome="recovered")
    with pytest.raises(ValidationError):
        stay_set_expected_discharge(
            stay=patient.stays.get(), user=clinician, expected_discharge_on=timezone.localdate()
        )
