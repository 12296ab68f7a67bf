"""Changes to a patient's record (address, GP, language, needs, phones, next of kin and carers).

Each change is validated field by field with a message saying what is wrong, written in one
transaction and audited with the names of the fields changed (never their values: the trail
records who changed what, the record holds the values).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.access import AnyUser, visible_patients
from accounts.audit import audit_record
from patients.models import Contact, Patient, PatientPhone
from patients.record import normalise_ods_code, normalise_phone

# The parts of the record a member of staff may change here (identity, NHS number and date of
# birth excepted: those decide who the patient is, and change only by correcting the admission).
RECORD_FIELDS = (
    "sex",
    "nhs_number_status",
    "address_line_1",
    "address_line_2",
    "address_town",
    "postcode",
    "gp_practice_code",
    "gp_practice_name",
    "preferred_language",
    "interpreter_needed",
    "communication_needs",
    "communication_note",
)


def normalise_postcode(raw: str) -> str:
    compact = "".join((raw or "").split()).upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) >= 5 else compact


def clean_record_fields(patient: Patient, changes: dict[str, Any]) -> list[str]:
    """Apply ``changes`` to ``patient`` in memory, validated; the names of the fields changed."""
    unknown = sorted(set(changes) - set(RECORD_FIELDS))
    if unknown:
        raise ValidationError({name: "This part of the record cannot be changed here." for name in unknown})
    changed = []
    for name, value in changes.items():
        if name == "gp_practice_code":
            value = normalise_ods_code(value)
        elif name == "postcode":
            value = normalise_postcode(value)
        elif name == "communication_needs" and isinstance(value, list | tuple):
            value = sorted(set(value))
        elif isinstance(value, str):
            value = value.strip()
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    errors: dict[str, list[str]] = {}
    exclude = [f.name for f in Patient._meta.concrete_fields if f.name not in RECORD_FIELDS]
    try:
        patient.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if patient.gp_practice_code and not patient.gp_practice_name:
        errors.setdefault("gp_practice_name", []).append("Give the practice's name with its ODS code.")
    if patient.interpreter_needed and patient.preferred_language in ("", "en"):
        errors.setdefault("preferred_language", []).append("Say which language the interpreter is for.")
    if errors:
        raise ValidationError(errors)
    return changed


def _require_editor(user: AnyUser, patient: Patient) -> None:
    if not visible_patients(user).filter(pk=patient.pk).exists():
        raise PermissionDenied("You may only change the records of patients on your own wards.")


def patient_record_update(*, patient: Patient, user: AnyUser, changes: dict[str, Any]) -> Patient:
    _require_editor(user, patient)
    with transaction.atomic():
        patient = Patient.objects.select_for_update(no_key=True).get(pk=patient.pk)
        changed = clean_record_fields(patient, changes)
        if changed:
            patient.save(update_fields=changed)
            audit_record(
                actor=user, action="patient.record_changed", patient=patient, obj=patient, detail={"fields": changed}
            )
    return patient


def patient_phone_add(
    *, patient: Patient, user: AnyUser, number: str, kind: str = "mobile", preferred: bool = False,
    note: str = "", audit: bool = True,
) -> PatientPhone:  # fmt: skip
    """Add a phone number; the preferred one is also kept as ``Patient.phone`` (others read it)."""
    if audit:
        _require_editor(user, patient)
    try:
        e164 = normalise_phone(number)
    except ValidationError as exc:
        raise ValidationError({"number": exc.messages}) from None
    with transaction.atomic():
        if patient.phones.filter(number=e164).exists():
            raise ValidationError({"number": "This number is already on the patient's record."})
        preferred = preferred or not patient.phones.exists()
        if preferred:
            patient.phones.update(preferred=False)
        phone = PatientPhone(patient=patient, kind=kind, number=e164, preferred=preferred, note=note.strip())
        phone.full_clean()
        phone.save()
        if preferred:
            Patient.objects.filter(pk=patient.pk).update(phone=e164)
            patient.phone = e164
        if audit:
            audit_record(actor=user, action="patient.phone_added", patient=patient, obj=phone, detail={"kind": kind})
    return phone


def patient_phone_remove(*, phone: PatientPhone, user: AnyUser) -> None:
    patient = phone.patient
    _require_editor(user, patient)
    with transaction.atomic():
        phone.delete()
        if phone.preferred:
            following = patient.phones.order_by("id").first()
            if following is not None:
                following.preferred = True
                following.save(update_fields=["preferred"])
            Patient.objects.filter(pk=patient.pk).update(phone=following.number if following else "")
        audit_record(actor=user, action="patient.phone_removed", patient=patient, detail={"kind": phone.kind})


def contact_add(*, patient: Patient, user: AnyUser, **fields: Any) -> Contact:
    """A next of kin or carer, with the access the patient agreed they may have."""
    _require_editor(user, patient)
    fields = {name: value.strip() if isinstance(value, str) else value for name, value in fields.items()}
    if fields.get("phone"):
        try:
            fields["phone"] = normalise_phone(fields["phone"])
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from None
    contact = Contact(patient=patient, **fields)
    contact.full_clean()
    if not (contact.is_next_of_kin or contact.is_carer):
        raise ValidationError({"is_next_of_kin": "Say whether this person is the next of kin, a carer, or both."})
    with transaction.atomic():
        contact.save()
        detail = {"may_see": contact.may_see, "next_of_kin": contact.is_next_of_kin, "carer": contact.is_carer}
        audit_record(actor=user, action="patient.contact_added", patient=patient, obj=contact, detail=detail)
    return contact


def contact_remove(*, contact: Contact, user: AnyUser) -> None:
    _require_editor(user, contact.patient)
    with transaction.atomic():
        audit_record(actor=user, action="patient.contact_removed", patient=contact.patient, obj=contact)
        contact.delete()
