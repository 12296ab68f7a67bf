"""A full observation set in one form, as a paper NEWS2 chart column is filled, with the NEWS2
it will give shown before it is saved (the real scoring code), and errors beside each field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import AuditEvent
from patients.models import Observation
from patients.services import observation_set_record_manual
from tests.factories import ObservationFactory
from tests.frontend.conftest import new_patient

NOW_LOCAL = "%Y-%m-%dT%H:%M"
FULL_SET = {
    "respiratory_rate": "26",  # 3
    "spo2": "90",  # 3 (Scale 1)
    "on_oxygen": "oxygen",  # 2
    "systolic_bp": "95",  # 2
    "heart_rate": "125",  # 2
    "consciousness": "A",  # 0
    "temperature": "39.2",  # 2
}


def _now() -> str:
    return timezone.localtime().strftime(NOW_LOCAL)


def preview(client, patient, **fields: str) -> dict:
    """The preview's answer for `fields` entered now, as the form asks for it."""
    response = client.get(f"/patients/{patient.pk}/observations/preview/", {**fields, "measured_at": _now()})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def rescores(monkeypatch):
    asked: list[list[int]] = []
    monkeypatch.setattr("patients.services.request_rescore", lambda ids, **kw: asked.append(list(ids)))
    return asked


def test_a_full_set_is_stored_in_one_go_audited_and_rescored_once(client, ward, clinician, rescores):
    # given a patient with no readings
    patient = new_patient(ward)
    client.force_login(clinician)

    # when all seven parameters are entered at one time
    response = client.post(f"/patients/{patient.pk}/observations/", {**FULL_SET, "measured_at": _now()})

    # then seven readings are stored at that one time, each entered by the clinician and audited,
    # and the patient is rescored once for the set
    assert response.status_code == 302
    stored = Observation.objects.filter(patient=patient)
    assert stored.count() == 7 and {o.entered_by_id for o in stored} == {clinician.pk}
    assert len({o.measured_at for o in stored}) == 1
    assert stored.get(type="on_oxygen").value == 1.0 and stored.get(type="consciousness").code == "A"
    assert AuditEvent.objects.filter(action="observation.recorded", patient=patient).count() == 7
    assert rescores == [[patient.pk]]


def test_a_set_with_one_bad_value_saves_nothing_and_names_each_bad_field(client, ward, clinician, rescores):
    patient = new_patient(ward)
    client.force_login(clinician)
    bad = {**FULL_SET, "spo2": "150", "heart_rate": "fast", "measured_at": _now()}

    response = client.post(f"/patients/{patient.pk}/observations/", bad, HTTP_ACCEPT="application/json")

    errors = response.json()["errors"]
    assert response.status_code == 400 and set(errors) == {"spo2", "heart_rate"}
    assert "outside the plausible range" in errors["spo2"][0]["message"]
    assert "not a number" in errors["heart_rate"][0]["message"]
    assert not Observation.objects.filter(patient=patient).exists() and rescores == []


def test_an_empty_set_is_refused_in_words(client, ward, clinician):
    patient = new_patient(ward)
    client.force_login(clinician)
    response = client.post(
        f"/patients/{patient.pk}/observations/", {"measured_at": _now()}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert "at least one observation" in response.json()["errors"]["__all__"][0]["message"]


def test_the_service_refuses_a_bad_value_by_its_parameter_before_storing_any(ward, clinician, rescores):
    patient = new_patient(ward)
    with pytest.raises(ValidationError) as raised:
        values = {"heart_rate": 80.0, "temperature": 60.0}
        observation_set_record_manual(patient=patient, user=clinician, values=values, measured_at=timezone.now())
    assert set(raised.value.message_dict) == {"temperature"}
    assert not Observation.objects.filter(patient=patient).exists()


def test_the_preview_scores_the_full_set_with_the_real_news2_chart(client, ward, clinician):
    # given a patient with no readings
    patient = new_patient(ward)
    client.force_login(clinician)

    # when the full set is previewed
    answer = preview(client, patient, **FULL_SET)

    # then it is the chart's score (3+3+2+2+2+0+2 = 14, high), complete, and nothing was stored
    assert (answer["total"], answer["risk"]) == (14, "high")
    assert "Incomplete" not in answer["html"]
    assert 'class="preview-score">14<' in answer["html"]
    assert not Observation.objects.filter(patient=patient).exists()
    assert AuditEvent.objects.filter(action="patient.news2_previewed", patient=patient).exists()


def test_the_preview_shows_what_is_missing_as_missing_never_as_normal(client, ward, clinician):
    patient = new_patient(ward)
    client.force_login(clinician)

    answer = preview(client, patient, respiratory_rate="18")

    # a respiration rate of 18 scores 0, but six parameters are missing: a minimum, not "normal"
    assert answer["total"] == 0
    assert "Incomplete – missing SpO₂, Air or oxygen?, Systolic blood pressure" in answer["html"]
    assert answer["html"].count("not scored as normal") == 6


def test_the_preview_uses_a_fresh_device_reading_for_a_blank_as_the_rescore_will(client, ward, clinician):
    # given an oximeter pulse of 135 (3 points) ten minutes ago, and a stale SpO2 from yesterday
    patient = new_patient(ward)
    ago = timezone.now() - dt.timedelta(minutes=10)
    ObservationFactory(patient=patient, type="heart_rate", value=135, measured_at=ago, received_at=ago)
    old = timezone.now() - dt.timedelta(days=1)
    ObservationFactory(patient=patient, type="spo2", value=97, measured_at=old, received_at=old)
    client.force_login(clinician)

    # when a set with only a respiration rate is previewed
    answer = preview(client, patient, respiratory_rate="18")

    # then the pulse counts (as it will after saving), marked as an earlier reading; SpO2 is missing
    assert answer["total"] == 3
    assert "earlier reading" in answer["html"]
    assert "last reading too old" in answer["html"]


def test_the_preview_reports_a_bad_value_beside_its_field_and_scores_without_it(client, ward, clinician):
    patient = new_patient(ward)
    client.force_login(clinician)
    # a pulse of 135 scores 3; an SpO2 of 150 would score 0 if it were (wrongly) taken
    answer = preview(client, patient, spo2="150", heart_rate="135")
    assert set(answer["errors"]) == {"spo2"} and answer["total"] == 3
    assert answer["html"].count("not scored as normal") == 6, "the refused SpO2 is shown as missing"


def test_another_wards_patient_cannot_be_previewed(client, ward, clinician):
    from tests.factories import WardFactory

    stranger = new_patient(WardFactory())
    client.force_login(clinician)
    assert client.get(f"/patients/{stranger.pk}/observations/preview/", {"spo2": "95"}).status_code == 404
