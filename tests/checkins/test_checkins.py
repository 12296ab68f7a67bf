"""Check-ins: personal links (signed, hashed at rest, expiring, revocable), answers with who gave
them, red flags as clinical alerts through the same queue, a missed check-in as a technical one."""

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEvent, Role
from alerts.models import Alert, AlertKind, AlertState, Severity
from checkins import questions
from checkins.links import BadLink, read_link, token_hash
from checkins.models import AnsweredBy, Checkin, CheckinLink, CheckinQuestion
from checkins.overdue import sweep_overdue_checkins
from checkins.services import (
    checkin_answer,
    checkin_complete,
    checkin_link_issue,
    checkin_link_revoke,
    checkin_record_by_phone,
    checkin_start,
    pathway_questions,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _answer_all(checkin, **overrides):
    for question in pathway_questions(checkin.pathway):
        safe = question.choices[0]["value"]
        checkin_answer(checkin=checkin, question=question, value=overrides.get(question.key, safe))
    return checkin_complete(checkin=checkin)


def test_the_questions_come_from_the_fixture_for_both_pathways():
    fixture = json.loads(questions.FIXTURE.read_text())
    for pathway in ("respiratory", "frailty"):
        keys = [q.key for q in pathway_questions(pathway)]
        assert keys == [q["key"] for q in fixture["pathways"][pathway]]
    assert [q.key for q in pathway_questions("respiratory")] == [
        "breathing",
        "cough_sputum",
        "finish_sentence",
        "chest_pain",
    ]
    assert {"confusion", "falls", "eating_drinking", "mobility", "continence"} == {
        q.key for q in pathway_questions("frailty")
    }


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"red_flag": "urgent"}, "red_flag must be"),
        ({"red_flag": "high", "flag": None}, "needs its words"),
    ],
)
def test_a_fixture_with_an_unknown_severity_or_an_unworded_flag_is_refused(bad, message):
    data = json.loads(questions.FIXTURE.read_text())
    data["pathways"]["respiratory"][0]["choices"][0].update(bad)
    with pytest.raises(questions.QuestionDataError, match=message):
        questions.check_fixture(data)


def test_reloading_the_questions_is_idempotent_and_retires_removed_ones(tmp_path):
    data = json.loads(questions.FIXTURE.read_text())
    data["pathways"]["frailty"] = data["pathways"]["frailty"][:-1]
    edited = tmp_path / "q.json"
    edited.write_text(json.dumps(data))
    counts = questions.load_questions(path=str(edited))
    assert counts["created"] == 0 and counts["retired"] == 1
    assert not CheckinQuestion.objects.get(key="continence").active


def test_every_welsh_word_and_question_has_a_translation_and_english_is_the_fallback():
    assert questions.words("cy")["next"] == "Nesaf"
    assert questions.words("fr")["next"] == "Next"
    for question in CheckinQuestion.objects.all():
        assert question.text["cy"] and all(choice["label"]["cy"] for choice in question.choices)


def test_a_link_is_signed_hashed_at_rest_and_opens_its_patient(nurse_and_patient):
    nurse, patient = nurse_and_patient
    link, token = checkin_link_issue(patient=patient, user=nurse, language="cy")
    assert link.token_hash == token_hash(token) and token not in link.token_hash
    assert read_link(token).patient == patient
    assert AuditEvent.objects.filter(action="checkin.link_issued", patient=patient).count() == 1


@pytest.mark.parametrize(
    ("preferred", "language"), [("cy", "cy"), ("CY", "cy"), ("en", "en"), ("pl", "en"), ("", "en")]
)
def test_a_link_issued_without_a_language_asks_in_the_patients_own_where_translated(
    nurse_and_patient, preferred, language
):
    nurse, patient = nurse_and_patient
    patient.preferred_language = preferred
    patient.save(update_fields=["preferred_language"])
    link, _ = checkin_link_issue(patient=patient, user=nurse)
    assert link.language == language


def test_a_tampered_link_opens_nothing(nurse_and_patient):
    nurse, patient = nurse_and_patient
    _, token = checkin_link_issue(patient=patient, user=nurse)
    with pytest.raises(BadLink, match="not valid"):
        read_link(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_a_revoked_link_and_a_replaced_link_open_nothing(nurse_and_patient):
    nurse, patient = nurse_and_patient
    _, first_token = checkin_link_issue(patient=patient, user=nurse)
    _, second_token = checkin_link_issue(patient=patient, user=nurse)
    with pytest.raises(BadLink, match="replaced or stopped"):
        read_link(first_token)
    second = read_link(second_token)
    checkin_link_revoke(link=second, user=nurse)
    with pytest.raises(BadLink, match="replaced or stopped"):
        read_link(second_token)
    assert AuditEvent.objects.filter(action="checkin.link_revoked", patient=patient).count() == 1


@pytest.mark.parametrize(("days_after", "opens"), [(13, True), (14, False)])
def test_a_link_expires_after_its_days(nurse_and_patient, settings, days_after, opens, monkeypatch):
    settings.VW_CHECKIN_LINK_DAYS = 14
    nurse, patient = nurse_and_patient
    _, token = checkin_link_issue(patient=patient, user=nurse)
    later = timezone.now() + dt.timedelta(days=days_after, seconds=1)
    monkeypatch.setattr("django.core.signing.time.time", lambda: later.timestamp())
    monkeypatch.setattr("checkins.links.timezone.now", lambda: later)
    if opens:
        assert read_link(token).patient == patient
    else:
        with pytest.raises(BadLink, match="expired"):
            read_link(token)


def test_a_discharged_patients_link_opens_nothing(nurse_and_patient):
    nurse, patient = nurse_and_patient
    _, token = checkin_link_issue(patient=patient, user=nurse)
    patient.discharged_at = timezone.now()
    patient.save()
    with pytest.raises(BadLink, match="discharged"):
        read_link(token)


def test_staff_of_another_ward_may_not_issue_a_link(nurse_and_patient):
    _, patient = nurse_and_patient
    with pytest.raises(PermissionDenied):
        checkin_link_issue(patient=patient, user=UserFactory(role=Role.CLINICIAN))


def test_answers_are_stored_with_who_answered_and_a_calm_check_in_raises_nothing(nurse_and_patient):
    nurse, patient = nurse_and_patient
    link, _ = checkin_link_issue(patient=patient, user=nurse)
    checkin = _answer_all(checkin_start(link=link, answered_by=AnsweredBy.CARER))
    assert (checkin.answered_by, checkin.completed_at is not None) == ("carer", True)
    assert checkin.answers.count() == 4
    assert not Alert.objects.filter(patient=patient).exists()


@pytest.mark.parametrize(
    ("question", "value", "severity"),
    [
        ("breathing", "worse", Severity.MEDIUM),
        ("breathing", "much_worse", Severity.HIGH),
        ("cough_sputum", "more", Severity.LOW_MEDIUM),
        ("cough_sputum", "colour_or_blood", Severity.MEDIUM),
        ("finish_sentence", "no", Severity.HIGH),
        ("chest_pain", "yes", Severity.HIGH),
    ],
)
def test_a_red_flag_answer_raises_a_clinical_alert_at_once(
    nurse_and_patient, django_capture_on_commit_callbacks, question, value, severity, monkeypatch
):
    nurse, patient = nurse_and_patient
    sent = []
    monkeypatch.setattr("frontend.events._send", lambda message: sent.append(message), raising=False)
    link, _ = checkin_link_issue(patient=patient, user=nurse)
    checkin = checkin_start(link=link, answered_by=AnsweredBy.PATIENT)
    with django_capture_on_commit_callbacks(execute=True):
        checkin_answer(checkin=checkin, question=CheckinQuestion.objects.get(key=question), value=value)
    alert = Alert.objects.get(patient=patient, kind=AlertKind.CHECKIN_RED_FLAG)
    assert (alert.category, alert.severity, alert.state) == ("clinical", severity, AlertState.OPEN)
    assert "(patient," in alert.title
    assert any(m.get("event") == "alert.raised" and m["data"]["id"] == alert.pk for m in sent)


@pytest.mark.parametrize(
    ("question", "value", "flagged"),
    [("confusion", "no", False), ("confusion", "a_little", True), ("confusion", "new_or_much", True),
     ("falls", "no", False), ("falls", "not_hurt", True), ("falls", "hurt_or_stuck", True),
     ("eating_drinking", "less", False), ("eating_drinking", "hardly", True),
     ("mobility", "same_or_better", False), ("mobility", "cannot", True),
     ("continence", "no", False), ("continence", "not_passed_or_pain", True)],
)  # fmt: skip
def test_frailty_red_flags(db, question, value, flagged):
    from patients.models import Pathway
    from tests.factories import PatientFactory, WardFactory

    patient = PatientFactory(ward=WardFactory(pathway=Pathway.FRAILTY))
    nurse = UserFactory(role=Role.CLINICIAN)
    patient.ward.staff.add(nurse)
    link, _ = checkin_link_issue(patient=patient, user=nurse)
    checkin = checkin_start(link=link, answered_by=AnsweredBy.CARER)
    checkin_answer(checkin=checkin, question=CheckinQuestion.objects.get(key=question), value=value)
    assert Alert.objects.filter(patient=patient, kind=AlertKind.CHECKIN_RED_FLAG).exists() is flagged


def test_a_second_red_flag_escalates_the_one_live_alert_in_place(nurse_and_patient):
    nurse, patient = nurse_and_patient
    link, _ = checkin_link_issue(patient=patient, user=nurse)
    checkin = checkin_start(link=link, answered_by=AnsweredBy.PATIENT)
    checkin_answer(checkin=checkin, question=CheckinQuestion.objects.get(key="cough_sputum"), value="more")
    checkin_answer(checkin=checkin, question=CheckinQuestion.objects.get(key="chest_pain"), value="yes")
    alert = Alert.objects.get(patient=patient, kind=AlertKind.CHECKIN_RED_FLAG)
    assert alert.severity == Severity.HIGH and "new chest pain" in alert.title
    assert alert.events.count() == 2


def test_an_answer_outside_the_choices_or_the_pathway_is_refused(nurse_and_patient):
    nurse, patient = nurse_and_patient
    link, _ = checkin_link_issue(patient=patient, user=nurse)
    checkin = checkin_start(link=link, answered_by=AnsweredBy.PATIENT)
    with pytest.raises(ValidationError):
        checkin_answer(checkin=checkin, question=CheckinQuestion.objects.get(key="chest_pain"), value="maybe")
    with pytest.raises(ValidationError):
        checkin_answer(checkin=checkin, question=CheckinQuestion.objects.get(key="falls"), value="no")
    with pytest.raises(ValidationError, match="Still to answer"):
        checkin_complete(checkin=checkin)


def test_a_clinician_records_a_check_in_taken_by_phone(nurse_and_patient):
    nurse, patient = nurse_and_patient
    answers = {"breathing": "same", "cough_sputum": "no_change", "finish_sentence": "no", "chest_pain": "no"}
    checkin = checkin_record_by_phone(patient=patient, user=nurse, told_by=AnsweredBy.CARER, answers=answers)
    assert (checkin.answered_by, checkin.told_by, checkin.recorded_by) == ("clinician_phone", "carer", nurse)
    alert = Alert.objects.get(patient=patient, kind=AlertKind.CHECKIN_RED_FLAG)
    assert "carer, by phone" in alert.title
    assert AuditEvent.objects.filter(action="checkin.recorded_by_phone", actor=nurse, patient=patient).count() == 1
    with pytest.raises(ValidationError) as refused:
        checkin_record_by_phone(patient=patient, user=nurse, told_by="carer", answers={"breathing": "same"})
    assert "chest_pain" in refused.value.message_dict


def _at(hour, minute=0, days=0):
    local = timezone.localtime() + dt.timedelta(days=days)
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0)


def test_a_missed_check_in_raises_one_overdue_alert_after_the_due_hour_and_an_answer_resolves_it(
    nurse_and_patient, settings
):
    settings.VW_CHECKIN_DUE_HOUR = 12
    nurse, patient = nurse_and_patient
    link, _ = checkin_link_issue(patient=patient, user=nurse)
    CheckinLink.objects.filter(pk=link.pk).update(issued_at=_at(8, days=-1))
    assert sweep_overdue_checkins(now=_at(11, 59))["raised"] == 0  # not yet due
    assert sweep_overdue_checkins(now=_at(12, 0))["raised"] == 1
    assert sweep_overdue_checkins(now=_at(12, 5))["raised"] == 0  # one alert, not one per sweep
    alert = Alert.objects.get(patient=patient, kind=AlertKind.CHECKIN_OVERDUE)
    assert alert.category == "technical"
    _answer_all(checkin_start(link=link, answered_by=AnsweredBy.PATIENT))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_no_overdue_alert_without_a_live_link_or_when_answered(nurse_and_patient, settings):
    settings.VW_CHECKIN_DUE_HOUR = 12
    nurse, patient = nurse_and_patient
    assert sweep_overdue_checkins(now=_at(13))["raised"] == 0  # never asked to check in
    link, _ = checkin_link_issue(patient=patient, user=nurse)
    CheckinLink.objects.filter(pk=link.pk).update(issued_at=_at(8, days=-1))
    _answer_all(checkin_start(link=link, answered_by=AnsweredBy.PATIENT))
    Checkin.objects.update(for_date=_at(13).date())
    assert sweep_overdue_checkins(now=_at(13))["raised"] == 0


def test_stopping_the_link_resolves_a_live_overdue_alert(nurse_and_patient, settings):
    settings.VW_CHECKIN_DUE_HOUR = 12
    nurse, patient = nurse_and_patient
    link, _ = checkin_link_issue(patient=patient, user=nurse)
    CheckinLink.objects.filter(pk=link.pk).update(issued_at=_at(8, days=-1))
    sweep_overdue_checkins(now=_at(13))
    checkin_link_revoke(link=link, user=nurse)
    assert sweep_overdue_checkins(now=_at(13, 5))["resolved"] == 1


def test_beat_runs_both_sweeps_and_their_tasks_run(settings, nurse_and_patient):
    from careplan.tasks import sweep_agreed_reviews
    from checkins.tasks import sweep_overdue_checkins as task

    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"careplan.tasks.sweep_agreed_reviews", "checkins.tasks.sweep_overdue_checkins"} <= scheduled
    assert sweep_agreed_reviews.apply().get() == {"raised": 0, "resolved": 0}
    assert set(task.apply().get()) == {"raised", "resolved"}
