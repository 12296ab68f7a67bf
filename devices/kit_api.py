"""REST API for the kit team's tasks: the open ones for the user's wards, and marking one done."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import can_act_on_patient, visible_patients
from accounts.audit_hooks import AuditedReadsMixin
from devices import notspots
from devices.models import KitTask


class KitTaskSerializer(serializers.ModelSerializer):
    device = serializers.CharField(source="device.device_id", read_only=True)
    device_label = serializers.CharField(source="device.__str__", read_only=True)

    class Meta:
        model = KitTask
        fields = ["id", "patient", "device", "device_label", "state", "reason", "remedy", "created_at", "done_at"]
        read_only_fields = fields


class KitDoneSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


@extend_schema(tags=["Devices"])
class KitTaskViewSet(AuditedReadsMixin, viewsets.ReadOnlyModelViewSet):
    """Open kit-team tasks for the patients the user can see, oldest first."""

    serializer_class = KitTaskSerializer
    audit_actions = {"list": "kit_task.listed", "retrieve": "kit_task.viewed", "done": "kit_task.done_requested"}

    def get_queryset(self) -> Any:
        return notspots.open_kit_tasks(patients=visible_patients(self.request.user))

    @extend_schema(request=KitDoneSerializer, responses={200: KitTaskSerializer})
    @action(detail=True, methods=["post"])
    def done(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        if not can_act_on_patient(request.user, task.patient_id):
            return Response({"detail": "You may not act on this patient's kit."}, status=status.HTTP_403_FORBIDDEN)
        serializer = KitDoneSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            task = notspots.kit_task_done(task=task, user=request.user, note=serializer.validated_data["note"])
        except notspots.KitTaskError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(KitTaskSerializer(task).data)
