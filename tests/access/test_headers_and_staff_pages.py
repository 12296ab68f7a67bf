"""What every reply tells the browser (a strict Content-Security-Policy, never cache patient
data), staff-only pages for staff only, and an assign refusal that names nobody."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from alerts.models import Alert, AlertKind, Category, Severity
from tests.factories import PatientFactory, UserFactory, WardFactory

TEMPLATES = Path(__file__).resolve().parents[2] / "frontend" / "templates"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ward_with_patient(db):
    ward = WardFactory(name="Ward A")
    patient = PatientFactory(ward=ward, given_name="Amara", family_name="Okonkwo-Test")
    clinician = UserFactory(username="clin-a", role=Role.CLINICIAN)
    ward.staff.add(clinician)
    return ward, patient, clinician


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


# --- Content-Security-Policy ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/pair/", "/wards/", "/triage/"])
def test_every_page_carries_a_strict_content_security_policy(client, ward_with_patient, path):
    # given a signed-in clinician
    client.force_login(ward_with_patient[2])

    # when a page is served
    policy = directives(client.get(path))

    # then scripts and styles come only from this origin, never inline, and nothing may frame it
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'self'"]


def test_no_template_has_an_inline_script_style_or_event_handler():
    # The policy forbids them; one added later would silently stop working in the browser.
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        for match in inline.finditer(path.read_text())
    ]
    assert offenders == []


def test_the_api_docs_page_loads_its_start_up_script_from_a_url_not_inline(client, db):
    html = client.get("/api/v1/docs/").content.decode()
    assert re.search(r"<script>\s*\S", html) is None
    assert 'src="/api/v1/docs/?script=' in html


# --- Never cached ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route",
    [
        "/wards/{ward}/",
        "/patients/{patient}/",
        "/patients/{patient}/series.json",
        "/api/v1/patients/",
        "/api/v1/patients/{patient}/",
        "/api/v1/patients/{patient}/fhir/",
    ],
)
def test_pages_and_api_replies_with_patient_data_are_never_stored(client, ward_with_patient, route):
    # given a clinician reading a patient's record (name and NHS number, or their readings)
    ward, patient, clinician = ward_with_patient
    client.force_login(clinician)
    response = client.get(route.format(ward=ward.pk, patient=patient.pk))
    assert response.status_code == 200
    assert patient.family_name in response.content.decode() or route.endswith("series.json")

    # then no browser or proxy may keep a copy
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= cache_control


# --- Staff pages -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/wards/", "/triage/", "/triage/summary/", "/"])
def test_a_login_without_a_staff_role_is_forbidden_the_staff_pages(client, db, path):
    # given an account with no staff role
    nobody = get_user_model().objects.create_user("no-role", password="x-very-long-pass")
    client.force_login(nobody)

    # when it opens a staff page, then it is forbidden
    assert client.get(path).status_code == 403


# --- Assigning ---------------------------------------------------------------------------------


def test_the_assign_refusal_names_nobody(ward_with_patient):
    # given an alert on ward A, its clinician, and someone on another ward
    _ward, patient, clinician = ward_with_patient
    stranger = UserFactory(username="elsewhere", first_name="Zebedee", last_name="Farquharson", role=Role.CLINICIAN)
    WardFactory(name="Ward B").staff.add(stranger)
    now = timezone.now()
    alert = Alert.objects.create(
        kind=AlertKind.NEWS2_RISK,
        category=Category.CLINICAL,
        severity=Severity.HIGH,
        patient=patient,
        title="NEWS2 7",
        opened_at=now,
        updated_at=now,
    )
    api = APIClient()
    api.force_authenticate(clinician)

    # when the clinician tries to assign the alert to the stranger's user id
    response = api.post(f"/api/v1/alerts/{alert.pk}/assign/", {"assignee": stranger.pk}, format="json")

    # then it is refused without learning who that id is
    body = response.content.decode()
    assert response.status_code in {400, 403}
    assert "Zebedee" not in body and "Farquharson" not in body
