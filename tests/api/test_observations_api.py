"""Observations over the API: scoped lists, filters and hand entry by staff."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import Observation
from tests.factories import ObservationFactory, PatientFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/observations/"
BASE = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def rescores(monkeypatch):
    asked: list[list[int]] = []
    monkeypatch.setattr("patients.services.request_rescore", lambda ids: asked.append(list(ids)))
    return asked


def ids(response):
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def readings(patient_a, patient_b):
    return {
        "a_hr_early": ObservationFactory(patient=patient_a, type="heart_rate", value=70, measured_at=BASE),
        "a_spo2_mid": ObservationFactory(
            patient=patient_a, type="spo2", value=95, unit="%", measured_at=BASE + dt.timedelta(hours=1)
        ),
        "a_hr_late": ObservationFactory(
            patient=patient_a, type="heart_rate", value=80, measured_at=BASE + dt.timedelta(hours=2)
        ),
        "b_hr": ObservationFactory(patient=patient_b, type="heart_rate", value=90, measured_at=BASE),
    }


def test_a_clinician_lists_only_their_patients_observations_newest_first(api_as, clinician_a, readings):
    response = api_as(clinician_a).get(URL)
    assert ids(response) == [readings[k].pk for k in ("a_hr_late", "a_spo2_mid", "a_hr_early")]
    assert api_as(clinician_a).get(f"{URL}{readings['b_hr'].pk}/").status_code == 404


def test_observations_filter_by_patient_type_and_time_range(api_as, operator, patient_a, readings):
    client = api_as(operator)
    assert len(ids(client.get(URL, {"patient": patient_a.pk}))) == 3
    assert ids(client.get(URL, {"patient": patient_a.pk, "type": "spo2"})) == [readings["a_spo2_mid"].pk]
    window = client.get(URL, {"patient": patient_a.pk, "since": "2026-11-20T12:30:00Z", "until": "2026-11-20T14:00Z"})
    assert ids(window) == [readings["a_hr_late"].pk, readings["a_spo2_mid"].pk]


def test_a_time_filter_with_an_offset_is_placed_exactly(api_as, operator, patient_a, readings):
    # 13:30+01:00 is 12:30Z: only the readings from 13:00Z on are after it
    response = api_as(operator).get(URL, {"patient": patient_a.pk, "since": "2026-11-20T13:30:00+01:00"})
    assert ids(response) == [readings["a_hr_late"].pk, readings["a_spo2_mid"].pk]


def test_an_unencoded_plus_in_the_offset_is_still_read_as_plus(api_as, operator, patient_a, readings):
    # a "+" typed into a query string arrives as a space
    response = api_as(operator).get(f"{URL}?patient={patient_a.pk}&since=2026-11-20T13:30:00+01:00")
    assert response.status_code == 200
    assert len(ids(response)) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-11-20T12:30:00"}, "since"),
        ({"until": "2026-11-20"}, "until"),
        ({"since": "yesterday"}, "since"),
        ({"type": "glucose"}, "type"),
        ({"patient": "abc"}, "patient"),
    ],
)
def test_bad_observation_filters_are_a_400_naming_the_filter(api_as, operator, params, field):
    response = api_as(operator).get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_filtering_by_another_wards_patient_reveals_nothing(api_as, clinician_a, patient_b, readings):
    response = api_as(clinician_a).get(URL, {"patient": patient_b.pk})
    assert response.status_code == 400
    assert "patient" in response.json()


def test_an_observation_shows_its_source(api_as, operator, readings):
    body = api_as(operator).get(f"{URL}{readings['a_spo2_mid'].pk}/").json()
    assert body["source"] == "device"
    assert body["device"] == readings["a_spo2_mid"].device.device_id
    assert body["entered_by"] is None
    assert (body["type"], body["value"], body["unit"]) == ("spo2", 95.0, "%")
    assert body["measured_at"] == "2026-11-20T13:00:00Z"


# --- manual entry --------------------------------------------------------------------------------


def test_a_clinician_enters_a_consciousness_level_taken_on_a_video_call(api_as, clinician_a, patient_a, rescores):
    measured_at = (timezone.now() - dt.timedelta(minutes=2)).isoformat()
    body = {"patient": patient_a.pk, "type": "consciousness", "value": "C", "measured_at": measured_at}
    response = api_as(clinician_a).post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["value"], created["source"], created["entered_by"], created["device"]) == (
        "C", "manual", "clin-a", None,
    )  # fmt: skip
    assert Observation.objects.get(pk=created["id"]).entered_by == clinician_a
    assert rescores == [[patient_a.pk]]


def test_an_operator_enters_on_oxygen_for_any_patient(api_as, operator, patient_b):
    body = {"patient": patient_b.pk, "type": "on_oxygen", "value": True, "measured_at": timezone.now().isoformat()}
    response = api_as(operator).post(URL, body, format="json")
    assert response.status_code == 201
    assert response.json()["value"] is True


def test_a_clinician_cannot_enter_a_reading_for_another_wards_patient(api_as, clinician_a, patient_b):
    body = {"patient": patient_b.pk, "type": "spo2", "value": 95, "measured_at": timezone.now().isoformat()}
    response = api_as(clinician_a).post(URL, body, format="json")
    assert response.status_code == 400
    assert "patient" in response.json()
    assert not Observation.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"value": 49}, "value"),
        ({"value": True}, "value"),
        ({"value": "95"}, "value"),
        ({"value": None}, "value"),
        ({"value": [95]}, "value"),
        ({"type": "glucose"}, "type"),
        ({"unit": "percent"}, "unit"),
        ({"measured_at": "2026-11-20T12:00:00"}, "measured_at"),
        ({"measured_at": "soon"}, "measured_at"),
        ({"patient": 999999}, "patient"),
        ({"patient": None}, "patient"),
    ],
)
def test_a_bad_manual_reading_is_a_400_naming_the_field(api_as, clinician_a, patient_a, changes, field):
    body = {"patient": patient_a.pk, "type": "spo2", "value": 95, "measured_at": timezone.now().isoformat(), **changes}
    response = api_as(clinician_a).post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Observation.objects.exists()


def test_a_reading_dated_in_the_future_is_refused(api_as, clinician_a, patient_a):
    later = (timezone.now() + dt.timedelta(minutes=30)).isoformat()
    body = {"patient": patient_a.pk, "type": "spo2", "value": 95, "measured_at": later}
    response = api_as(clinician_a).post(URL, body, format="json")
    assert response.status_code == 400
    assert "future" in response.json()["measured_at"][0]


def _queries_to_list(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", ["/api/v1/observations/", "/api/v1/patients/", "/api/v1/devices/", "/api/v1/wards/"])
def test_listing_costs_the_same_queries_for_ten_rows_as_for_one(api_as, clinician_a, ward_a, url):
    # given one patient with a device and a reading
    client = api_as(clinician_a)
    ObservationFactory(patient=PatientFactory(ward=ward_a))
    one = _queries_to_list(client, url)
    # when nine more are added and the list is read again
    for _ in range(9):
        ObservationFactory(patient=PatientFactory(ward=ward_a))
    # then no query is made per row
    assert _queries_to_list(client, url) == one
