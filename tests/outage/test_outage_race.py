"""Two sweeps racing through a mass dropout on a real PostgreSQL: each episode once, one incident."""

import datetime as dt

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from alerts.models import Alert, AlertEvent, AlertKind, ConnectivityIncident, IncidentMember
from devices.connectivity import sweep_connectivity
from devices.models import ConnectivityGap
from tests.connectivity.test_sweep_race import _race
from tests.factories import WardFactory
from tests.outage.builders import heard, hub_fleet

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and concurrent writers need PostgreSQL"),
]


@override_settings(VW_DEVICE_GRACE_SECONDS=60)
def test_two_sweeps_racing_through_an_outage_record_each_dropout_once_and_open_one_incident(monkeypatch):
    # given forty hubs on one network silent together, and sweeps taking ten devices a batch
    monkeypatch.setattr("devices.sweep.SWEEP_BATCH", 10)
    ward = WardFactory()
    lost = hub_fleet(ward, 40, operator="23415")
    now = timezone.now()
    heard(lost, now - dt.timedelta(minutes=5))
    # when two workers sweep at the same moment
    results = _race(lambda: sweep_connectivity(now=now))
    # then forty episodes began in all, each with one gap, one alert and one raised event
    assert sum(results) == 40
    assert ConnectivityGap.objects.count() == 40
    assert Alert.objects.filter(kind=AlertKind.DEVICE_OFFLINE).count() == 40
    assert AlertEvent.objects.filter(action="raised").count() == 40
    # and all forty are folded under one incident
    assert ConnectivityIncident.objects.count() == 1
    assert IncidentMember.objects.count() == 40
