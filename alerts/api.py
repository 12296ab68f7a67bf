"""REST API for alerts: the queue, one alert with its history, the actions, the outcome summary.

Thin: validates input, calls selectors and services, maps their errors to HTTP. An alert on a
ward the user cannot see is a 404, exactly as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit_hooks import AuditedReadsMixin
from alerts import reports, selectors, services
from alerts.models import Alert
from alerts.serializers import (
    AlertFilterSerializer,
    AssignSerializer,
    EscalateSerializer,
    NoteSerializer,
    ResolveSerializer,
    SnoozeSerializer,
    SummaryQuerySerializer,
)
from patients.serializers import lacks_offset
from rota.services import alert_escalate_to

T = TypeVar("T")
NAIVE = "Give the time with a UTC offset or Z, e.g. 2026-11-23T10:30:00Z."


def run_action(act: Callable[[], T], present: Callable[[T], dict[str, Any]]) -> Response:
    """An alert (or incident) action's answer: what it now is, or its refusal as 403, 409 or 400."""
    try:
        done = act()
    except services.AlertPermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except services.AlertStateError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    except services.AlertActionError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return Response(present(done))


def _run(act: Callable[[], Alert]) -> Response:
    return run_action(act, selectors.alert_detail_to_dict)


def _valid(serializer_class: type[drf_serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AlertViewSet(AuditedReadsMixin, viewsets.GenericViewSet):
    """Alerts visible to the user: clinicians their wards', operators and administrators all."""

    serializer_class = NoteSerializer  # for the schema only; responses are alert_to_dict

    def get_queryset(self) -> Any:
        return selectors.visible_alerts(self.request.user)

    @extend_schema(
        operation_id="alerts_list",
        parameters=[AlertFilterSerializer],
        responses={200: OpenApiTypes.OBJECT},
        description="The queue (live alerts, most urgent first) unless `state` asks for another view.",
    )
    def list(self, request: Request) -> Response:
        filters = _valid(AlertFilterSerializer, request.query_params)
        alerts = selectors.alert_list(
            request.user, state=filters.get("state"), kind=filters.get("kind"), ward_id=filters.get("ward")
        )
        page = self.paginate_queryset(alerts)
        return self.get_paginated_response([selectors.alert_to_dict(alert) for alert in page])

    @extend_schema(
        operation_id="alerts_retrieve", responses={200: OpenApiTypes.OBJECT}, description="One alert with its history."
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(selectors.alert_detail_to_dict(self.get_object()))

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        alert = self.get_object()
        return _run(lambda: services.alert_acknowledge(alert=alert, user=request.user))

    @extend_schema(request=AssignSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        alert = self.get_object()
        data = _valid(AssignSerializer, request.data)
        return _run(lambda: services.alert_assign(alert=alert, user=request.user, assignee=data["assignee"]))

    @extend_schema(request=NoteSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def note(self, request: Request, pk: str) -> Response:
        alert = self.get_object()
        data = _valid(NoteSerializer, request.data)
        return _run(lambda: services.alert_add_note(alert=alert, user=request.user, note=data["note"]))

    @extend_schema(request=EscalateSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str) -> Response:
        alert = self.get_object()
        data = _valid(EscalateSerializer, request.data)
        if data["to"]:
            return _run(lambda: alert_escalate_to(alert=alert, user=request.user, to=data["to"], note=data["note"]))
        return _run(lambda: services.alert_escalate(alert=alert, user=request.user, note=data["note"]))

    @extend_schema(request=ResolveSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        alert = self.get_object()
        if lacks_offset(str(request.data.get("review_by") or "")):
            return Response({"review_by": [NAIVE]}, status=status.HTTP_400_BAD_REQUEST)
        data = _valid(ResolveSerializer, request.data)
        return _run(
            lambda: services.alert_resolve(
                alert=alert,
                user=request.user,
                outcome=data["outcome"],
                note=data["note"],
                review_by=data["review_by"],
            )
        )

    @extend_schema(request=SnoozeSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, pk: str) -> Response:
        alert = self.get_object()
        data = _valid(SnoozeSerializer, request.data)
        return _run(
            lambda: services.alert_snooze(
                alert=alert, user=request.user, minutes=data["minutes"], reason=data["reason"]
            )
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
            OpenApiParameter("ward", OpenApiTypes.INT),
        ],
        responses={200: OpenApiTypes.OBJECT},
        description="Alerts opened in [since, until): count per kind, time to acknowledge (median, p90), outcomes.",
    )
    @action(detail=False, methods=["get"])
    def summary(self, request: Request) -> Response:
        for name in ("since", "until"):
            if lacks_offset(request.query_params.get(name, "")):
                return Response({name: [NAIVE]}, status=status.HTTP_400_BAD_REQUEST)
        query = _valid(SummaryQuerySerializer, request.query_params)
        until = query.get("until") or timezone.now()
        since = query.get("since") or until - timedelta(days=7)
        try:
            summary = reports.alert_summary(user=request.user, since=since, until=until, ward_id=query.get("ward"))
        except reports.ReportPeriodError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(summary)
