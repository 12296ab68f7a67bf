import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from alerts.models import Alert, AlertKind, AlertState, Outcome
from devices.connectivity import record_contact, record_status, sweep_connectivity
from devices.models import Connectivity, ConnectivityGap, Device, DeviceMode
from tests.scoring_services.builders import DeviceFactory, PatientFactory

pytestmark = pytest.mark.django_db

GRACE = 60


def _heard(device, at):
    record_contact(contacts={device.pk: at}, readings={device.pk: at}, batteries={})
    device.refresh_from_db()
    return device


def _offline_alerts(device):
    return Alert.objects.filter(device=device, kind=AlertKind.DEVICE_OFFLINE)


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_a_silent_continuous_device_raises_one_offline_alert_however_often_the_sweep_runs():
    # given a continuous device reporting every 60 s, last heard at t0
    t0 = timezone.now() - dt.timedelta(minutes=10)
    device = _heard(DeviceFactory(mode=DeviceMode.CONTINUOUS, expected_interval_s=60), t0)
    assert device.overdue_at == t0 + dt.timedelta(seconds=60 + GRACE)
    # when the sweep runs just before the deadline, then twice after it
    assert sweep_connectivity(now=device.overdue_at - dt.timedelta(seconds=1)) == 0
    first = sweep_connectivity(now=device.overdue_at + dt.timedelta(seconds=1))
    second = sweep_connectivity(now=device.overdue_at + dt.timedelta(seconds=6))
    # then exactly one episode began: one gap from the last contact, one alert
    assert (first, second) == (1, 0)
    device.refresh_from_db()
    assert device.connectivity == Connectivity.OFFLINE
    gap = ConnectivityGap.objects.get(device=device)
    assert (gap.cause, gap.started_at, gap.ended_at) == ("timeout", t0, None)
    alert = _offline_alerts(device).get()
    assert alert.category == "technical" and alert.patient_id == device.patient_id
    assert alert.title.startswith("Not heard from")


def test_detection_needs_no_other_data_only_the_clock():
    # given two devices, one of which keeps reporting
    now = timezone.now()
    quiet = _heard(DeviceFactory(expected_interval_s=60), now - dt.timedelta(minutes=10))
    chatty = _heard(DeviceFactory(expected_interval_s=60), now)
    # when the sweep runs / then only the quiet one is offline
    assert sweep_connectivity(now=now) == 1
    assert Device.objects.get(pk=quiet.pk).connectivity == Connectivity.OFFLINE
    assert Device.objects.get(pk=chatty.pk).connectivity == Connectivity.ONLINE


def test_coming_back_resolves_the_offline_alert_and_records_the_gap():
    # given a device taken offline by the sweep
    t0 = timezone.now() - dt.timedelta(minutes=30)
    device = _heard(DeviceFactory(expected_interval_s=60), t0)
    sweep_connectivity()
    # when it is heard from again
    back = timezone.now()
    device = _heard(device, back)
    # then it is online, the gap is closed with its length, the alert resolved itself
    assert device.connectivity == Connectivity.ONLINE and device.offline_since is None
    gap = ConnectivityGap.objects.get(device=device)
    assert (gap.started_at, gap.ended_at) == (t0, back)
    alert = _offline_alerts(device).get()
    assert (alert.state, alert.outcome) == (AlertState.RESOLVED, Outcome.AUTO_RESOLVED)
    event = alert.events.get(action="auto_resolved")
    assert event.data["gap_seconds"] == int((back - t0).total_seconds())
    assert "after a gap of 30 min" in event.note


def test_a_second_silence_is_a_second_episode_with_its_own_alert():
    # given a device that went offline and came back
    device = _heard(DeviceFactory(expected_interval_s=60), timezone.now() - dt.timedelta(minutes=30))
    sweep_connectivity()
    device = _heard(device, timezone.now())
    # when it goes silent again
    sweep_connectivity(now=timezone.now() + dt.timedelta(minutes=3))
    # then a second gap and a second alert exist, one of each live
    assert ConnectivityGap.objects.filter(device=device).count() == 2
    assert _offline_alerts(device).count() == 2
    assert _offline_alerts(device).filter(state="open").count() == 1


def test_the_last_will_takes_a_continuous_device_offline_at_once_with_one_alert():
    # given a continuous device heard a moment ago
    now = timezone.now()
    device = _heard(DeviceFactory(mode=DeviceMode.CONTINUOUS), now - dt.timedelta(seconds=5))
    # when its Last Will arrives (twice: retained messages are redelivered)
    record_status(device_pk=device.pk, state="offline", battery=None, at=now)
    record_status(device_pk=device.pk, state="offline", battery=None, at=now)
    sweep_connectivity(now=now + dt.timedelta(hours=1))
    # then one episode, started now, caused by the Last Will
    device.refresh_from_db()
    assert device.connectivity == Connectivity.OFFLINE
    gap = ConnectivityGap.objects.get(device=device)
    assert (gap.cause, gap.started_at) == ("last_will", now)
    assert _offline_alerts(device).count() == 1


def test_a_last_will_older_than_the_latest_contact_is_ignored():
    # given a device that reconnected after its retained Last Will was published
    now = timezone.now()
    device = _heard(DeviceFactory(), now)
    # when that old Last Will is delivered / then nothing changes
    record_status(device_pk=device.pk, state="offline", battery=None, at=now - dt.timedelta(seconds=30))
    assert Device.objects.get(pk=device.pk).connectivity == Connectivity.ONLINE
    assert not Alert.objects.exists()


def test_status_online_after_a_last_will_brings_the_device_back():
    # given a device offline by its Last Will
    now = timezone.now()
    device = _heard(DeviceFactory(), now - dt.timedelta(minutes=2))
    record_status(device_pk=device.pk, state="offline", battery=None, at=now - dt.timedelta(minutes=1))
    # when it reconnects
    record_status(device_pk=device.pk, state="online", battery=80, at=now)
    # then it is online and the alert resolved itself
    device.refresh_from_db()
    assert device.connectivity == Connectivity.ONLINE and device.battery == 80
    assert _offline_alerts(device).get().state == AlertState.RESOLVED


def test_an_unknown_status_state_is_a_clear_error():
    device = DeviceFactory()
    with pytest.raises(ValueError, match="'online' or 'offline'"):
        record_status(device_pk=device.pk, state="asleep", battery=None, at=timezone.now())


def test_a_spot_check_device_is_not_offline_because_it_disconnects():
    # given a spot-check device due every 4 hours that has just sent a reading
    now = timezone.now()
    device = _heard(DeviceFactory(mode=DeviceMode.SPOT_CHECK, expected_interval_s=4 * 3600), now)
    # when it disconnects (Last Will) and the sweep runs an hour later
    record_status(device_pk=device.pk, state="offline", battery=None, at=now + dt.timedelta(seconds=30))
    sweep_connectivity(now=now + dt.timedelta(hours=1))
    # then it is not offline: it is within its schedule
    assert Device.objects.get(pk=device.pk).connectivity == Connectivity.ONLINE
    assert not Alert.objects.exists()


def test_a_spot_check_device_is_judged_by_its_reading_schedule_not_its_connection():
    # given a spot-check device that stays connected but sent its last reading 5 hours ago
    now = timezone.now()
    device = DeviceFactory(mode=DeviceMode.SPOT_CHECK, expected_interval_s=4 * 3600)
    record_contact(
        contacts={device.pk: now - dt.timedelta(hours=5)},
        readings={device.pk: now - dt.timedelta(hours=5)},
        batteries={},
    )
    record_contact(contacts={device.pk: now}, readings={}, batteries={})
    # when the sweep runs
    started = sweep_connectivity(now=now)
    # then it has missed its schedule: one alert saying no reading since then
    assert started == 1
    alert = _offline_alerts(device).get()
    assert "No reading since" in alert.detail


def test_a_device_never_heard_from_is_unknown_not_offline():
    # given a newly paired device / when the sweep runs / then it is still "not yet heard from"
    device = DeviceFactory()
    assert sweep_connectivity() == 0
    assert Device.objects.get(pk=device.pk).connectivity == Connectivity.UNKNOWN


def test_devices_of_discharged_patients_or_revoked_devices_are_not_swept():
    # given silent devices of a discharged patient and a revoked device
    old = timezone.now() - dt.timedelta(hours=1)
    discharged = _heard(DeviceFactory(), old)
    discharged.patient.discharged_at = timezone.now()
    discharged.patient.save()
    revoked = _heard(DeviceFactory(revoked_at=timezone.now()), old)
    # when swept / then neither raises an alert
    assert sweep_connectivity() == 0
    assert not Alert.objects.filter(device__in=[discharged, revoked]).exists()


def test_record_contact_for_a_batch_of_devices_is_a_handful_of_queries(django_assert_max_num_queries):
    # given 200 devices already online (on few patients: the factory's NHS numbers are finite)
    now = timezone.now()
    devices = [d for patient in PatientFactory.create_batch(4) for d in DeviceFactory.create_batch(50, patient=patient)]
    record_contact(contacts={d.pk: now for d in devices}, readings={}, batteries={})
    # when a batch touches all of them with contacts, readings and healthy batteries
    later = now + dt.timedelta(seconds=30)
    with django_assert_max_num_queries(8):
        record_contact(
            contacts={d.pk: later for d in devices},
            readings={d.pk: later for d in devices},
            batteries={d.pk: (90, later) for d in devices},
        )
    # then every device moved forward
    assert Device.objects.filter(last_seen_at=later, battery=90).count() == 200
