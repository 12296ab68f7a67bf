"""Every write to check-ins: links issued and revoked, answers stored, red flags raised, audited.

Answers from the patient's own phone come with no user (the link is the credential); they are
audited with no actor and the link named. A red-flag answer raises (or escalates in place) the
patient's one live "check-in red flag" clinical alert the moment it is stored, not when the
check-in is finished: a patient who answers "new chest pain" and puts the phone down has still
told us. The alert goes through the same queue and live events as every other
(alerts.services.raise_or_escalate -> frontend.events), so it reaches triage at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.access import AnyUser, visible_patients
from accounts.audit import audit_record
from alerts.models import AlertKind, Severity
from alerts.services.core import AlertNews, auto_resolve, raise_or_escalate
from checkins import questions as data
from checkins.links import new_token, token_hash
from checkins.models import AnsweredBy, Checkin, CheckinAnswer, CheckinLink, CheckinQuestion
from patients.models import Patient

FLAG_SEVERITY = {"low-medium": Severity.LOW_MEDIUM, "medium": Severity.MEDIUM, "high": Severity.HIGH}
WHO = {AnsweredBy.PATIENT: "patient", AnsweredBy.CARER: "carer", AnsweredBy.CLINICIAN_BY_PHONE: "by phone"}


def _require_staff_of(user: AnyUser, patient: Patient) -> None:
    if not visible_patients(user).filter(pk=patient.pk).exists():
        raise PermissionDenied("You may only manage check-ins for patients of your own wards.")


def _require_active(patient: Patient) -> None:
    if patient.discharged_at is not None:
        raise ValidationError({"patient": "This patient has been discharged."})


def pathway_questions(pathway: str) -> list[CheckinQuestion]:
    """The pathway's questions in order. An empty table (a database restored or flushed without
    its migration's data) is filled from the fixture first: a patient is never shown no questions."""
    asked = list(CheckinQuestion.objects.filter(pathway=pathway, active=True).order_by("position"))
    if not asked and not CheckinQuestion.objects.exists():
        data.load_questions()
        asked = list(CheckinQuestion.objects.filter(pathway=pathway, active=True).order_by("position"))
    return asked


def link_language_for(patient: Patient) -> str:
    """The patient's preferred language if the check-in is translated into it, else English."""
    preferred = (patient.preferred_language or "").lower()
    return preferred if preferred in data.languages() else "en"


def checkin_link_issue(
    *, patient: Patient, user: AnyUser, language: str | None = None
) -> tuple[CheckinLink, str]:
    """A new personal link (any live one is revoked). The token is returned once, never stored.

    Without a language named, the patient's preferred language where the questions are translated
    into it, English otherwise.
    """
    _require_staff_of(user, patient)
    _require_active(patient)
    if language is None:
        language = link_language_for(patient)
    if language not in data.languages():
        raise ValidationError({"language": f"Choose one of: {', '.join(data.languages())}."})
    now = timezone.now()
    with transaction.atomic():
        revoked = CheckinLink.objects.filter(patient=patient, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=user
        )
        link = CheckinLink.objects.create(
            patient=patient, token_hash=f"pending-{now.timestamp()}-{patient.pk}", language=language,
            issued_by=user, issued_at=now, expires_at=now + dt.timedelta(days=settings.VW_CHECKIN_LINK_DAYS),
        )  # fmt: skip
        token = new_token(link.pk)
        link.token_hash = token_hash(token)
        link.save(update_fields=["token_hash"])
        audit_record(
            actor=user, action="checkin.link_issued", patient=patient, obj=link,
            detail={"language": language, "revoked_before": revoked, "expires_at": link.expires_at.isoformat()},
        )  # fmt: skip
    return link, token


def checkin_link_revoke(*, link: CheckinLink, user: AnyUser) -> CheckinLink:
    _require_staff_of(user, link.patient)
    with transaction.atomic():
        link = CheckinLink.objects.select_for_update().get(pk=link.pk)
        if link.revoked_at is not None:
            raise ValidationError({"link": "This link has already been stopped."})
        link.revoked_at, link.revoked_by = timezone.now(), user
        link.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(actor=user, action="checkin.link_revoked", patient=link.patient, obj=link)
    return link


def todays_checkin(*, patient: Patient, now: dt.datetime | None = None) -> Checkin | None:
    """The newest check-in for the patient's day today, if any."""
    today = timezone.localdate(now or timezone.now())
    return Checkin.objects.filter(patient=patient, for_date=today).order_by("-started_at").first()


def checkin_start(*, link: CheckinLink, answered_by: str, route: str = "") -> Checkin:
    """Begin (or carry on with) today's check-in through the patient's link."""
    if answered_by not in (AnsweredBy.PATIENT, AnsweredBy.CARER):
        raise ValidationError({"answered_by": "Say whether you are the patient or a carer."})
    now = timezone.now()
    patient = link.patient
    with transaction.atomic():
        current = todays_checkin(patient=patient, now=now)
        if current is not None and current.completed_at is None:
            current.answered_by = answered_by
            current.save(update_fields=["answered_by"])
            checkin = current
        else:
            checkin = Checkin.objects.create(
                patient=patient, pathway=patient.ward.pathway, for_date=timezone.localdate(now),
                answered_by=answered_by, link=link, language=link.language, started_at=now,
            )  # fmt: skip
        CheckinLink.objects.filter(pk=link.pk).update(last_used_at=now)
        audit_record(
            actor=None, action="checkin.started", patient=patient, obj=checkin, route=route,
            detail={"answered_by": answered_by, "link_id": link.pk},
        )  # fmt: skip
    return checkin


def checkin_answer(
    *, checkin: Checkin, question: CheckinQuestion, value: str, actor: AnyUser | None = None, route: str = ""
) -> CheckinAnswer:
    """Store one answer (a changed mind replaces it); a red flag raises its alert at once."""
    choice = next((c for c in question.choices if c["value"] == value), None)
    if choice is None or question.pathway != checkin.pathway:
        raise ValidationError({"value": "Choose one of the answers shown."})
    if checkin.completed_at is not None:
        raise ValidationError({"checkin": "This check-in is finished."})
    now = timezone.now()
    language = checkin.language
    with transaction.atomic():
        before = CheckinAnswer.objects.filter(checkin=checkin, question=question).first()
        answer, _ = CheckinAnswer.objects.update_or_create(
            checkin=checkin, question=question,
            defaults={
                "value": value, "question_text": data.pick(question.text, language),
                "answer_text": data.pick(choice["label"], language)[:200], "red_flag": choice.get("red_flag") or "",
                "flag_text": (choice.get("flag") or "")[:200], "answered_at": now,
            },
        )  # fmt: skip
        audit_record(
            actor=actor, action="checkin.answered", patient=checkin.patient_id, obj=answer, route=route,
            detail={"question": question.key, "value": value, "red_flag": answer.red_flag or None},
        )  # fmt: skip
        if answer.red_flag and (before is None or before.value != value):
            _raise_red_flag(checkin, answer, now)
    return answer


def checkin_complete(*, checkin: Checkin, actor: AnyUser | None = None, route: str = "") -> Checkin:
    """Finish a check-in once every question is answered; it clears a 'check-in overdue' task."""
    answered = set(checkin.answers.values_list("question_id", flat=True))
    missing = [q.key for q in pathway_questions(checkin.pathway) if q.pk not in answered]
    if missing:
        raise ValidationError({"answers": f"Still to answer: {', '.join(missing)}."})
    now = timezone.now()
    with transaction.atomic():
        done = Checkin.objects.filter(pk=checkin.pk, completed_at__isnull=True).update(completed_at=now)
        checkin.refresh_from_db(fields=["completed_at"])
        if done:
            audit_record(actor=actor, action="checkin.completed", patient=checkin.patient_id, obj=checkin, route=route)
            auto_resolve(
                kind=AlertKind.CHECKIN_OVERDUE, patient_id=checkin.patient_id, now=now,
                note=f"Check-in answered ({WHO[AnsweredBy(checkin.answered_by)]}).", data={"checkin_id": checkin.pk},
            )  # fmt: skip
    return checkin


def checkin_record_by_phone(*, patient: Patient, user: AnyUser, told_by: str, answers: Mapping[str, str]) -> Checkin:
    """A clinician writes down a check-in given over the phone: every question answered."""
    _require_staff_of(user, patient)
    _require_active(patient)
    if told_by not in (AnsweredBy.PATIENT, AnsweredBy.CARER):
        raise ValidationError({"told_by": "Say whether the patient or a carer gave the answers."})
    asked = pathway_questions(patient.ward.pathway)
    errors = {}
    for question in asked:
        if answers.get(question.key) not in {choice["value"] for choice in question.choices}:
            errors[question.key] = "Choose the answer you were given."
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        checkin = Checkin.objects.create(
            patient=patient, pathway=patient.ward.pathway, for_date=timezone.localdate(now),
            answered_by=AnsweredBy.CLINICIAN_BY_PHONE, told_by=told_by, recorded_by=user, started_at=now,
        )  # fmt: skip
        audit_record(actor=user, action="checkin.recorded_by_phone", patient=patient, obj=checkin)
        for question in asked:
            checkin_answer(checkin=checkin, question=question, value=answers[question.key], actor=user)
        checkin_complete(checkin=checkin, actor=user)
    return checkin


def _raise_red_flag(checkin: Checkin, answer: CheckinAnswer, now: dt.datetime) -> None:
    patient = Patient.objects.select_for_update(no_key=True).get(pk=checkin.patient_id)
    who = WHO[AnsweredBy(checkin.answered_by)]
    if checkin.answered_by == AnsweredBy.CLINICIAN_BY_PHONE and checkin.told_by:
        who = f"{WHO[AnsweredBy(checkin.told_by)]}, by phone"
    clock = timezone.localtime(now).strftime("%H:%M")
    news = AlertNews(
        kind=AlertKind.CHECKIN_RED_FLAG,
        severity=FLAG_SEVERITY[answer.red_flag],
        title=f"Check-in: {answer.flag_text} ({who}, {clock})",
        detail=f"“{answer.question_text}” – “{answer.answer_text}”. Contact the patient; their plan is on their page.",
        data={
            "checkin_id": checkin.pk, "answer_id": answer.pk, "question": answer.question.key,
            "value": answer.value, "red_flag": answer.red_flag, "answered_by": checkin.answered_by,
        },
        # Every new red flag is news, even at the same severity: the alert escalates in place.
        always_escalate=True,
    )  # fmt: skip
    raise_or_escalate(patient=patient, news=news, now=now)
