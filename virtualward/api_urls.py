"""Version 1 of the REST API: every resource is registered here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from devices.api import DeviceViewSet, IngestRejectionViewSet
from patients.api import ObservationViewSet, PatientViewSet, WardViewSet
from scoring.api import News2CalculatorView

router = DefaultRouter()
router.register("wards", WardViewSet, basename="ward")
router.register("patients", PatientViewSet, basename="patient")
router.register("observations", ObservationViewSet, basename="observation")
router.register("devices", DeviceViewSet, basename="device")
router.register("rejections", IngestRejectionViewSet, basename="rejection")

urlpatterns = [
    path("news2/", News2CalculatorView.as_view(), name="news2"),
    *router.urls,
]
