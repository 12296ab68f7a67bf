"""/fhir/R4/: read, search, paging, versions and errors, as a FHIR client sees them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from tests.fhir.validation import assert_valid_fhir

pytestmark = pytest.mark.django_db
FHIR = "/fhir/R4"


def fhir_json(response) -> dict:
    assert response["Content-Type"].startswith("application/fhir+json"), response["Content-Type"]
    return response.json()


def assert_bundle(body: dict) -> None:
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    assert_valid_fhir(body)
    for entry in body.get("entry", []):
        assert_valid_fhir(entry["resource"])
        assert entry["fullUrl"].endswith(f"/fhir/R4/{entry['resource']['resourceType']}/{entry['resource']['id']}")


def test_the_capability_statement_is_public_and_names_every_search(client):
    response = client.get(f"{FHIR}/metadata")
    body = fhir_json(response)
    assert response.status_code == 200
    assert_valid_fhir(body)
    served = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert set(served) == {
        "Patient",
        "Observation",
        "Encounter",
        "Flag",
        "Device",
        "Organization",
        "Practitioner",
        "Composition",
    }
    assert {p["name"] for p in served["Observation"]["searchParam"]} >= {"patient", "code", "date", "_count"}
    assert body["fhirVersion"] == "4.0.1"


def test_a_patient_is_read_with_version_etag_and_profile(ward, api_as):
    client = api_as(ward.clinician)
    response = client.get(f"{FHIR}/Patient/{ward.patient.pk}")
    body = fhir_json(response)
    assert response.status_code == 200
    assert_valid_fhir(body)
    assert response["ETag"] == f'W/"{body["meta"]["versionId"]}"'
    assert body["meta"]["profile"] == ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]
    assert body["meta"]["lastUpdated"].endswith("+00:00")
    # when the client asks again with the ETag, then nothing is sent again
    again = client.get(f"{FHIR}/Patient/{ward.patient.pk}", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_the_version_changes_when_the_record_does(ward, api_as):
    client = api_as(ward.clinician)
    stay = ward.patient.stays.get()
    before = fhir_json(client.get(f"{FHIR}/Encounter/stay-{stay.pk}"))
    stay.discharged_at, stay.outcome = timezone.now(), "recovered"
    stay.save(update_fields=["discharged_at", "outcome"])
    after = fhir_json(client.get(f"{FHIR}/Encounter/stay-{stay.pk}"))
    assert (before["status"], after["status"]) == ("in-progress", "finished")
    assert before["meta"]["versionId"] != after["meta"]["versionId"]


@pytest.mark.parametrize("path", [
    "Patient/{other}", "Encounter/stay-{other_stay}", "Flag/virtual-ward-{other_stay}", "Observation/{other_obs}",
    "Device/{other_device}",
])  # fmt: skip
def test_another_wards_record_is_answered_exactly_like_a_missing_one(ward, api_as, path):
    from tests.factories import DeviceFactory, ObservationFactory

    other_obs = ObservationFactory(patient=ward.other)
    ids = {"other": ward.other.pk, "other_obs": other_obs.pk, "other_device": DeviceFactory(patient=ward.other).pk,
           "other_stay": ward.other.stays.get().pk}  # fmt: skip
    client = api_as(ward.clinician)
    hidden = client.get(f"{FHIR}/{path.format(**ids)}")
    missing = client.get(f"{FHIR}/{path.format(other=99999, other_obs=99999, other_device=99999, other_stay=99999)}")
    assert hidden.status_code == missing.status_code == 404
    outcome = fhir_json(hidden)
    assert_valid_fhir(outcome)
    assert outcome["issue"][0]["code"] == fhir_json(missing)["issue"][0]["code"] == "not-found"
    assert not AuditEvent.objects.filter(patient=ward.other).exists()


def test_a_patient_is_found_by_nhs_number_with_its_system(ward, api_as):
    client = api_as(ward.clinician)
    query = f"identifier=https://fhir.nhs.uk/Id/nhs-number|{ward.patient.nhs_number}"
    body = fhir_json(client.get(f"{FHIR}/Patient?{query}"))
    assert_bundle(body)
    assert body["total"] == 1 and body["entry"][0]["resource"]["id"] == str(ward.patient.pk)
    # and another ward's patient is not found by theirs
    other = fhir_json(client.get(f"{FHIR}/Patient?identifier={ward.other.nhs_number}"))
    assert other["total"] == 0 and "entry" not in other  # FHIR JSON has no empty arrays


def test_observations_page_with_next_links_until_every_one_was_seen_once(ward, api_as):
    client = api_as(ward.clinician)
    url = f"{FHIR}/Observation?patient=Patient/{ward.patient.pk}&_count=3"
    seen, pages, total = [], 0, None
    while url:
        body = fhir_json(client.get(url))
        assert_bundle(body)
        total = body["total"] if total is None else total
        assert body["total"] == total
        seen += [entry["resource"]["id"] for entry in body.get("entry", [])]
        url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
        pages += 1
        assert pages < 10
    # 13 readings: the BP pair is one panel, so 12 reading resources, and one NEWS2 score
    assert len(seen) == len(set(seen)) == total == 13
    assert f"news2-{ward.score.pk}" in seen and f"bp-{ward.readings['systolic_bp'].pk}" in seen
    assert f"bp-{ward.readings['diastolic_bp'].pk}" not in seen


def test_the_newest_observations_come_first_across_readings_and_scores(ward, api_as):
    body = fhir_json(api_as(ward.clinician).get(f"{FHIR}/Observation?patient={ward.patient.pk}"))
    times = [dt.datetime.fromisoformat(e["resource"]["effectiveDateTime"]) for e in body["entry"]]
    assert times == sorted(times, reverse=True)


def test_blood_pressure_is_found_as_one_panel_by_its_loinc_code(ward, api_as):
    client = api_as(ward.clinician)
    body = fhir_json(client.get(f"{FHIR}/Observation?patient={ward.patient.pk}&code=http://loinc.org|85354-9"))
    assert_bundle(body)
    panels = {e["resource"]["id"]: e["resource"] for e in body["entry"]}
    assert set(panels) == {f"bp-{ward.readings['systolic_bp'].pk}", f"bp-{ward.readings['lone_diastolic'].pk}"}
    pair = panels[f"bp-{ward.readings['systolic_bp'].pk}"]
    values = [c["valueQuantity"]["value"] for c in pair["component"]]
    assert values == [118, 76]


def test_the_news2_score_is_found_by_its_snomed_code_and_a_date(ward, api_as):
    client = api_as(ward.clinician)
    since = (ward.score.as_of - dt.timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    query = f"patient={ward.patient.pk}&code=http://snomed.info/sct|1104051000000101&date=ge{since}"
    body = fhir_json(client.get(f"{FHIR}/Observation?{query}"))
    assert_bundle(body)
    assert [e["resource"]["id"] for e in body["entry"]] == [f"news2-{ward.score.pk}"]
    later = (ward.score.as_of + dt.timedelta(minutes=1)).isoformat()
    none = fhir_json(client.get(f"{FHIR}/Observation", {"patient": ward.patient.pk, "code": "1104051000000101",
                                                         "date": f"ge{later}"}))  # fmt: skip
    assert none["total"] == 0


def test_last_updated_filters_by_when_the_record_changed(ward, api_as):
    client = api_as(ward.clinician)
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    body = fhir_json(client.get(f"{FHIR}/Observation", {"patient": ward.patient.pk, "_lastUpdated": f"gt{future}"}))
    assert body["total"] == 0
    past = (timezone.now() - dt.timedelta(days=1)).isoformat()
    body = fhir_json(client.get(f"{FHIR}/Observation", {"patient": ward.patient.pk, "_lastUpdated": f"ge{past}"}))
    assert body["total"] == 13


def test_the_stay_flag_and_devices_are_found_by_patient(ward, api_as):
    client = api_as(ward.clinician)
    pk = ward.patient.pk
    stays = fhir_json(client.get(f"{FHIR}/Encounter?patient={pk}&status=in-progress"))
    assert_bundle(stays)
    assert [e["resource"]["id"] for e in stays["entry"]] == [f"stay-{ward.patient.stays.get().pk}"]
    assert fhir_json(client.get(f"{FHIR}/Encounter?patient={pk}&status=finished"))["total"] == 0
    flags = fhir_json(client.get(f"{FHIR}/Flag?patient=Patient/{pk}"))
    assert_bundle(flags)
    assert flags["entry"][0]["resource"]["status"] == "active"
    devices = fhir_json(client.get(f"{FHIR}/Device?patient={pk}"))
    assert_bundle(devices)
    assert {e["resource"]["serialNumber"] for e in devices["entry"]} == {"OX-1", "BP-1", "TH-1", "FS-1"}


def test_every_reference_an_observation_makes_resolves(ward, api_as):
    client = api_as(ward.clinician)
    body = fhir_json(client.get(f"{FHIR}/Observation?patient={ward.patient.pk}&_count=50"))
    references = set()
    for entry in body["entry"]:
        resource = entry["resource"]
        references.add(resource["subject"]["reference"])
        references |= {r["reference"] for r in [resource.get("device"), *resource.get("performer", [])] if r}
        references |= {r["reference"] for r in resource.get("derivedFrom", [])}
    assert any(r.startswith("Device/") for r in references) and any(r.startswith("Practitioner/") for r in references)
    for ref in sorted(references):
        response = client.get(f"{FHIR}/{ref}")
        assert response.status_code == 200, ref
        assert_valid_fhir(fhir_json(response))


@pytest.mark.parametrize(("query", "status", "code"), [
    ("Observation?colour=red", 400, "not-supported"),
    ("Observation?code=8867-4", 400, "too-costly"),  # every search names the patient
    ("Observation?patient=1&code:text=pulse", 400, "not-supported"),
    ("Observation?patient=1&date=ge2026-11-23T10:00:00", 400, "invalid"),  # no offset: never guessed
    ("Observation?patient=1&date=sa2026-11-23", 400, "not-supported"),
    ("Observation?patient=1&date=yesterday", 400, "invalid"),
    ("Observation?_count=201", 400, "invalid"),
    ("Observation?_count=-1", 400, "invalid"),
    ("Observation?patient=1&_page=bm90LWEtY3Vyc29y", 400, "invalid"),
    ("Observation?patient=1&_page=eyJ0IjpudWxsLCJrIjowLCJpZCI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5fQ", 400, "invalid"),
    ("Observation?patient=1&_page=eyJ0IjpudWxsLCJrIjoxLCJpZCI6MX0", 400, "invalid"),  # another search's page
    ("Patient?_page=eyJ0IjpudWxsLCJrIjoxLCJpZCI6MX0", 400, "invalid"),
    ("Observation?patient=Device/1", 400, "invalid"),
    ("Encounter?status=planned", 400, "invalid"),
    ("Patient?_format=xml", 406, "not-supported"),
    ("Medication", 404, "not-supported"),
    ("Patient/abc", 404, "not-found"),
    ("Patient/%C2%B2", 404, "not-found"),  # a Unicode digit is not an id
    ("Patient?family=a%00b", 400, "invalid"),
    ("Observation?patient=1&_count=%C2%B2", 400, "invalid"),
    ("Observation?patient=1&date=9999", 400, "invalid"),  # the year after cannot be stored
    ("Observation?patient=1&date=ge9999-12-31T23:59:59.999999%2B00:00", 400, "invalid"),
    ("Observation?patient=1&date=ge2026-01-01T00:00:00%2B23:00", 400, "invalid"),  # no such offset
    ("Observation?patient=99999999999999999999999", 400, "invalid"),
])  # fmt: skip
def test_every_bad_request_is_an_operation_outcome_with_the_right_status(ward, api_as, query, status, code):
    response = api_as(ward.clinician).get(f"{FHIR}/{query}")
    body = fhir_json(response)
    assert response.status_code == status, body
    assert_valid_fhir(body)
    assert body["issue"][0]["code"] == code and body["issue"][0]["diagnostics"]


def test_ids_past_any_database_integer_match_nothing_rather_than_failing(ward, api_as):
    client = api_as(ward.clinician)
    body = fhir_json(client.get(f"{FHIR}/Observation?_id=99999999999999999999999,news2-99999999999999999999"))
    assert body["total"] == 0
    assert fhir_json(client.get(f"{FHIR}/Patient?_id=99999999999999999999999"))["total"] == 0
    assert client.get(f"{FHIR}/Observation/news2-99999999999999999999").status_code == 404


def test_without_credentials_or_a_role_the_answer_is_an_operation_outcome(ward):
    from django.contrib.auth import get_user_model

    response = APIClient().get(f"{FHIR}/Patient/{ward.patient.pk}")
    assert response.status_code == 401 and fhir_json(response)["issue"][0]["code"] == "login"
    assert response["WWW-Authenticate"].startswith("Token")
    no_role = APIClient()
    no_role.force_authenticate(get_user_model().objects.create_user("nobody"))  # no staff profile
    response = no_role.get(f"{FHIR}/Patient/{ward.patient.pk}")
    assert response.status_code == 403 and fhir_json(response)["issue"][0]["code"] == "forbidden"


def test_writing_is_refused_as_not_allowed(ward, api_as):
    response = api_as(ward.clinician).post(f"{FHIR}/Patient", {"resourceType": "Patient"}, format="json")
    assert response.status_code == 405 and fhir_json(response)["resourceType"] == "OperationOutcome"


def test_a_search_audits_every_patient_it_showed_and_no_other(ward, api_as):
    from tests.factories import PatientFactory

    second = PatientFactory(ward=ward.patient.ward)
    fhir_json(api_as(ward.clinician).get(f"{FHIR}/Patient"))
    audited = set(AuditEvent.objects.filter(action="fhir.patient_searched").values_list("patient_id", flat=True))
    assert audited == {ward.patient.pk, second.pk}


def test_a_search_costs_the_same_few_queries_however_long_the_history_or_the_page(ward, api_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.fhir.conftest import reading

    client = api_as(ward.clinician)
    start = timezone.now() - dt.timedelta(days=2)
    for minute in range(150):
        at = start + dt.timedelta(minutes=minute)
        reading(ward.patient, "systolic_bp", 120, unit="mm[Hg]", at=at, device=ward.devices["cuff"])
        reading(ward.patient, "diastolic_bp", 80, unit="mm[Hg]", at=at, device=ward.devices["cuff"])
    counts = {}
    for size in (10, 200):
        with CaptureQueriesContext(connection) as queries:
            body = fhir_json(client.get(f"{FHIR}/Observation?patient={ward.patient.pk}&_count={size}"))
        assert len(body["entry"]) == min(size, 163) and body["total"] == 163
        counts[size] = len(queries.captured_queries)
    # token, user and role, the patients in scope, two counts, two pages, the BP partners, the
    # readings behind the scores, the audit event (and its chain): not one more per entry
    assert counts[10] == counts[200] <= 16, counts


def test_a_fault_is_a_500_operation_outcome_and_is_logged(ward, api_as, monkeypatch, caplog):
    from ukcore import handlers

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(handlers.READ, "Patient", broken)
    response = api_as(ward.clinician).get(f"{FHIR}/Patient/{ward.patient.pk}")
    body = fhir_json(response)
    assert response.status_code == 500 and body["issue"][0]["code"] == "exception"
    assert "disk on fire" not in response.content.decode()  # nothing internal leaks
    assert "FHIR request failed" in caplog.text
    assert not AuditEvent.objects.filter(action="fhir.patient_read").exists()
