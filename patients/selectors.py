"""Reads of wards, patients, observations and scores, always through who-may-see-what.

Every queryset starts from ``accounts.access.visible_wards`` / ``visible_patients``, so a
clinician can never reach a patient of a ward they are not a member of, whatever the caller.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.access import AnyUser, role_of, visible_patients, visible_wards
from accounts.models import Role
from devices.models import Device, IngestRejection
from patients.models import Observation, Patient, Stay, Ward
from scoring.models import EarlyWarningScore


def ward_list(*, user: AnyUser) -> QuerySet[Ward]:
    return visible_wards(user).annotate(
        active_patient_count=Count("patients", filter=Q(patients__discharged_at__isnull=True))
    )


def patient_list(*, user: AnyUser) -> QuerySet[Patient]:
    return (
        visible_patients(user)
        .select_related("ward", "current_score", "spo2_scale_set_by")
        .prefetch_related("phones", "contacts", _stays_prefetch())
    )


def _stays_prefetch() -> Prefetch:
    return Prefetch("stays", queryset=Stay.objects.select_related("ward", "admitted_by", "discharged_by"))


def stay_list(*, user: AnyUser) -> QuerySet[Stay]:
    """Stays of the patients a user may see. A clinician sees a patient's past stays on other
    wards too while the patient is on theirs: the history is part of the record they treat."""
    return Stay.objects.filter(patient__in=visible_patients(user)).select_related(
        "ward", "admitted_by", "discharged_by"
    )


def stay_list_of(*, patient: Patient) -> QuerySet[Stay]:
    return patient.stays.select_related("ward", "admitted_by", "discharged_by").order_by("-admitted_at", "-id")


def observation_list(*, user: AnyUser) -> QuerySet[Observation]:
    return Observation.objects.filter(patient__in=visible_patients(user)).select_related(
        "patient", "device", "entered_by"
    )


def patient_current_score(*, patient: Patient) -> EarlyWarningScore | None:
    """The score the ward acts on now: the one scoring keeps current, else the newest one."""
    if patient.current_score_id is not None:
        return patient.current_score
    return patient.scores.order_by("-as_of", "-id").first()


def patient_score_history(
    *, patient: Patient, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[EarlyWarningScore]:
    scores = EarlyWarningScore.objects.filter(patient=patient).order_by("-as_of", "-id")
    if since is not None:
        scores = scores.filter(as_of__gte=since)
    if until is not None:
        scores = scores.filter(as_of__lte=until)
    return scores


def device_list(*, user: AnyUser) -> QuerySet[Device]:
    # Operators and administrators also see devices not (or no longer) paired to anyone: the
    # command centre provisions and fixes them.
    devices = Device.objects.select_related("patient")
    if role_of(user) in (Role.OPERATOR, Role.ADMINISTRATOR):
        return devices
    return devices.filter(patient__in=visible_patients(user))


def rejection_list(*, user: AnyUser) -> QuerySet[IngestRejection]:
    rejections = IngestRejection.objects.select_related("device")
    if role_of(user) in (Role.OPERATOR, Role.ADMINISTRATOR):
        return rejections
    return rejections.filter(device__in=device_list(user=user))


def can_enter_observation(*, user: AnyUser, patient: Patient) -> bool:
    """Clinicians of the patient's ward, operators and administrators may enter readings."""
    return visible_patients(user).filter(pk=patient.pk).exists()


def can_set_spo2_scale(*, user: AnyUser, patient: Patient) -> bool:
    """Choosing the SpO2 scale is a clinical decision: clinicians of the ward and administrators,
    never command-centre operators (RCP NEWS2 2017: Scale 2 only on a clinician's prescription)."""
    if role_of(user) not in (Role.CLINICIAN, Role.ADMINISTRATOR):
        return False
    return visible_patients(user).filter(pk=patient.pk).exists()
