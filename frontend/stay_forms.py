"""Forms for admission, discharge, readmission and the patient's record.

They turn what was typed into the services' arguments and say plainly what is wrong with a
field; the rules themselves (referral details, outcomes, codes) live in the services.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.utils import timezone

from patients.models import Ward
from patients.nhs_number import normalise_nhs_number, validate_nhs_number
from patients.record import (
    CarerAccess,
    CommunicationNeed,
    NhsNumberStatus,
    PhoneKind,
    Relationship,
    Sex,
    language_choices,
)
from patients.stays import OUTCOME_CHOICES, REFERRAL_CHOICES
from virtualward.datetimes import aware_datetime_problem

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
LOCAL_TIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def local_aware(moment: datetime | None) -> datetime | None:
    """A datetime-local field has no offset: it is the ward's own time (Europe/London)."""
    if moment is None:
        return None
    moment = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    problem = aware_datetime_problem(moment)
    if problem:
        raise forms.ValidationError(problem)
    return moment


class StayFieldsMixin(forms.Form):
    referral_source = forms.ChoiceField(
        choices=[("", "Choose…"), *REFERRAL_CHOICES],
        label="Referred from",
        help_text="A hospital ward is a step-down; every other source is a step-up.",
    )
    referrer = forms.CharField(max_length=120, required=False, label="Referrer (practice, hospital ward, team)")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, label="Reason for admission")
    expected_discharge_on = forms.DateField(required=False, widget=DATE, label="Expected discharge date")
    admitted_at = forms.DateTimeField(
        required=False, widget=LOCAL_TIME, label="Admitted at", help_text="Leave empty for now."
    )

    def clean_admitted_at(self) -> datetime | None:
        return local_aware(self.cleaned_data.get("admitted_at"))


class ReadmitForm(StayFieldsMixin):
    """A stay on one of ``wards`` (the person's own): the ward and the referral."""

    ward = forms.ModelChoiceField(queryset=Ward.objects.none(), empty_label="Choose…")

    def __init__(self, *args: Any, wards: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ward"].queryset = wards if wards is not None else Ward.objects.none()


class AdmitForm(ReadmitForm):
    nhs_number = forms.CharField(max_length=20, label="NHS number", help_text="Ten digits.")
    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    date_of_birth = forms.DateField(widget=DATE)
    sex = forms.ChoiceField(choices=Sex.choices, initial=Sex.UNKNOWN)
    phone = forms.CharField(max_length=40, required=False, label="Phone (preferred)")
    postcode = forms.CharField(max_length=10, required=False)
    gp_practice_code = forms.CharField(
        max_length=10, required=False, label="GP practice ODS code", help_text="e.g. A81001"
    )
    gp_practice_name = forms.CharField(max_length=120, required=False, label="GP practice name")

    field_order = [
        "ward", "nhs_number", "given_name", "family_name", "date_of_birth", "sex", "phone", "postcode",
        "gp_practice_code", "gp_practice_name", "referral_source", "referrer", "reason", "expected_discharge_on",
        "admitted_at",
    ]  # fmt: skip

    def clean_nhs_number(self) -> str:
        number = normalise_nhs_number(self.cleaned_data["nhs_number"])
        validate_nhs_number(number)
        return number

    def clean_date_of_birth(self) -> date:
        born = self.cleaned_data["date_of_birth"]
        if born > timezone.localdate():
            raise forms.ValidationError("The date of birth is in the future.")
        return born

    def service_arguments(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        record = {name: data.pop(name) for name in ("sex", "postcode", "gp_practice_code", "gp_practice_name")}
        return {**data, "record": {name: value for name, value in record.items() if value}}


class DischargeForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("", "Choose…"), *OUTCOME_CHOICES], label="Outcome")
    destination = forms.CharField(max_length=120, required=False, label="Destination (hospital, service)")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)
    discharged_at = forms.DateTimeField(required=False, widget=LOCAL_TIME, help_text="Leave empty for now.")
    confirm_end_monitoring = forms.BooleanField(
        label="I understand discharge disconnects every device and stops all monitoring.",
        error_messages={"required": "Tick the box to confirm monitoring ends with the discharge."},
    )

    def clean_discharged_at(self) -> datetime | None:
        return local_aware(self.cleaned_data.get("discharged_at"))


class ExpectedDischargeForm(forms.Form):
    expected_discharge_on = forms.DateField(required=False, widget=DATE, label="Expected discharge date")


class RecordForm(forms.Form):
    sex = forms.ChoiceField(choices=Sex.choices)
    nhs_number_status = forms.ChoiceField(choices=NhsNumberStatus.choices, label="NHS number status")
    address_line_1 = forms.CharField(max_length=100, required=False)
    address_line_2 = forms.CharField(max_length=100, required=False)
    address_town = forms.CharField(max_length=60, required=False, label="Town")
    postcode = forms.CharField(max_length=10, required=False)
    gp_practice_code = forms.CharField(max_length=10, required=False, label="GP practice ODS code")
    gp_practice_name = forms.CharField(max_length=120, required=False, label="GP practice name")
    preferred_language = forms.ChoiceField(choices=[("", "—")], required=False)
    interpreter_needed = forms.BooleanField(required=False)
    communication_needs = forms.MultipleChoiceField(
        choices=CommunicationNeed.choices, required=False, widget=forms.CheckboxSelectMultiple,
        label="Communication needs (Accessible Information Standard)",
    )  # fmt: skip
    communication_note = forms.CharField(max_length=300, required=False, label="Other needs")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["preferred_language"].choices = [("", "—"), *language_choices()]


class PhoneForm(forms.Form):
    number = forms.CharField(max_length=40)
    kind = forms.ChoiceField(choices=PhoneKind.choices)
    preferred = forms.BooleanField(required=False)
    note = forms.CharField(max_length=100, required=False)


class ContactForm(forms.Form):
    name = forms.CharField(max_length=120)
    relationship = forms.ChoiceField(choices=Relationship.choices)
    phone = forms.CharField(max_length=40)
    email = forms.EmailField(required=False)
    is_next_of_kin = forms.BooleanField(required=False, label="Next of kin")
    is_carer = forms.BooleanField(required=False, label="Carer")
    may_see = forms.ChoiceField(choices=CarerAccess.choices, label="May see")
