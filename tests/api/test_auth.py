"""No patient data without authentication: tokens for integrations, sessions for people."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PROTECTED = [
    ("get", "/api/v1/wards/"),
    ("get", "/api/v1/patients/"),
    ("get", "/api/v1/patients/{patient}/"),
    ("get", "/api/v1/patients/{patient}/score/"),
    ("get", "/api/v1/patients/{patient}/scores/"),
    ("get", "/api/v1/patients/{patient}/fhir/"),
    ("post", "/api/v1/patients/{patient}/spo2-scale/"),
    ("get", "/api/v1/observations/"),
    ("post", "/api/v1/observations/"),
    ("get", "/api/v1/devices/"),
    ("get", "/api/v1/rejections/"),
    ("post", "/api/v1/news2/"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_endpoint_refuses_a_request_without_credentials(anonymous, patient_a, method, path):
    # given no credentials at all
    # when any endpoint is called
    response = getattr(anonymous, method)(path.format(patient=patient_a.pk), {}, format="json")
    # then it is 401 and nothing about the patient is returned
    assert response.status_code == 401
    assert "Ada" not in response.content.decode()


def test_a_wrong_token_is_refused(patient_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/patients/").status_code == 401


def test_a_valid_token_reads_the_api(clinician_a, patient_a):
    # given an integration holding the clinician's token
    token = Token.objects.create(user=clinician_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    # when it lists patients, then it sees its ward's patient
    response = client.get("/api/v1/patients/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [patient_a.pk]


def test_a_logged_in_session_reads_the_api(clinician_a, patient_a):
    # given a person logged in to the site
    client = APIClient()
    client.force_login(clinician_a)
    # when the browser calls the API, then the session authenticates it
    response = client.get(f"/api/v1/patients/{patient_a.pk}/")
    assert response.status_code == 200
    assert response.json()["nhs_number"] == patient_a.nhs_number


def test_a_session_write_needs_the_csrf_token(clinician_a, patient_a):
    # given a logged-in browser that does not send the CSRF token
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(clinician_a)
    # when it posts, then the write is refused
    response = client.post(f"/api/v1/patients/{patient_a.pk}/spo2-scale/", {"scale": 2}, format="json")
    assert response.status_code == 403


def test_a_login_without_a_staff_role_sees_no_patients(api_as, patient_a):
    # given an account that has no staff profile (e.g. created but never given a role)
    nobody = get_user_model().objects.create_user("nobody", password="x-very-long-pass")
    # when it lists patients or asks for one, then there is nothing to see
    client = api_as(nobody)
    assert client.get("/api/v1/patients/").json()["results"] == []
    assert client.get(f"/api/v1/patients/{patient_a.pk}/").status_code == 404


def test_the_schema_and_its_browsable_docs_are_served(anonymous):
    schema = anonymous.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/news2/" in schema.json()["paths"]
    assert anonymous.get("/api/v1/docs/").status_code == 200
