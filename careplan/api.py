"""REST API for agreed parameters and the self-escalation plan: translate HTTP, call the services.

A patient outside the user's wards is a 404, as everywhere (accounts.access). Reads are audited
(accounts.audit_hooks), writes by the services.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit_hooks import audit_request, noted_patient
from accounts.permissions import IsStaff
from careplan import selectors, services
from careplan.models import AgreedLimit, AgreedParameter
from patients.api import service_errors


class AgreedLimitSerializer(serializers.ModelSerializer):
    set_by = serializers.CharField(source="set_by.username", read_only=True)
    ended_by = serializers.CharField(source="ended_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = AgreedLimit
        fields = ["id", "parameter", "low", "high", "spo2_scale", "reason", "review_by", "set_by", "set_at",
                  "ended_at", "ended_by", "end_reason"]  # fmt: skip


class AgreedLimitInputSerializer(serializers.Serializer):
    parameter = serializers.ChoiceField(choices=AgreedParameter.choices)
    low = serializers.FloatField()
    high = serializers.FloatField()
    spo2_scale = serializers.ChoiceField(choices=[1, 2], required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=500)
    review_by = serializers.DateField(help_text="After today, at most 30 days ahead.")


class EndInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class AgreedParametersSerializer(serializers.Serializer):
    now = serializers.JSONField(allow_null=True, help_text="What the agreed parameters make of the current score.")
    live = AgreedLimitSerializer(many=True)
    history = AgreedLimitSerializer(many=True)


class EscalationPlanSerializer(serializers.Serializer):
    if_worse = serializers.CharField(max_length=2000)
    call_ward_when = serializers.CharField(max_length=2000)
    call_111_when = serializers.CharField(max_length=2000)
    call_999_when = serializers.CharField(max_length=2000)
    ward_phone = serializers.CharField(max_length=40)
    ward_hours = serializers.CharField(max_length=200)
    updated_by = serializers.CharField(source="updated_by.username", read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class _PatientView(APIView):
    permission_classes = [IsStaff]
    audit_action = ""

    def patient(self, request: Request, pk: int) -> Any:
        return noted_patient(request, pk)

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        audit_request(request, response, self.audit_action)
        return response


class AgreedParametersView(_PatientView):
    audit_action = "careplan.agreed_viewed"

    @extend_schema(tags=["Care plan"], summary="The patient's agreed parameters", responses=AgreedParametersSerializer)
    def get(self, request: Request, pk: int) -> Response:
        patient = self.patient(request, pk)
        history = list(selectors.limit_history(patient=patient))
        data = {
            "now": selectors.agreed_now(patient, patient.current_score),
            "live": [limit for limit in history if limit.is_live],
            "history": history,
        }
        return Response(AgreedParametersSerializer(data).data)

    @extend_schema(
        tags=["Care plan"], summary="Agree a parameter (replaces the live one)",
        description="Refused with 400 naming the field when a guard rail is broken (docs/care-plan.md).",
        request=AgreedLimitInputSerializer, responses={201: AgreedLimitSerializer},
    )  # fmt: skip
    def post(self, request: Request, pk: int) -> Response:
        patient = self.patient(request, pk)
        given = AgreedLimitInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors():
            limit = services.agreed_limit_set(patient=patient, user=request.user, **given.validated_data)
        return Response(AgreedLimitSerializer(limit).data, status=status.HTTP_201_CREATED)


class AgreedLimitEndView(_PatientView):
    audit_action = "careplan.agreed_viewed"

    @extend_schema(
        tags=["Care plan"], summary="End an agreement", request=EndInputSerializer, responses=AgreedLimitSerializer
    )
    def post(self, request: Request, pk: int, limit_id: int) -> Response:
        patient = self.patient(request, pk)
        limit = AgreedLimit.objects.filter(pk=limit_id, patient=patient).select_related("patient").first()
        if limit is None:
            raise Http404("No such agreement.")
        given = EndInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors():
            ended = services.agreed_limit_end(limit=limit, user=request.user, reason=given.validated_data["reason"])
        return Response(AgreedLimitSerializer(ended).data)


class EscalationPlanView(_PatientView):
    audit_action = "careplan.plan_viewed"

    @extend_schema(
        tags=["Care plan"], summary="The patient's self-escalation plan",
        description="404 until one is written.", responses=EscalationPlanSerializer,
    )  # fmt: skip
    def get(self, request: Request, pk: int) -> Response:
        plan = selectors.plan_of(patient=self.patient(request, pk))
        if plan is None:
            raise Http404("No plan has been written for this patient yet.")
        return Response(EscalationPlanSerializer(plan).data)

    @extend_schema(
        tags=["Care plan"], summary="Write the patient's self-escalation plan",
        request=EscalationPlanSerializer, responses=EscalationPlanSerializer,
    )  # fmt: skip
    def put(self, request: Request, pk: int) -> Response:
        patient = self.patient(request, pk)
        given = EscalationPlanSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors():
            plan = services.escalation_plan_save(patient=patient, user=request.user, **given.validated_data)
        return Response(EscalationPlanSerializer(plan).data)
