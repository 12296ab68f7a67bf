"""Wards and patients over the API: who sees what, filters, scores and the SpO2 scale."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from patients.models import SpO2ScaleChange
from scoring.models import EarlyWarningScore
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rescoring(monkeypatch):
    monkeypatch.setattr("patients.services.request_rescore", lambda ids: None)


def make_score(patient, *, as_of, total=1, complete=True, missing=(), stale=()):
    return EarlyWarningScore.objects.create(
        patient=patient, computed_at=as_of, as_of=as_of, total=total, risk="low", band="low", spo2_scale=1,
        complete=complete, sub_scores={"heart_rate": {"value": 95.0, "score": 1, "observation_id": None,
        "measured_at": as_of.isoformat(), "note": None}}, missing=list(missing), stale=list(stale),
        clinical_response="Inform registered nurse", monitoring_frequency="Minimum 4–6-hourly",
        monitoring_interval_s=14400,
    )  # fmt: skip


def ids(response):
    body = response.json()
    return [row["id"] for row in (body["results"] if isinstance(body, dict) else body)]


# --- who sees what -------------------------------------------------------------------------------


def test_a_clinician_lists_only_their_own_wards_patients(api_as, clinician_a, patient_a, patient_b):
    response = api_as(clinician_a).get("/api/v1/patients/")
    assert response.status_code == 200
    assert ids(response) == [patient_a.pk]


def test_a_clinician_gets_404_for_another_wards_patient_and_all_its_subresources(
    api_as, clinician_a, patient_a, patient_b
):
    client = api_as(clinician_a)
    for suffix in ["", "score/", "scores/", "fhir/", "spo2-scale/"]:
        assert client.get(f"/api/v1/patients/{patient_b.pk}/{suffix}").status_code == 404, suffix
    assert client.post(f"/api/v1/patients/{patient_b.pk}/spo2-scale/", {"scale": 2}, format="json").status_code == 404


def test_a_clinician_sees_only_their_wards(api_as, clinician_a, ward_a, ward_b):
    response = api_as(clinician_a).get("/api/v1/wards/")
    assert ids(response) == [ward_a.pk]
    assert api_as(clinician_a).get(f"/api/v1/wards/{ward_b.pk}/").status_code == 404


@pytest.mark.parametrize("role", ["operator", "administrator"])
def test_operators_and_administrators_see_every_ward_and_patient(request, api_as, role, patient_a, patient_b):
    client = api_as(request.getfixturevalue(role))
    assert sorted(ids(client.get("/api/v1/patients/"))) == sorted([patient_a.pk, patient_b.pk])
    assert len(ids(client.get("/api/v1/wards/"))) == 2


def test_viewing_a_patient_is_audited(api_as, clinician_a, patient_a):
    api_as(clinician_a).get(f"/api/v1/patients/{patient_a.pk}/")
    event = AuditEvent.objects.get(action="patient.viewed")
    assert (event.actor, event.patient, event.route) == (clinician_a, patient_a, f"/api/v1/patients/{patient_a.pk}/")


# --- filters -------------------------------------------------------------------------------------


def test_patients_filter_by_ward_and_by_active(api_as, operator, ward_a, patient_a, patient_b):
    # given a discharged patient on ward A beside an active one
    gone = PatientFactory(ward=ward_a, discharged_at=timezone.now())
    client = api_as(operator)
    assert sorted(ids(client.get(f"/api/v1/patients/?ward={ward_a.pk}"))) == sorted([patient_a.pk, gone.pk])
    assert patient_b.pk in ids(client.get("/api/v1/patients/?active=true"))
    assert gone.pk not in ids(client.get("/api/v1/patients/?active=true"))
    assert ids(client.get("/api/v1/patients/?active=false")) == [gone.pk]


def test_bad_patient_filters_are_a_400_naming_the_filter(api_as, clinician_a, ward_b, patient_a):
    client = api_as(clinician_a)
    assert "active" in client.get("/api/v1/patients/?active=maybe").json()
    # another ward's id is refused exactly like one that does not exist
    assert "ward" in client.get(f"/api/v1/patients/?ward={ward_b.pk}").json()


def test_the_patient_shows_its_scale_and_current_score(api_as, clinician_a, patient_a):
    score = make_score(patient_a, as_of=timezone.now())
    patient_a.current_score = score
    patient_a.save()
    body = api_as(clinician_a).get(f"/api/v1/patients/{patient_a.pk}/").json()
    assert body["spo2_scale"] == 1
    assert body["active"] is True
    assert body["ward_name"] == "Ward A"
    assert body["current_score"]["id"] == score.pk
    assert body["admitted_at"].endswith(("Z", "+00:00", "+01:00"))


# --- scores --------------------------------------------------------------------------------------


def test_the_current_score_is_200_with_a_null_score_and_a_reason_before_any_is_computed(api_as, clinician_a, patient_a):
    response = api_as(clinician_a).get(f"/api/v1/patients/{patient_a.pk}/score/")
    assert response.status_code == 200
    assert response.json() == {
        "patient": patient_a.pk,
        "complete": False,
        "score": None,
        "reason": "No NEWS2 has been computed for this patient yet.",
        "agreed": None,
    }


def test_the_current_score_says_clearly_when_it_is_incomplete(api_as, clinician_a, patient_a):
    # given a score missing respiration, with an SpO2 too old to use
    make_score(patient_a, as_of=timezone.now(), complete=False, missing=["respiratory_rate", "spo2"], stale=["spo2"])
    # when the current score is read
    body = api_as(clinician_a).get(f"/api/v1/patients/{patient_a.pk}/score/").json()
    # then it is marked incomplete, listing what is missing and stale
    assert body["complete"] is False
    assert body["score"]["complete"] is False
    assert body["score"]["lower_bound"] is True
    assert body["score"]["missing"] == ["respiratory_rate", "spo2"]
    assert body["score"]["stale"] == ["spo2"]
    assert "respiratory_rate" in body["reason"]
    assert body["score"]["sub_scores"]["heart_rate"]["score"] == 1


def test_the_current_score_is_the_one_scoring_keeps_current(api_as, clinician_a, patient_a):
    now = timezone.now()
    current = make_score(patient_a, as_of=now - dt.timedelta(minutes=5), total=4)
    make_score(patient_a, as_of=now - dt.timedelta(minutes=10), total=2)
    patient_a.current_score = current
    patient_a.save()
    body = api_as(clinician_a).get(f"/api/v1/patients/{patient_a.pk}/score/").json()
    assert (body["score"]["id"], body["complete"], body["reason"]) == (current.pk, True, None)


def test_score_history_is_newest_first_and_filters_by_time(api_as, clinician_a, patient_a):
    base = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    old, middle, new = (make_score(patient_a, as_of=base + dt.timedelta(hours=h)) for h in (0, 1, 2))
    client = api_as(clinician_a)
    url = f"/api/v1/patients/{patient_a.pk}/scores/"
    assert ids(client.get(url)) == [new.pk, middle.pk, old.pk]
    window = client.get(url, {"since": "2026-11-20T12:30:00Z", "until": "2026-11-20T13:30:00+00:00"})
    assert ids(window) == [middle.pk]


def test_score_history_refuses_a_time_without_an_offset(api_as, clinician_a, patient_a):
    response = api_as(clinician_a).get(f"/api/v1/patients/{patient_a.pk}/scores/", {"since": "2026-11-20T12:30:00"})
    assert response.status_code == 400
    assert "offset" in response.json()["since"][0]


# --- SpO2 scale ----------------------------------------------------------------------------------


def test_a_clinician_sets_scale_2_over_the_api(api_as, clinician_a, patient_a):
    client = api_as(clinician_a)
    response = client.post(
        f"/api/v1/patients/{patient_a.pk}/spo2-scale/", {"scale": 2, "reason": "Hypercapnic COPD"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["scale"] == 2
    assert response.json()["changed_by"] == "clin-a"
    patient = client.get(f"/api/v1/patients/{patient_a.pk}/").json()
    assert (patient["spo2_scale"], patient["spo2_scale_set_by"]) == (2, "clin-a")
    history = client.get(f"/api/v1/patients/{patient_a.pk}/spo2-scale/").json()
    assert [change["reason"] for change in history] == ["Hypercapnic COPD"]


def test_an_operator_is_forbidden_to_change_the_scale_over_the_api(api_as, operator, patient_a):
    response = api_as(operator).post(f"/api/v1/patients/{patient_a.pk}/spo2-scale/", {"scale": 2}, format="json")
    assert response.status_code == 403
    assert not SpO2ScaleChange.objects.exists()


def test_an_administrator_may_change_the_scale_over_the_api(api_as, administrator, patient_b):
    body = {"scale": 2, "reason": "Hypercapnic COPD, target 88-92"}
    response = api_as(administrator).post(f"/api/v1/patients/{patient_b.pk}/spo2-scale/", body, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("scale", [1, 2])
def test_a_scale_change_without_a_reason_is_a_400_naming_the_reason(api_as, clinician_a, patient_a, scale):
    response = api_as(clinician_a).post(f"/api/v1/patients/{patient_a.pk}/spo2-scale/", {"scale": scale}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["reason"]


@pytest.mark.parametrize("body", [{}, {"scale": 3}, {"scale": "two"}, {"scale": True}])
def test_a_bad_scale_is_a_400_naming_the_scale(api_as, clinician_a, patient_a, body):
    response = api_as(clinician_a).post(f"/api/v1/patients/{patient_a.pk}/spo2-scale/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["scale"]


# --- admission and discharge ---------------------------------------------------------------------


def test_a_clinician_admits_a_patient_to_their_ward(api_as, clinician_a, ward_a):
    body = {
        "ward": ward_a.pk, "nhs_number": "999-900-0029", "given_name": "Cy", "family_name": "Doe",
        "date_of_birth": "1950-03-04", "referral_source": "gp", "reason": "COPD exacerbation",
    }  # fmt: skip
    response = api_as(clinician_a).post("/api/v1/patients/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["nhs_number"] == "9999000029"
    assert response.json()["spo2_scale"] == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"nhs_number": "9999000028"}, "nhs_number"),
        ({"nhs_number": "12345"}, "nhs_number"),
        ({"date_of_birth": "3000-01-01"}, "date_of_birth"),
        ({"admitted_at": "2026-11-20T09:00:00"}, "admitted_at"),
        ({"ward": 999999}, "ward"),
        ({"given_name": ""}, "given_name"),
    ],
)
def test_a_bad_admission_is_a_400_naming_the_field(api_as, clinician_a, ward_a, changes, field):
    body = {
        "ward": ward_a.pk, "nhs_number": "9999000029", "given_name": "Cy", "family_name": "Doe",
        "date_of_birth": "1950-03-04", "referral_source": "gp", "reason": "COPD exacerbation", **changes,
    }  # fmt: skip
    response = api_as(clinician_a).post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_an_nhs_number_already_registered_is_refused(api_as, clinician_a, ward_a, patient_a):
    body = {
        "ward": ward_a.pk, "nhs_number": patient_a.nhs_number, "given_name": "Cy", "family_name": "Doe",
        "date_of_birth": "1950-03-04", "referral_source": "gp", "reason": "COPD exacerbation",
    }  # fmt: skip
    response = api_as(clinician_a).post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert "nhs_number" in response.json()


def test_a_patient_is_discharged_over_the_api(api_as, clinician_a, patient_a):
    client = api_as(clinician_a)
    response = client.post(f"/api/v1/patients/{patient_a.pk}/discharge/", {"outcome": "recovered"}, format="json")
    assert response.status_code == 200
    assert response.json()["active"] is False
    again = client.post(f"/api/v1/patients/{patient_a.pk}/discharge/", {"outcome": "recovered"}, format="json")
    assert again.status_code == 400
    assert "discharged_at" in again.json()
