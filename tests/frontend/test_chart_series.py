"""The chart's periods (1 hour to the whole stay) and the bounded cost of its one read."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tests.factories import ObservationFactory
from tests.frontend.conftest import new_patient


def _pulse_every_10_minutes(patient, hours: int) -> None:
    now = timezone.now()
    for step in range(hours * 6):
        at = now - dt.timedelta(minutes=10 * step + 1)
        ObservationFactory(patient=patient, type="heart_rate", value=70 + step % 5, measured_at=at, received_at=at)


def test_the_one_hour_period_holds_only_the_last_hour(client, ward, clinician):
    patient = new_patient(ward)
    _pulse_every_10_minutes(patient, hours=3)
    client.force_login(clinician)

    data = client.get(f"/patients/{patient.pk}/series.json", {"period": "1h"}).json()

    assert len(data["series"]["heart_rate"]) == 6
    span = dt.datetime.fromisoformat(data["until"]) - dt.datetime.fromisoformat(data["since"])
    assert span == dt.timedelta(hours=1) and data["cut_from"] is None


def test_the_whole_stay_starts_at_admission(client, ward, clinician):
    patient = new_patient(ward, admitted_at=timezone.now() - dt.timedelta(days=40))
    old = timezone.now() - dt.timedelta(days=39)
    ObservationFactory(patient=patient, type="heart_rate", value=66, measured_at=old, received_at=old)
    client.force_login(clinician)

    data = client.get(f"/patients/{patient.pk}/series.json", {"period": "stay"}).json()

    assert dt.datetime.fromisoformat(data["since"]) == patient.admitted_at
    assert [p["v"] for p in data["series"]["heart_rate"]] == [66.0]


def test_an_unknown_period_is_a_clear_error(client, ward, clinician):
    patient = new_patient(ward)
    client.force_login(clinician)
    answer = client.get(f"/patients/{patient.pk}/series.json", {"period": "2h"})
    assert answer.status_code == 400 and "1h" in answer.json()["error"] and "stay" in answer.json()["error"]


def test_a_period_with_too_many_readings_keeps_the_newest_and_says_where_it_starts(
    client, ward, clinician, monkeypatch
):
    # given more readings in the period than the chart's read may return
    monkeypatch.setattr("frontend.selectors.SERIES_MAX_READINGS", 10)
    patient = new_patient(ward)
    _pulse_every_10_minutes(patient, hours=3)  # 18 readings
    client.force_login(clinician)

    data = client.get(f"/patients/{patient.pk}/series.json", {"period": "24h"}).json()

    # then the newest ten come back, in time order, and the answer says it starts later than asked
    times = [p["t"] for p in data["series"]["heart_rate"]]
    assert len(times) == 10 and times == sorted(times)
    assert data["cut_from"] is not None and data["since"] == times[0]
    newest = patient.observations.latest("measured_at").measured_at
    assert dt.datetime.fromisoformat(times[-1]) == newest
