"""Every write to patients and their hand-entered observations goes through here.

Each service validates, writes in one transaction, records who did it, and opens the one door
for live events (``frontend.events.publish``) and rescoring inside that transaction: both are
sent only after commit, so no dashboard or worker sees a change that was rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.access import AnyUser, visible_wards
from accounts.audit import audit_record
from devices.protocol import MAX_FUTURE, MAX_PAST
from frontend.events import publish
from patients import stays
from patients.models import Observation, Patient, SpO2Scale, SpO2ScaleChange, Ward
from patients.nhs_number import normalise_nhs_number
from patients.record_services import clean_record_fields, patient_phone_add
from patients.selectors import can_enter_observation, can_set_spo2_scale
from patients.stays import StayDetails, patient_readmit, stay_details_check, stay_open
from patients.vitals import CleanVital, VitalValueError, clean_vital
from scoring.services import request_rescore

_require_aware = stays.require_aware


def patient_admit(
    *,
    user: AnyUser,
    ward: Ward,
    nhs_number: str,
    given_name: str,
    family_name: str,
    date_of_birth: date,
    referral_source: str = "",
    reason: str = "",
    referrer: str = "",
    expected_discharge_on: date | None = None,
    admitted_at: datetime | None = None,
    phone: str = "",
    record: dict[str, Any] | None = None,
) -> Patient:
    """Admit a patient to a virtual ward, on SpO2 Scale 1 until a clinician decides otherwise.

    A patient discharged earlier (same NHS number and date of birth) is readmitted: a new stay on
    the same record, so their history stays whole. ``record`` holds optional parts of the
    patient's record (``patients.record_services.RECORD_FIELDS``).
    """
    if not visible_wards(user).filter(pk=ward.pk).exists():
        raise PermissionDenied("You may only admit patients to your own wards.")
    admitted_at = admitted_at or timezone.now()
    _require_aware("admitted_at", admitted_at)
    if date_of_birth > timezone.localdate():
        raise ValidationError({"date_of_birth": "The date of birth is in the future."})
    details = StayDetails(referral_source, reason, referrer, expected_discharge_on)
    stay_details_check(details, admitted_at=admitted_at)
    number = normalise_nhs_number(nhs_number)
    known = Patient.objects.filter(nhs_number=number).first()
    if known is not None:
        return _readmit_known(known, user=user, ward=ward, details=details, admitted_at=admitted_at, born=date_of_birth)
    patient = Patient(
        nhs_number=number,
        given_name=given_name,
        family_name=family_name,
        date_of_birth=date_of_birth,
        ward=ward,
        admitted_at=admitted_at,
    )
    clean_record_fields(patient, record or {})
    patient.full_clean(exclude=["current_score", "spo2_scale_set_by"])
    with transaction.atomic():
        patient.save()
        if phone:
            patient_phone_add(patient=patient, user=user, number=phone, preferred=True, audit=False)
        stay = stay_open(patient=patient, ward=ward, user=user, details=details, admitted_at=admitted_at)
        detail = {"ward_id": ward.pk, "stay_id": stay.pk}
        audit_record(actor=user, action="patient.admitted", patient=patient, obj=patient, detail=detail)
        publish("patient.admitted", ward_id=ward.pk, patient_id=patient.pk, data={"name": patient.name})
    return patient


def _readmit_known(
    known: Patient, *, user: AnyUser, ward: Ward, details: StayDetails, admitted_at: datetime, born: date
) -> Patient:
    if known.is_active:
        raise ValidationError({"nhs_number": "A patient with this NHS number is already on a virtual ward."})
    if known.date_of_birth != born:
        # Same number, different person on paper: a typing error or a record to check, never a merge.
        raise ValidationError(
            {"nhs_number": "This NHS number belongs to a patient with a different date of birth. Check both."}
        )
    patient_readmit(patient=known, user=user, ward=ward, details=details, admitted_at=admitted_at)
    known.refresh_from_db()
    return known


# Discharge lives with the stays it ends; this module keeps the name its callers know.
patient_discharge = stays.patient_discharge


SCALE_REASON_REQUIRED = {
    2: "Give the reason for Scale 2 (e.g. confirmed hypercapnic respiratory failure).",
    1: "Give the reason for clearing Scale 2 (e.g. hypercapnic target no longer applies).",
}


def patient_set_spo2_scale(*, patient: Patient, user: AnyUser, scale: int, reason: str = "") -> SpO2ScaleChange:
    """Record a clinician's decision to score this patient's SpO2 on Scale 1 or Scale 2.

    Scoring on the wrong scale is a known NEWS2 hazard (RCP 2017, chart 1 notes), so the
    decision is kept with who and when, and the patient is rescored at once. Either way needs a
    reason: clearing Scale 2 scores a stable hypercapnic patient's 88–92 % as low, a hazard of
    its own, so it is justified and recorded like setting it.
    """
    if isinstance(scale, bool) or scale not in SpO2Scale.values:
        raise ValidationError({"scale": "The SpO2 scale is 1 or 2."})
    if not can_set_spo2_scale(user=user, patient=patient):
        raise PermissionDenied("Only a clinician of this ward or an administrator may change the SpO2 scale.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": SCALE_REASON_REQUIRED[scale]})
    now = timezone.now()
    with transaction.atomic():
        patient = Patient.objects.select_for_update(no_key=True).get(pk=patient.pk)
        previous = patient.spo2_scale
        patient.spo2_scale, patient.spo2_scale_set_by, patient.spo2_scale_set_at = scale, user, now
        patient.save(update_fields=["spo2_scale", "spo2_scale_set_by", "spo2_scale_set_at"])
        change = SpO2ScaleChange.objects.create(
            patient=patient, scale=scale, changed_by=user, changed_at=now, reason=reason
        )
        detail = {"scale": scale, "previous": previous, "reason": reason}
        audit_record(actor=user, action="patient.spo2_scale_changed", patient=patient, obj=change, detail=detail)
        publish("patient.scale_changed", ward_id=patient.ward_id, patient_id=patient.pk, data=detail)
        request_rescore([patient.pk])
    return change


def observation_record_manual(
    *,
    patient: Patient,
    user: AnyUser,
    type: str,
    value: object,
    measured_at: datetime,
    unit: str | None = None,
) -> Observation:
    """Store a reading a person took or was told (e.g. consciousness on a video call).

    Held to the same types, units and plausible ranges as a device reading. A reading taken
    long before it is entered is marked late, so alerting treats it as history, not news.
    """
    _require_aware("measured_at", measured_at)
    try:
        clean = clean_vital(type, value, unit)
    except VitalValueError as exc:
        raise ValidationError({exc.field: exc.message}) from None
    now = timezone.now()
    _check_manual_entry(patient=patient, user=user, measured_at=measured_at, now=now)
    with transaction.atomic():
        observation = _store_manual(patient, user, type, clean, measured_at, now)
        request_rescore([patient.pk])
    return observation


def observation_set_record_manual(
    *, patient: Patient, user: AnyUser, values: Mapping[str, object], measured_at: datetime
) -> list[Observation]:
    """Store a full observation set taken at one time, as a paper NEWS2 chart column is filled.

    Any subset of the parameters; each value is held to the device ranges and every error is
    reported against its own parameter at once. All are stored in one transaction (a set is
    never half saved), each audited, and the patient rescored once for the whole set.
    """
    _require_aware("measured_at", measured_at)
    if not values:
        raise ValidationError({"values": "Enter at least one observation."})
    cleaned: dict[str, CleanVital] = {}
    errors: dict[str, str] = {}
    for kind, value in values.items():
        try:
            cleaned[kind] = clean_vital(kind, value)
        except VitalValueError as exc:
            errors[kind] = exc.message
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    _check_manual_entry(patient=patient, user=user, measured_at=measured_at, now=now)
    with transaction.atomic():
        stored = [_store_manual(patient, user, kind, clean, measured_at, now) for kind, clean in cleaned.items()]
        request_rescore([patient.pk])
    return stored


def _check_manual_entry(*, patient: Patient, user: AnyUser, measured_at: datetime, now: datetime) -> None:
    if measured_at > now + MAX_FUTURE:
        raise ValidationError({"measured_at": "The reading is dated more than 5 minutes in the future."})
    if measured_at < now - MAX_PAST:
        raise ValidationError({"measured_at": "The reading is more than 7 days old."})
    if not patient.is_active:
        raise ValidationError({"patient": "This patient has been discharged."})
    if not can_enter_observation(user=user, patient=patient):
        raise PermissionDenied("You may only enter observations for patients of your own wards.")


def _store_manual(
    patient: Patient, user: AnyUser, kind: str, clean: CleanVital, measured_at: datetime, now: datetime
) -> Observation:
    observation = Observation.objects.create(
        patient=patient,
        type=kind,
        value=clean.value,
        code=clean.code,
        unit=clean.unit,
        measured_at=measured_at,
        received_at=now,
        entered_by=user,
        is_late=now - measured_at > timedelta(seconds=settings.VW_LATE_READING_SECONDS),
    )
    audit_record(actor=user, action="observation.recorded", patient=patient, obj=observation, detail={"type": kind})
    publish("observation.added", ward_id=patient.ward_id, patient_id=patient.pk, data=_event_data(observation))
    return observation


def _event_data(observation: Observation) -> dict[str, Any]:
    return {
        "id": observation.pk,
        "type": observation.type,
        "value": observation.display_value,
        "unit": observation.unit,
        "measured_at": observation.measured_at.isoformat(),
        "is_late": observation.is_late,
        "source": "manual",
    }
