import pytest
from django.utils import timezone

from accounts.models import AuditEvent, Role
from alerts.models import Alert, AlertEvent, AlertKind, AlertState, Severity
from alerts.services import (
    AlertActionError,
    AlertPermissionError,
    alert_acknowledge,
    alert_add_note,
    alert_assign,
    alert_escalate,
    alert_resolve,
)
from alerts.services.core import AlertNews, raise_or_escalate
from tests.factories import UserFactory, WardFactory
from tests.frontend.conftest import make_score
from tests.scoring_services.builders import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return UserFactory(role=Role.OPERATOR)


def _alert(kind=AlertKind.NEWS2_RISK, severity=Severity.MEDIUM, patient=None):
    patient = patient or PatientFactory()
    make_score(patient, total=0, risk="low")  # back to low: resolving needs no review
    alert, _ = raise_or_escalate(
        patient=patient, news=AlertNews(kind=kind, severity=severity, title="t"), now=timezone.now()
    )
    return alert


def test_acknowledging_records_who_and_when_in_the_alert_its_history_and_the_audit_trail(operator):
    # given an open alert
    alert = _alert()
    # when an operator acknowledges it
    alert = alert_acknowledge(alert=alert, user=operator)
    # then state, actor and time are recorded three ways
    assert alert.state == AlertState.ACKNOWLEDGED and alert.acknowledged_by == operator
    event = alert.events.get(action=AlertEvent.Action.ACKNOWLEDGED)
    assert event.actor == operator and event.at == alert.acknowledged_at
    audit = AuditEvent.objects.get(action="alert.acknowledged")
    assert (audit.actor, audit.patient_id, audit.object_id) == (operator, alert.patient_id, str(alert.pk))


def test_acknowledging_twice_is_a_clear_error(operator):
    # given an acknowledged alert / when acknowledged again / then the error says by whom
    alert = alert_acknowledge(alert=_alert(), user=operator)
    with pytest.raises(AlertActionError, match="already acknowledged by"):
        alert_acknowledge(alert=alert, user=operator)


def test_an_alert_can_be_assigned_to_a_clinician_of_the_patients_ward(operator):
    # given a clinician on the patient's ward
    alert = _alert()
    clinician = UserFactory(role=Role.CLINICIAN)
    alert.patient.ward.staff.add(clinician)
    # when assigned / then recorded
    alert = alert_assign(alert=alert, user=operator, assignee=clinician)
    assert alert.assigned_to == clinician
    assert alert.events.get(action="assigned").data["assignee_id"] == clinician.pk


def test_assigning_to_someone_who_is_not_staff_or_not_on_the_ward_is_refused(operator):
    # given a user with no staff role, and a clinician of another ward
    from django.contrib.auth import get_user_model

    alert = _alert()
    outsider = get_user_model().objects.create_user(
        "outsider", password="x-very-long-pass", first_name="Unseen", last_name="Outsider"
    )
    elsewhere = UserFactory(role=Role.CLINICIAN, first_name="Elsewhere", last_name="Person")
    WardFactory().staff.add(elsewhere)
    # when assigned to either / then refused with one reason that names nobody
    for assignee in (outsider, elsewhere):
        with pytest.raises(AlertActionError) as refused:
            alert_assign(alert=alert, user=operator, assignee=assignee)
        assert str(refused.value) == "That person cannot be assigned alerts on this patient's ward."
        assert assignee.last_name not in str(refused.value) and assignee.first_name not in str(refused.value)
    assert Alert.objects.get(pk=alert.pk).assigned_to is None


def test_a_note_is_added_to_the_history_and_an_empty_note_is_refused(operator):
    # given an alert / when a note is added / then it is in the history
    alert = _alert()
    alert_add_note(alert=alert, user=operator, note="  Rang patient, no answer  ")
    assert alert.events.get(action="note").note == "Rang patient, no answer"
    with pytest.raises(AlertActionError, match="cannot be empty"):
        alert_add_note(alert=alert, user=operator, note="   ")


def test_escalating_raises_severity_one_step_until_high(operator):
    # given a medium alert
    alert = _alert(severity=Severity.MEDIUM)
    # when escalated by a person
    alert = alert_escalate(alert=alert, user=operator, note="Worsening on video call")
    # then it is high, and escalating again is refused
    assert alert.severity == Severity.HIGH and alert.escalated_at is not None
    assert alert.events.get(action="escalated").data == {"severity_before": 40, "severity": 50}
    with pytest.raises(AlertActionError, match="highest severity"):
        alert_escalate(alert=alert, user=operator)


def test_resolving_records_the_outcome_and_resolving_again_is_refused(operator):
    # given an acknowledged alert
    alert = alert_acknowledge(alert=_alert(), user=operator)
    # when resolved with an outcome
    alert = alert_resolve(alert=alert, user=operator, outcome="home_visit", note="Seen by community nurse")
    # then it is resolved by that person; a second resolve is a clear error
    assert (alert.state, alert.outcome, alert.resolved_by) == ("resolved", "home_visit", operator)
    assert AuditEvent.objects.filter(action="alert.resolved", object_id=str(alert.pk)).exists()
    with pytest.raises(AlertActionError, match="already resolved"):
        alert_resolve(alert=alert, user=operator, outcome="home_visit")


@pytest.mark.parametrize("verb", ["acknowledge", "assign", "escalate"])
def test_a_resolved_alert_cannot_be_acted_on_except_by_a_note(operator, verb):
    # given a resolved alert
    alert = alert_resolve(alert=_alert(), user=operator, outcome="no_action")
    actions = {
        "acknowledge": lambda: alert_acknowledge(alert=alert, user=operator),
        "assign": lambda: alert_assign(alert=alert, user=operator, assignee=operator),
        "escalate": lambda: alert_escalate(alert=alert, user=operator),
    }
    # when acted on / then refused, but a note is still allowed
    with pytest.raises(AlertActionError, match="already resolved"):
        actions[verb]()
    alert_add_note(alert=alert, user=operator, note="Follow-up call made")


def test_a_person_cannot_resolve_a_clinical_alert_as_auto_resolved(operator):
    # given a clinical alert / when resolved with auto_resolved / then refused
    alert = _alert()
    with pytest.raises(AlertActionError, match="clinical alert resolved by a person"):
        alert_resolve(alert=alert, user=operator, outcome="auto_resolved")
    with pytest.raises(AlertActionError, match="Unknown outcome"):
        alert_resolve(alert=alert, user=operator, outcome="vibes")
    assert Alert.objects.get(pk=alert.pk).state == "open"


def test_a_clinician_cannot_act_on_alerts_of_another_ward():
    # given a clinician who is not on the patient's ward
    alert = _alert()
    stranger = UserFactory(role=Role.CLINICIAN)
    # when they try to acknowledge / then permission is refused and nothing is recorded
    with pytest.raises(AlertPermissionError):
        alert_acknowledge(alert=alert, user=stranger)
    assert not AuditEvent.objects.exists()
    assert Alert.objects.get(pk=alert.pk).state == "open"


def test_every_action_publishes_alert_updated_after_commit(operator, monkeypatch, django_capture_on_commit_callbacks):
    # given an alert and a recorder for live events
    alert = _alert()
    sent = []
    monkeypatch.setattr("frontend.events._send", sent.append)
    # when acknowledged
    with django_capture_on_commit_callbacks(execute=True):
        alert_acknowledge(alert=alert, user=operator)
    # then alert.updated carried the new state
    assert [(m["event"], m["data"]["state"]) for m in sent] == [("alert.updated", "acknowledged")]
