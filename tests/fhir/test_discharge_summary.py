"""A discharge makes a summary for the GP: a valid FHIR document, HTML and PDF, sent and recorded."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import AuditEvent
from alerts.models import Alert, AlertKind
from patients.services import patient_discharge
from tests.fhir.receiver import fhir_receiver
from tests.fhir.validation import assert_valid_fhir
from ukcore.models import Delivery, DischargeSummary

pytestmark = pytest.mark.django_db


def discharge(ward, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient_discharge(patient=ward.patient, user=ward.clinician)
    return DischargeSummary.objects.get(patient=ward.patient)


def references_in(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [ref for value in node.values() for ref in references_in(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references_in(value)]
    return []


def test_a_discharge_makes_a_valid_fhir_document_whose_references_all_resolve_inside_it(
    ward, settings, django_capture_on_commit_callbacks
):
    settings.VW_FHIR_DISCHARGE_URL = ""
    summary = discharge(ward, django_capture_on_commit_callbacks)
    document = summary.document
    assert_valid_fhir(document)
    for entry in document["entry"]:
        assert_valid_fhir(entry["resource"])
    assert document["type"] == "document" and document["identifier"]["value"] == str(summary.document_id)
    composition = document["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition" and composition["status"] == "final"
    assert composition["type"]["coding"][0]["code"] == "373942005"
    # every reference in any entry is another entry of the same document
    addresses = {entry["fullUrl"].split("/fhir/R4/")[1] for entry in document["entry"]}
    assert set(references_in(document)) <= addresses, set(references_in(document)) - addresses
    kinds = {entry["resource"]["resourceType"] for entry in document["entry"]}
    assert kinds >= {"Composition", "Patient", "Encounter", "Practitioner", "Observation", "Device"}
    assert summary.state == Delivery.NOT_CONFIGURED


def test_the_summary_has_each_section_the_gp_needs_with_the_last_news2_and_its_trend(
    ward, settings, django_capture_on_commit_callbacks
):
    settings.VW_FHIR_DISCHARGE_URL = ""
    summary = discharge(ward, django_capture_on_commit_callbacks)
    sections = {s["code"]["coding"][0]["code"]: s for s in summary.document["entry"][0]["resource"]["section"]}
    assert list(sections) == [
        "reason-for-admission", "clinical-summary", "alerts", "medical-devices",
        "plan-and-requested-actions", "information-and-advice-given",
    ]  # fmt: skip
    course = sections["clinical-summary"]["text"]["div"]
    assert f"Last NEWS2: {ward.score.total}" in course and "Trend:" in course
    assert sections["clinical-summary"]["entry"] == [{"reference": f"Observation/news2-{ward.score.pk}"}]
    assert "OX-1" in sections["medical-devices"]["text"]["div"]
    assert "No plan" in sections["plan-and-requested-actions"]["text"]["div"]  # said, not left blank
    # the score was high enough to alert: the alert is in the summary
    assert Alert.objects.filter(patient=ward.patient, kind=AlertKind.NEWS2_RISK).exists()
    assert "NEWS2" in sections["alerts"]["text"]["div"]


def test_the_gp_can_read_it_as_html_and_pdf_from_the_patient_page(ward, settings, django_capture_on_commit_callbacks):
    settings.VW_FHIR_DISCHARGE_URL = ""
    summary = discharge(ward, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(ward.clinician)
    page = client.get(f"/patients/{ward.patient.pk}/").content.decode()
    base = f"/patients/{ward.patient.pk}/discharge-summaries/{summary.pk}"
    assert f'href="{base}.pdf"' in page and f'href="{base}.html"' in page
    html = client.get(f"{base}.html")
    assert html.status_code == 200 and ward.patient.nhs_number in html.content.decode()
    assert "Course on the virtual ward" in html.content.decode()
    pdf = client.get(f"{base}.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert ward.patient.nhs_number in text and "Course on the virtual ward" in text
    document = client.get(f"{base}.json")
    assert document.json()["type"] == "document"
    assert AuditEvent.objects.filter(action="discharge_summary.downloaded", patient=ward.patient).count() == 2


def test_another_wards_clinician_cannot_open_the_summary(ward, settings, django_capture_on_commit_callbacks):
    settings.VW_FHIR_DISCHARGE_URL = ""
    summary = discharge(ward, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(ward.stranger)
    for extension in ("html", "pdf", "json"):
        response = client.get(f"/patients/{ward.patient.pk}/discharge-summaries/{summary.pk}.{extension}")
        assert response.status_code == 404


def test_the_summary_is_posted_to_the_configured_fhir_endpoint_and_recorded_as_sent(
    ward,
    settings,
    django_capture_on_commit_callbacks,
    eager_tasks,
):
    with fhir_receiver() as receiver:
        settings.VW_FHIR_DISCHARGE_URL = receiver.url
        settings.VW_FHIR_TOKEN = "shared-secret"
        summary = discharge(ward, django_capture_on_commit_callbacks)
    summary.refresh_from_db()
    assert (summary.state, summary.attempts, summary.response_status) == (Delivery.SENT, 1, 201)
    assert receiver.received == [summary.document]
    assert receiver.headers[0]["Content-Type"].startswith("application/fhir+json")
    assert receiver.headers[0]["Authorization"] == "Bearer shared-secret"


def test_a_failing_endpoint_is_retried_and_the_summary_then_delivered(
    ward,
    settings,
    django_capture_on_commit_callbacks,
    eager_tasks,
):
    with fhir_receiver() as receiver:
        receiver.fail_next = [503, 500]
        settings.VW_FHIR_DISCHARGE_URL = receiver.url
        summary = discharge(ward, django_capture_on_commit_callbacks)
    summary.refresh_from_db()
    assert (summary.state, summary.attempts, receiver.attempts) == (Delivery.SENT, 3, 3)
    assert not Alert.objects.filter(kind=AlertKind.FHIR_DELIVERY_FAILED).exists()


def test_an_endpoint_failing_every_retry_raises_one_technical_alert(
    ward,
    settings,
    django_capture_on_commit_callbacks,
    eager_tasks,
):
    settings.VW_FHIR_RETRIES = 2
    with fhir_receiver() as receiver:
        receiver.fail_next = [503] * 10
        settings.VW_FHIR_DISCHARGE_URL = receiver.url
        summary = discharge(ward, django_capture_on_commit_callbacks)
    summary.refresh_from_db()
    assert (summary.state, summary.attempts, receiver.attempts) == (Delivery.FAILED, 3, 3)
    assert "HTTP 503" in summary.last_error and summary.failed_at is not None
    alert = Alert.objects.get(kind=AlertKind.FHIR_DELIVERY_FAILED, patient=ward.patient)
    assert alert.category == "technical" and "Download it" in alert.detail


def test_a_refused_summary_is_not_retried(ward, settings, django_capture_on_commit_callbacks, eager_tasks):
    with fhir_receiver() as receiver:
        receiver.fail_next = [422]
        settings.VW_FHIR_DISCHARGE_URL = receiver.url
        summary = discharge(ward, django_capture_on_commit_callbacks)
    summary.refresh_from_db()
    assert (summary.state, receiver.attempts) == (Delivery.FAILED, 1)
    assert Alert.objects.filter(kind=AlertKind.FHIR_DELIVERY_FAILED, patient=ward.patient).count() == 1


def test_an_unreachable_endpoint_is_a_failure_on_record_not_a_lost_summary(
    ward,
    settings,
    django_capture_on_commit_callbacks,
    eager_tasks,
):
    from virtualward.embedded import free_port

    settings.VW_FHIR_RETRIES = 1
    settings.VW_FHIR_DISCHARGE_URL = f"http://127.0.0.1:{free_port()}/fhir/Bundle"  # nobody listens
    summary = discharge(ward, django_capture_on_commit_callbacks)
    summary.refresh_from_db()
    assert summary.state == Delivery.FAILED and "ConnectionError" in summary.last_error
    assert summary.document["type"] == "document"  # kept, downloadable


def test_the_composition_is_readable_over_fhir_by_its_document_id(
    ward, settings, api_as, django_capture_on_commit_callbacks
):
    settings.VW_FHIR_DISCHARGE_URL = ""
    summary = discharge(ward, django_capture_on_commit_callbacks)
    response = api_as(ward.clinician).get(f"/fhir/R4/Composition/{summary.document_id}")
    assert response.status_code == 200
    assert_valid_fhir(response.json())
    assert api_as(ward.stranger).get(f"/fhir/R4/Composition/{summary.document_id}").status_code == 404
    assert timezone.now() >= summary.created_at


@pytest.mark.parametrize(("totals", "said"), [
    ([5], "5 (one score in the last 24 hours of the stay)."),
    ([3, 3], "3 → 3 over the last 24 hours of the stay (unchanged)."),
    ([1, 2, 3], "1 → 2 → 3 over the last 24 hours of the stay (rising)."),
    ([7, 5, 2, 0], "7 → 5 → 2 → 0 over the last 24 hours of the stay (falling)."),
    ([0, 9, 0], "0 → 9 → 0 over the last 24 hours of the stay (unchanged)."),  # the peak is in the list
    (list(range(20)), "4 → 7 → 10 → 13 → 16 → 19 over the last 24 hours of the stay (rising)."),
])  # fmt: skip
def test_the_trend_shows_at_most_six_points_ending_at_the_last_score(totals, said):
    from ukcore.discharge.content import _trend

    assert _trend(totals) == said


def test_the_course_names_the_last_the_highest_and_the_24_hour_trend(
    ward, settings, django_capture_on_commit_callbacks
):
    import datetime as dt

    from scoring.models import EarlyWarningScore

    # given earlier scores in the stay: a peak of 9 forty hours ago, then 6 and 4 within the last day
    settings.VW_FHIR_DISCHARGE_URL = ""
    last = ward.score
    for total, hours in ((9, 40), (6, 20), (4, 10)):
        EarlyWarningScore.objects.create(
            patient=ward.patient, computed_at=last.as_of - dt.timedelta(hours=hours),
            as_of=last.as_of - dt.timedelta(hours=hours), total=total, risk="medium", band="medium", spo2_scale=1,
            complete=True, sub_scores={}, clinical_response="", monitoring_frequency="", monitoring_interval_s=3600,
        )  # fmt: skip
    summary = discharge(ward, django_capture_on_commit_callbacks)
    course = next(s for s in summary.document["entry"][0]["resource"]["section"] if s["title"].startswith("Course"))
    text = course["text"]["div"]
    assert f"Last NEWS2: {last.total}" in text and "Highest NEWS2 during the stay: 9" in text
    assert f"6 → 4 → {last.total}" in text and "4 scores were computed" in text
