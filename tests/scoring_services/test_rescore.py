import datetime as dt

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import Patient
from scoring.models import EarlyWarningScore
from scoring.services import (
    FreshnessSettingError,
    freshness_windows,
    newest_readings,
    rescore_patient,
    rescore_patients,
)
from tests.scoring_services.builders import PatientFactory, record, record_set

pytestmark = pytest.mark.django_db


def test_a_complete_set_is_kept_with_sub_scores_scale_and_the_observation_behind_each():
    # given a patient with a complete set, SpO2 92 scoring 2
    patient = PatientFactory()
    observations = record_set(patient, spo2=92)
    spo2_obs = next(o for o in observations if o.type == "spo2")
    # when the patient is rescored
    score = rescore_patient(patient.pk, now=timezone.now())
    # then the score is complete, with every sub-score traced to its observation
    assert score.complete and score.missing == [] and score.stale == []
    assert score.total == 2 and score.risk == "low" and score.spo2_scale == 1
    assert score.sub_scores["spo2"] == {
        "value": 92.0,
        "score": 2,
        "observation_id": spo2_obs.pk,
        "measured_at": spo2_obs.measured_at.isoformat(),
        "note": None,
    }
    assert score.sub_scores["consciousness"]["value"] == "A"
    assert score.sub_scores["on_oxygen"]["value"] is False
    patient.refresh_from_db()
    assert patient.current_score_id == score.pk


def test_a_score_missing_parameters_is_incomplete_and_never_scores_them_as_normal():
    # given only a pulse and an SpO2
    patient = PatientFactory()
    record(patient, heart_rate=72, spo2=97)
    # when scored
    score = rescore_patient(patient.pk, now=timezone.now())
    # then the five missing parameters are listed and carry no score at all
    assert not score.complete
    assert score.missing == ["respiratory_rate", "on_oxygen", "systolic_bp", "consciousness", "temperature"]
    assert all(score.sub_scores[name]["score"] is None for name in score.missing)
    assert all(score.sub_scores[name]["value"] is None for name in score.missing)


def test_a_reading_older_than_its_freshness_window_is_stale_not_used():
    # given a temperature five hours old (window 4 h) and fresh other readings
    patient = PatientFactory()
    now = timezone.now()
    record_set(patient, at=now - dt.timedelta(minutes=5), temperature=None)
    record(patient, at=now - dt.timedelta(hours=5), temperature=39.5)
    # when scored
    score = rescore_patient(patient.pk, now=now)
    # then temperature is stale and missing, not silently carried forward
    assert score.stale == ["temperature"]
    assert "temperature" in score.missing and not score.complete
    assert score.total == 0


@override_settings(VW_FRESHNESS_MINUTES="temperature=360, spo2=30")
def test_freshness_windows_are_configurable_per_parameter():
    # given a five-hour-old temperature and a 6 h window for temperature
    patient = PatientFactory()
    now = timezone.now()
    record_set(patient, at=now - dt.timedelta(minutes=5), temperature=None)
    record(patient, at=now - dt.timedelta(hours=5), temperature=39.5)
    # when scored
    score = rescore_patient(patient.pk, now=now)
    # then the temperature counts (39.5 scores 2)
    assert score.complete and score.sub_scores["temperature"]["score"] == 2
    assert freshness_windows() == {"temperature": dt.timedelta(hours=6), "spo2": dt.timedelta(minutes=30)}


@pytest.mark.parametrize("raw", ["pulse=30", "spo2=abc", "spo2=0", "spo2"])
def test_a_bad_freshness_setting_is_a_clear_error_naming_the_variable(raw):
    # given a malformed VW_FRESHNESS_MINUTES / when parsed / then the error names it
    with (
        override_settings(VW_FRESHNESS_MINUTES=raw),
        pytest.raises(FreshnessSettingError, match="VW_FRESHNESS_MINUTES"),
    ):
        freshness_windows()


def test_the_newest_reading_of_each_parameter_is_the_one_scored():
    # given an older low SpO2 and a newer normal one
    patient = PatientFactory()
    now = timezone.now()
    record_set(patient, at=now - dt.timedelta(minutes=20), spo2=85)
    newer = record(patient, at=now - dt.timedelta(minutes=2), spo2=98)[0]
    # when scored
    score = rescore_patient(patient.pk, now=now)
    # then the newer one is used
    assert score.sub_scores["spo2"]["observation_id"] == newer.pk and score.sub_scores["spo2"]["score"] == 0
    assert score.as_of == newer.measured_at


def test_rescoring_with_nothing_new_stores_no_new_score():
    # given a patient already scored
    patient = PatientFactory()
    record_set(patient)
    first = rescore_patient(patient.pk, now=timezone.now())
    # when rescored again with no new readings
    second = rescore_patient(patient.pk, now=timezone.now())
    # then nothing is stored and the current score stays
    assert second is None
    assert EarlyWarningScore.objects.filter(patient=patient).count() == 1
    assert Patient.objects.get(pk=patient.pk).current_score_id == first.pk


def test_a_parameter_going_stale_is_a_change_worth_a_new_score():
    # given a scored patient
    patient = PatientFactory()
    now = timezone.now()
    record_set(patient, at=now)
    rescore_patient(patient.pk, now=now)
    # when two hours pass (SpO2, pulse and respiration windows are 1 h)
    later = rescore_patient(patient.pk, now=now + dt.timedelta(hours=2))
    # then a new, incomplete score says which readings went stale
    assert later is not None and not later.complete
    assert later.stale == ["respiratory_rate", "spo2", "heart_rate"]


def test_a_scale_2_patient_is_scored_on_scale_2():
    # given a hypercapnic patient on Scale 2 with SpO2 89 on air
    patient = PatientFactory(spo2_scale=2)
    record_set(patient, spo2=89)
    # when scored / then SpO2 scores 0 on Scale 2
    score = rescore_patient(patient.pk, now=timezone.now())
    assert score.spo2_scale == 2 and score.sub_scores["spo2"]["score"] == 0


def test_discharged_patients_and_patients_without_readings_are_not_scored():
    # given a discharged patient with readings, and an admitted one with none
    gone = PatientFactory(discharged_at=timezone.now())
    record_set(gone)
    empty = PatientFactory()
    # when both are rescored / then no score exists
    assert rescore_patients([gone.pk, empty.pk]) == []
    assert not EarlyWarningScore.objects.exists()


def test_a_new_score_is_published_to_the_dashboard_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    # given a patient with readings and a recorder for live events
    sent = []
    monkeypatch.setattr("frontend.events._send", sent.append)
    patient = PatientFactory()
    record_set(patient, heart_rate=135)
    # when scored inside a transaction that commits
    with django_capture_on_commit_callbacks(execute=True):
        score = rescore_patient(patient.pk, now=timezone.now())
    # then score.updated went out with the score's shape
    updates = [m for m in sent if m["event"] == "score.updated"]
    assert len(updates) == 1
    assert updates[0]["patient_id"] == patient.pk and updates[0]["ward_id"] == patient.ward_id
    assert updates[0]["data"]["id"] == score.pk and updates[0]["data"]["total"] == 3


def test_of_two_readings_at_the_same_moment_the_later_stored_is_scored():
    # given two SpO2 readings stamped with the same moment, the second one stored last
    patient = PatientFactory()
    now = timezone.now()
    record_set(patient, at=now - dt.timedelta(minutes=2), spo2=85)
    second = record(patient, at=now - dt.timedelta(minutes=2), spo2=97)[0]
    # when scored, then the one stored last is the newest
    score = rescore_patient(patient.pk, now=now)
    assert score.sub_scores["spo2"]["observation_id"] == second.pk


def test_the_newest_readings_are_picked_one_per_parameter_not_ranked_over_the_history():
    # given a patient with a long history of readings
    patient = PatientFactory()
    now = timezone.now()
    for minutes in range(60, 0, -1):
        record_set(patient, at=now - dt.timedelta(minutes=minutes), heart_rate=60 + minutes % 30)
    # when the newest readings are looked up
    with CaptureQueriesContext(connection) as queries:
        newest = newest_readings([patient.pk])
    # then each parameter's newest is picked by a LIMIT 1 through the index rather than every
    # reading of the history numbered by a window function: one LATERAL query on PostgreSQL,
    # a correlated subquery per parameter and a read of the picks elsewhere
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "ROW_NUMBER" not in sql.upper()
    if connection.vendor == "postgresql":
        assert len(queries.captured_queries) == 1
        assert "LATERAL" in sql and sql.count("LIMIT 1") == 1
    else:
        assert len(queries.captured_queries) == 2
        assert sql.count("LIMIT 1") == 7
    # and each parameter's newest is the one from a minute ago
    assert {reading.measured_at for reading in newest[patient.pk].values()} == {now - dt.timedelta(minutes=1)}
    assert newest[patient.pk]["heart_rate"].value == 61.0


@override_settings(VW_SCORING_LOOKBACK_DAYS=30)
def test_a_reading_older_than_the_look_back_is_not_read_for_scoring():
    # given one patient whose last temperature is just inside the 30-day look-back and another
    # whose last is just outside it
    now = timezone.now()
    inside, outside = PatientFactory(), PatientFactory()
    record(inside, at=now - dt.timedelta(days=29), temperature=37.0)
    record(outside, at=now - dt.timedelta(days=31), temperature=37.0)
    # when the newest readings are looked up
    newest = newest_readings([inside.pk, outside.pk])
    # then the reading inside the look-back is found and the one outside it is not
    assert newest[inside.pk]["temperature"].measured_at == now - dt.timedelta(days=29)
    assert "temperature" not in newest.get(outside.pk, {})
