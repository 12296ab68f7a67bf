"""A chatty device is not rewritten on every batch, yet overdue_at stays within the slack of the truth."""

import datetime as dt

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert, AlertKind, AlertState
from devices import connectivity
from devices.connectivity import CONTACT_WRITE_SLACK, record_contact, sweep_connectivity
from devices.models import Connectivity, ConnectivityGap, Device
from tests.scoring_services.builders import DeviceFactory

pytestmark = pytest.mark.django_db

GRACE = 60


def _contact(devices, at, battery=None):
    batteries = {d.pk: (battery, at) for d in devices} if battery is not None else {}
    with CaptureQueriesContext(connection) as queries:
        record_contact(contacts={d.pk: at for d in devices}, readings={d.pk: at for d in devices}, batteries=batteries)
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_a_device_heard_again_within_the_slack_is_not_rewritten():
    # given fifty online devices heard a moment ago
    now = timezone.now()
    devices = DeviceFactory.create_batch(50, expected_interval_s=60)
    _contact(devices, now, battery=80)
    # when they are heard again half a second later with the same battery
    updates = _contact(devices, now + dt.timedelta(milliseconds=500), battery=80)
    # then nothing is written, and the stored clocks are the earlier ones
    assert updates == []
    assert Device.objects.filter(pk__in=[d.pk for d in devices], last_seen_at=now).count() == 50


@pytest.fixture
def locked(monkeypatch):
    """The device pks each call of record_contact took through its locking pass."""
    calls = []
    real = connectivity._record_contact_locked

    def spy(pks, *args):
        calls.append(list(pks))
        return real(pks, *args)

    monkeypatch.setattr(connectivity, "_record_contact_locked", spy)
    return calls


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_a_device_heard_again_within_the_slack_is_not_even_locked(locked):
    # given fifty online devices heard a moment ago
    now = timezone.now()
    devices = DeviceFactory.create_batch(50, expected_interval_s=60)
    _contact(devices, now, battery=80)
    assert sorted(locked[0]) == sorted(d.pk for d in devices)  # their first contact is news
    # when they are heard again half a second later with the same battery
    _contact(devices, now + dt.timedelta(milliseconds=500), battery=80)
    # then no row is locked: one plain read decided there was nothing to write
    assert len(locked) == 1


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_only_the_devices_with_news_are_locked(locked):
    # given three devices heard a moment ago, one of them since taken offline by the sweep
    now = timezone.now()
    quiet, low, offline = DeviceFactory.create_batch(3, expected_interval_s=60)
    _contact([quiet, low, offline], now, battery=80)
    Device.objects.filter(pk=offline.pk).update(connectivity=Connectivity.OFFLINE)
    locked.clear()
    # when all three are heard again within the slack, one now with a low battery
    at = now + dt.timedelta(milliseconds=500)
    record_contact(
        contacts={d.pk: at for d in (quiet, low, offline)},
        readings={},
        batteries={quiet.pk: (80, at), low.pk: (10, at), offline.pk: (80, at)},
    )
    # then the returning device and the low battery are locked and handled; the quiet one is not
    assert locked == [sorted([low.pk, offline.pk])]
    offline.refresh_from_db()
    low.refresh_from_db()
    assert offline.connectivity == Connectivity.ONLINE
    assert low.battery == 10


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_a_device_heard_after_the_slack_is_written_with_its_new_deadline():
    # given a device heard at t0
    t0 = timezone.now()
    device = DeviceFactory(expected_interval_s=60)
    _contact([device], t0)
    # when it is heard again once the slack has passed
    later = t0 + CONTACT_WRITE_SLACK
    updates = _contact([device], later)
    # then the row moves forward, deadline included
    device.refresh_from_db()
    assert len(updates) == 1
    assert device.last_seen_at == later
    assert device.overdue_at == later + dt.timedelta(seconds=60 + GRACE)


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_a_battery_change_is_written_at_once_even_within_the_slack():
    # given a device heard with 80 % a moment ago
    now = timezone.now()
    device = DeviceFactory(expected_interval_s=60)
    _contact([device], now, battery=80)
    # when the next message, 100 ms later, reports 79 %
    _contact([device], now + dt.timedelta(milliseconds=100), battery=79)
    # then the new charge is stored with its time
    device.refresh_from_db()
    assert (device.battery, device.battery_at) == (79, now + dt.timedelta(milliseconds=100))


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_a_device_that_keeps_reporting_is_never_swept_though_its_row_lags():
    # given a device reporting every 60 s, whose messages each come in a quick pair
    start = timezone.now() - dt.timedelta(minutes=10)
    device = DeviceFactory(expected_interval_s=60)
    for minute in range(10):
        at = start + dt.timedelta(minutes=minute)
        _contact([device], at)
        _contact([device], at + CONTACT_WRITE_SLACK / 2)
    last = start + dt.timedelta(minutes=9) + CONTACT_WRITE_SLACK / 2
    # when the sweep runs just before the true deadline of its last message
    started = sweep_connectivity(now=last + dt.timedelta(seconds=60 + GRACE) - CONTACT_WRITE_SLACK)
    # then the device is still online: the stored deadline trails the truth by less than the slack
    device.refresh_from_db()
    assert started == 0 and device.connectivity == Connectivity.ONLINE
    assert dt.timedelta(0) <= last + dt.timedelta(seconds=60 + GRACE) - device.overdue_at < CONTACT_WRITE_SLACK


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_a_device_back_from_offline_is_written_at_once():
    # given a device the sweep took offline
    device = DeviceFactory(expected_interval_s=60)
    silent_since = timezone.now() - dt.timedelta(minutes=10)
    _contact([device], silent_since)
    assert sweep_connectivity() == 1
    # when it is heard from again
    back = timezone.now()
    _contact([device], back)
    # then it is online with its new clocks stored
    device.refresh_from_db()
    assert (device.connectivity, device.last_seen_at, device.offline_since) == (Connectivity.ONLINE, back, None)


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_a_device_whose_clocks_alone_moved_is_written_without_a_lock(locked):
    # given ten online devices heard at t0
    t0 = timezone.now()
    devices = DeviceFactory.create_batch(10, expected_interval_s=60)
    _contact(devices, t0, battery=80)
    locked.clear()
    # when they are heard again once the slack has passed, nothing else changed
    later = t0 + CONTACT_WRITE_SLACK
    updates = _contact(devices, later, battery=80)
    # then they are written (in one statement on PostgreSQL), and none was locked
    assert locked == []
    assert len(updates) == (1 if connection.vendor == "postgresql" else 10)
    stored = Device.objects.filter(pk__in=[d.pk for d in devices])
    assert set(stored.values_list("last_seen_at", "overdue_at")) == {(later, later + dt.timedelta(seconds=60 + GRACE))}


@override_settings(VW_DEVICE_GRACE_SECONDS=GRACE)
def test_a_row_changed_between_the_read_and_the_clock_write_is_judged_again_under_the_lock(locked, monkeypatch):
    # given a device last heard 10 minutes ago, still marked online: the sweep has not run yet
    device = DeviceFactory(expected_interval_s=60)
    _contact([device], timezone.now() - dt.timedelta(minutes=10))
    Device.objects.filter(pk=device.pk).update(connectivity=Connectivity.ONLINE)
    locked.clear()
    # and the sweep takes it offline just after ingest has read its row
    real_read = connectivity._contact_views

    def read_then_sweep(pks):
        rows = real_read(pks)
        assert sweep_connectivity() == 1
        return rows

    monkeypatch.setattr(connectivity, "_contact_views", read_then_sweep)
    # when the contact is recorded
    back = timezone.now()
    record_contact(contacts={device.pk: back}, readings={}, batteries={})
    # then the clock-only write stood aside and the locking pass ended the episode it found
    assert locked == [[device.pk]]
    device.refresh_from_db()
    assert (device.connectivity, device.last_seen_at, device.offline_since) == (Connectivity.ONLINE, back, None)
    assert ConnectivityGap.objects.get(device=device).ended_at == back
    assert Alert.objects.get(device=device, kind=AlertKind.DEVICE_OFFLINE).state == AlertState.RESOLVED
