"""A scoring chunk raises its alerts together: one INSERT of alerts, one of their first events."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, AlertEvent, AlertKind, Severity
from alerts.services import clinical, core
from alerts.services.core import AlertNews, raise_or_escalate
from scoring.services import RESCORE_CHUNK, rescore_patients
from tests.scoring_services.builders import PatientFactory, record_set

pytestmark = pytest.mark.django_db

# 3 + 3 + 3 = 9: high risk, three parameters scoring 3 (tests/scoring tests the chart itself).
HIGH_WITH_REDS = {"respiratory_rate": 25, "spo2": 91, "heart_rate": 131}


@pytest.fixture
def raised(monkeypatch):
    """Patient ids of every alert.raised event published, in order."""
    seen = []
    real = core.publish

    def recording(event, **kwargs):
        if event == "alert.raised":
            seen.append(kwargs["patient_id"])
        return real(event, **kwargs)

    monkeypatch.setattr(core, "publish", recording)
    return seen


def _unwell(patients, now):
    for patient in patients:
        record_set(patient, at=now - dt.timedelta(minutes=1), **HIGH_WITH_REDS)


def test_sixty_deteriorating_patients_get_their_alerts_in_a_few_statements_per_chunk(
    raised, django_assert_max_num_queries
):
    # given sixty patients with no score yet, each with a high-risk set with three red parameters
    now = timezone.now()
    patients = PatientFactory.create_batch(60)
    _unwell(patients, now)
    chunks = -(-len(patients) // RESCORE_CHUNK)
    # when one task scores them all
    # (per chunk: its transaction, a savepoint inside the test's, and its release; the locking
    # read; the readings, one query on PostgreSQL and two elsewhere; one INSERT of scores; one
    # UPDATE of patients; the locking read of their live alerts; a savepoint, one INSERT of
    # alerts, its release and one INSERT of their events. One alert at a time cost four
    # statements each, 480 in all.)
    # SQLite caps a statement at 999 variables: a chunk's alerts, at 22 columns each, take two
    # INSERTs there.
    budget = chunks * (13 if connection.vendor == "sqlite" else 12)
    with django_assert_max_num_queries(budget):
        rescore_patients([p.pk for p in patients], now=now)
    # then each patient has one risk alert and one single-parameter alert, each with one event
    alerts = Alert.objects.filter(patient__in=patients)
    kinds = sorted(alerts.values_list("patient_id", "kind"))
    expected = sorted((p.pk, kind) for p in patients for kind in (AlertKind.NEWS2_RISK, AlertKind.SINGLE_PARAMETER))
    assert kinds == expected
    assert all(alert.severity == Severity.HIGH for alert in alerts.filter(kind=AlertKind.NEWS2_RISK))
    events = AlertEvent.objects.filter(alert__in=alerts)
    assert sorted(events.values_list("alert_id", "action")) == sorted((a.pk, "raised") for a in alerts)
    # and each event belongs to its own alert: the note is the alert's own detail
    assert all(event.note == event.alert.detail for event in events.select_related("alert"))
    # and the command centre hears of every alert, after the commit
    assert sorted(raised) == sorted(p.pk for p in patients for _ in range(2))


@pytest.mark.parametrize("seen", [True, False], ids=["seen-by-the-chunk", "raised-by-another-worker-unseen"])
def test_a_live_alert_is_escalated_in_place_while_the_chunks_other_alerts_are_raised(seen, raised, monkeypatch):
    # given a patient whose medium risk alert is live, and a second patient with none
    now = timezone.now()
    known, new = PatientFactory.create_batch(2)
    medium, _ = raise_or_escalate(
        patient=known, news=AlertNews(kind=AlertKind.NEWS2_RISK, severity=Severity.MEDIUM, title="NEWS2 5"), now=now
    )
    raised.clear()
    if not seen:
        # raised by another worker after the chunk's locking read: the chunk's INSERT hits the
        # unique constraint, is undone, and each alert is raised or escalated one at a time
        monkeypatch.setattr(clinical, "live_patient_alerts", lambda patient_ids, kinds: {})
    _unwell([known, new], now)
    # when both are scored in one chunk
    rescore_patients([known.pk, new.pk], now=now)
    # then the live alert was escalated in place, not doubled
    risk = Alert.objects.get(patient=known, kind=AlertKind.NEWS2_RISK)
    assert (risk.pk, risk.severity) == (medium.pk, Severity.HIGH)
    assert list(risk.events.values_list("action", flat=True)) == ["raised", "escalated"]
    # and everything else was raised once, with one event each, and nothing was lost
    assert Alert.objects.filter(patient=known, kind=AlertKind.SINGLE_PARAMETER).count() == 1
    assert Alert.objects.filter(patient=new).count() == 2
    assert AlertEvent.objects.filter(alert__patient__in=[known, new], action="raised").count() == 4
    assert sorted(raised) == sorted([known.pk, new.pk, new.pk])
