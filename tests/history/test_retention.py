"""Retention never removes a reading that fed a score or an alert; every run is audited or dry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from devices.models import DeviceMode, ReceivedMessage
from history.models import ObservationMinute
from history.retention import prune_receipts, summarise_window
from patients.models import Observation, VitalType
from scoring.models import EarlyWarningScore
from tests.factories import DeviceFactory, ObservationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(settings):
    settings.VW_RAW_CONTINUOUS_DAYS = 10
    start = (timezone.now() - dt.timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


@pytest.fixture
def history(day):
    start, _ = day
    patch = DeviceFactory(mode=DeviceMode.CONTINUOUS)
    kit = DeviceFactory(patient=patch.patient, mode=DeviceMode.SPOT_CHECK)
    raw = [
        ObservationFactory(patient=patch.patient, device=patch, type="heart_rate", value=60 + n,
                           measured_at=start + dt.timedelta(hours=1, seconds=10 * n))
        for n in range(12)
    ]  # fmt: skip
    used = raw[3]
    EarlyWarningScore.objects.create(
        patient=patch.patient, computed_at=used.measured_at, as_of=used.measured_at, total=1, risk="low",
        band="low", spo2_scale=1, complete=False, clinical_response="", monitoring_frequency="12 h",
        monitoring_interval_s=43200,
        sub_scores={"heart_rate": {"value": used.value, "score": 0, "observation_id": used.pk}},
    )  # fmt: skip
    others = {
        "fall": ObservationFactory(patient=patch.patient, device=patch, type=VitalType.FALL_DETECTED, value=1.0,
                                   measured_at=start + dt.timedelta(hours=2)),
        "spot": ObservationFactory(patient=patch.patient, device=kit, type="spo2", value=94,
                                   measured_at=start + dt.timedelta(hours=3)),
        "manual": ObservationFactory(patient=patch.patient, device=None, entered_by=UserFactory(), type="heart_rate",
                                     value=80, measured_at=start + dt.timedelta(hours=4)),
    }  # fmt: skip
    return raw, used, others


def test_summarising_keeps_every_reading_that_fed_a_score_and_every_spot_check_fall_and_manual_one(day, history):
    raw, used, others = history
    start, end = day

    result = summarise_window(start=start, end=end, dry_run=False)

    left = set(Observation.objects.in_window(start, end).values_list("pk", flat=True))
    assert used.pk in left
    assert {o.pk for o in others.values()} <= left
    assert not left & {o.pk for o in raw if o.pk != used.pk}
    assert (result.summarised, result.kept) == (11, 1)
    # the minutes account for every raw reading of the patch, the used one included
    minutes = ObservationMinute.objects.filter(device=raw[0].device, type="heart_rate")
    assert sum(m.count for m in minutes) == 12
    assert min(m.minimum for m in minutes) == 60 and max(m.maximum for m in minutes) == 71
    event = AuditEvent.objects.get(action="history.summarise")
    assert event.detail["summarised"] == 11 and event.detail["kept_used_by_scores"] == 1


def test_a_dry_run_counts_and_changes_nothing(day, history):
    start, end = day
    before = Observation.objects.count()

    result = summarise_window(start=start, end=end, dry_run=True)

    assert result.summarised == 11 and result.dry_run
    assert Observation.objects.count() == before
    assert not ObservationMinute.objects.exists()
    assert not AuditEvent.objects.filter(action="history.summarise").exists()


def test_raw_readings_inside_the_kept_period_or_with_summaries_off_are_refused(settings, day, history):
    start, end = day
    settings.VW_RAW_CONTINUOUS_DAYS = 0
    with pytest.raises(ValueError, match="kept for the life of the record"):
        summarise_window(start=start, end=end, dry_run=False)
    settings.VW_RAW_CONTINUOUS_DAYS = 60  # the window is only 40 days old
    with pytest.raises(ValueError, match="must end before"):
        summarise_window(start=start, end=end, dry_run=False)
    assert Observation.objects.count() == 15


def test_receipts_older_than_their_retention_go_and_the_deletion_is_audited(settings):
    settings.VW_RECEIPT_RETENTION_DAYS = 30
    now = timezone.now()
    device = DeviceFactory()
    for n, age in enumerate([31, 40, 29, 1]):
        ReceivedMessage.objects.create(device=device, msg_id=f"m-{n}", received_at=now - dt.timedelta(days=age))

    assert prune_receipts(now=now, dry_run=True) == 2
    assert ReceivedMessage.objects.count() == 4

    assert prune_receipts(now=now, dry_run=False) == 2
    assert sorted(ReceivedMessage.objects.values_list("msg_id", flat=True)) == ["m-2", "m-3"]
    assert AuditEvent.objects.get(action="history.prune_receipts").detail["deleted"] == 2


def test_the_daily_run_summarises_days_past_the_raw_period_once(settings, history, day):
    from history.retention import summarise_due

    settings.VW_RAW_CONTINUOUS_DAYS = 38  # the readings' day (40 days ago) is among the last 7 eligible

    first = summarise_due(now=timezone.now())
    again = summarise_due(now=timezone.now())

    assert [r.summarised for r in first] == [11] and again == []
    assert AuditEvent.objects.filter(action="history.summarise").count() == 1
