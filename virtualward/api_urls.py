"""Version 1 of the REST API: every resource is registered here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from accounts.api import AuditExportView
from alerts.api import AlertViewSet
from alerts.incident_api import IncidentViewSet
from careplan.api import AgreedLimitEndView, AgreedParametersView, EscalationPlanView
from checkins.api import PatientCheckinsView
from devices.api import ConnectivityAreasView, DeviceViewSet, IngestRejectionViewSet
from devices.kit_api import KitTaskViewSet
from devices.pairing_api import CollectView, DeviceUnpairView, PairingView
from patients.api import ObservationViewSet, PatientViewSet, StayViewSet, WardViewSet
from patients.flow_api import DailyReturnDownloadView, DailyReturnListView, FlowView
from rota.api import ShiftViewSet
from scoring.api import News2CalculatorView

router = DefaultRouter()
router.register("wards", WardViewSet, basename="ward")
router.register("patients", PatientViewSet, basename="patient")
router.register("observations", ObservationViewSet, basename="observation")
router.register("stays", StayViewSet, basename="stay")
router.register("devices", DeviceViewSet, basename="device")
router.register("rejections", IngestRejectionViewSet, basename="rejection")
router.register("alerts", AlertViewSet, basename="alert")
router.register("incidents", IncidentViewSet, basename="incident")
router.register("rota/shifts", ShiftViewSet, basename="shift")
router.register("connectivity/kit-tasks", KitTaskViewSet, basename="kit-task")

urlpatterns = [
    path("news2/", News2CalculatorView.as_view(), name="news2"),
    path("pairing/", PairingView.as_view(), name="pairing"),
    path("pairing/collect/", CollectView.as_view(), name="pairing-collect"),
    path("devices/<int:pk>/unpair/", DeviceUnpairView.as_view(), name="device-unpair"),
    path("connectivity/areas/", ConnectivityAreasView.as_view(), name="connectivity-areas"),
    path("audit/export.csv", AuditExportView.as_view(), name="audit-export"),
    path("patients/<int:pk>/agreed-parameters/", AgreedParametersView.as_view(), name="patient-agreed-parameters"),
    path(
        "patients/<int:pk>/agreed-parameters/<int:limit_id>/end/",
        AgreedLimitEndView.as_view(),
        name="patient-agreed-parameter-end",
    ),
    path("patients/<int:pk>/escalation-plan/", EscalationPlanView.as_view(), name="patient-escalation-plan"),
    path("patients/<int:pk>/checkins/", PatientCheckinsView.as_view(), name="patient-checkins"),
    path("flow/", FlowView.as_view(), name="flow"),
    path("daily-returns/", DailyReturnListView.as_view(), name="daily-return-list"),
    path("daily-returns/<str:day>.csv", DailyReturnDownloadView.as_view(), name="daily-return-download"),
    *router.urls,
]
