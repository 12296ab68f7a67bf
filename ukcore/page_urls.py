"""The discharge summary's downloads, beside the patient's page."""

from django.urls import path

from ukcore import views

app_name = "ukcore"

urlpatterns = [
    path(
        "patients/<int:patient_id>/discharge-summaries/<int:summary_id>.html", views.summary_html, name="summary-html"
    ),
    path(
        "patients/<int:patient_id>/discharge-summaries/<int:summary_id>.pdf", views.summary_pdf_view, name="summary-pdf"
    ),
    path(
        "patients/<int:patient_id>/discharge-summaries/<int:summary_id>.json",
        views.summary_document,
        name="summary-document",
    ),
]
