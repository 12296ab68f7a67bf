"""The care-plan API: agreed parameters (with what they make of the score), the plan, check-ins."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Role
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    patient = PatientFactory()
    nurse = UserFactory(role=Role.CLINICIAN)
    patient.ward.staff.add(nurse)
    client = APIClient()
    client.force_authenticate(nurse)
    return client, patient


def _limit(**overrides):
    review = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    return {"parameter": "heart_rate", "low": 50, "high": 130, "reason": "Known AF", "review_by": review, **overrides}


def test_agree_read_and_end_a_limit_through_the_api(api):
    client, patient = api
    created = client.post(f"/api/v1/patients/{patient.pk}/agreed-parameters/", _limit(), format="json")
    assert created.status_code == 201 and created.json()["low"] == 50
    shown = client.get(f"/api/v1/patients/{patient.pk}/agreed-parameters/").json()
    assert [limit["parameter"] for limit in shown["live"]] == ["heart_rate"]
    assert AuditEvent.objects.filter(action="careplan.agreed_viewed", patient=patient).count() == 1
    ended = client.post(
        f"/api/v1/patients/{patient.pk}/agreed-parameters/{created.json()['id']}/end/", {"reason": "resolved"}
    )
    assert ended.status_code == 200 and ended.json()["ended_at"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"parameter": "consciousness"}, "parameter"), ({"high": 131}, "high"), ({"low": "x"}, "low"),
     ({"review_by": "2020-01-01"}, "review_by")],
)  # fmt: skip
def test_a_refused_limit_is_a_400_naming_the_field(api, overrides, field):
    client, patient = api
    response = client.post(f"/api/v1/patients/{patient.pk}/agreed-parameters/", _limit(**overrides), format="json")
    assert response.status_code == 400 and field in response.json()


def test_another_wards_patient_is_a_404(api):
    client, _ = api
    stranger = PatientFactory()
    assert client.get(f"/api/v1/patients/{stranger.pk}/agreed-parameters/").status_code == 404
    assert client.post(f"/api/v1/patients/{stranger.pk}/agreed-parameters/", _limit(), format="json").status_code == 404


def test_the_plan_is_404_until_written_then_read_back(api):
    client, patient = api
    assert client.get(f"/api/v1/patients/{patient.pk}/escalation-plan/").status_code == 404
    plan = {"if_worse": "Rest", "call_ward_when": "Breathless", "call_111_when": "Closed",
            "call_999_when": "Chest pain", "ward_phone": "0300 123 4567", "ward_hours": "8am to 8pm"}  # fmt: skip
    assert client.put(f"/api/v1/patients/{patient.pk}/escalation-plan/", plan, format="json").status_code == 200
    assert client.get(f"/api/v1/patients/{patient.pk}/escalation-plan/").json()["call_999_when"] == "Chest pain"
    assert AuditEvent.objects.filter(action="careplan.plan_viewed", patient=patient).count() == 1
    blank = client.put(f"/api/v1/patients/{patient.pk}/escalation-plan/", {**plan, "if_worse": ""}, format="json")
    assert blank.status_code == 400


def test_the_current_score_api_says_what_agreed_parameters_make_of_it(api):
    client, patient = api
    from scoring.services import rescore_patient
    from tests.scoring_services.builders import record_set

    client.post(f"/api/v1/patients/{patient.pk}/agreed-parameters/", _limit(), format="json")
    record_set(patient, at=timezone.now() - dt.timedelta(minutes=1), heart_rate=125, respiratory_rate=22)
    rescore_patient(patient.pk, now=timezone.now())
    body = client.get(f"/api/v1/patients/{patient.pk}/score/").json()
    assert body["score"]["total"] == 4
    assert body["agreed"]["within"] == ["heart_rate"] and body["agreed"]["alerting_total"] == 2
    assert body["agreed"]["text"].startswith("NEWS2 4 · within agreed parameters (Pulse)")


def test_check_ins_are_listed_and_recorded_by_phone(api):
    client, patient = api
    answers = {"breathing": "same", "cough_sputum": "no_change", "finish_sentence": "yes", "chest_pain": "yes"}
    made = client.post(
        f"/api/v1/patients/{patient.pk}/checkins/", {"told_by": "patient", "answers": answers}, format="json"
    )
    assert made.status_code == 201 and made.json()["answered_by"] == "clinician_phone"
    listed = client.get(f"/api/v1/patients/{patient.pk}/checkins/").json()
    assert [a["red_flag"] for a in listed[0]["answers"]] == ["", "", "", "high"]
    bad = client.post(f"/api/v1/patients/{patient.pk}/checkins/", {"told_by": "patient", "answers": {}}, format="json")
    assert bad.status_code == 400 and "chest_pain" in bad.json()
