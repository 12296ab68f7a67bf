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
from patients.models import (
    Contact,
    DischargeOutcome,
    Observation,
    Patient,
    PatientPhone,
    SpO2Scale,
    SpO2ScaleChange,
    Stay,
    VitalType,
    Ward,
)
from patients.nhs_number import normalise_nhs_number
from patients.record import CommunicationNeed, NhsNumberStatus, Sex
from patients.stays import OUTCOME_CHOICES, REFERRAL_CHOICES
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
        fields = ["id", "name", "pathway", "phone", "beds", "active_patient_count"]


class ScoreSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    total = serializers.IntegerField()
    risk = serializers.CharField()
    complete = serializers.BooleanField()
    as_of = serializers.DateTimeField()


class StaySerializer(serializers.ModelSerializer):
    ward_name = serializers.CharField(source="ward.name", read_only=True)
    admitted_by = serializers.CharField(
        source="admitted_by.get_username", read_only=True, default=None, allow_null=True
    )
    discharged_by = serializers.CharField(
        source="discharged_by.get_username", read_only=True, default=None, allow_null=True
    )
    outcome = serializers.CharField(
        read_only=True,
        help_text="Empty while the stay is open; else " + ", ".join(DischargeOutcome.values) + ".",
    )
    is_readmission = serializers.BooleanField(read_only=True)
    length_of_stay_days = serializers.SerializerMethodField(help_text="Calendar days, Europe/London; so far if open.")

    class Meta:
        model = Stay
        fields = [
            "id", "patient", "ward", "ward_name", "pathway", "direction", "referral_source", "referrer", "reason",
            "admitted_at", "admitted_by", "expected_discharge_on", "discharged_at", "discharged_by", "outcome",
            "destination", "discharge_note", "is_readmission", "readmission_of", "length_of_stay_days",
        ]  # fmt: skip
        read_only_fields = fields

    def get_length_of_stay_days(self, stay: Stay) -> int:
        return stay.length_of_stay_days()


class PatientPhoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = PatientPhone
        fields = ["id", "kind", "number", "preferred", "note"]
        read_only_fields = ["id"]
        extra_kwargs = {"number": {"validators": [], "help_text": "UK or +international; stored as E.164."}}


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "relationship", "phone", "email", "is_next_of_kin", "is_carer", "may_see"]
        read_only_fields = ["id"]
        extra_kwargs = {"phone": {"validators": []}}


class PatientRecordSerializer(serializers.Serializer):
    """The parts of the record staff may change (PATCH: any subset)."""

    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    nhs_number_status = serializers.ChoiceField(
        choices=NhsNumberStatus.choices,
        required=False,
        help_text="NHS Data Dictionary NHS NUMBER STATUS INDICATOR CODE.",
    )
    address_line_1 = serializers.CharField(max_length=100, required=False, allow_blank=True)
    address_line_2 = serializers.CharField(max_length=100, required=False, allow_blank=True)
    address_town = serializers.CharField(max_length=60, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=10, required=False, allow_blank=True)
    gp_practice_code = serializers.CharField(max_length=10, required=False, allow_blank=True, help_text="ODS code.")
    gp_practice_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    preferred_language = serializers.CharField(max_length=8, required=False, allow_blank=True, help_text="ISO 639.")
    interpreter_needed = StrictBooleanField(required=False)
    communication_needs = serializers.ListField(
        child=serializers.ChoiceField(choices=CommunicationNeed.choices), required=False,
        help_text="Accessible Information Standard needs.",
    )  # fmt: skip
    communication_note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class PatientSerializer(serializers.ModelSerializer):
    ward_name = serializers.CharField(source="ward.name", read_only=True)
    age = serializers.IntegerField(read_only=True, help_text="Whole years today (Europe/London).")
    phones = PatientPhoneSerializer(many=True, read_only=True)
    contacts = ContactSerializer(many=True, read_only=True)
    stay = serializers.SerializerMethodField(help_text="The open stay; null once discharged.")
    active = serializers.BooleanField(source="is_active", read_only=True)
    spo2_scale_set_by = serializers.CharField(
        source="spo2_scale_set_by.get_username", read_only=True, default=None, allow_null=True
    )
    current_score = ScoreSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Patient
        fields = [
            "id", "nhs_number", "nhs_number_status", "given_name", "family_name", "date_of_birth", "age", "sex",
            "phone", "phones", "address_line_1", "address_line_2", "address_town", "postcode",
            "gp_practice_code", "gp_practice_name", "preferred_language", "interpreter_needed",
            "communication_needs", "communication_note", "contacts",
            "ward", "ward_name", "admitted_at", "discharged_at", "active", "stay",
            "spo2_scale", "spo2_scale_set_by", "spo2_scale_set_at", "current_score",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(StaySerializer(allow_null=True))
    def get_stay(self, patient: Patient) -> dict[str, Any] | None:
        open_stays = [stay for stay in patient.stays.all() if stay.discharged_at is None]
        return StaySerializer(open_stays[0]).data if open_stays else None


class PatientReadmitSerializer(serializers.Serializer):
    """A stay's admission: the ward (one of the requester's) and the referral."""

    ward = serializers.PrimaryKeyRelatedField(queryset=Ward.objects.none())
    referral_source = serializers.ChoiceField(choices=REFERRAL_CHOICES, help_text="hospital_ward means step-down.")
    reason = serializers.CharField(max_length=2000, help_text="Why the patient is admitted.")
    referrer = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    expected_discharge_on = serializers.DateField(required=False, allow_null=True, default=None)
    admitted_at = AwareDateTimeField(required=False, help_text="Defaults to now.")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["ward"].queryset = visible_wards(request.user)
        return fields


class PatientAdmitSerializer(PatientReadmitSerializer):
    """A first admission: the stay's admission and the patient it makes."""

    nhs_number = serializers.CharField(max_length=20, help_text="Ten digits; spaces and hyphens are ignored.")
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField()
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    record = PatientRecordSerializer(required=False, help_text="Optional parts of the record.")

    def validate_nhs_number(self, value: str) -> str:
        return normalise_nhs_number(value)


class PatientDischargeSerializer(serializers.Serializer):
    discharged_at = AwareDateTimeField(required=False, help_text="Defaults to now.")
    outcome = serializers.ChoiceField(choices=OUTCOME_CHOICES)
    destination = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ExpectedDischargeSerializer(serializers.Serializer):
    expected_discharge_on = serializers.DateField(allow_null=True, help_text="null clears it.")


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
    entered_by = serializers.CharField(source="entered_by.get_username", read_only=True, default=None, allow_null=True)

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
