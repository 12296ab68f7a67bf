import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from alerts.models import AlertKind, Severity
from alerts.reports import percentile
from alerts.services import alert_acknowledge, alert_resolve
from alerts.services.core import AlertNews, raise_or_escalate
from tests.factories import UserFactory
from tests.scoring_services.builders import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([], 0.9, None), ([5.0], 0.9, 5.0), ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9, 9.0)],
)
def test_the_90th_percentile_is_a_value_that_occurred(values, fraction, expected):
    assert percentile(values, fraction) == expected


def _acknowledged_after(user, minutes, kind=AlertKind.FALL):
    opened = timezone.now() - dt.timedelta(minutes=minutes)
    alert = raise_or_escalate(
        patient=PatientFactory(), news=AlertNews(kind=kind, severity=Severity.HIGH, title="t"), now=opened
    )[0]
    return alert_acknowledge(alert=alert, user=user)


def test_the_summary_counts_alerts_per_kind_with_time_to_acknowledge_and_outcomes():
    # given three falls acknowledged after about 10, 20 and 30 minutes, one resolved
    operator = UserFactory(role=Role.OPERATOR)
    alerts = [_acknowledged_after(operator, minutes) for minutes in (10, 20, 30)]
    alert_resolve(alert=alerts[0], user=operator, outcome="ambulance")
    client = APIClient()
    client.force_authenticate(operator)
    # when the summary of the last day is asked for
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    body = client.get("/api/v1/alerts/summary/", {"since": since}).json()
    # then falls show 3 raised, 2 still open, median ~20 min to acknowledge, and the outcome
    falls = body["by_kind"]["fall"]
    assert (body["total_raised"], falls["raised"], falls["still_open"]) == (3, 3, 2)
    assert falls["time_to_acknowledge"]["median_s"] == pytest.approx(20 * 60, abs=5)
    assert falls["time_to_acknowledge"]["p90_s"] == pytest.approx(30 * 60, abs=5)
    assert falls["outcomes"] == {"ambulance": 1}
    assert body["by_kind"]["low_battery"]["raised"] == 0


def test_the_summary_refuses_a_naive_or_backwards_period():
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.OPERATOR))
    naive = client.get("/api/v1/alerts/summary/", {"since": "2026-11-01T00:00:00"})
    backwards = client.get(
        "/api/v1/alerts/summary/", {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}
    )
    assert naive.status_code == 400 and "UTC offset" in str(naive.json())
    assert backwards.status_code == 400 and "before" in backwards.json()["detail"]


def test_the_dashboard_summary_for_a_set_of_wards_counts_only_those_wards():
    # given falls on two wards
    from alerts.reports import alert_outcome_summary
    from patients.models import Ward

    operator = UserFactory(role=Role.OPERATOR)
    first = _acknowledged_after(operator, 5)
    _acknowledged_after(operator, 5)
    # when summarised for the first ward only
    now = timezone.now()
    summary = alert_outcome_summary(
        since=now - dt.timedelta(days=1), until=now, wards=Ward.objects.filter(pk=first.patient.ward_id)
    )
    # then one fall is counted
    assert summary["by_kind"]["fall"]["raised"] == 1
