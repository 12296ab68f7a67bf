"""Not-spots: kit that keeps dropping is flagged with a remedy and a kit-team task; areas counted."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Role
from devices.models import ConnectivityGap, KitTask, NetworkReport
from devices.notspots import StayConnectivity, flag_dropping_kit, keeps_dropping, stay_connectivity, suggested_remedy
from tests.factories import DeviceFactory, UserFactory

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def stay(hours: float = 24, gaps: list[float] | None = None, last_day: int = 0, rssi=None, kind="cellular"):
    return StayConnectivity(
        device_id=1, since=NOW - dt.timedelta(hours=hours), until=NOW, gap_seconds=gaps or [],
        gaps_last_day=last_day, rssi_dbm=rssi or [], network_type=kind,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("case", "flagged"),
    [
        (stay(last_day=2, gaps=[60, 60]), False),
        (stay(last_day=3, gaps=[60, 60, 60]), True),  # three drops in a day
        (stay(hours=24, gaps=[0.1 * 24 * 3600]), False),  # connected exactly 90 %
        (stay(hours=24, gaps=[0.1 * 24 * 3600 + 60]), True),  # just under 90 %
        (stay(hours=5.9, gaps=[3 * 3600]), False),  # too short a stay to judge a share
        (stay(hours=6, gaps=[3 * 3600]), True),
    ],
)
def test_kit_is_flagged_when_it_drops_three_times_a_day_or_is_connected_under_ninety_percent(case, flagged):
    assert (keeps_dropping(case) is not None) == flagged


@pytest.mark.parametrize(
    ("case", "remedy_starts"),
    [
        (stay(rssi=[-105], kind="cellular"), "Weak mobile signal (median -105 dBm): a SIM on another operator"),
        (stay(rssi=[-104], kind="cellular"), "A spot-check routine with store-and-forward"),
        (stay(rssi=[-75], kind="wifi"), "Weak Wi-Fi (median -75 dBm): a Wi-Fi extender"),
        (stay(rssi=[-74], kind="wifi"), "Home Wi-Fi drops out: a cellular hub"),
        (stay(kind=""), "A spot-check routine with store-and-forward"),
    ],
)
def test_the_remedy_follows_the_link_and_its_signal(case, remedy_starts):
    assert suggested_remedy(case).startswith(remedy_starts)


def _gaps(device, starts_minutes_ago, length=dt.timedelta(minutes=10)):
    now = timezone.now()
    for minutes in starts_minutes_ago:
        start = now - dt.timedelta(minutes=minutes)
        ConnectivityGap.objects.create(
            device=device, patient=device.patient, cause="timeout", started_at=start, ended_at=start + length
        )


@pytest.mark.django_db
def test_a_patient_whose_kit_keeps_dropping_gets_one_kit_team_task_with_a_remedy():
    # given a cellular hub with a weak signal that dropped three times today, and a steady one
    day_ago = timezone.now() - dt.timedelta(days=1)
    dropping = DeviceFactory(network_type="cellular", network_operator="23415", paired_at=day_ago)
    NetworkReport.objects.create(device=dropping, at=timezone.now(), type="cellular", rssi_dbm=-109)
    _gaps(dropping, [300, 200, 100])
    steady = DeviceFactory(paired_at=day_ago)
    _gaps(steady, [100])
    # when the hourly check runs twice
    first = flag_dropping_kit()
    second = flag_dropping_kit()
    # then one task, for the dropping kit only, with the remedy for a weak mobile signal
    assert [task.device_id for task in first] == [dropping.pk] and second == []
    task = KitTask.objects.get()
    assert "went silent 3 times in the last 24 h" in task.reason
    assert task.remedy.startswith("Weak mobile signal (median -109 dBm)")


@pytest.mark.django_db
def test_connectivity_over_the_stay_counts_gaps_and_the_share_connected():
    device = DeviceFactory(paired_at=timezone.now() - dt.timedelta(hours=10))
    device.patient.admitted_at = timezone.now() - dt.timedelta(hours=10)
    device.patient.save()
    _gaps(device, [120, 60], length=dt.timedelta(minutes=30))
    summary = stay_connectivity(device).as_dict()
    assert summary["gaps"] == 2 and summary["longest_gap_s"] == 1800.0
    assert summary["connected_share"] == pytest.approx(0.9, abs=0.001)


@pytest.mark.django_db
def test_the_area_view_counts_dropouts_by_operator_for_the_command_centre_only(client):
    # given dropouts on two networks
    for operator, count in (("23415", 3), ("23420", 1)):
        for _ in range(count):
            _gaps(DeviceFactory(network_type="cellular", network_operator=operator, network_cell="c1"), [30])
    # when the command centre and a clinician ask for the area view
    client.force_login(UserFactory(username="cc", role=Role.OPERATOR))
    body = client.get("/api/v1/connectivity/areas/?days=7").json()
    client.force_login(UserFactory(username="nurse", role=Role.CLINICIAN))
    refused = client.get("/api/v1/connectivity/areas/")
    # then the operator sees where dropouts cluster, the busiest network first; the clinician may not
    assert [(row["operator"], row["dropouts"]) for row in body["by_operator"]] == [("23415", 3), ("23420", 1)]
    assert [(row["operator"], row["dropouts"]) for row in body["by_cell"]] == [("23415", 3), ("23420", 1)]
    assert refused.status_code == 403


@pytest.mark.django_db
def test_a_devices_connectivity_is_served_by_the_api(client):
    device = DeviceFactory(paired_at=timezone.now() - dt.timedelta(days=1))
    _gaps(device, [300, 200, 100])
    client.force_login(UserFactory(username="cc", role=Role.OPERATOR))
    body = client.get(f"/api/v1/devices/{device.pk}/connectivity/").json()
    assert body["gaps_last_day"] == 3 and body["keeps_dropping"].startswith("went silent 3 times")
    assert body["suggested_remedy"]
