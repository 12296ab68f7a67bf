"""Admission and discharge: every stay on a virtual ward begins and ends here.

A stay is one admission. Readmitting a discharged patient opens a new stay for the same Patient
(their history stays), flagged as a readmission when it starts within ``READMISSION_DAYS`` of
the previous stay's discharge. While a stay is open, the patient's ``ward``, ``admitted_at`` and
``discharged_at`` mirror it, because scoring, alerting and the boards read those.

Discharge ends monitoring in the same transaction (``patients.monitoring``): the patient's
devices are unpaired and their credentials and certificates revoked, live technical alerts are
closed, and each device becomes a kit-collection task. ``patient_discharged`` is sent after commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.access import AnyUser, visible_wards
from accounts.audit import audit_record
from frontend.events import publish
from patients.models import DischargeOutcome, Patient, ReferralSource, Stay, Ward, direction_of
from patients.signals import patient_discharged

# A readmission is a new stay starting within 30 days of the last one's discharge (NHS
# England's emergency readmission measure counts 30 days the same way: calendar days in
# local time, so discharged on the 1st and back on the 31st is a readmission, the 32nd is not).
READMISSION_DAYS = 30
# Choices a person may pick for a new stay; "not recorded" exists only for migrated stays.
REFERRAL_CHOICES = [choice for choice in ReferralSource.choices if choice[0] != ReferralSource.NOT_RECORDED]
# A few minutes' grace for clocks; a discharge is recorded when it happens or after.
MAX_DISCHARGE_AHEAD = timedelta(minutes=5)
OUTCOME_CHOICES = [choice for choice in DischargeOutcome.choices if choice[0] != DischargeOutcome.NOT_RECORDED]


@dataclass(frozen=True)
class StayDetails:
    """What the admitting clinician records about the referral."""

    referral_source: str
    reason: str
    referrer: str = ""
    expected_discharge_on: date | None = None
    extra: dict = field(default_factory=dict)


def require_aware(name: str, moment: datetime) -> None:
    if timezone.is_naive(moment):
        # Europe/London moves by an hour twice a year: a time without an offset is a guess.
        raise ValidationError({name: "Give the time with a UTC offset or Z, e.g. 2026-11-23T10:30:00Z."})


def stay_details_check(details: StayDetails, *, admitted_at: datetime) -> None:
    errors: dict[str, str] = {}
    if details.referral_source not in dict(REFERRAL_CHOICES):
        errors["referral_source"] = (
            "Choose where the referral came from: " + ", ".join(value for value, _ in REFERRAL_CHOICES) + "."
        )
    if not (details.reason or "").strip():
        errors["reason"] = "Give the reason for admission (e.g. COPD exacerbation, frailty with UTI)."
    expected = details.expected_discharge_on
    if expected is not None and expected < timezone.localdate(admitted_at):
        errors["expected_discharge_on"] = "The expected discharge date is before the admission."
    if errors:
        raise ValidationError(errors)


def readmission_of(patient: Patient, admitted_at: datetime) -> Stay | None:
    """The stay this admission readmits, if its discharge was ``READMISSION_DAYS`` or fewer days ago."""
    last = patient.stays.filter(discharged_at__isnull=False).order_by("-discharged_at").first()
    if last is None or last.discharged_at is None:
        return None
    days = (timezone.localdate(admitted_at) - timezone.localdate(last.discharged_at)).days
    return last if 0 <= days <= READMISSION_DAYS else None


def stay_open(*, patient: Patient, ward: Ward, user: AnyUser, details: StayDetails, admitted_at: datetime) -> Stay:
    """Open a stay for ``patient`` (already locked, inside the caller's transaction) and mirror it."""
    if patient.stays.filter(discharged_at__isnull=True).exists():
        raise ValidationError({"nhs_number": "This patient is already on a virtual ward."})
    last_end = patient.stays.filter(discharged_at__isnull=False).order_by("-discharged_at").first()
    if last_end is not None and last_end.discharged_at and admitted_at < last_end.discharged_at:
        raise ValidationError({"admitted_at": "The admission is before the patient's last discharge."})
    stay = Stay.objects.create(
        patient=patient,
        ward=ward,
        pathway=ward.pathway,
        direction=direction_of(details.referral_source),
        referral_source=details.referral_source,
        referrer=details.referrer.strip(),
        reason=details.reason.strip(),
        admitted_at=admitted_at,
        admitted_by=user if getattr(user, "is_authenticated", False) else None,
        expected_discharge_on=details.expected_discharge_on,
        readmission_of=readmission_of(patient, admitted_at),
    )
    patient.ward, patient.admitted_at, patient.discharged_at = ward, admitted_at, None
    patient.save(update_fields=["ward", "admitted_at", "discharged_at"])
    return stay


def patient_readmit(
    *, patient: Patient, user: AnyUser, ward: Ward, details: StayDetails, admitted_at: datetime | None = None
) -> Stay:
    """A new stay for a patient discharged earlier: same record, history kept."""
    if not visible_wards(user).filter(pk=ward.pk).exists():
        raise PermissionDenied("You may only admit patients to your own wards.")
    admitted_at = admitted_at or timezone.now()
    require_aware("admitted_at", admitted_at)
    stay_details_check(details, admitted_at=admitted_at)
    with transaction.atomic():
        patient = Patient.objects.select_for_update(no_key=True, of=("self",)).select_related("ward").get(pk=patient.pk)
        stay = stay_open(patient=patient, ward=ward, user=user, details=details, admitted_at=admitted_at)
        detail = {"ward_id": ward.pk, "stay_id": stay.pk, "readmission_of": stay.readmission_of_id}
        audit_record(actor=user, action="patient.readmitted", patient=patient, obj=stay, detail=detail)
        publish("patient.admitted", ward_id=ward.pk, patient_id=patient.pk, data={"name": patient.name})
    return stay


# A discharge to one of these names where the patient went.
TRANSFER_OUTCOMES = (DischargeOutcome.HOSPITAL, DischargeOutcome.OTHER_SERVICE)


def patient_discharge(
    *,
    patient: Patient,
    user: AnyUser,
    discharged_at: datetime | None = None,
    outcome: str = DischargeOutcome.NOT_RECORDED,
    destination: str = "",
    note: str = "",
) -> Patient:
    """Discharge the patient's open stay, end their monitoring, and tell listeners after commit.

    ``outcome`` defaults to "not recorded" only for callers that predate outcomes; the pages and
    the API require a person to choose one.
    """
    from patients.monitoring import monitoring_end  # devices build on patients, not the reverse

    if not visible_wards(user).filter(pk=patient.ward_id).exists():
        raise PermissionDenied("You may only discharge patients of your own wards.")
    discharged_at = discharged_at or timezone.now()
    require_aware("discharged_at", discharged_at)
    if outcome not in DischargeOutcome.values:
        raise ValidationError({"outcome": "Choose the outcome: " + ", ".join(v for v, _ in OUTCOME_CHOICES) + "."})
    if outcome in TRANSFER_OUTCOMES and not destination.strip():
        # Whoever reads the record next must know where the patient went (the GP summary says so).
        raise ValidationError({"destination": "Say which hospital or service the patient went to."})
    if discharged_at > timezone.now() + MAX_DISCHARGE_AHEAD:
        raise ValidationError({"discharged_at": "A discharge cannot be recorded in the future."})
    with transaction.atomic():
        # Locked so two people discharging at once cannot both succeed.
        patient = Patient.objects.select_for_update(no_key=True, of=("self",)).select_related("ward").get(pk=patient.pk)
        if patient.discharged_at is not None:
            raise ValidationError({"discharged_at": "This patient has already been discharged."})
        stay = _open_stay_of(patient)
        if discharged_at < stay.admitted_at:
            raise ValidationError({"discharged_at": "Discharge cannot be before admission."})
        stay.discharged_at, stay.discharged_by, stay.outcome = discharged_at, _person(user), outcome
        stay.destination, stay.discharge_note = destination.strip()[:120], note.strip()
        stay.save(update_fields=["discharged_at", "discharged_by", "outcome", "destination", "discharge_note"])
        patient.discharged_at = discharged_at
        patient.save(update_fields=["discharged_at"])
        ended = monitoring_end(patient=patient, user=user, at=discharged_at)
        detail = {"stay_id": stay.pk, "outcome": outcome, "devices_unpaired": ended.device_ids}
        audit_record(actor=user, action="patient.discharged", patient=patient, obj=stay, detail=detail)
        publish("patient.discharged", ward_id=patient.ward_id, patient_id=patient.pk)
        discharged = patient
        transaction.on_commit(lambda: patient_discharged.send(sender=Patient, patient=discharged, user=user))
    return patient


def _person(user: AnyUser) -> AnyUser | None:
    return user if getattr(user, "is_authenticated", False) else None


def _open_stay_of(patient: Patient) -> Stay:
    """The patient's open stay; a patient recorded without one (made outside the services) gets
    one that mirrors the record, so a discharge is never lost for want of a stay."""
    stay = patient.stays.select_for_update(no_key=True).filter(discharged_at__isnull=True).first()
    if stay is not None:
        return stay
    return Stay.objects.create(
        patient=patient,
        ward=patient.ward,
        pathway=patient.ward.pathway,
        direction=direction_of(ReferralSource.NOT_RECORDED),
        referral_source=ReferralSource.NOT_RECORDED,
        reason="Admitted before stays were recorded.",
        admitted_at=patient.admitted_at,
    )


def stay_set_expected_discharge(*, stay: Stay, user: AnyUser, expected_discharge_on: date | None) -> Stay:
    if not visible_wards(user).filter(pk=stay.ward_id).exists():
        raise PermissionDenied("You may only change stays on your own wards.")
    if not stay.is_open:
        raise ValidationError({"expected_discharge_on": "This stay has ended."})
    if expected_discharge_on is not None and expected_discharge_on < timezone.localdate(stay.admitted_at):
        raise ValidationError({"expected_discharge_on": "The expected discharge date is before the admission."})
    with transaction.atomic():
        previous = stay.expected_discharge_on
        stay.expected_discharge_on = expected_discharge_on
        stay.save(update_fields=["expected_discharge_on"])
        detail = {"from": str(previous or ""), "to": str(expected_discharge_on or "")}
        audit_record(actor=user, action="stay.expected_discharge_set", patient=stay.patient, obj=stay, detail=detail)
    return stay
