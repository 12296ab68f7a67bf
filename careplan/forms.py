"""Forms for agreed parameters and the self-escalation plan (the services validate the rules)."""

from __future__ import annotations

from django import forms

from careplan.models import AgreedParameter
from careplan.services import PLAN_FIELDS


class AgreedLimitForm(forms.Form):
    parameter = forms.ChoiceField(choices=AgreedParameter.choices)
    low = forms.FloatField(label="From (lowest agreed)")
    high = forms.FloatField(label="To (highest agreed)")
    spo2_scale = forms.TypedChoiceField(
        choices=[("", "–"), ("1", "Scale 1"), ("2", "Scale 2 (88–92 %, hypercapnic)")],
        coerce=int, empty_value=None, required=False, label="SpO₂ scale (SpO₂ target only)",
    )  # fmt: skip
    reason = forms.CharField(max_length=500)
    review_by = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class EndLimitForm(forms.Form):
    reason = forms.CharField(max_length=500)


class EscalationPlanForm(forms.Form):
    if_worse = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="If you feel worse, first")
    call_ward_when = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Call the ward when")
    call_111_when = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Call 111 when")
    call_999_when = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Call 999 when")
    ward_phone = forms.CharField(max_length=40, label="The ward's number")
    ward_hours = forms.CharField(max_length=200, label="The ward's hours")

    field_order = list(PLAN_FIELDS)
