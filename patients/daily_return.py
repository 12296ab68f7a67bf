"""The daily patient-level return, modelled on the Virtual Ward Minimum Data Set (VWMDS).

One CSV per reporting day (Europe/London), one row per stay on any virtual ward during that
day. Every field, its source and its codes are in docs/stay.md#the-daily-return. Patients are
identified by NHS number or by a keyed pseudonym, per ``VW_RETURN_IDENTIFIER``.

Idempotent per day: the first run writes the file and stores it (``DailyReturn``); every later
run returns that same stored file, byte for byte, and never writes a second.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.flow import day_start
from patients.models import DailyReturn, Stay
from patients.record import SEX_DATA_DICTIONARY_CODE

IDENTIFIERS = ("pseudonym", "nhs_number")
COLUMNS = [
    "reporting_date", "ward_id", "ward_name", "pathway", "stay_id", "patient_identifier", "identifier_type",
    "nhs_number_status", "age_at_admission", "sex_code", "postcode_district", "gp_practice_code",
    "referral_source", "direction", "admission_date", "expected_discharge_date", "discharge_date",
    "discharge_outcome", "length_of_stay_days", "readmission_within_30_days", "admitted_on_day",
    "discharged_on_day", "on_ward_at_end_of_day",
]  # fmt: skip


def identifier_kind() -> str:
    kind = settings.VW_RETURN_IDENTIFIER
    if kind not in IDENTIFIERS:
        raise ValueError(f"VW_RETURN_IDENTIFIER must be one of {', '.join(IDENTIFIERS)}, not {kind!r}")
    return kind


def pseudonym(nhs_number: str) -> str:
    """The same patient gets the same pseudonym every day (stays link up); the number cannot be
    recovered from it without the key (HMAC-SHA256, ``VW_RETURN_PSEUDONYM_KEY``)."""
    key = (settings.VW_RETURN_PSEUDONYM_KEY or f"vw-return:{settings.SECRET_KEY}").encode()
    return hmac.new(key, nhs_number.encode(), hashlib.sha256).hexdigest()[:20]


def _stays_on(day: date) -> list[Stay]:
    start, end = day_start(day), day_start(day + timedelta(days=1))
    stays = Stay.objects.filter(admitted_at__lt=end).exclude(discharged_at__lt=start)
    return list(stays.select_related("patient", "ward").order_by("ward_id", "admitted_at", "id"))


def _flag(value: bool) -> str:
    return "Y" if value else "N"


def _row(stay: Stay, day: date, kind: str) -> list[str]:
    start, end = day_start(day), day_start(day + timedelta(days=1))
    patient, discharged = stay.patient, stay.discharged_at
    ended_by_then = discharged if discharged is not None and discharged < end else end - timedelta(microseconds=1)
    return [
        day.isoformat(),
        str(stay.ward_id),
        stay.ward.name,
        stay.pathway,
        str(stay.pk),
        pseudonym(patient.nhs_number) if kind == "pseudonym" else patient.nhs_number,
        kind,
        patient.nhs_number_status,
        str(patient.age_on(timezone.localdate(stay.admitted_at))),
        SEX_DATA_DICTIONARY_CODE.get(patient.sex, "X"),
        patient.postcode.split(" ")[0] if patient.postcode else "",
        patient.gp_practice_code,
        stay.referral_source,
        stay.direction,
        timezone.localdate(stay.admitted_at).isoformat(),
        stay.expected_discharge_on.isoformat() if stay.expected_discharge_on else "",
        timezone.localdate(discharged).isoformat() if discharged is not None and discharged < end else "",
        stay.outcome if discharged is not None and discharged < end else "",
        str((timezone.localdate(ended_by_then) - timezone.localdate(stay.admitted_at)).days),
        _flag(stay.readmission_of_id is not None),
        _flag(start <= stay.admitted_at < end),
        _flag(discharged is not None and start <= discharged < end),
        _flag(discharged is None or discharged >= end),
    ]


def daily_return_content(day: date, kind: str) -> tuple[str, list[int]]:
    """The CSV for ``day`` and the ids of the patients in it. Deterministic: no generation time
    in the file, rows in a fixed order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    patients: list[int] = []
    for stay in _stays_on(day):
        writer.writerow(_row(stay, day, kind))
        if stay.patient_id not in patients:
            patients.append(stay.patient_id)
    return out.getvalue(), patients


def daily_return_make(*, day: date) -> DailyReturn:
    """The stored return for a complete ``day``: made on the first call, the same row ever after."""
    today = timezone.localdate()
    if day >= today:
        raise ValueError(f"{day} is not over yet: a day's return is made once the day has ended.")
    existing = DailyReturn.objects.filter(day=day).first()
    if existing is not None:
        return existing
    kind = identifier_kind()
    content, patients = daily_return_content(day, kind)
    try:
        with transaction.atomic():
            return DailyReturn.objects.create(
                day=day, identifier=kind, content=content, sha256=hashlib.sha256(content.encode()).hexdigest(),
                rows=content.count("\n") - 1, patient_ids=patients, generated_at=timezone.now(),
            )  # fmt: skip
    except IntegrityError:  # a racing worker stored it first: theirs is the one
        return DailyReturn.objects.get(day=day)


# How far back the beat task fills in returns a stopped scheduler missed.
CATCH_UP_DAYS = 7


def daily_returns_catch_up(*, today: date | None = None) -> list[date]:
    """Make every missing return of the last ``CATCH_UP_DAYS`` complete days; the days made."""
    today = today or timezone.localdate()
    made = []
    for back in range(CATCH_UP_DAYS, 0, -1):
        day = today - timedelta(days=back)
        if not DailyReturn.objects.filter(day=day).exists():
            daily_return_make(day=day)
            made.append(day)
    return made


def daily_return_download(*, day: date, user: object, route: str = "") -> DailyReturn | None:
    """The stored return for ``day``, its reading audited against every patient in it."""
    from accounts.audit import audit_record_each

    stored = DailyReturn.objects.filter(day=day).first()
    if stored is not None:
        audit_record_each(
            actor=user, action="return.downloaded", patients=list(stored.patient_ids), route=route,
            detail={"day": day.isoformat(), "sha256": stored.sha256},
        )  # fmt: skip
    return stored
