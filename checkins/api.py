"""REST API for a patient's check-ins: read them, or record one taken by phone."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, TextChoices
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from careplan.api import _PatientView
from checkins import services
from checkins.models import AnsweredBy, Checkin, CheckinAnswer
from patients.api import service_errors


class CheckinAnswerSerializer(serializers.ModelSerializer):
    question = serializers.CharField(source="question.key")

    class Meta:
        model = CheckinAnswer
        fields = ["question", "value", "question_text", "answer_text", "red_flag", "flag_text", "answered_at"]


class CheckinSerializer(serializers.ModelSerializer):
    answers = CheckinAnswerSerializer(many=True)
    recorded_by = serializers.CharField(source="recorded_by.username", allow_null=True, default=None)

    class Meta:
        model = Checkin
        fields = ["id", "pathway", "for_date", "answered_by", "told_by", "recorded_by", "language", "started_at",
                  "completed_at", "answers"]  # fmt: skip


class PhoneSource(TextChoices):
    """Who gave a clinician the answers over the phone."""

    PATIENT = AnsweredBy.PATIENT.value, "The patient"
    CARER = AnsweredBy.CARER.value, "A carer"


class PhoneCheckinInputSerializer(serializers.Serializer):
    told_by = serializers.ChoiceField(choices=PhoneSource.choices)
    answers = serializers.DictField(
        child=serializers.CharField(max_length=40), help_text="Question key to answer value, every question."
    )


class PatientCheckinsView(_PatientView):
    audit_action = "checkin.listed"

    @extend_schema(tags=["Check-ins"], summary="The patient's check-ins, newest first (up to 60)",
                   responses=CheckinSerializer(many=True))  # fmt: skip
    def get(self, request: Request, pk: int) -> Response:
        patient = self.patient(request, pk)
        answers = Prefetch("answers", queryset=CheckinAnswer.objects.select_related("question"))
        checkins = Checkin.objects.filter(patient=patient).select_related("recorded_by").prefetch_related(answers)
        return Response(CheckinSerializer(checkins[:60], many=True).data)

    @extend_schema(tags=["Check-ins"], summary="Record a check-in taken by phone",
                   request=PhoneCheckinInputSerializer, responses={201: CheckinSerializer})  # fmt: skip
    def post(self, request: Request, pk: int) -> Response:
        patient = self.patient(request, pk)
        given = PhoneCheckinInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        with service_errors():
            checkin = services.checkin_record_by_phone(patient=patient, user=request.user, **given.validated_data)
        return Response(CheckinSerializer(_loaded(checkin)).data, status=status.HTTP_201_CREATED)


def _loaded(checkin: Checkin) -> Any:
    return Checkin.objects.select_related("recorded_by").prefetch_related("answers__question").get(pk=checkin.pk)
