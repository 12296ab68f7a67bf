"""The stay section of the patient's page (frontend/_stay.html), built from the patient alone,
so patient.html needs one include line and no view change."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from accounts.access import visible_wards
from alerts.models import CLINICAL_KINDS, Alert, AlertState
from frontend.stay_forms import ContactForm, DischargeForm, ExpectedDischargeForm, PhoneForm, ReadmitForm, RecordForm
from patients import present
from patients.monitoring import kit_to_collect, monitored_devices
from patients.record import CommunicationNeed, display_phone
from patients.record_services import RECORD_FIELDS
from patients.selectors import stay_list_of

register = template.Library()


@register.inclusion_tag("frontend/_stay_section.html", takes_context=True)
def stay_section(context: Any, patient: Any) -> dict[str, Any]:
    request = context.get("request")
    stays = list(stay_list_of(patient=patient))
    open_stay = next((stay for stay in stays if stay.is_open), None)
    visible = visible_wards(request.user) if request is not None else []
    live_clinical = Alert.objects.filter(
        patient=patient, kind__in=CLINICAL_KINDS, state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED]
    ).count()
    record_initial = {name: getattr(patient, name) for name in RECORD_FIELDS}
    return {
        "patient": patient,
        "address": present.address(patient),
        "language": present.language_name(patient.preferred_language) if patient.preferred_language else "",
        "csrf_token": context.get("csrf_token"),
        "open_stay": open_stay,
        "past_stays": [stay for stay in stays if not stay.is_open],
        "today": timezone.localdate(),
        "monitored": list(monitored_devices(patient).order_by("kind", "serial")),
        "kit": list(kit_to_collect(patient)),
        "live_clinical": live_clinical,
        "phones": [(phone, display_phone(phone.number)) for phone in patient.phones.all()],
        "contacts": [(contact, display_phone(contact.phone)) for contact in patient.contacts.all()],
        "needs": [
            CommunicationNeed(code).label for code in patient.communication_needs if code in CommunicationNeed.values
        ],
        "discharge_form": context.get("discharge_form") or DischargeForm(),
        "readmit_form": context.get("readmit_form") or ReadmitForm(wards=visible, initial={"ward": patient.ward_id}),
        "record_form": context.get("record_form") or RecordForm(initial=record_initial),
        "phone_form": context.get("phone_form") or PhoneForm(),
        "expected_form": context.get("expected_form")
        or ExpectedDischargeForm(
            initial={"expected_discharge_on": open_stay.expected_discharge_on if open_stay else None}
        ),
        "contact_form": context.get("contact_form") or ContactForm(),
        "open_forms": {
            name
            for name in ("discharge_form", "readmit_form", "record_form", "phone_form", "contact_form", "expected_form")
            if context.get(name) is not None
        },
    }
