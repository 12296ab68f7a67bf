"""Inputs fuzzing once turned into server errors: each is now a 400 that says what is wrong."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from tests.factories import PatientFactory, UserFactory, WardFactory


@pytest.fixture
def world(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    ward = WardFactory()
    patient = PatientFactory(ward=ward)
    clinician = UserFactory(username="nurse", role=Role.CLINICIAN)
    ward.staff.add(clinician)
    administrator = UserFactory(username="admin", role=Role.ADMINISTRATOR)
    return {"patient": patient, "clinician": clinician, "administrator": administrator}


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    "measured_at",
    ["2026-12-04T12:99:00Z", "2026-12-04T25:00:00Z", "2026-02-30T10:00:00Z", "2026-12-04T10:00:00+19:00"],
)
def test_an_impossible_time_for_a_manual_reading_is_a_400_naming_the_field(world, measured_at):
    response = as_user(world["clinician"]).post(
        "/api/v1/observations/",
        {"patient": world["patient"].pk, "type": "heart_rate", "value": 80, "measured_at": measured_at},
        format="json",
    )
    assert response.status_code == 400 and list(response.json()) == ["measured_at"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/observations/?since=2026-12-04T00:00:00%2B19:00",
        "/api/v1/observations/?until=2026-12-04T00:00:00-13:00",
        "/api/v1/observations/?since=0001-01-01T00:00:00%2B01:00",
        "/api/v1/patients/{patient}/scores/?since=2026-12-04T00:00:00%2B19:00",
        "/api/v1/alerts/summary/?since=2026-12-04T00:00:00%2B19:00",
        "/api/v1/alerts/summary/?since=2026-12-04T12:99:00Z",
        "/api/v1/alerts/summary/?ward=389121134196100031315968",
        "/api/v1/alerts/?ward=389121134196100031315968",
    ],
)
def test_an_offset_no_time_zone_has_an_impossible_time_or_an_id_past_64_bits_in_a_query_is_a_400(world, path):
    response = as_user(world["clinician"]).get(path.format(patient=world["patient"].pk))
    assert response.status_code == 400
    assert any(name in response.json() for name in ("since", "until", "ward"))


def test_real_offsets_at_both_ends_of_the_world_are_accepted(world):
    for offset in ("%2B14:00", "-12:00", "%2B05:45"):
        response = as_user(world["clinician"]).get(f"/api/v1/observations/?since=2026-12-04T00:00:00{offset}")
        assert response.status_code == 200, offset


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=99999999999999999999", "limit"),
        ("limit=501", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("offset=99999999999999999999", "offset"),
        ("offset=-1", "offset"),
    ],
)
def test_a_page_limit_or_offset_out_of_bounds_is_a_400(world, query, field):
    response = as_user(world["clinician"]).get(f"/api/v1/patients/?{query}")
    assert response.status_code == 400 and field in response.json()


def test_a_page_holds_at_most_500_and_100_by_default(world):
    PatientFactory.create_batch(3, ward=world["patient"].ward)
    client = as_user(world["clinician"])
    assert client.get("/api/v1/patients/?limit=500").status_code == 200
    assert len(client.get("/api/v1/patients/?limit=2").json()["results"]) == 2
    assert client.get("/api/v1/patients/?limit=2").json()["next"].endswith("limit=2&offset=2")


@pytest.mark.parametrize(
    "query", ["since=2026-12-04T00:00:00%2B19:00", "until=0001-01-01T00:00:00%2B01:00", "since=2026-12-04T12:99:00Z"]
)
def test_an_audit_export_with_a_bad_bound_is_a_400_before_anything_streams(world, query):
    # when an administrator asks for an export with a bound no database can compare
    response = as_user(world["administrator"]).get(f"/api/v1/audit/export.csv?{query}")

    # then the answer is a plain 400, not a stream that breaks off
    assert response.status_code == 400 and not response.streaming
    assert "detail" in response.json()


def test_a_good_export_still_streams(world):
    since = timezone.now().date().isoformat()
    response = as_user(world["administrator"]).get(f"/api/v1/audit/export.csv?since={since}")
    assert response.status_code == 200 and response.streaming
    assert b"".join(response.streaming_content).startswith(b"at,actor,action")


def test_a_malformed_or_throttled_pairing_request_is_refused_in_the_documented_shape(db, settings):
    from django.core.cache import cache

    cache.clear()
    client = APIClient()
    # a blank serial: the field error, inside the refusal's shape
    body = client.post("/api/v1/pairing/", {"code": "ABCD-1234", "serial": ""}, format="json").json()
    assert body["reason"] == "invalid_request" and "serial" in body and "serial" in body["detail"]
    # past the rate limit: a 429 with the same shape, and Retry-After
    responses = [client.post("/api/v1/pairing/collect/", {"serial": "SN-X"}, format="json") for _ in range(30)]
    throttled = [r for r in responses if r.status_code == 429]
    assert throttled and throttled[-1].json()["reason"] == "too_many_attempts" and throttled[-1]["Retry-After"]
