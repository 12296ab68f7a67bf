"""REST API for the rota: who is on duty (``?at=``, ``?ward=``), and adding a shift."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import visible_wards
from alerts.services import AlertActionError, AlertPermissionError
from patients.serializers import AwareDateTimeField, lacks_offset
from rota import selectors, services
from rota.models import DutyRole, Shift

NAIVE = "Give the time with a UTC offset or Z, e.g. 2026-11-23T08:00:00Z."


class ShiftQuerySerializer(serializers.Serializer):
    at = AwareDateTimeField(required=False, help_text="On duty at this moment (default now). With offset or Z.")
    ward = serializers.IntegerField(required=False, min_value=1)


class ShiftInputSerializer(serializers.Serializer):
    person = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.filter(is_active=True))
    role = serializers.ChoiceField(choices=DutyRole.choices)
    ward = serializers.IntegerField(required=False, allow_null=True, default=None)
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField()


def shift_to_dict(shift: Shift) -> dict[str, Any]:
    person = shift.person
    return {
        "id": shift.pk,
        "person": {"id": person.pk, "name": person.get_full_name() or person.get_username()},
        "role": shift.role,
        "role_label": shift.get_role_display(),
        "ward_id": shift.ward_id,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
    }


class ShiftViewSet(viewsets.ViewSet):
    """Shifts on duty at a moment, for the wards the user may see; the command centre adds them."""

    @extend_schema(parameters=[ShiftQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def list(self, request: Request) -> Response:
        if lacks_offset(request.query_params.get("at", "")):
            return Response({"at": [NAIVE]}, status=status.HTTP_400_BAD_REQUEST)
        query = ShiftQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        wards = visible_wards(request.user)
        if "ward" in query.validated_data:
            wards = wards.filter(pk=query.validated_data["ward"])
        at = query.validated_data.get("at") or timezone.now()
        shifts = selectors.shifts_at(at).filter(ward__isnull=True) | selectors.shifts_at(at).filter(ward__in=wards)
        return Response({"at": at.isoformat(), "results": [shift_to_dict(s) for s in shifts.order_by("role", "pk")]})

    @extend_schema(request=ShiftInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request: Request) -> Response:
        for name in ("starts_at", "ends_at"):
            if lacks_offset(str(request.data.get(name) or "")):
                return Response({name: [NAIVE]}, status=status.HTTP_400_BAD_REQUEST)
        data = ShiftInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        ward = None
        if values["ward"] is not None:
            ward = visible_wards(request.user).filter(pk=values["ward"]).first()
            if ward is None:
                return Response({"ward": ["No such ward."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            shift = services.shift_create(user=request.user, **{**values, "ward": ward})
        except AlertPermissionError as exc:
            raise PermissionDenied(str(exc)) from None
        except AlertActionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(shift_to_dict(shift), status=status.HTTP_201_CREATED)
