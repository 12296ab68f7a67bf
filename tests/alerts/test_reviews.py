"""Resolving while still in band needs a review; the review sweep brings the alert back; a patient
at HIGH is never left without an open, owned alert."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from alerts.models import Alert, AlertEvent, AlertKind, AlertState, Severity
from alerts.services import AlertActionError, alert_acknowledge, alert_resolve, sweep_clinical_reviews
from alerts.services.core import AlertNews, raise_or_escalate
from tests.factories import UserFactory
from tests.frontend.conftest import make_score
from tests.scoring_services.builders import PatientFactory

pytestmark = pytest.mark.django_db

BAND_TOTAL = {"low": 1, "low-medium": 3, "medium": 5, "high": 7}
SEVERITY = {"medium": Severity.MEDIUM, "high": Severity.HIGH}


@pytest.fixture
def operator():
    return UserFactory(role=Role.OPERATOR, first_name="Olu", last_name="Operator")


def risk_alert(band, now_band):
    """A risk alert raised in ``band``, on a patient whose current score is in ``now_band``."""
    patient = PatientFactory()
    news = AlertNews(
        kind=AlertKind.NEWS2_RISK,
        severity=SEVERITY[band],
        title="t",
        data={"total": BAND_TOTAL[band], "risk": band},
    )
    alert = raise_or_escalate(patient=patient, news=news, now=timezone.now())[0]
    make_score(patient, total=BAND_TOTAL[now_band], risk=now_band)
    return alert


def in_minutes(minutes):
    return timezone.now() + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("band", "now_band", "needs_review"),
    [
        ("medium", "low", False),
        ("medium", "low-medium", False),  # one band below: out of the alert's band
        ("medium", "medium", True),
        ("medium", "high", True),
        ("high", "medium", False),
        ("high", "high", True),
    ],
)
def test_resolving_while_the_patient_is_still_in_band_needs_a_review_time(operator, band, now_band, needs_review):
    # given a risk alert and the patient's band now
    alert = risk_alert(band, now_band)
    # when resolved with an outcome and no review time
    if needs_review:
        # then refused, naming the patient's score now
        with pytest.raises(AlertActionError, match=f"still in this alert's band .NEWS2 {BAND_TOTAL[now_band]}"):
            alert_resolve(alert=alert, user=operator, outcome="reviewed_plan_in_place")
        assert Alert.objects.get(pk=alert.pk).state == AlertState.OPEN
    else:
        # then it is resolved
        assert alert_resolve(alert=alert, user=operator, outcome="advice_by_phone").state == AlertState.RESOLVED


def test_a_medium_alert_resolved_in_band_with_a_review_is_closed_until_the_review(operator):
    # given a medium alert on a patient still at medium
    alert = risk_alert("medium", "medium")
    # when resolved with "reviewed — plan in place" and a review in an hour
    review = in_minutes(60)
    alert = alert_resolve(alert=alert, user=operator, outcome="reviewed_plan_in_place", review_by=review)
    # then it is resolved, and the review time is kept and recorded
    assert (alert.state, alert.outcome, alert.review_by) == (AlertState.RESOLVED, "reviewed_plan_in_place", review)
    assert alert.events.get(action="resolved").data["review_by"] == review.isoformat()


def test_a_high_alert_on_a_patient_still_high_is_kept_open_and_owned_by_whoever_recorded_the_plan(operator):
    # given a high alert nobody owns, on a patient still at high
    alert = risk_alert("high", "high")
    # when "resolved" with a plan and a review in 30 minutes
    alert = alert_resolve(alert=alert, user=operator, outcome="video_review", review_by=in_minutes(30))
    # then it stays live, acknowledged and owned by the operator, with the plan recorded
    assert alert.state == AlertState.ACKNOWLEDGED and alert.assigned_to == operator
    assert alert.outcome == "video_review" and alert.review_by is not None
    event = alert.events.get(action=AlertEvent.Action.REVIEW_PLANNED)
    assert event.actor == operator and event.data["kept_open"] == "patient still HIGH"


@pytest.mark.parametrize(
    ("minutes", "message"),
    [(4, "at least 5 minutes"), (-10, "at least 5 minutes"), (24 * 60 + 1, "within 24 hours")],
)
def test_a_review_time_too_soon_or_too_late_is_refused_with_the_reason(operator, minutes, message):
    alert = risk_alert("medium", "medium")
    with pytest.raises(AlertActionError, match=message):
        alert_resolve(alert=alert, user=operator, outcome="advice_by_phone", review_by=in_minutes(minutes))


def test_the_review_boundaries_themselves_are_accepted(operator):
    # given two in-band alerts / when reviews are set 5 min and 24 h ahead (plus a second's slack) / then accepted
    soon = alert_resolve(
        alert=risk_alert("medium", "medium"), user=operator, outcome="advice_by_phone", review_by=in_minutes(5.02)
    )
    late = alert_resolve(
        alert=risk_alert("medium", "medium"),
        user=operator,
        outcome="advice_by_phone",
        review_by=in_minutes(24 * 60 - 0.02),
    )
    assert soon.state == late.state == AlertState.RESOLVED


def test_a_review_that_finds_the_patient_still_in_band_brings_the_alert_back_to_its_owner(operator):
    # given a medium alert acknowledged (so owned) and resolved with a review, the patient still medium
    alert = alert_acknowledge(alert=risk_alert("medium", "medium"), user=operator)
    alert = alert_resolve(alert=alert, user=operator, outcome="advice_by_phone", review_by=in_minutes(30))
    # when the sweep runs after the review time
    counts = sweep_clinical_reviews(now=timezone.now() + dt.timedelta(minutes=31))
    # then the alert is open again, unacknowledged, still owned, and says why
    alert.refresh_from_db()
    assert counts["reopened"] == 1
    assert (alert.state, alert.acknowledged_by, alert.assigned_to) == (AlertState.OPEN, None, operator)
    assert alert.review_by is None and alert.reopened_at is not None and alert.outcome == ""
    reopened = alert.events.get(action=AlertEvent.Action.REOPENED)
    assert "still NEWS2 5" in reopened.note
    # and a second sweep does not bring it back twice
    assert sweep_clinical_reviews(now=timezone.now() + dt.timedelta(minutes=32)).get("reopened", 0) == 0


def test_a_review_that_finds_the_patient_out_of_band_leaves_the_alert_closed_and_says_so(operator):
    # given a medium alert resolved with a review, and the patient then back to low
    alert = risk_alert("medium", "medium")
    alert = alert_resolve(alert=alert, user=operator, outcome="advice_by_phone", review_by=in_minutes(30))
    make_score(alert.patient, total=1, risk="low")
    # when the review falls due
    sweep_clinical_reviews(now=timezone.now() + dt.timedelta(minutes=31))
    # then the alert stays resolved, with the review recorded
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.review_by is None
    assert "NEWS2 1, low risk, out of the alert's band" in alert.events.get(action="review_closed").note


def test_a_review_not_yet_due_is_left_alone(operator):
    alert = risk_alert("medium", "medium")
    alert_resolve(alert=alert, user=operator, outcome="advice_by_phone", review_by=in_minutes(30))
    sweep_clinical_reviews(now=timezone.now() + dt.timedelta(minutes=29))
    assert Alert.objects.get(pk=alert.pk).state == AlertState.RESOLVED


def test_a_kept_open_high_alert_whose_review_finds_the_patient_still_high_calls_for_attention_again(operator):
    # given a high alert kept open with a plan, the patient still high at review time
    alert = risk_alert("high", "high")
    alert_resolve(alert=alert, user=operator, outcome="video_review", review_by=in_minutes(15))
    # when the review falls due
    sweep_clinical_reviews(now=timezone.now() + dt.timedelta(minutes=16))
    # then it is open (unacknowledged) again, owned by the same person
    alert.refresh_from_db()
    assert (alert.state, alert.assigned_to) == (AlertState.OPEN, operator)


def test_a_patient_at_high_with_no_live_alert_gets_one_from_the_sweep_and_only_one():
    # given a patient at high whose alerts were all closed, and a patient at medium with none
    high, medium = PatientFactory(), PatientFactory()
    make_score(high, total=8, risk="high")
    make_score(medium, total=5, risk="medium")
    # when the sweep runs twice
    first = sweep_clinical_reviews()
    second = sweep_clinical_reviews()
    # then the high patient has exactly one open high alert, raised by the first sweep
    alert = Alert.objects.get(patient=high)
    assert (alert.kind, alert.severity, alert.state, alert.raised_total) == ("news2_risk", Severity.HIGH, "open", 8)
    assert "Still at high risk" in alert.detail
    assert first["raised_for_high"] == 1 and second["raised_for_high"] == 0
    assert not Alert.objects.filter(patient=medium).exists()


def test_a_discharged_patient_at_high_gets_no_alert():
    patient = PatientFactory(discharged_at=timezone.now())
    make_score(patient, total=8, risk="high")
    sweep_clinical_reviews()
    assert not Alert.objects.filter(patient=patient).exists()


def test_the_api_refuses_a_resolve_in_band_without_a_review_and_a_review_time_without_an_offset(operator):
    # given an in-band medium alert
    alert = risk_alert("medium", "medium")
    api = APIClient()
    api.force_authenticate(operator)
    url = f"/api/v1/alerts/{alert.pk}/resolve/"
    # when resolved without a review / with a naive time / with a proper one
    missing = api.post(url, {"outcome": "advice_by_phone"}, format="json")
    naive = api.post(url, {"outcome": "advice_by_phone", "review_by": "2030-01-01T10:00:00"}, format="json")
    review = in_minutes(45).isoformat()
    done = api.post(url, {"outcome": "advice_by_phone", "review_by": review}, format="json")
    # then 400 with the reason, 400 naming the field, then resolved with the review
    assert missing.status_code == 400 and "choose when to review" in missing.json()["detail"]
    assert naive.status_code == 400 and "review_by" in naive.json()
    assert done.status_code == 200 and done.json()["state"] == "resolved" and done.json()["review_by"]
