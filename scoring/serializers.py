"""JSON for the NEWS2 calculator and for stored early-warning scores.

The calculator's input is checked here against the device protocol's plausible ranges, so the
engine in ``scoring/news2.py`` is never handed garbage; omitted parameters stay omitted (the
result is then incomplete and lists them) and are never filled in as normal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from patients.serializers import StrictBooleanField, StrictFloatField, StrictScaleField
from patients.vitals import RULES
from scoring.models import EarlyWarningScore
from scoring.news2 import CONSCIOUSNESS_LEVELS, PARAMETERS, News2Result, Risk
from scoring.selectors import score_to_dict


def _plausible(parameter: str, label: str) -> StrictFloatField:
    rule = RULES[parameter]
    bounds = f"{rule.low}–{rule.high} {rule.units[0]}"
    message = f"Outside the plausible range {bounds} (device protocol v1); check the reading."
    return StrictFloatField(
        required=False,
        allow_null=True,
        min_value=rule.low,
        max_value=rule.high,
        # Django's range validators %-format their message, so the "%" of SpO2 must be doubled.
        error_messages={"min_value": message.replace("%", "%%"), "max_value": message.replace("%", "%%")},
        help_text=f"{label}, {bounds}. Omit if not measured.",
    )


class AcvpuField(serializers.ChoiceField):
    """An ACVPU letter, either case: unlike a device payload, a person typing "a" is not ambiguous."""

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(data.upper() if isinstance(data, str) else data)


class News2InputSerializer(serializers.Serializer):
    respiratory_rate = _plausible("respiratory_rate", "Breaths per minute")
    spo2 = _plausible("spo2", "Oxygen saturation")
    on_oxygen = StrictBooleanField(required=False, allow_null=True, help_text="true if on supplemental oxygen.")
    systolic_bp = _plausible("systolic_bp", "Systolic blood pressure")
    heart_rate = _plausible("heart_rate", "Pulse")
    consciousness = AcvpuField(
        choices=CONSCIOUSNESS_LEVELS,
        required=False,
        allow_null=True,
        help_text="ACVPU: A alert, C new confusion, V voice, P pain, U unresponsive.",
    )
    temperature = _plausible("temperature", "Temperature in °C")
    spo2_scale = StrictScaleField(required=False, default=1, help_text="1 (default) or 2, as the clinician set it.")

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            # A misspelt parameter would otherwise vanish and be reported only as "missing".
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: [f"Unknown parameter; expected one of {', '.join(self.fields)}."] for key in unknown}
                )
        return super().to_internal_value(data)


class SubScoreSerializer(serializers.Serializer):
    value = serializers.JSONField(allow_null=True, help_text="The value scored; null when missing.")
    score = serializers.IntegerField(allow_null=True, help_text="Points by the RCP chart; null when missing.")
    note = serializers.CharField(allow_null=True, help_text="Set when this score is only a lower bound.")


class StoredSubScoreSerializer(SubScoreSerializer):
    observation_id = serializers.IntegerField(allow_null=True, help_text="The reading scored.")
    measured_at = serializers.DateTimeField(allow_null=True)


class News2ResultSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Sum of the sub-scores; a lower bound when incomplete.")
    risk = serializers.ChoiceField(choices=[risk.value for risk in Risk])
    band = serializers.CharField()
    complete = serializers.BooleanField()
    missing = serializers.ListField(child=serializers.ChoiceField(choices=PARAMETERS))
    warning = serializers.SerializerMethodField()
    single_parameter_3 = serializers.BooleanField()
    spo2_scale = serializers.IntegerField()
    sub_scores = serializers.DictField(child=SubScoreSerializer())
    clinical_response = serializers.CharField()
    monitoring_frequency = serializers.CharField()
    monitoring_interval_s = serializers.SerializerMethodField()

    @extend_schema_field({"type": "string", "nullable": True})
    def get_warning(self, result: News2Result) -> str | None:
        if result.complete:
            return None
        return f"Incomplete: {', '.join(result.missing)} missing; total and risk are lower bounds, not normal."

    def get_monitoring_interval_s(self, result: News2Result) -> int:
        return int(result.monitoring_interval.total_seconds())


class EarlyWarningScoreSerializer(serializers.Serializer):
    """Documents the one score shape the API and the dashboard share (``score_to_dict``)."""

    id = serializers.IntegerField()
    patient_id = serializers.IntegerField()
    computed_at = serializers.DateTimeField()
    as_of = serializers.DateTimeField(help_text="The newest measured_at among the readings used.")
    total = serializers.IntegerField()
    risk = serializers.ChoiceField(choices=EarlyWarningScore.Risk.choices)
    band = serializers.CharField()
    spo2_scale = serializers.IntegerField()
    complete = serializers.BooleanField()
    lower_bound = serializers.BooleanField(help_text="true when incomplete: total and risk may be higher.")
    single_parameter_3 = serializers.BooleanField()
    sub_scores = serializers.DictField(child=StoredSubScoreSerializer())
    missing = serializers.ListField(child=serializers.ChoiceField(choices=PARAMETERS))
    stale = serializers.ListField(child=serializers.ChoiceField(choices=PARAMETERS))
    clinical_response = serializers.CharField()
    monitoring_frequency = serializers.CharField()
    monitoring_interval_s = serializers.IntegerField()

    def to_representation(self, instance: EarlyWarningScore) -> dict[str, Any]:
        return score_to_dict(instance)


class CurrentScoreSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    complete = serializers.BooleanField(help_text="false when there is no score or it lacks parameters.")
    score = EarlyWarningScoreSerializer(allow_null=True)
    reason = serializers.CharField(allow_null=True, help_text="Why there is no score, or why it is incomplete.")
    agreed = serializers.JSONField(
        allow_null=True,
        help_text="What the patient's agreed parameters make of this score (careplan.rules): the chart's total, "
        "the alerting total and risk, the parameters within agreed limits, and `text` such as "
        "'NEWS2 6 · within agreed parameters (Pulse); alerting as 4, low risk'. The score itself never changes.",
    )


def current_score_data(patient_id: int, score: EarlyWarningScore | None) -> dict[str, Any]:
    if score is None:
        reason: str | None = "No NEWS2 has been computed for this patient yet."
    elif not score.complete:
        reason = f"Incomplete: {', '.join(score.missing) or 'parameters'} missing; total and risk are lower bounds."
        if score.stale:
            reason += f" Too old to use: {', '.join(score.stale)}."
    else:
        reason = None
    from careplan.selectors import agreed_now

    agreed = agreed_now(patient_id, score)
    return {
        "patient": patient_id,
        "complete": bool(score and score.complete),
        "score": score,
        "reason": reason,
        "agreed": agreed,
    }
