"""Read-only REST API for devices and for what ingest refused from them.

Device secrets (even their hashes) never leave the database. Clinicians see the devices of the
patients they can see; operators and administrators see every device, paired or not.
"""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import visible_patients
from accounts.audit_hooks import AuditedReadsMixin, audit_note, audit_request
from accounts.permissions import IsOperatorOrAdministrator
from devices import notspots
from devices.models import Device, IngestRejection, KitTask
from devices.network import network_to_dict
from patients import selectors
from patients.models import Patient


class NetworkSerializer(serializers.Serializer):
    """The device's latest network report (protocol v1 status "network"); null if it never sent one."""

    type = serializers.CharField(allow_null=True)
    operator = serializers.CharField(allow_null=True, help_text="Mobile network MCC+MNC.")
    rssi_dbm = serializers.IntegerField(allow_null=True)
    technology = serializers.CharField(allow_null=True)
    cell = serializers.CharField(allow_null=True, help_text="Cell or access point: personal data.")
    at = serializers.DateTimeField()


class DeviceSerializer(serializers.ModelSerializer):
    network = serializers.SerializerMethodField()

    @extend_schema_field(NetworkSerializer(allow_null=True))
    def get_network(self, device: Device) -> dict | None:
        return network_to_dict(device)

    class Meta:
        model = Device
        fields = [
            "id", "device_id", "kind", "serial", "patient", "mode", "expected_interval_s", "paired_at",
            "revoked_at", "connectivity", "last_seen_at", "last_reading_at", "offline_since", "battery",
            "battery_at", "network",
        ]  # fmt: skip
        read_only_fields = fields


class IngestRejectionSerializer(serializers.ModelSerializer):
    device = serializers.CharField(source="device.device_id", read_only=True, default=None)

    class Meta:
        model = IngestRejection
        fields = ["id", "device", "device_ref", "topic", "msg_id", "index", "reason", "received_at", "excerpt"]
        read_only_fields = fields


def _request_patients(request: object) -> QuerySet[Patient]:
    user = getattr(request, "user", None)
    return visible_patients(user) if user is not None else Patient.objects.none()


def _request_devices(request: object) -> QuerySet[Device]:
    user = getattr(request, "user", None)
    return selectors.device_list(user=user) if user is not None else Device.objects.none()


class DeviceFilter(django_filters.FilterSet):
    patient = django_filters.ModelChoiceFilter(queryset=_request_patients)

    class Meta:
        model = Device
        fields = ["patient", "kind", "connectivity"]


class RejectionFilter(django_filters.FilterSet):
    device = django_filters.ModelChoiceFilter(queryset=_request_devices, help_text="The device's numeric id.")

    class Meta:
        model = IngestRejection
        fields = ["device"]


@extend_schema_view(list=extend_schema(summary="Devices you can see"), retrieve=extend_schema(summary="One device"))
@extend_schema(tags=["Devices"])
class DeviceViewSet(AuditedReadsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter

    def get_queryset(self) -> QuerySet[Device]:
        return selectors.device_list(user=self.request.user)

    @extend_schema(
        summary="The device's connectivity over the patient's stay, and any not-spot flag",
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def connectivity(self, request: Request, pk: str | None = None) -> Response:
        device = self.get_object()
        stay = notspots.stay_connectivity(device)
        flag = notspots.keeps_dropping(stay)
        remedy = notspots.suggested_remedy(stay) if flag else None
        return Response({**stay.as_dict(), "keeps_dropping": flag, "suggested_remedy": remedy})


class ConnectivityAreasView(APIView):
    permission_classes = [IsOperatorOrAdministrator]

    @extend_schema(
        tags=["Devices"],
        summary="Where dropouts cluster (by operator, cell and postcode district) and the kit team's open tasks",
        parameters=[OpenApiParameter("days", int, description="Look back this many days (1-365, default 30).")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        days = request.query_params.get("days", "30")
        if not days.isdigit() or not 1 <= int(days) <= 365:
            return Response({"days": "a whole number of days from 1 to 365"}, status=400)
        since = timezone.now() - timedelta(days=int(days))
        areas = notspots.dropout_areas(since=since)
        tasks = KitTask.objects.filter(state=KitTask.State.OPEN).select_related("device")
        # Postcodes were read to count districts, and the tasks name patients: both audited.
        audit_note(request, *notspots.area_patients(since=since, patients=Patient.objects.all()))
        audit_note(request, *(task.patient_id for task in tasks))
        areas["kit_tasks"] = [
            {"id": t.pk, "device": t.device.device_id, "patient": t.patient_id, "reason": t.reason,
             "remedy": t.remedy, "created_at": t.created_at.isoformat()}
            for t in tasks
        ]  # fmt: skip
        return Response(areas)

    def finalize_response(self, request: Request, response: Response, *args: object, **kwargs: object) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        audit_request(request, response, "connectivity.areas_viewed")
        return response


@extend_schema_view(
    list=extend_schema(summary="Messages and readings ingest refused, newest first"),
    retrieve=extend_schema(summary="One ingest rejection"),
)
@extend_schema(tags=["Devices"])
class IngestRejectionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = IngestRejectionSerializer
    filterset_class = RejectionFilter

    def get_queryset(self) -> QuerySet[IngestRejection]:
        return selectors.rejection_list(user=self.request.user)
