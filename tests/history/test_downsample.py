"""A long chart is averaged per bucket in the database, with each bucket's minimum and maximum."""

from __future__ import annotations

import datetime as dt

import pytest

from history import downsample
from tests.factories import DeviceFactory, ObservationFactory, UserFactory

BASE = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def test_a_thirty_day_chart_keeps_the_brief_low_and_every_manual_and_acvpu_reading(postgresql, monkeypatch):
    monkeypatch.setattr(downsample, "RAW_POINTS_LIMIT", 50)
    patch = DeviceFactory()
    for n in range(120):  # every 6 hours for 30 days, one brief low among them
        ObservationFactory(patient=patch.patient, device=patch, type="spo2", value=96 if n != 57 else 81,
                           measured_at=BASE + dt.timedelta(hours=6 * n))  # fmt: skip
    ObservationFactory(patient=patch.patient, device=None, entered_by=UserFactory(), type="spo2", value=93,
                       measured_at=BASE + dt.timedelta(days=3, minutes=7))  # fmt: skip
    ObservationFactory(patient=patch.patient, device=patch, type="consciousness", value=None, code="C",
                       measured_at=BASE + dt.timedelta(days=4))  # fmt: skip

    series = downsample.observation_series(patient_id=patch.patient_id, since=BASE, until=BASE + dt.timedelta(days=30))

    averaged = [p for p in series["spo2"] if not p["manual"]]
    assert sum(p["n"] for p in averaged) == 120
    assert min(p["min"] for p in averaged) == 81  # the low is not averaged away
    assert [p["v"] for p in series["spo2"] if p["manual"]] == [93]
    assert series["consciousness"][0]["v"] == "C"
    assert [p["t"] for p in series["spo2"]] == sorted(p["t"] for p in series["spo2"])


@pytest.mark.django_db
def test_a_short_chart_is_every_reading_as_it_was():
    patch = DeviceFactory()
    for n in range(5):
        ObservationFactory(patient=patch.patient, device=patch, type="heart_rate", value=70 + n,
                           measured_at=BASE + dt.timedelta(minutes=n))  # fmt: skip
    series = downsample.observation_series(patient_id=patch.patient_id, since=BASE, until=BASE + dt.timedelta(hours=1))
    assert [p["v"] for p in series["heart_rate"]] == [70, 71, 72, 73, 74]
    assert "n" not in series["heart_rate"][0]
