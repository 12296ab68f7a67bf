import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from alerts.models import Alert, AlertKind, AlertState, Outcome, Severity
from devices.connectivity import record_contact, record_status
from devices.models import Device
from tests.scoring_services.builders import DeviceFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_threshold")]


@pytest.fixture
def _threshold():
    with override_settings(VW_LOW_BATTERY_PERCENT=20):
        yield


def _battery(device, percent, at=None):
    at = at or timezone.now()
    record_contact(contacts={device.pk: at}, readings={}, batteries={device.pk: (percent, at)})


def _low_battery_alerts(device):
    return Alert.objects.filter(device=device, kind=AlertKind.LOW_BATTERY)


@pytest.mark.parametrize(("percent", "alerts"), [(19, 1), (20, 0), (0, 1), (90, 0)])
def test_a_battery_below_the_threshold_raises_one_technical_alert(percent, alerts):
    # given a device / when it reports its battery / then below 20 % raises a low-battery alert
    device = DeviceFactory()
    _battery(device, percent)
    assert _low_battery_alerts(device).count() == alerts
    if alerts:
        alert = _low_battery_alerts(device).get()
        assert (alert.severity, alert.category) == (Severity.LOW, "technical")


def test_a_battery_that_keeps_falling_does_not_raise_more_alerts():
    # given a low-battery alert / when the battery keeps falling / then still one alert
    device = DeviceFactory()
    for percent in (18, 15, 10, 4):
        _battery(device, percent)
    assert _low_battery_alerts(device).count() == 1


def test_a_recharged_battery_resolves_the_alert_itself():
    # given a low-battery alert
    device = DeviceFactory()
    _battery(device, 12)
    # when the device reports 95 %
    _battery(device, 95)
    # then the alert was resolved automatically, saying why
    alert = _low_battery_alerts(device).get()
    assert (alert.state, alert.outcome) == (AlertState.RESOLVED, Outcome.AUTO_RESOLVED)
    assert alert.events.get(action="auto_resolved").note == "Battery recovered to 95 %."


def test_a_battery_hovering_at_the_threshold_does_not_flap():
    # given a low-battery alert at 19 %
    device = DeviceFactory()
    _battery(device, 19)
    # when the reading jitters around the threshold
    for percent in (21, 19, 22, 18, 21):
        _battery(device, percent)
    # then the one alert stays live: it clears only a few points above the threshold
    assert _low_battery_alerts(device).get().state == AlertState.OPEN


def test_an_older_battery_report_does_not_overwrite_a_newer_one():
    # given a device whose newest battery report is 80 %
    device = DeviceFactory()
    now = timezone.now()
    _battery(device, 80, at=now)
    # when a store-and-forward message from earlier says 10 %
    _battery(device, 10, at=now - dt.timedelta(hours=2))
    # then the battery stays at 80 % and no alert is raised
    assert Device.objects.get(pk=device.pk).battery == 80
    assert not _low_battery_alerts(device).exists()


def test_the_battery_in_a_status_message_counts_too():
    # given a device / when it connects announcing 5 % / then a low-battery alert is raised
    device = DeviceFactory()
    record_status(device_pk=device.pk, state="online", battery=5, at=timezone.now())
    assert _low_battery_alerts(device).count() == 1
