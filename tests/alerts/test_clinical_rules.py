import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertEvent, AlertKind, AlertState, Severity
from alerts.services import alert_fall_detected, alert_resolve
from scoring.services import rescore_patient
from tests.factories import ObservationFactory, UserFactory
from tests.scoring_services.builders import PatientFactory, record, record_set

pytestmark = pytest.mark.django_db

# Sets chosen to land in each band; the RCP NEWS2 chart is tested in tests/scoring.
LOW = {"heart_rate": 95}  # total 1
LOW_MEDIUM = {"consciousness": "C"}  # single 3, total 3
MEDIUM = {"heart_rate": 115, "respiratory_rate": 22, "temperature": 38.5}  # 2 + 2 + 1 = 5
HIGH = {"heart_rate": 115, "respiratory_rate": 22, "temperature": 39.5, "systolic_bp": 105}  # 2+2+2+1 = 7


def _score(patient, minutes_ago=1, now=None, **values):
    now = now or timezone.now()
    record_set(patient, at=now - dt.timedelta(minutes=minutes_ago), **values)
    return rescore_patient(patient.pk, now=now)


def _risk_alerts(patient):
    return Alert.objects.filter(patient=patient, kind=AlertKind.NEWS2_RISK)


@pytest.mark.parametrize(
    ("values", "risk", "severity"),
    [
        (LOW_MEDIUM, "low-medium", Severity.LOW_MEDIUM),
        (MEDIUM, "medium", Severity.MEDIUM),
        (HIGH, "high", Severity.HIGH),
    ],
)
def test_entering_a_higher_risk_band_raises_one_alert_with_the_bands_severity(values, risk, severity):
    # given a patient with no score yet
    patient = PatientFactory()
    # when their first score lands in the band
    score = _score(patient, **values)
    # then one open NEWS2 alert with that severity points at the score
    assert score.risk == risk
    alert = _risk_alerts(patient).get()
    assert (alert.severity, alert.state, alert.score_id, alert.category) == (severity, "open", score.pk, "clinical")
    assert alert.events.get().action == AlertEvent.Action.RAISED


@pytest.mark.parametrize("values", [{}, LOW])
def test_a_low_risk_score_raises_no_alert(values):
    # given a patient / when scored low / then no alert of any kind
    _score(PatientFactory(), **values)
    assert not Alert.objects.exists()


def test_staying_in_the_same_band_raises_nothing_more():
    # given a patient already alerted at medium
    patient = PatientFactory()
    now = timezone.now()
    _score(patient, now=now - dt.timedelta(minutes=10), **MEDIUM)
    # when a new medium score arrives
    _score(patient, now=now, heart_rate=120, respiratory_rate=23, temperature=38.6)
    # then there is still one alert with one event
    assert _risk_alerts(patient).get().events.count() == 1


def test_a_worse_band_escalates_the_live_alert_in_place():
    # given a medium alert that a clinician has acknowledged
    patient = PatientFactory()
    now = timezone.now()
    _score(patient, now=now - dt.timedelta(minutes=10), **MEDIUM)
    alert = _risk_alerts(patient).get()
    alert.state = AlertState.ACKNOWLEDGED
    alert.save()
    # when the patient reaches high
    high = _score(patient, now=now, **HIGH)
    # then the same alert is escalated: severity up, new title, new score, an ESCALATED event
    alert.refresh_from_db()
    assert _risk_alerts(patient).count() == 1
    assert alert.severity == Severity.HIGH and alert.score_id == high.pk and alert.escalated_at is not None
    assert alert.title.startswith("NEWS2 7 at ") and "high risk" in alert.title
    assert (alert.raised_total, alert.raised_risk) == (7, "high")
    assert list(alert.events.values_list("action", flat=True)) == ["raised", "escalated"]


def test_a_clinical_alert_is_never_resolved_when_the_score_improves():
    # given a high alert
    patient = PatientFactory()
    now = timezone.now()
    _score(patient, now=now - dt.timedelta(minutes=10), **HIGH)
    # when the patient's vitals return to normal
    _score(patient, now=now)
    # then the alert stays open for a person to close
    assert _risk_alerts(patient).get().state == AlertState.OPEN


def test_after_a_person_resolves_it_a_later_rise_raises_a_new_alert():
    # given a medium alert resolved by a clinician, and the patient back to low
    patient = PatientFactory()
    now = timezone.now()
    _score(patient, now=now - dt.timedelta(minutes=30), **MEDIUM)
    _score(patient, now=now - dt.timedelta(minutes=20))
    alert_resolve(alert=_risk_alerts(patient).get(), user=UserFactory(role="operator"), outcome="advice_by_phone")
    # when the patient rises to medium again
    _score(patient, now=now, **MEDIUM)
    # then a second alert is opened
    assert _risk_alerts(patient).count() == 2
    assert _risk_alerts(patient).filter(state="open").count() == 1


def test_an_incomplete_score_alert_says_its_total_is_a_lower_bound():
    # given only a pulse and a respiration rate, scoring 3 each
    patient = PatientFactory()
    record(patient, heart_rate=135, respiratory_rate=26)
    # when scored
    rescore_patient(patient.pk, now=timezone.now())
    # then the risk alert is marked incomplete and lists what is missing
    alert = _risk_alerts(patient).get()
    assert "(incomplete)" in alert.title
    assert "lower bounds" in alert.detail and "SpO2" in alert.detail


def test_a_single_parameter_scoring_3_raises_its_own_alert():
    # given a patient / when new confusion is recorded (scores 3)
    patient = PatientFactory()
    _score(patient, consciousness="C")
    # then a single-parameter alert names it
    alert = Alert.objects.get(patient=patient, kind=AlertKind.SINGLE_PARAMETER)
    assert alert.title == "Consciousness scored 3" and alert.severity == Severity.LOW_MEDIUM


def test_a_second_parameter_scoring_3_escalates_the_single_parameter_alert():
    # given an open alert for consciousness
    patient = PatientFactory()
    now = timezone.now()
    _score(patient, now=now - dt.timedelta(minutes=5), consciousness="C")
    # when SpO2 also scores 3
    _score(patient, now=now, consciousness="C", spo2=88)
    # then the one alert now names both and is escalated
    alert = Alert.objects.get(patient=patient, kind=AlertKind.SINGLE_PARAMETER)
    assert alert.title == "Consciousness, SpO2 scored 3"
    assert alert.severity == Severity.MEDIUM
    assert list(alert.events.values_list("action", flat=True)) == ["raised", "escalated"]


def test_the_same_parameter_still_at_3_raises_nothing_more():
    # given an open single-parameter alert for SpO2
    patient = PatientFactory()
    now = timezone.now()
    _score(patient, now=now - dt.timedelta(minutes=5), spo2=90)
    # when a new SpO2 still scores 3
    _score(patient, now=now, spo2=89)
    # then nothing new happens
    assert Alert.objects.get(patient=patient, kind=AlertKind.SINGLE_PARAMETER).events.count() == 1


def test_a_fall_raises_a_high_alert():
    # given a fall observation
    patient = PatientFactory()
    fall = ObservationFactory(patient=patient, type="fall_detected", value=1.0, unit="")
    # when ingest reports it
    alert_fall_detected(patient_id=patient.pk, observation_id=fall.pk, measured_at=fall.measured_at)
    # then one HIGH clinical alert is open
    alert = Alert.objects.get(patient=patient, kind=AlertKind.FALL)
    assert alert.severity == Severity.HIGH and alert.category == "clinical"
    assert alert.events.get().data["observation_id"] == fall.pk


def test_a_second_fall_escalates_the_open_fall_alert_and_the_same_fall_twice_is_one():
    # given an open fall alert
    patient = PatientFactory()
    first = ObservationFactory(patient=patient, type="fall_detected", value=1.0, unit="")
    alert_fall_detected(patient_id=patient.pk, observation_id=first.pk, measured_at=first.measured_at)
    # when the same fall is reported again, then a new fall
    alert_fall_detected(patient_id=patient.pk, observation_id=first.pk, measured_at=first.measured_at)
    second = ObservationFactory(patient=patient, type="fall_detected", value=1.0, unit="")
    alert_fall_detected(patient_id=patient.pk, observation_id=second.pk, measured_at=second.measured_at)
    # then one alert holds both falls, once each
    alert = Alert.objects.get(patient=patient, kind=AlertKind.FALL)
    assert list(alert.events.values_list("action", flat=True)) == ["raised", "escalated"]


def test_a_fall_uploaded_late_says_when_it_happened():
    # given a fall measured three hours ago, uploaded now
    patient = PatientFactory()
    at = timezone.now() - dt.timedelta(hours=3)
    fall = ObservationFactory(patient=patient, type="fall_detected", value=1.0, unit="", measured_at=at)
    # when reported
    alert_fall_detected(patient_id=patient.pk, observation_id=fall.pk, measured_at=at)
    # then the alert says it is late, and when it happened
    alert = Alert.objects.get(patient=patient, kind=AlertKind.FALL)
    assert "reported 3 h 0 min late" in alert.title
    assert timezone.localtime(at).strftime("%H:%M") in alert.title
