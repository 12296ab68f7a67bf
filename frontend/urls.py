from django.urls import path

from frontend import views

app_name = "frontend"
urlpatterns: list = [
    path("", views.home, name="home"),
    path("wards/", views.board, name="wards"),
    path("wards/<int:ward_id>/", views.board, name="ward"),
    path("triage/", views.triage, name="triage"),
    path("triage/summary/", views.triage_summary, name="triage-summary"),
    path("triage/alerts/<int:alert_id>/<slug:action>/", views.alert_action, name="alert-action"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient"),
    path("patients/<int:patient_id>/series.json", views.patient_series, name="patient-series"),
    path("patients/<int:patient_id>/observations/", views.patient_observation, name="patient-observation"),
    path("patients/<int:patient_id>/scale/", views.patient_scale, name="patient-scale"),
]
