"""REST API for connectivity incidents: the open ones, one with its ranked patients, acknowledge, assign.

Thin, like alerts.api: an incident none of whose patients the user can see is a 404; acting on
one needs every ward it touches (alerts.services.incident_actions). Reads name patients, so
they are audited (AuditedReadsMixin), one event per patient shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import visible_patients
from accounts.audit_hooks import AuditedReadsMixin, audit_note
from alerts import services
from alerts.api import run_action
from alerts.incident_models import ConnectivityIncident, IncidentMember
from alerts.incident_selectors import open_incidents
from alerts.serializers import AssignSerializer


def _json(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: (value.isoformat() if hasattr(value, "isoformat") else value) for key, value in summary.items()}


@extend_schema(tags=["Alerts"])
class IncidentViewSet(AuditedReadsMixin, viewsets.GenericViewSet):
    """Open connectivity incidents touching the user's wards, their patients ranked by risk."""

    serializer_class = AssignSerializer  # for the schema only
    audit_actions = {"acknowledge": "incident.acknowledge", "assign": "incident.assign"}

    def get_queryset(self) -> Any:
        members = IncidentMember.objects.filter(patient__in=visible_patients(self.request.user))
        return ConnectivityIncident.objects.filter(pk__in=members.values("incident_id"))

    def _summary(self, incident: ConnectivityIncident) -> dict[str, Any]:
        found = [s for s in self._summaries() if s["id"] == incident.pk]
        if not found:  # closed: no silent patients left to rank
            return {"id": incident.pk, "label": incident.label, "state": incident.state, "members": []}
        return found[0]

    def _summaries(self) -> list[dict[str, Any]]:
        summaries = open_incidents(patients=visible_patients(self.request.user))
        for summary in summaries:
            audit_note(self.request, *(m["patient_id"] for m in summary["members"]))
            summary["members"] = [_json(m) for m in summary["members"]]
            summary["notifications"] = [_json(n) for n in summary["notifications"]]
            summary["state"] = "open"
        return [_json(s) for s in summaries]

    @extend_schema(
        operation_id="incidents_list", responses={200: OpenApiTypes.OBJECT}, description="Open incidents, oldest first."
    )
    def list(self, request: Request) -> Response:
        return Response({"results": self._summaries()})

    @extend_schema(
        operation_id="incidents_retrieve",
        responses={200: OpenApiTypes.OBJECT},
        description="One incident, its patients ranked by risk.",
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._summary(self._get()))

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        incident = self._get()
        return self._run(lambda: services.incident_acknowledge(incident=incident, user=request.user))

    @extend_schema(request=AssignSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        incident = self._get()
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assignee = serializer.validated_data["assignee"]
        return self._run(lambda: services.incident_assign(incident=incident, user=request.user, assignee=assignee))

    def _get(self) -> ConnectivityIncident:
        pk = str(self.kwargs.get("pk", ""))
        incident = self.get_queryset().filter(pk=int(pk)).first() if pk.isdigit() else None
        if incident is None:
            raise NotFound("No such incident.")
        return incident

    def _run(self, act: Callable[[], ConnectivityIncident]) -> Response:
        return run_action(act, self._summary)
