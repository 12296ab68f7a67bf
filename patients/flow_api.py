"""API for capacity and flow (counts, any staff for their wards) and the daily returns
(patient-level: administrators only, each download audited against every patient in it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdministrator, IsStaff
from frontend.flow_views import daily_return_response, flow_arguments, flow_csv_response
from patients.flow import FlowPeriodError, ward_flow
from patients.models import DailyReturn


class FlowDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    beds = serializers.IntegerField(allow_null=True)
    census = serializers.IntegerField(help_text="Stays open at the end of the day (local midnight).")
    occupancy = serializers.FloatField(allow_null=True, help_text="Per cent of beds; null without beds.")
    over_target = serializers.BooleanField()
    admissions = serializers.IntegerField()
    discharges = serializers.IntegerField()


class FlowSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    beds = serializers.IntegerField(allow_null=True)
    target = serializers.IntegerField(help_text="Occupancy target, per cent.")
    now = serializers.DictField()
    days = FlowDaySerializer(many=True)
    admissions = serializers.IntegerField()
    discharges = serializers.IntegerField()
    direction = serializers.DictField(child=serializers.IntegerField())
    readmissions = serializers.IntegerField()
    outcomes = serializers.DictField(child=serializers.IntegerField())
    length_of_stay = serializers.DictField()


FLOW_PARAMETERS = [
    OpenApiParameter("ward", OpenApiTypes.INT, description="One ward; default all wards you can see."),
    OpenApiParameter("period", OpenApiTypes.STR, enum=["7d", "30d", "90d"], description="Ending today."),
    OpenApiParameter("since", OpenApiTypes.DATE, description="First day (local), instead of period."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Last day (local), default today."),
    OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
]


class FlowView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(summary="Capacity and flow", parameters=FLOW_PARAMETERS, responses=FlowSerializer, tags=["Stays"])
    def get(self, request: Request) -> Any:
        wards, since, until, error = flow_arguments(request.user, request.query_params)
        if error:
            raise serializers.ValidationError({"period": [error]})
        try:
            report = ward_flow(wards=wards, since=since, until=until)
        except FlowPeriodError as exc:
            raise serializers.ValidationError({"period": [str(exc)]}) from None
        if request.query_params.get("format") == "csv":
            return flow_csv_response(report)
        days = [
            {"day": d.day, "beds": d.beds, "census": d.census, "occupancy": d.occupancy, "over_target": d.over_target,
             "admissions": d.admissions, "discharges": d.discharges}
            for d in report["days"]
        ]  # fmt: skip
        return Response(FlowSerializer({**report, "days": days}).data)

    # DRF would answer ?format=csv itself with a 404 (no csv renderer): the view decides.
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)


class DailyReturnSerializer(serializers.ModelSerializer):
    class Meta:
        model = DailyReturn
        fields = ["day", "identifier", "rows", "sha256", "generated_at"]
        read_only_fields = fields


class DailyReturnListView(APIView):
    permission_classes = [IsAdministrator]

    @extend_schema(
        summary="Daily returns made, newest first", responses=DailyReturnSerializer(many=True), tags=["Stays"]
    )
    def get(self, request: Request) -> Response:
        return Response(DailyReturnSerializer(DailyReturn.objects.all()[:366], many=True).data)


class DailyReturnDownloadView(APIView):
    permission_classes = [IsAdministrator]

    @extend_schema(
        summary="One day's return (CSV), audited per patient",
        responses={(200, "text/csv"): OpenApiTypes.STR},
        tags=["Stays"],
    )
    def get(self, request: Request, day: str) -> HttpResponse:
        return daily_return_response(day, user=request.user, route=request.path)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)
