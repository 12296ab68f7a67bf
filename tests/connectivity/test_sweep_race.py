"""Two sweepers racing on a real PostgreSQL: the conditional UPDATE lets exactly one win."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from alerts.models import Alert, AlertKind
from devices.connectivity import record_contact, sweep_connectivity
from devices.models import ConnectivityGap
from tests.scoring_services.builders import DeviceFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and concurrent writers need PostgreSQL"),
]


def _race(target, workers=2):
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def test_two_sweepers_racing_raise_exactly_one_offline_alert_per_device():
    # given ten continuous devices silent for ten minutes
    silent_since = timezone.now() - dt.timedelta(minutes=10)
    devices = DeviceFactory.create_batch(10, expected_interval_s=60)
    record_contact(contacts={d.pk: silent_since for d in devices}, readings={}, batteries={})
    # when two workers sweep at the same moment
    results = _race(sweep_connectivity)
    # then ten episodes began in all, each with one gap and one alert
    assert sum(results) == 10
    assert ConnectivityGap.objects.count() == 10
    assert Alert.objects.filter(kind=AlertKind.DEVICE_OFFLINE).count() == 10


def test_a_sweep_racing_a_contact_never_leaves_a_live_device_offline():
    # given a device just past its deadline
    device = DeviceFactory(expected_interval_s=60)
    record_contact(contacts={device.pk: timezone.now() - dt.timedelta(minutes=3)}, readings={}, batteries={})

    # when the sweep and a fresh contact race
    def contact():
        record_contact(contacts={device.pk: timezone.now()}, readings={}, batteries={})
        return 0

    workers = [sweep_connectivity, contact]
    _race(lambda: workers.pop()())
    # then whichever won, the device ends online and any offline alert is resolved
    device.refresh_from_db()
    assert device.connectivity == "online"
    assert not Alert.objects.filter(kind=AlertKind.DEVICE_OFFLINE, state__in=["open", "acknowledged"]).exists()
