from django.urls import path

from frontend import connectivity_views, flow_views, incident_views, pairing_views, stay_views, views

app_name = "frontend"
urlpatterns: list = [
    # Pairing (frontend/pairing_views.py): the patient's pages need no log-in, only the code.
    path("pair/", pairing_views.pair_code, name="pair"),
    path("pair/device/", pairing_views.pair_device, name="pair-device"),
    path("pair/wait/<str:token>/", pairing_views.pair_wait, name="pair-wait"),
    path("pair/status/<str:token>/", pairing_views.pair_status, name="pair-status"),
    path("pair/kit/add/", pairing_views.pair_kit_add, name="pair-kit-add"),
    path("patients/<int:patient_id>/pairing-code/", pairing_views.pairing_code, name="pairing-code"),
    path("devices/<int:device_id>/unpair/", pairing_views.unpair, name="device-unpair"),
    path("", views.home, name="home"),
    path("wards/", views.board, name="wards"),
    path("wards/<int:ward_id>/", views.board, name="ward"),
    path("triage/", views.triage, name="triage"),
    path("triage/summary/", views.triage_summary, name="triage-summary"),
    path("triage/alerts/<int:alert_id>/<slug:action>/", views.alert_action, name="alert-action"),
    path("connectivity/areas/", connectivity_views.connectivity_areas, name="connectivity-areas"),
    path("connectivity/kit-tasks/", connectivity_views.kit_tasks, name="kit-tasks"),
    path("connectivity/kit-tasks/<int:task_id>/done/", connectivity_views.kit_task_done, name="kit-task-done"),
    path("triage/incidents/<int:incident_id>/<slug:action>/", incident_views.incident_action, name="incident-action"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient"),
    path("patients/<int:patient_id>/series.json", views.patient_series, name="patient-series"),
    path("patients/<int:patient_id>/observations/", views.patient_observation, name="patient-observation"),
    path("patients/<int:patient_id>/observations/preview/", views.patient_news2_preview, name="patient-preview"),
    path("patients/<int:patient_id>/scale/", views.patient_scale, name="patient-scale"),
    # Stays and the record (frontend/stay_views.py)
    path("patients/admit/", stay_views.admit, name="admit"),
    path("patients/<int:patient_id>/discharge/", stay_views.discharge, name="patient-discharge"),
    path("patients/<int:patient_id>/readmit/", stay_views.readmit, name="patient-readmit"),
    path("patients/<int:patient_id>/record/", stay_views.record, name="patient-record"),
    path(
        "patients/<int:patient_id>/expected-discharge/",
        stay_views.expected_discharge,
        name="patient-expected-discharge",
    ),
    path("patients/<int:patient_id>/phones/", stay_views.phone_add, name="patient-phone-add"),
    path(
        "patients/<int:patient_id>/phones/<int:phone_id>/remove/", stay_views.phone_remove, name="patient-phone-remove"
    ),
    path("patients/<int:patient_id>/contacts/", stay_views.contact_add, name="patient-contact-add"),
    path(
        "patients/<int:patient_id>/contacts/<int:contact_id>/remove/",
        stay_views.contact_remove,
        name="patient-contact-remove",
    ),
    path("patients/<int:patient_id>/kit/<int:task_id>/collected/", stay_views.kit_collected, name="kit-collected"),
    # Capacity, flow and the daily return (frontend/flow_views.py)
    path("flow/", flow_views.flow, name="flow"),
    path("flow.csv", flow_views.flow_csv_view, name="flow-csv"),
    path("returns/", flow_views.returns, name="returns"),
    path("returns/<str:day>.csv", flow_views.return_download, name="return-download"),
]
