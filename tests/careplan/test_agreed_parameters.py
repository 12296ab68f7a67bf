"""Agreed parameters end to end: set (guard rails, audit, ward scope) and applied at alert time."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent, Role
from alerts.models import Alert, AlertKind, AlertState, Severity
from alerts.selectors import alert_to_dict, visible_alerts
from careplan.models import AgreedLimit
from careplan.reviews import sweep_agreed_reviews
from careplan.services import agreed_limit_end, agreed_limit_set, escalation_plan_save
from scoring.services import rescore_patient
from tests.factories import UserFactory
from tests.scoring_services.builders import PatientFactory, record_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def ward_nurse():
    def make(patient):
        nurse = UserFactory(role=Role.CLINICIAN)
        patient.ward.staff.add(nurse)
        return nurse

    return make


def _review():
    return timezone.localdate() + dt.timedelta(days=7)


def _agree_af(patient, nurse, **overrides):
    fields = {"parameter": "heart_rate", "low": 50, "high": 130, "reason": "Known AF, rate-controlled",
              "review_by": _review(), **overrides}  # fmt: skip
    return agreed_limit_set(patient=patient, user=nurse, **fields)


def _score(patient, minutes_ago=1, **values):
    now = timezone.now()
    record_set(patient, at=now - dt.timedelta(minutes=minutes_ago), **values)
    return rescore_patient(patient.pk, now=now)


def test_a_clinician_agrees_a_limit_and_it_is_audited(ward_nurse):
    patient = PatientFactory()
    nurse = ward_nurse(patient)
    limit = _agree_af(patient, nurse)
    event = AuditEvent.objects.get(action="careplan.limit_set")
    assert (event.actor, event.patient_id, event.detail["low"], event.detail["high"]) == (nurse, patient.pk, 50, 130)
    assert limit.is_live and limit.set_by == nurse


def test_a_clinician_of_another_ward_and_an_operator_may_not_agree_limits():
    patient = PatientFactory()
    stranger = UserFactory(role=Role.CLINICIAN)
    operator = UserFactory(role=Role.OPERATOR)
    for user in (stranger, operator):
        with pytest.raises(PermissionDenied):
            _agree_af(patient, user)
    assert not AgreedLimit.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"parameter": "consciousness", "low": 0, "high": 1}, "parameter"),
        ({"high": 140}, "high"),
        ({"reason": "  "}, "reason"),
        ({"review_by": timezone.localdate()}, "review_by"),
        ({"review_by": timezone.localdate() + dt.timedelta(days=31)}, "review_by"),
    ],
)
def test_a_limit_breaking_a_rule_is_refused_with_a_clear_error_naming_the_field(ward_nurse, overrides, field):
    patient = PatientFactory()
    with pytest.raises(ValidationError) as refused:
        _agree_af(patient, ward_nurse(patient), **overrides)
    assert field in refused.value.message_dict
    assert not AgreedLimit.objects.exists()


def test_a_second_limit_that_would_let_a_high_total_through_is_refused(ward_nurse):
    patient = PatientFactory()
    nurse = ward_nurse(patient)
    agreed_limit_set(patient=patient, user=nurse, parameter="spo2", low=88, high=95, spo2_scale=1,
                     reason="Chronic low SpO2", review_by=_review())  # fmt: skip
    agreed_limit_set(patient=patient, user=nurse, parameter="systolic_bp", low=85, high=100,
                     reason="Low BP baseline", review_by=_review())  # fmt: skip
    with pytest.raises(ValidationError, match="HIGH total"):
        _agree_af(patient, nurse, low=41)
    assert AgreedLimit.objects.filter(ended_at__isnull=True).count() == 2


def test_a_new_limit_replaces_the_live_one_and_keeps_it_in_the_history(ward_nurse):
    patient = PatientFactory()
    nurse = ward_nurse(patient)
    first = _agree_af(patient, nurse)
    second = _agree_af(patient, nurse, high=120)
    first.refresh_from_db()
    assert first.ended_at is not None and second.is_live
    assert AgreedLimit.objects.filter(patient=patient).count() == 2


def test_a_scale_2_target_moves_the_patient_to_scale_2_through_the_scale_decision(ward_nurse):
    patient = PatientFactory()
    nurse = ward_nurse(patient)
    limit = agreed_limit_set(patient=patient, user=nurse, parameter="spo2", low=88, high=92, spo2_scale=2,
                             reason="Hypercapnic respiratory failure", review_by=_review())  # fmt: skip
    patient.refresh_from_db()
    assert patient.spo2_scale == 2 and patient.scale_changes.get().changed_by == nurse
    agreed_limit_end(limit=limit, user=nurse, reason="No longer hypercapnic")
    patient.refresh_from_db()
    assert patient.spo2_scale == 1


def test_a_pulse_within_agreed_parameters_raises_no_medium_alert_and_says_so(ward_nurse):
    patient = PatientFactory()
    _agree_af(patient, ward_nurse(patient))
    # pulse 125 (2) + resp 22 (2) + temp 38.5 (1) = 5: medium by the chart
    score = _score(patient, heart_rate=125, respiratory_rate=22, temperature=38.5)
    assert (score.total, score.risk) == (5, "medium")  # the score itself never changes
    assert not Alert.objects.filter(patient=patient, kind=AlertKind.NEWS2_RISK).exists()


def test_without_the_limit_the_same_readings_raise_the_medium_alert():
    patient = PatientFactory()
    _score(patient, heart_rate=125, respiratory_rate=22, temperature=38.5)
    assert Alert.objects.get(patient=patient, kind=AlertKind.NEWS2_RISK).severity == Severity.MEDIUM


def test_an_alert_raised_partly_within_agreed_parameters_says_both_figures(ward_nurse):
    patient = PatientFactory()
    _agree_af(patient, ward_nurse(patient))
    # pulse 125 (2, agreed) + resp 25 (3) + temp 38.5 (1) = 6: medium; alerting 4 with a 3: low-medium
    _score(patient, heart_rate=125, respiratory_rate=25, temperature=38.5)
    alert = Alert.objects.get(patient=patient, kind=AlertKind.NEWS2_RISK)
    assert alert.severity == Severity.LOW_MEDIUM and alert.raised_total == 6
    assert "NEWS2 6" in alert.title and "within agreed parameters (Pulse)" in alert.title
    shown = alert_to_dict(visible_alerts(UserFactory(role=Role.OPERATOR)).get(pk=alert.pk))
    assert shown["agreed"]["within"] == ["heart_rate"]
    assert shown["raised_for"].startswith("NEWS2 6 · within agreed parameters")
    assert shown["now"]["total"] == 6 and "within agreed parameters" in shown["now"]["agreed_text"]
    single = Alert.objects.get(patient=patient, kind=AlertKind.SINGLE_PARAMETER)
    assert single.title.startswith("Respiration rate scored 3")


def test_a_high_total_alerts_as_high_despite_agreed_parameters(ward_nurse):
    patient = PatientFactory()
    _agree_af(patient, ward_nurse(patient))
    _score(patient, heart_rate=125, respiratory_rate=22, temperature=39.5, systolic_bp=105)
    alert = Alert.objects.get(patient=patient, kind=AlertKind.NEWS2_RISK)
    assert (alert.severity, alert.raised_total) == (Severity.HIGH, 7)
    shown = alert_to_dict(visible_alerts(UserFactory(role=Role.OPERATOR)).get(pk=alert.pk))
    assert shown["now"]["agreed"]["set_aside"] == "high_total"
    assert "never lower a total of 7" in shown["now"]["agreed_text"]


def test_new_confusion_alerts_as_the_chart_says_despite_agreed_parameters(ward_nurse):
    patient = PatientFactory()
    _agree_af(patient, ward_nurse(patient))
    _score(patient, heart_rate=125, consciousness="C")
    assert Alert.objects.get(patient=patient, kind=AlertKind.NEWS2_RISK).severity == Severity.MEDIUM
    assert "Consciousness" in Alert.objects.get(patient=patient, kind=AlertKind.SINGLE_PARAMETER).title


def test_a_chronically_low_spo2_agreed_on_scale_1_raises_no_single_parameter_alert(ward_nurse):
    patient = PatientFactory()
    agreed_limit_set(patient=patient, user=ward_nurse(patient), parameter="spo2", low=88, high=92, spo2_scale=1,
                     reason="Chronic low SpO2, not hypercapnic", review_by=_review())  # fmt: skip
    _score(patient, spo2=90)
    assert not Alert.objects.filter(patient=patient).exists()
    _score(patient, spo2=87, minutes_ago=0)  # below the agreed range: the chart decides
    assert Alert.objects.filter(patient=patient, kind=AlertKind.SINGLE_PARAMETER).exists()


def test_ending_a_limit_raises_at_once_what_the_current_score_calls_for(ward_nurse):
    patient = PatientFactory()
    nurse = ward_nurse(patient)
    limit = _agree_af(patient, nurse)
    _score(patient, heart_rate=125, respiratory_rate=22, temperature=38.5)
    assert not Alert.objects.filter(patient=patient).exists()
    agreed_limit_end(limit=limit, user=nurse, reason="Rate no longer controlled")
    assert Alert.objects.get(patient=patient, kind=AlertKind.NEWS2_RISK).severity == Severity.MEDIUM
    assert AuditEvent.objects.filter(action="careplan.limit_ended", patient=patient).count() == 1


def test_an_expired_review_raises_one_task_that_resolves_once_reviewed(ward_nurse):
    patient = PatientFactory()
    nurse = ward_nurse(patient)
    limit = _agree_af(patient, nurse)
    AgreedLimit.objects.filter(pk=limit.pk).update(review_by=timezone.localdate() - dt.timedelta(days=1))
    assert sweep_agreed_reviews()["raised"] == 1
    assert sweep_agreed_reviews()["raised"] == 0  # once, not every hour
    task = Alert.objects.get(patient=patient, kind=AlertKind.AGREED_REVIEW_DUE)
    assert (task.category, task.state) == ("technical", AlertState.OPEN)
    assert alert_to_dict(task)["reason"] == "care_plan_review"
    _agree_af(patient, nurse)  # reviewed: a new agreement with a new date
    task.refresh_from_db()
    assert task.state == AlertState.RESOLVED


def test_a_review_due_today_is_not_yet_expired(ward_nurse):
    patient = PatientFactory()
    limit = _agree_af(patient, ward_nurse(patient))
    AgreedLimit.objects.filter(pk=limit.pk).update(review_by=timezone.localdate())
    assert sweep_agreed_reviews()["raised"] == 0


def test_the_self_escalation_plan_is_saved_audited_and_refuses_empty_fields(ward_nurse):
    patient = PatientFactory()
    nurse = ward_nurse(patient)
    fields = {"if_worse": "Rest", "call_ward_when": "Breathless", "call_111_when": "Ward closed",
              "call_999_when": "Chest pain", "ward_phone": "0300 123 4567", "ward_hours": "8am to 8pm"}  # fmt: skip
    plan = escalation_plan_save(patient=patient, user=nurse, **fields)
    assert plan.call_999_when == "Chest pain"
    with pytest.raises(ValidationError) as refused:
        escalation_plan_save(patient=patient, user=nurse, **{**fields, "call_999_when": " "})
    assert "call_999_when" in refused.value.message_dict
    assert AuditEvent.objects.filter(action="careplan.plan_saved", patient=patient).count() == 1
    with pytest.raises(PermissionDenied):
        escalation_plan_save(patient=patient, user=UserFactory(role=Role.OPERATOR), **fields)


# A property test through the database and the alerting service: whatever limits are stored
# (even ones the set-time guard rails would refuse), a HIGH total raises a HIGH alert.
_high_sets = st.fixed_dictionaries(
    {
        "heart_rate": st.integers(111, 170),
        "respiratory_rate": st.integers(21, 35),
        "temperature": st.sampled_from([39.1, 39.5, 40.0]),
        "systolic_bp": st.integers(80, 110),
    }
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=_high_sets, low=st.integers(0, 100), high=st.integers(100, 250))
def test_stored_limits_never_stop_a_high_total_raising_a_high_alert(values, low, high):
    patient = PatientFactory()
    nurse = UserFactory(role=Role.CLINICIAN)
    for parameter in ("heart_rate", "respiratory_rate", "systolic_bp", "temperature"):
        AgreedLimit.objects.create(patient=patient, parameter=parameter, low=low, high=high, reason="stored",
                                   review_by=_review(), set_by=nurse, set_at=timezone.now())  # fmt: skip
    score = _score(patient, **values)
    assert score.total >= 7
    assert Alert.objects.get(patient=patient, kind=AlertKind.NEWS2_RISK).severity == Severity.HIGH
