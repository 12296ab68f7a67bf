"""Translating patients and observations to and from JSON. No rules live here: services decide.

The strict fields below refuse what DRF would otherwise coerce (``true`` as a pulse of 1,
``"88"`` as a number, a time without an offset placed in London time), because a vital sign
that was guessed at is worse than one that was refused with a reason.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.access import visible_patients, visible_wards
from patients.models import Observation, Patient, SpO2Scale, SpO2ScaleChange, VitalType, Ward
from patients.nhs_number import normalise_nhs_number
from virtualward.datetimes import aware_datetime_problem

# --- strict fields -------------------------------------------------------------------------


def lacks_offset(raw: str) -> bool:
    """True for readable ISO 8601 text without a UTC offset, which we refuse to guess at.

    Text shaped like a time but impossible (12:99) is not "lacking an offset": the field's own
    parsing then refuses it as invalid.
    """
    try:
        parsed = parse_datetime(raw.strip())
    except ValueError:
        return False
    return parsed is not None and timezone.is_naive(parsed)


NAIVE_MESSAGE = "Give the time with a UTC offset or Z, e.g. 2026-11-23T10:30:00Z."


class AwareDateTimeField(serializers.DateTimeField):
    default_error_messages = {"naive": NAIVE_MESSAGE}

    def to_internal_value(self, value: Any) -> datetime:
        # DRF would otherwise place a naive time in Europe/London, an hour out half the year.
        if isinstance(value, str) and lacks_offset(value):
            self.fail("naive")
        if isinstance(value, datetime) and timezone.is_naive(value):
            self.fail("naive")
        # Checked as given, before DRF moves it to London time and the offset is lost.
        given = _parsed_or_none(value) if isinstance(value, str) else value
        problem = aware_datetime_problem(given) if isinstance(given, datetime) else None
        if problem:
            raise serializers.ValidationError(problem, code="out_of_range")
        return super().to_internal_value(value)


def _parsed_or_none(raw: str) -> datetime | None:
    try:
        return parse_datetime(raw.strip())
    except ValueError:
        return None


class StrictFloatField(serializers.FloatField):
    """A JSON number and nothing else: no booleans, no numeric strings."""

    default_error_messages = {"not_number": "A number is required (got {kind})."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("not_number", kind=type(data).__name__)
        if isinstance(data, float) and not math.isfinite(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` only: "yes", 1 or "on" are refused rather than guessed at."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictScaleField(serializers.ChoiceField):
    """The SpO2 scale, the integer 1 or 2."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=SpO2Scale.choices, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or data not in SpO2Scale.values:
            self.fail("invalid_choice", input=data)
        return int(data)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "number"},
            {"type": "boolean"},
            {"type": "string", "enum": ["A", "C", "V", "P", "U"]},
        ],
        "description": "A number for measurements, true/false for on_oxygen (fall_detected: true), "
        "an ACVPU letter for consciousness.",
    }
)
class VitalValueField(serializers.Field):
    default_error_messages = {"invalid": "A value is a number, true/false or an ACVPU letter."}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, bool | int | float | str):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


# --- wards and patients ----------------------------------------------------------------------


class WardSerializer(serializers.ModelSerializer):
    active_patient_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Ward
        fields = ["id", "name", "pathway", "phone", "active_patient_count"]


class ScoreSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    total = serializers.IntegerField()
    risk = serializers.CharField()
    complete = serializers.BooleanField()
    as_of = serializers.DateTimeField()


class PatientSerializer(serializers.ModelSerializer):
    ward_name = serializers.CharField(source="ward.name", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)
    spo2_scale_set_by = serializers.CharField(
        source="spo2_scale_set_by.get_username", read_only=True, default=None, allow_null=True
    )
    current_score = ScoreSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Patient
        fields = [
            "id", "nhs_number", "given_name", "family_name", "date_of_birth", "phone",
            "ward", "ward_name", "admitted_at", "discharged_at", "active",
            "spo2_scale", "spo2_scale_set_by", "spo2_scale_set_at", "current_score",
        ]  # fmt: skip
        read_only_fields = fields


class PatientAdmitSerializer(serializers.Serializer):
    ward = serializers.PrimaryKeyRelatedField(queryset=Ward.objects.none())
    nhs_number = serializers.CharField(max_length=20, help_text="Ten digits; spaces and hyphens are ignored.")
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField()
    admitted_at = AwareDateTimeField(required=False, help_text="Defaults to now.")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["ward"].queryset = visible_wards(request.user)
        return fields

    def validate_nhs_number(self, value: str) -> str:
        return normalise_nhs_number(value)


class PatientDischargeSerializer(serializers.Serializer):
    discharged_at = AwareDateTimeField(required=False, help_text="Defaults to now.")


class SpO2ScaleChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by.get_username", read_only=True)

    class Meta:
        model = SpO2ScaleChange
        fields = ["id", "patient", "scale", "changed_by", "changed_at", "reason"]
        read_only_fields = fields


class SpO2ScaleInputSerializer(serializers.Serializer):
    scale = StrictScaleField(help_text="1, or 2 for hypercapnic respiratory failure with a 88–92 % target.")
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Why; required to set Scale 2 and to clear it (a 400 naming `reason` otherwise).",
    )


# --- observations ----------------------------------------------------------------------------


class ObservationSerializer(serializers.ModelSerializer):
    value = VitalValueField(source="display_value")
    source = serializers.SerializerMethodField()
    device = serializers.CharField(source="device.device_id", read_only=True, default=None)
    entered_by = serializers.CharField(
        source="entered_by.get_username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Observation
        fields = [
            "id", "patient", "type", "value", "unit", "measured_at", "received_at", "is_late",
            "source", "device", "entered_by",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field({"type": "string", "enum": ["device", "manual"]})
    def get_source(self, observation: Observation) -> str:
        return "device" if observation.device_id is not None else "manual"


class ManualObservationSerializer(serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.none())
    type = serializers.ChoiceField(choices=VitalType.choices)
    value = VitalValueField()
    unit = serializers.CharField(
        required=False, allow_blank=True, max_length=10, help_text="Optional; defaults to the protocol unit."
    )
    measured_at = AwareDateTimeField(help_text="When the reading was taken, with an offset.")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            # Someone else's patient is indistinguishable from one that does not exist.
            fields["patient"].queryset = visible_patients(request.user)
        return fields
