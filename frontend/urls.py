from django.urls import path

from frontend import pairing_views, views

app_name = "frontend"
urlpatterns: list = [
    # Pairing (frontend/pairing_views.py): the patient's pages need no log-in, only the code.
    path("pair/", pairing_views.pair_code, name="pair"),
    path("pair/device/", pairing_views.pair_device, name="pair-device"),
    path("pair/wait/<str:token>/", pairing_views.pair_wait, name="pair-wait"),
    path("pair/status/<str:token>/", pairing_views.pair_status, name="pair-status"),
    path("patients/<int:patient_id>/pairing-code/", pairing_views.pairing_code, name="pairing-code"),
    path("devices/<int:device_id>/unpair/", pairing_views.unpair, name="device-unpair"),
    path("", views.home, name="home"),
    path("wards/", views.board, name="wards"),
    path("wards/<int:ward_id>/", views.board, name="ward"),
    path("triage/", views.triage, name="triage"),
    path("triage/summary/", views.triage_summary, name="triage-summary"),
    path("triage/alerts/<int:alert_id>/<slug:action>/", views.alert_action, name="alert-action"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient"),
    path("patients/<int:patient_id>/series.json", views.patient_series, name="patient-series"),
    path("patients/<int:patient_id>/observations/", views.patient_observation, name="patient-observation"),
    path("patients/<int:patient_id>/observations/preview/", views.patient_news2_preview, name="patient-preview"),
    path("patients/<int:patient_id>/scale/", views.patient_scale, name="patient-scale"),
]
