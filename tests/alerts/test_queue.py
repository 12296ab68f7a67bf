import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Role
from alerts.models import AlertKind, AlertState, Severity
from alerts.selectors import alert_queue, alert_to_dict
from alerts.services.core import AlertNews, raise_or_escalate
from tests.factories import UserFactory
from tests.scoring_services.builders import DeviceFactory, PatientFactory

pytestmark = pytest.mark.django_db


def _raise(patient, kind, severity, minutes_ago, device=None):
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    news = AlertNews(kind=kind, severity=severity, title=kind, device_id=device.pk if device else None)
    return raise_or_escalate(patient=patient, news=news, now=at)[0]


def test_the_queue_is_most_urgent_first_then_unacknowledged_then_oldest():
    # given alerts of mixed severity, age and state
    p1, p2, p3 = PatientFactory(), PatientFactory(), PatientFactory()
    old_medium = _raise(p1, AlertKind.NEWS2_RISK, Severity.MEDIUM, 30)
    acked_high = _raise(p2, AlertKind.NEWS2_RISK, Severity.HIGH, 20)
    acked_high.state = AlertState.ACKNOWLEDGED
    acked_high.save()
    new_high = _raise(p3, AlertKind.FALL, Severity.HIGH, 1)
    new_medium = _raise(p2, AlertKind.OBSERVATIONS_OVERDUE, Severity.MEDIUM, 5)
    resolved = _raise(p3, AlertKind.NEWS2_RISK, Severity.HIGH, 50)
    resolved.state = AlertState.RESOLVED
    resolved.save()
    # when an operator reads the queue
    queue = list(alert_queue(UserFactory(role=Role.OPERATOR)))
    # then: high unacknowledged, high acknowledged, medium oldest, medium newest; no resolved
    assert queue == [new_high, acked_high, old_medium, new_medium]


def test_a_clinician_sees_only_alerts_of_their_wards():
    # given alerts on two wards and a clinician of one
    mine, theirs = PatientFactory(), PatientFactory()
    clinician = UserFactory(role=Role.CLINICIAN)
    mine.ward.staff.add(clinician)
    visible = _raise(mine, AlertKind.FALL, Severity.HIGH, 1)
    _raise(theirs, AlertKind.FALL, Severity.HIGH, 1)
    # when the clinician reads the queue / then only their ward's alert is there
    assert list(alert_queue(clinician)) == [visible]


def test_the_alert_shape_tells_deteriorating_from_not_heard_from():
    # given a clinical and a device alert for the same patient
    device = DeviceFactory()
    clinical = _raise(device.patient, AlertKind.NEWS2_RISK, Severity.HIGH, 1)
    silent = _raise(device.patient, AlertKind.DEVICE_OFFLINE, Severity.MEDIUM, 1, device=device)
    # when shaped for the API / then category and reason differ
    a, b = alert_to_dict(clinical), alert_to_dict(silent)
    assert (a["category"], a["reason"]) == ("clinical", "deteriorating")
    assert (b["category"], b["reason"]) == ("technical", "not_heard_from")
    assert b["device"]["device_id"] == device.device_id and a["device"] is None
    assert a["patient"]["id"] == device.patient_id and a["severity_label"] == "High"
