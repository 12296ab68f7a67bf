"""The persistence rule for continuous wearables (alerts.persistence; hazard H-12), every boundary."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.hold_models import PersistenceHold
from alerts.models import Alert, AlertKind
from alerts.persistence import MAX_PERSISTENCE_SECONDS, RedReading, may_hold, persisted, refuted
from alerts.services import sweep_persistence_holds
from devices.models import DeviceMode
from scoring.services import rescore_patient
from tests.factories import DeviceFactory, ObservationFactory, UserFactory
from tests.scoring_services.builders import PatientFactory, record, record_set

T0 = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
N = 30
RED_SPO2 = 91  # scale 1: 91 % or less scores 3; everything else normal, total 3, low–medium


# --- the rule itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "continuous", "risk", "persist_s", "held"),
    [
        ("spo2", True, "low-medium", N, True),
        ("spo2", True, "medium", N, True),  # the lone parameter's own alert; the total's alert is never held
        ("heart_rate", True, "low", N, True),
        ("spo2", True, "high", N, False),  # a HIGH total: never held
        ("consciousness", True, "low-medium", N, False),  # new confusion is never an artefact
        ("spo2", False, "low-medium", N, False),  # a spot check: never held
        ("spo2", True, "low-medium", 0, False),  # the rule switched off
        ("spo2", True, "low-medium", 1, True),
    ],
)
def test_which_red_readings_may_wait(parameter, continuous, risk, persist_s, held):
    reading = RedReading(parameter, T0, continuous)
    assert may_hold(reading, risk=risk, persist_s=persist_s) is held


@pytest.mark.parametrize(
    ("after", "due"),
    [
        (dt.timedelta(0), False),
        (dt.timedelta(seconds=N) - dt.timedelta(microseconds=1), False),
        (dt.timedelta(seconds=N), True),
        (dt.timedelta(seconds=N + 1), True),
    ],
)
def test_a_hold_is_due_exactly_n_seconds_after_the_red_reading(after, due):
    assert persisted(since=T0, now=T0 + after, persist_s=N) is due


@pytest.mark.parametrize(
    ("sub", "contradicts"),
    [
        ({"score": 3}, False),
        ({"score": 2}, True),
        ({"score": 0}, True),
        ({"score": None}, False),  # missing: never taken as normal
        (None, False),
    ],
)
def test_only_a_newer_reading_scoring_below_3_contradicts_a_held_value(sub, contradicts):
    assert refuted(sub) is contradicts


@pytest.mark.parametrize(("value", "ok"), [("0", True), ("120", True), ("121", False), ("-1", False)])
def test_the_settings_refuse_a_persistence_longer_than_the_documented_bound(value, ok):
    env = {**os.environ, "VW_PERSISTENCE_SECONDS": value, "DJANGO_SETTINGS_MODULE": "virtualward.settings"}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, cwd=root, capture_output=True, timeout=60
    )
    assert (done.returncode == 0) is ok, done.stderr.decode()[-500:]
    if not ok:
        assert b"VW_PERSISTENCE_SECONDS" in done.stderr
    assert MAX_PERSISTENCE_SECONDS == 120


# --- scoring and the sweep ------------------------------------------------------------------


@pytest.fixture
def persistence(settings):
    settings.VW_PERSISTENCE_SECONDS = N
    return N


def _score(patient, *, at, now, device=None, **values):
    record_set(patient, at=at, device=device, **values)
    return rescore_patient(patient.pk, now=now)


def _alerts(patient):
    return set(Alert.objects.filter(patient=patient).values_list("kind", flat=True))


def _wearer():
    patient = PatientFactory()
    return patient, DeviceFactory(patient=patient, mode=DeviceMode.CONTINUOUS)


@pytest.mark.django_db
def test_a_single_red_sample_from_a_wearable_pages_nobody_yet_but_still_counts_in_the_score(persistence):
    patient, wearable = _wearer()
    score = _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2)
    # the value is in the score as it is (3, low–medium) ...
    assert (score.sub_scores["spo2"]["score"], score.risk) == (3, "low-medium")
    # ... but neither the single-parameter alert nor the lone 3's band alert is raised yet
    assert _alerts(patient) == set()
    hold = PersistenceHold.objects.get(patient=patient)
    assert (hold.parameter, hold.value, hold.since, hold.ended_at) == ("spo2", RED_SPO2, T0, None)


@pytest.mark.django_db
def test_a_red_sample_contradicted_within_the_window_never_alerts_and_its_end_is_kept(persistence):
    patient, wearable = _wearer()
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2)
    # a normal reading, the last moment inside the window
    _score(patient, at=T0 + dt.timedelta(seconds=N - 1), now=T0 + dt.timedelta(seconds=N - 1), device=wearable)
    assert sweep_persistence_holds(now=T0 + dt.timedelta(seconds=N + 60)) == 0
    assert _alerts(patient) == set()
    assert PersistenceHold.objects.get(patient=patient).outcome == PersistenceHold.Outcome.REFUTED


@pytest.mark.parametrize(("seconds", "alerted"), [(N - 1, False), (N, True)])
@pytest.mark.django_db
def test_a_red_value_still_red_n_seconds_on_raises_both_alerts_and_not_a_moment_before(persistence, seconds, alerted):
    patient, wearable = _wearer()
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2)
    at = T0 + dt.timedelta(seconds=seconds)
    _score(patient, at=at, now=at, device=wearable, spo2=RED_SPO2 - 1)
    expected = {AlertKind.SINGLE_PARAMETER, AlertKind.NEWS2_RISK} if alerted else set()
    assert _alerts(patient) == expected


@pytest.mark.parametrize(("seconds", "alerted"), [(N - 0.001, False), (N, True)])
@pytest.mark.django_db
def test_with_no_newer_reading_the_sweep_raises_the_alert_at_n_seconds(persistence, seconds, alerted):
    patient, wearable = _wearer()
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2)
    raised = sweep_persistence_holds(now=T0 + dt.timedelta(seconds=seconds))
    assert raised == (1 if alerted else 0)
    assert _alerts(patient) == ({AlertKind.SINGLE_PARAMETER, AlertKind.NEWS2_RISK} if alerted else set())
    if alerted:
        alert = Alert.objects.get(patient=patient, kind=AlertKind.SINGLE_PARAMETER)
        assert "Held 30 s by the persistence rule" in alert.detail
        hold = PersistenceHold.objects.get(patient=patient)
        assert (hold.outcome, hold.alert_id) == (PersistenceHold.Outcome.RAISED, alert.pk)
        # the hold is ended: a second sweep raises nothing more
        assert sweep_persistence_holds(now=T0 + dt.timedelta(seconds=N + 10)) == 0


@pytest.mark.django_db
def test_a_spot_check_red_value_alerts_at_once(persistence):
    patient = PatientFactory()
    spot = DeviceFactory(patient=patient, mode=DeviceMode.SPOT_CHECK)
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=spot, spo2=RED_SPO2)
    assert _alerts(patient) == {AlertKind.SINGLE_PARAMETER, AlertKind.NEWS2_RISK}
    assert not PersistenceHold.objects.exists()


@pytest.mark.django_db
def test_a_value_a_person_entered_alerts_at_once(persistence):
    patient, wearable = _wearer()
    record_set(patient, at=T0, device=wearable)
    nurse = UserFactory()
    ObservationFactory(patient=patient, device=None, entered_by=nurse, type="spo2", value=RED_SPO2, unit="%",
                       measured_at=T0 + dt.timedelta(seconds=1), msg_id="", msg_index=None)  # fmt: skip
    rescore_patient(patient.pk, now=T0 + dt.timedelta(seconds=2))
    assert AlertKind.SINGLE_PARAMETER in _alerts(patient)


@pytest.mark.django_db
def test_new_confusion_from_a_wearable_alerts_at_once(persistence):
    patient, wearable = _wearer()
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, consciousness="C")
    assert _alerts(patient) == {AlertKind.SINGLE_PARAMETER, AlertKind.NEWS2_RISK}


@pytest.mark.django_db
def test_a_high_total_is_never_held(persistence):
    patient, wearable = _wearer()
    # SpO2 3 + pulse 2 + respiration 2 = 7: HIGH
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2, heart_rate=115,
           respiratory_rate=22)  # fmt: skip
    assert _alerts(patient) == {AlertKind.SINGLE_PARAMETER, AlertKind.NEWS2_RISK}
    assert Alert.objects.get(patient=patient, kind=AlertKind.NEWS2_RISK).raised_risk == "high"


@pytest.mark.django_db
def test_a_held_value_is_raised_at_once_when_the_total_reaches_high(persistence):
    patient, wearable = _wearer()
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2)
    at = T0 + dt.timedelta(seconds=5)  # well inside the window
    _score(patient, at=at, now=at, device=wearable, spo2=RED_SPO2, heart_rate=115, respiratory_rate=22)
    assert _alerts(patient) == {AlertKind.SINGLE_PARAMETER, AlertKind.NEWS2_RISK}
    assert PersistenceHold.objects.get(patient=patient).outcome == PersistenceHold.Outcome.HIGH_TOTAL


@pytest.mark.django_db
def test_a_medium_total_alerts_at_once_while_only_the_lone_parameter_waits(persistence):
    patient, wearable = _wearer()
    # SpO2 3 + pulse 2 = 5: medium; the total's alert is never held
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2, heart_rate=115)
    assert _alerts(patient) == {AlertKind.NEWS2_RISK}
    assert PersistenceHold.objects.get(patient=patient).ended_at is None


@pytest.mark.django_db
def test_with_the_rule_off_a_wearables_red_sample_alerts_at_once(settings):
    settings.VW_PERSISTENCE_SECONDS = 0
    patient, wearable = _wearer()
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2)
    assert _alerts(patient) == {AlertKind.SINGLE_PARAMETER, AlertKind.NEWS2_RISK}
    assert not PersistenceHold.objects.exists()


@pytest.mark.django_db
def test_a_hold_left_open_when_the_rule_is_switched_off_is_raised_by_the_next_sweep(settings):
    settings.VW_PERSISTENCE_SECONDS = N
    patient, wearable = _wearer()
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2)
    settings.VW_PERSISTENCE_SECONDS = 0
    assert sweep_persistence_holds(now=T0 + dt.timedelta(seconds=2)) == 1
    assert AlertKind.SINGLE_PARAMETER in _alerts(patient)


@pytest.mark.django_db
def test_another_parameter_alerting_at_once_takes_the_held_one_with_it(persistence):
    patient, wearable = _wearer()
    _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2)
    at = T0 + dt.timedelta(seconds=5)
    record(patient, at=at, device=wearable, spo2=RED_SPO2)
    record(patient, at=at, device=DeviceFactory(patient=patient, mode=DeviceMode.SPOT_CHECK), systolic_bp=88)
    rescore_patient(patient.pk, now=at)
    alert = Alert.objects.get(patient=patient, kind=AlertKind.SINGLE_PARAMETER)
    assert set(alert.events.get().data["parameters"]) == {"spo2", "systolic_bp"}
    assert PersistenceHold.objects.get(patient=patient).outcome == PersistenceHold.Outcome.JOINED


@pytest.mark.django_db
def test_a_wearables_red_value_new_beside_a_spot_checks_alerts_with_it_at_once(persistence):
    # given a patient whose first score has two new 3s: SpO2 from a wearable, blood pressure from a spot check
    patient, wearable = _wearer()
    record(patient, at=T0, device=wearable, spo2=RED_SPO2)
    record(patient, at=T0, device=DeviceFactory(patient=patient, mode=DeviceMode.SPOT_CHECK), systolic_bp=88)
    # when it is scored
    rescore_patient(patient.pk, now=T0 + dt.timedelta(seconds=1))
    # then the spot check's alert names both at once, and the wearable's hold opened for it is ended with it
    alert = Alert.objects.get(patient=patient, kind=AlertKind.SINGLE_PARAMETER)
    assert set(alert.events.get().data["parameters"]) == {"spo2", "systolic_bp"}
    hold = PersistenceHold.objects.get(patient=patient)
    assert (hold.parameter, hold.outcome, hold.ended_at) == (
        "spo2",
        PersistenceHold.Outcome.JOINED,
        T0 + dt.timedelta(seconds=1),
    )


@pytest.mark.django_db
def test_with_the_rule_off_scoring_never_reads_the_holds(settings):
    settings.VW_PERSISTENCE_SECONDS = 0
    patient, wearable = _wearer()
    with CaptureQueriesContext(connection) as queries:
        _score(patient, at=T0, now=T0 + dt.timedelta(seconds=1), device=wearable, spo2=RED_SPO2)
    assert _alerts(patient) == {AlertKind.SINGLE_PARAMETER, AlertKind.NEWS2_RISK}
    assert not [q["sql"] for q in queries.captured_queries if PersistenceHold._meta.db_table in q["sql"]]
