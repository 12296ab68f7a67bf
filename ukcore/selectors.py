"""Reads behind the FHIR endpoint, always starting from who may see what (accounts.access).

A record of a patient on another ward is not in these querysets at all, so the endpoint
answers for it exactly as for a record that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.access import AnyUser, visible_patients
from devices.models import Device
from patients.models import Observation, Patient, Stay, VitalType
from scoring.models import EarlyWarningScore

BP = (VitalType.SYSTOLIC_BP, VitalType.DIASTOLIC_BP)


def patients(*, user: AnyUser) -> QuerySet[Patient]:
    return visible_patients(user).select_related("ward").prefetch_related("phones", "contacts")


def stays(*, user: AnyUser) -> QuerySet[Stay]:
    return Stay.objects.filter(patient__in=visible_patients(user)).select_related("patient", "ward")


def readings(*, user: AnyUser) -> QuerySet[Observation]:
    """Every reading served as its own resource: a diastolic taken with a systolic is part of
    the systolic's panel, not a resource of its own."""
    with_systolic = Observation.objects.filter(
        patient_id=OuterRef("patient_id"), type=VitalType.SYSTOLIC_BP, measured_at=OuterRef("measured_at")
    )
    observations = Observation.objects.filter(patient__in=visible_patients(user)).select_related("patient")
    return observations.exclude(Q(type=VitalType.DIASTOLIC_BP), Exists(with_systolic))


def scores(*, user: AnyUser) -> QuerySet[EarlyWarningScore]:
    return EarlyWarningScore.objects.filter(patient__in=visible_patients(user)).select_related("patient")


def devices(*, user: AnyUser) -> QuerySet[Device]:
    # Only devices with a patient: a device on the shelf shows no one's data, and FHIR's
    # Device.patient is how other systems find a patient's kit.
    return Device.objects.filter(patient__in=visible_patients(user)).select_related("patient")


def blood_pressure_partners(rows: Iterable[Observation]) -> dict[int, Observation]:
    """For each blood-pressure reading, the other half of its pair (one query for a page)."""
    wanted = [row for row in rows if row.type in BP]
    if not wanted:
        return {}
    candidates = Observation.objects.filter(
        patient_id__in={row.patient_id for row in wanted},
        type__in=BP,
        measured_at__in={row.measured_at for row in wanted},
    )
    by_key = {(row.patient_id, row.measured_at, row.type): row for row in candidates}
    partners = {}
    for row in wanted:
        other = VitalType.DIASTOLIC_BP if row.type == VitalType.SYSTOLIC_BP else VitalType.SYSTOLIC_BP
        partner = by_key.get((row.patient_id, row.measured_at, other))
        if partner is not None:
            partners[row.pk] = partner
    return partners


def reading_types(score_rows: Iterable[EarlyWarningScore]) -> dict[int, str]:
    """observation id -> type for the readings these scores were built from (one query)."""
    ids = {
        sub.get("observation_id")
        for score in score_rows
        for sub in (score.sub_scores or {}).values()
        if isinstance(sub, dict) and sub.get("observation_id") is not None
    }
    return dict(Observation.objects.filter(pk__in=ids).values_list("pk", "type")) if ids else {}
