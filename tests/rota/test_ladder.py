"""The escalation ladder: each rung fires on time, once, to whoever is on duty; acknowledging stops it."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import AlertEvent, AlertKind, Severity
from alerts.services import alert_acknowledge
from alerts.services.core import AlertNews, raise_or_escalate
from rota.ladder import DEFAULT_LADDER, track_of
from rota.models import Channel, DutyRole, EscalationStep, Notification, Track
from rota.services import ladder_advance, sweep_ladders
from tests.factories import DeviceFactory, WardFactory
from tests.rota.conftest import high_alert, on_shift, person

pytestmark = pytest.mark.django_db


def told(alert):
    return sorted({(n.recipient.username, n.channel) for n in Notification.objects.filter(alert=alert)})


def test_the_default_high_ladder_is_ward_clinician_at_once_senior_at_5_doctor_at_10():
    assert [(r.after_seconds, r.role) for r in DEFAULT_LADDER[Track.HIGH]] == [
        (0, DutyRole.WARD_CLINICIAN),
        (300, DutyRole.COMMAND_CENTRE_SENIOR),
        (600, DutyRole.ON_CALL_DOCTOR),
    ]


def test_a_high_alert_reaches_the_ward_clinician_at_once_on_every_channel_and_no_one_else(team):
    # given a HIGH alert on the ward, and nobody has acknowledged it
    start = timezone.now()
    alert = high_alert(team["ward"], at=start)
    # when the ladder runs at once
    assert ladder_advance(alert_id=alert.pk, now=start) == 1
    # then the ward clinician on duty is told by e-mail and SMS (push: no browser subscribed), recorded
    assert told(alert) == [("nurse", "email"), ("nurse", "push"), ("nurse", "sms")]
    push = Notification.objects.get(alert=alert, channel=Channel.PUSH)
    assert push.state == Notification.State.NOT_SENT and push.error
    event = alert.events.get(action=AlertEvent.Action.ESCALATED)
    assert event.data["recipient"] == "Nia Hughes (ward clinician)" and event.actor is None


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (299, {"nurse"}),
        (300, {"nurse", "senior"}),
        (599, {"nurse", "senior"}),
        (600, {"nurse", "senior", "doctor"}),
    ],
)
def test_each_rung_fires_when_its_time_has_come_and_not_a_second_before(team, seconds, expected):
    # given a HIGH alert raised at `start`
    start = timezone.now()
    alert = high_alert(team["ward"], at=start)
    # when the sweep runs at start, then `seconds` later
    sweep_ladders(now=start)
    sweep_ladders(now=start + dt.timedelta(seconds=seconds))
    # then exactly the rungs due have been told
    assert {username for username, _ in told(alert)} == expected


def test_each_rung_fires_once_however_often_the_sweep_runs(team):
    start = timezone.now()
    alert = high_alert(team["ward"], at=start)
    for _ in range(3):
        sweep_ladders(now=start + dt.timedelta(minutes=11))
    assert Notification.objects.filter(alert=alert, recipient=team["doctor"], channel=Channel.EMAIL).count() == 1
    assert alert.ladder_rungs.count() == 3


def test_acknowledging_stops_the_ladder(team):
    # given a HIGH alert told to the nurse at once
    start = timezone.now()
    alert = high_alert(team["ward"], at=start)
    ladder_advance(alert_id=alert.pk, now=start)
    # when the nurse acknowledges it after 3 minutes
    alert_acknowledge(alert=alert, user=team["nurse"])
    # then at 5 and 10 minutes nobody else is told
    assert ladder_advance(alert_id=alert.pk, now=start + dt.timedelta(minutes=11)) == 0
    assert {username for username, _ in told(alert)} == {"nurse"}


def test_a_rung_with_nobody_on_duty_says_so_in_the_record():
    # given a ward with nobody on the rota
    start = timezone.now()
    alert = high_alert(WardFactory(name="Frailty Virtual Ward"), at=start)
    # when the ladder runs
    ladder_advance(alert_id=alert.pk, now=start)
    # then nobody was told, and the alert's record says who was missing
    assert not Notification.objects.filter(alert=alert).exists()
    assert "Nobody is on duty as ward clinician" in alert.events.get(action="escalated").note


def test_a_shift_on_another_ward_does_not_count_but_a_command_centre_shift_covers_every_ward(team):
    # given a second ward whose only cover is the command centre
    other = WardFactory(name="Frailty Virtual Ward")
    on_shift(person("other", "Ola", "Other"), DutyRole.WARD_CLINICIAN, other)
    start = timezone.now()
    alert = high_alert(team["ward"], at=start)
    # when the ladder climbs to the senior / then the other ward's clinician is never told
    sweep_ladders(now=start + dt.timedelta(minutes=5))
    assert {username for username, _ in told(alert)} == {"nurse", "senior"}


def test_a_wards_own_steps_replace_the_defaults(team):
    # given the ward's own HIGH ladder: the doctor at once by SMS only
    EscalationStep.objects.create(
        ward=team["ward"], track=Track.HIGH, after_seconds=0, role=DutyRole.ON_CALL_DOCTOR, channels=["sms"]
    )
    start = timezone.now()
    alert = high_alert(team["ward"], at=start)
    # when the ladder runs, even 20 minutes on
    sweep_ladders(now=start + dt.timedelta(minutes=20))
    # then only the doctor, by SMS
    assert told(alert) == [("doctor", "sms")]


def test_technical_alerts_climb_their_own_quiet_ladder(team):
    # given a device offline alert (technical)
    device = DeviceFactory(patient=high_alert(team["ward"]).patient)
    news = AlertNews(
        kind=AlertKind.DEVICE_OFFLINE, severity=Severity.MEDIUM, title="Oximeter offline", device_id=device.pk
    )
    start = timezone.now()
    alert = raise_or_escalate(patient=device.patient, news=news, now=start)[0]
    assert track_of(alert) == Track.TECHNICAL
    # when the ladder runs at once / then the command-centre operator, by e-mail and push, never SMS
    ladder_advance(alert_id=alert.pk, now=start)
    assert told(alert) == [("operator", "email"), ("operator", "push")]


def test_an_alert_back_after_a_review_climbs_the_ladder_again(team):
    # given an alert whose at-once rung fired, then acknowledged, then back after review
    start = timezone.now()
    alert = high_alert(team["ward"], at=start)
    ladder_advance(alert_id=alert.pk, now=start)
    alert.state, alert.reopened_at = "open", start + dt.timedelta(hours=1)
    alert.save()
    # when the ladder runs at the reopening / then the ward clinician is told again
    ladder_advance(alert_id=alert.pk, now=start + dt.timedelta(hours=1))
    assert Notification.objects.filter(alert=alert, recipient=team["nurse"], channel=Channel.EMAIL).count() == 2


def test_messages_carry_no_name_or_nhs_number_and_offer_sign_in_and_acknowledge_links(team):
    start = timezone.now()
    alert = high_alert(team["ward"], at=start)
    ladder_advance(alert_id=alert.pk, now=start)
    for message in Notification.objects.filter(alert=alert):
        text = message.subject + message.body
        assert alert.patient.nhs_number not in text and "Breathless" not in text and "Alex" not in text
        assert "/triage/#alert-" in text and "/ack/" in text and "NEWS2 now 9" in text


def test_a_lesser_clinical_alert_beside_a_live_high_one_calls_nobody_extra(team):
    # given a HIGH risk alert and, for the same patient, a single-parameter (medium) alert
    start = timezone.now()
    high = high_alert(team["ward"], at=start)
    news = AlertNews(kind=AlertKind.SINGLE_PARAMETER, severity=Severity.MEDIUM, title="Pulse scored 3")
    single = raise_or_escalate(patient=high.patient, news=news, now=start)[0]
    # when both ladders run / then the nurse hears once, about the HIGH alert
    sweep_ladders(now=start)
    assert told(single) == [] and ("nurse", "email") in told(high)
