"""Read and search for each resource type the endpoint serves: what to query, how to show it.

Each handler returns the resources and the ids of the patients they show, which the view
hands to the audit trail. Ids that cannot be ours (wrong shape) are "not found", like ids of
another ward's records, so nothing can be learned by probing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce, Greatest

from accounts.access import AnyUser
from patients.models import Observation, Patient, Stay, VitalType
from scoring.models import EarlyWarningScore
from ukcore import codes, search, selectors
from ukcore.resources.care import device_resource, encounter_resource, flag_resource, practitioner_resource
from ukcore.resources.observations import (
    BLOOD_PRESSURE_TYPES,
    NEWS2_PREFIX,
    PANEL_PREFIX,
    QUANTITIES,
    observation_resource,
    score_resource,
)
from ukcore.resources.patient import gp_practice, organization_resource, patient_resource


class NotFound(Exception):
    pass


@dataclass
class Shown:
    resources: list[dict[str, Any]]
    patient_ids: list[int]
    total: int = 0
    next_cursor: str | None = None


def _pk(raw: str, prefix: str = "") -> int:
    pk = search.id_number(raw[len(prefix) :]) if raw.startswith(prefix) else None
    if pk is None:
        raise NotFound
    return pk


def _ids(raw: str) -> list[int]:
    return [pk for value in search.values_of(raw) if (pk := search.id_number(value)) is not None]


def _patient_filter(params: Any, field: str = "patient_id") -> Q:
    q = Q()
    for name in ("patient", "subject"):
        raw = search.one(params, name)
        if raw is not None:
            q &= Q(**{f"{field}__in": [search.reference_id(v, "Patient") for v in search.values_of(raw)]})
    return q


def _last_updated(params: Any, field: str) -> Q:
    raw = params.getlist("_lastUpdated")
    return search.date_filter(raw, field) if raw else Q()


# --- Patient ----------------------------------------------------------------------------------


def _patients_last_changed(queryset: QuerySet[Patient]) -> QuerySet[Patient]:
    return queryset.annotate(_changed=Greatest("admitted_at", Coalesce("discharged_at", "admitted_at")))


def patient_read(user: AnyUser, raw_id: str) -> Shown:
    patient = selectors.patients(user=user).filter(pk=_pk(raw_id)).first()
    if patient is None:
        raise NotFound
    return Shown([patient_resource(patient)], [patient.pk])


def patient_search(user: AnyUser, params: Any, count: int, cursor: str | None) -> Shown:
    search.check_parameters(params, ["_id", "identifier", "family", "birthdate"])
    queryset = _patients_last_changed(selectors.patients(user=user))
    if (raw := search.one(params, "_id")) is not None:
        queryset = queryset.filter(pk__in=_ids(raw))
    if (raw := search.one(params, "identifier")) is not None:
        numbers = []
        for value in search.values_of(raw):
            system, number = search.token(value)
            if system in (None, codes.NHS_NUMBER):
                numbers.append(number.replace(" ", ""))
        queryset = queryset.filter(nhs_number__in=numbers)
    if (raw := search.one(params, "family")) is not None:
        family = Q()
        for value in search.values_of(raw):
            family |= Q(family_name__istartswith=value)  # FHIR string search: starts with, any case
        queryset = queryset.filter(family)
    if raw_dates := params.getlist("birthdate"):
        for raw in raw_dates:
            days = [search.date_range(value)[0].date() for value in search.values_of(raw)]
            queryset = queryset.filter(date_of_birth__in=days)
    queryset = queryset.filter(_last_updated(params, "_changed"))
    page = search.paginate([search.Source(queryset)], count=count, cursor=cursor)
    rows = [row for _, row in page.rows]
    return Shown([patient_resource(p) for p in rows], [p.pk for p in rows], page.total, page.next_cursor)


def organization_read(user: AnyUser, raw_id: str) -> Shown:
    # A practice is shown to those who can see one of its patients (its only source here).
    if not re.fullmatch(r"ods-[A-Za-z0-9]{3,10}", raw_id):
        raise NotFound
    for patient in _patients_with_practice(user, raw_id[4:]):
        practice = gp_practice(patient)
        if practice and practice["id"] == raw_id:
            return Shown([organization_resource(practice, patient.admitted_at)], [])
    raise NotFound


def _patients_with_practice(user: AnyUser, ods: str) -> list[Patient]:
    return list(selectors.patients(user=user).filter(gp_practice_code__iexact=ods)[:1])


def practitioner_read(user: AnyUser, raw_id: str) -> Shown:
    # The person who entered a reading (Observation.performer): name only, to any staff member.
    from django.contrib.auth import get_user_model

    person = get_user_model().objects.filter(pk=_pk(raw_id), staff_profile__isnull=False).first()
    if person is None:
        raise NotFound
    return Shown([practitioner_resource(person)], [])


# --- Encounter and Flag: one each per stay ------------------------------------------------------


def encounter_read(user: AnyUser, raw_id: str) -> Shown:
    stay = selectors.stays(user=user).filter(pk=_pk(raw_id, "stay-")).first()
    if stay is None:
        raise NotFound
    return Shown([encounter_resource(stay)], [stay.patient_id])


def flag_read(user: AnyUser, raw_id: str) -> Shown:
    stay = selectors.stays(user=user).filter(pk=_pk(raw_id, "virtual-ward-")).first()
    if stay is None:
        raise NotFound
    return Shown([flag_resource(stay)], [stay.patient_id])


STATUS = {"Encounter": {"in-progress": True, "finished": False}, "Flag": {"active": True, "inactive": False}}


def _stay_search(kind: str, build: Callable[[Stay], dict]) -> Callable[..., Shown]:
    def run(user: AnyUser, params: Any, count: int, cursor: str | None) -> Shown:
        search.check_parameters(params, ["patient", "subject", "status"])
        queryset = selectors.stays(user=user).filter(_patient_filter(params))
        if (raw := search.one(params, "status")) is not None:
            wanted = search.values_of(raw)
            unknown = [value for value in wanted if value not in STATUS[kind]]
            if unknown:
                choices = ", ".join(STATUS[kind])
                raise search.SearchError(f"{kind} status {unknown[0]!r} is never used here; use {choices}.")
            open_ = {STATUS[kind][value] for value in wanted}
            if len(open_) == 1:
                queryset = queryset.filter(discharged_at__isnull=open_.pop())
        queryset = queryset.annotate(_changed=Coalesce("discharged_at", "admitted_at"))
        queryset = queryset.filter(_last_updated(params, "_changed"))
        page = search.paginate([search.Source(queryset)], count=count, cursor=cursor)
        rows = [row for _, row in page.rows]
        return Shown([build(stay) for stay in rows], [stay.patient_id for stay in rows], page.total, page.next_cursor)

    return run


# --- Device -----------------------------------------------------------------------------------


def device_read(user: AnyUser, raw_id: str) -> Shown:
    device = selectors.devices(user=user).filter(pk=_pk(raw_id)).first()
    if device is None:
        raise NotFound
    return Shown([device_resource(device)], [device.patient_id])


def device_search(user: AnyUser, params: Any, count: int, cursor: str | None) -> Shown:
    search.check_parameters(params, ["patient", "_id", "identifier"])
    queryset = selectors.devices(user=user).filter(_patient_filter(params))
    if (raw := search.one(params, "_id")) is not None:
        queryset = queryset.filter(pk__in=_ids(raw))
    if (raw := search.one(params, "identifier")) is not None:
        serials = [search.token(value)[1] for value in search.values_of(raw)]
        queryset = queryset.filter(Q(serial__in=serials) | Q(device_id__in=serials))
    queryset = queryset.annotate(_changed=Coalesce("paired_at", "credentials_issued_at"))
    queryset = queryset.filter(_last_updated(params, "_changed"))
    page = search.paginate([search.Source(queryset)], count=count, cursor=cursor)
    rows = [row for _, row in page.rows]
    return Shown([device_resource(d) for d in rows], [d.patient_id for d in rows], page.total, page.next_cursor)


# --- Observation: readings and NEWS2 scores ---------------------------------------------------

NEWS2 = "news2"


def _code_table() -> dict[tuple[str, str], set[str]]:
    table: dict[tuple[str, str], set[str]] = {}

    def add(targets: set[str], *coded: codes.Code) -> None:
        for code in coded:
            table.setdefault((code.system, code.code), set()).update(targets)

    for kind, (_, coded, _) in QUANTITIES.items():
        add({kind}, *coded)
    add(set(BLOOD_PRESSURE_TYPES), *codes.BLOOD_PRESSURE)
    add({VitalType.CONSCIOUSNESS}, codes.ACVPU)
    add({VitalType.ON_OXYGEN}, codes.ROOM_AIR)
    add({VitalType.ON_OXYGEN, VitalType.O2_FLOW_RATE}, codes.ON_OXYGEN)
    add({VitalType.FALL_DETECTED}, codes.FALL)
    add({NEWS2}, codes.NEWS2_TOTAL)
    return table


CODES = _code_table()
CATEGORIES = {
    "vital-signs": {*QUANTITIES, *BLOOD_PRESSURE_TYPES} - {VitalType.O2_FLOW_RATE},
    "survey": {VitalType.CONSCIOUSNESS, NEWS2},
    "therapy": {VitalType.ON_OXYGEN, VitalType.O2_FLOW_RATE},
}
EVERYTHING = {*VitalType.values, NEWS2}


def _targets_for_code(raw: str) -> set[str]:
    found: set[str] = set()
    for value in search.values_of(raw):
        system, code = search.token(value)
        for (known_system, known_code), targets in CODES.items():
            if code == known_code and system in (None, known_system):
                found |= targets
    return found


def _targets_for_category(raw: str) -> set[str]:
    found: set[str] = set()
    for value in search.values_of(raw):
        system, code = search.token(value)
        if system in (None, codes.OBSERVATION_CATEGORY):
            found |= CATEGORIES.get(code, set())
    return found


def observation_read(user: AnyUser, raw_id: str) -> Shown:
    if raw_id.startswith(NEWS2_PREFIX):
        score = selectors.scores(user=user).filter(pk=_pk(raw_id, NEWS2_PREFIX)).first()
        if score is None:
            raise NotFound
        return Shown([score_resource(score, selectors.reading_types([score]))], [score.patient_id])
    is_panel = raw_id.startswith(PANEL_PREFIX)
    reading = selectors.readings(user=user).filter(pk=_pk(raw_id, PANEL_PREFIX if is_panel else "")).first()
    # A blood-pressure reading is served only as its panel, and a plain reading never as one.
    if reading is None or is_panel != (reading.type in BLOOD_PRESSURE_TYPES):
        raise NotFound
    partner = selectors.blood_pressure_partners([reading]).get(reading.pk)
    return Shown([observation_resource(reading, partner)], [reading.patient_id])


def observation_search(user: AnyUser, params: Any, count: int, cursor: str | None) -> Shown:
    search.check_parameters(params, ["patient", "subject", "code", "category", "date", "_id"])
    if not any(params.getlist(name) for name in ("patient", "subject", "_id")):
        # Bounded cost: every Observation index starts with the patient (patients.models).
        raise search.SearchError(
            "Observation searches need patient (or subject, or _id): give patient=Patient/<id>.", code="too-costly"
        )
    targets = set(EVERYTHING)
    if (raw := search.one(params, "code")) is not None:
        targets &= _targets_for_code(raw)
    if (raw := search.one(params, "category")) is not None:
        targets &= _targets_for_category(raw)
    patient_q = _patient_filter(params)
    dates = params.getlist("date")
    readings = selectors.readings(user=user).filter(patient_q, type__in=targets - {NEWS2})
    readings = readings.filter(search.date_filter(dates, "measured_at")).filter(_last_updated(params, "received_at"))
    scores = selectors.scores(user=user).filter(patient_q).filter(search.date_filter(dates, "as_of"))
    scores = scores.filter(_last_updated(params, "computed_at"))
    if NEWS2 not in targets:
        scores = scores.none()
    if (raw := search.one(params, "_id")) is not None:
        readings, scores = _by_ids(readings, scores, search.values_of(raw))
    sources = [search.Source(readings, "measured_at"), search.Source(scores, "as_of")]
    page = search.paginate(sources, count=count, cursor=cursor)
    reading_rows = [row for index, row in page.rows if index == 0]
    score_rows = [row for index, row in page.rows if index == 1]
    partners = selectors.blood_pressure_partners(reading_rows)
    types = selectors.reading_types(score_rows)
    resources = [
        observation_resource(row, partners.get(row.pk)) if index == 0 else score_resource(row, types)
        for index, row in page.rows
    ]
    return Shown(resources, [row.patient_id for _, row in page.rows], page.total, page.next_cursor)


def _by_ids(readings: QuerySet[Observation], scores: QuerySet[EarlyWarningScore], ids: list[str]) -> tuple:
    reading_ids, panel_ids, score_ids = [], [], []
    for raw in ids:
        for prefix, into in ((NEWS2_PREFIX, score_ids), (PANEL_PREFIX, panel_ids), ("", reading_ids)):
            pk = search.id_number(raw[len(prefix) :]) if raw.startswith(prefix) else None
            if pk is not None:
                into.append(pk)
                break
    readings = readings.filter(
        Q(pk__in=panel_ids, type__in=BLOOD_PRESSURE_TYPES) | (Q(pk__in=reading_ids) & ~Q(type__in=BLOOD_PRESSURE_TYPES))
    )
    return readings, scores.filter(pk__in=score_ids)


def composition_read(user: AnyUser, raw_id: str) -> Shown:
    """A discharge summary's Composition, by the document id the GP received."""
    import uuid

    from ukcore.models import DischargeSummary

    try:
        document_id = uuid.UUID(raw_id)
    except ValueError:
        raise NotFound from None
    summary = DischargeSummary.objects.filter(
        document_id=document_id, patient__in=selectors.patients(user=user)
    ).first()
    if summary is None:
        raise NotFound
    composition = summary.document["entry"][0]["resource"]
    return Shown([composition], [summary.patient_id])


READ = {
    "Patient": patient_read,
    "Observation": observation_read,
    "Encounter": encounter_read,
    "Flag": flag_read,
    "Device": device_read,
    "Organization": organization_read,
    "Practitioner": practitioner_read,
    "Composition": composition_read,
}
SEARCH = {
    "Patient": patient_search,
    "Observation": observation_search,
    "Encounter": _stay_search("Encounter", encounter_resource),
    "Flag": _stay_search("Flag", flag_resource),
    "Device": device_search,
}
SEARCH_PARAMETERS = {
    "Patient": {"_id": "token", "identifier": "token", "family": "string", "birthdate": "date"},
    "Observation": {"_id": "token", "patient": "reference", "subject": "reference", "code": "token",
                    "category": "token", "date": "date"},
    "Encounter": {"patient": "reference", "subject": "reference", "status": "token"},
    "Flag": {"patient": "reference", "subject": "reference", "status": "token"},
    "Device": {"_id": "token", "patient": "reference", "identifier": "token"},
}  # fmt: skip
