"""Input shapes for the alert actions; output is ``alerts.selectors.alert_to_dict``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from alerts.models import AlertKind, AlertState, Outcome
from alerts.services.actions import MAX_NOTE_CHARS
from patients.serializers import AwareDateTimeField

STATE_FILTERS = [*AlertState.values, "live", "all"]
# The largest id a database column holds: a bigger one is a 400, not an overflow in the database.
MAX_ID = 2**63 - 1


class AlertFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=STATE_FILTERS, required=False, help_text="Default: live (the queue).")
    kind = serializers.ChoiceField(choices=AlertKind.values, required=False)
    ward = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True), help_text="The user id of the clinician."
    )


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=MAX_NOTE_CHARS)


class EscalateSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=MAX_NOTE_CHARS, required=False, allow_blank=True, default="")
    to = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        default="",
        help_text='"person:<user id>" or "role:<duty role>" on duty for the ward; notified. Empty: one severity up.',
    )


class ResolveSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[o for o in Outcome.values if o != Outcome.AUTO_RESOLVED])
    note = serializers.CharField(max_length=MAX_NOTE_CHARS, required=False, allow_blank=True, default="")
    review_by = AwareDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Required while the patient is still in the alert's band (5 min to 24 h ahead). With offset or Z.",
    )


class SummaryQuerySerializer(serializers.Serializer):
    since = AwareDateTimeField(required=False, help_text="Default: 7 days before until. With offset or Z.")
    until = AwareDateTimeField(required=False, help_text="Default: now. With offset or Z.")
    ward = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class SnoozeSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(help_text="5 to 1440. Technical alerts only.")
    reason = serializers.CharField(max_length=300)
