"""The coded parts of a patient's record, with their sources, and the validators that guard them.

Codes follow the NHS Data Dictionary where it has one, so the daily return and a FHIR export can
carry them as they are; every validator raises a message a receptionist can act on.
"""

from __future__ import annotations

import re

import phonenumbers
from django.conf.locale import LANG_INFO
from django.core.exceptions import ValidationError
from django.db import models


class Sex(models.TextChoices):
    """Administrative gender, as FHIR R4 ``AdministrativeGender`` (the platform's FHIR export)."""

    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Not known"


# NHS Data Dictionary, PERSON STATED GENDER CODE, for the daily return.
SEX_DATA_DICTIONARY_CODE = {Sex.MALE: "1", Sex.FEMALE: "2", Sex.OTHER: "9", Sex.UNKNOWN: "X"}


class NhsNumberStatus(models.TextChoices):
    """NHS Data Dictionary, NHS NUMBER STATUS INDICATOR CODE."""

    VERIFIED = "01", "Number present and verified"
    NOT_TRACED = "02", "Number present but not traced"
    TRACE_REQUIRED = "03", "Trace required"
    NO_MATCH = "04", "Trace attempted - No match or multiple match found"
    TO_RESOLVE = "05", "Trace needs to be resolved - (NHS Number or PATIENT detail conflict)"
    IN_PROGRESS = "06", "Trace in progress"
    NOT_PRESENT = "07", "Number not present and trace not required"
    POSTPONED = "08", "Trace postponed (baby under six weeks old)"


class PhoneKind(models.TextChoices):
    MOBILE = "mobile", "Mobile"
    HOME = "home", "Home"
    WORK = "work", "Work"
    OTHER = "other", "Other"


class Relationship(models.TextChoices):
    SPOUSE_OR_PARTNER = "spouse_partner", "Spouse or partner"
    CHILD = "child", "Son or daughter"
    PARENT = "parent", "Parent"
    SIBLING = "sibling", "Brother or sister"
    OTHER_RELATIVE = "relative", "Other relative"
    FRIEND_OR_NEIGHBOUR = "friend", "Friend or neighbour"
    PAID_CARER = "paid_carer", "Paid carer"
    OTHER = "other", "Other"


class CarerAccess(models.TextChoices):
    """What a next of kin or carer may be told or shown: the patient's own decision, recorded."""

    CONTACT_ONLY = "contact_only", "Contact only: tell them nothing clinical"
    PLAN = "plan", "The escalation plan, and may answer check-ins for the patient"
    PROGRESS = "progress", "The plan, check-ins, and how the patient is doing (readings, progress)"


class CommunicationNeed(models.TextChoices):
    """Accessible Information Standard (DCB1605): the five kinds of need it asks services to record.

    One code per need commonly met on a virtual ward, grouped as the standard groups them:
    contact method, information format, communication support, professional support, and the
    free-text note for anything else.
    """

    CONTACT_TEXT_RELAY = "contact_text_relay", "Contact method: by text relay (Relay UK)"
    CONTACT_SMS = "contact_sms", "Contact method: by text message (SMS)"
    CONTACT_EMAIL = "contact_email", "Contact method: by email"
    FORMAT_LARGE_PRINT = "format_large_print", "Information format: large print"
    FORMAT_EASY_READ = "format_easy_read", "Information format: easy read"
    FORMAT_BRAILLE = "format_braille", "Information format: braille"
    FORMAT_AUDIO = "format_audio", "Information format: audio"
    SUPPORT_HEARING_LOOP = "support_hearing_loop", "Communication support: hearing loop"
    SUPPORT_LIPREADING = "support_lipreading", "Communication support: needs to lip-read (face the patient)"
    SUPPORT_CARER = "support_carer", "Communication support: a carer or advocate present"
    PROFESSIONAL_BSL = "professional_bsl", "Professional support: British Sign Language interpreter"
    PROFESSIONAL_DEAFBLIND = "professional_deafblind", "Professional support: deafblind manual interpreter"
    PROFESSIONAL_LANGUAGE = "professional_language", "Professional support: spoken-language interpreter"


# Languages a patient may prefer: Django's own table of languages (ISO 639 codes), plus British
# Sign Language (ISO 639-3 "bfi"), which the NHS records as a language like any other.
EXTRA_LANGUAGES = {"bfi": "British Sign Language"}


def language_choices() -> list[tuple[str, str]]:
    known = {code: info["name"] for code, info in LANG_INFO.items() if "name" in info}
    return sorted({**known, **EXTRA_LANGUAGES}.items(), key=lambda item: item[1])


def validate_language(code: str) -> None:
    if code and code not in EXTRA_LANGUAGES and "name" not in LANG_INFO.get(code, {}):
        raise ValidationError(
            f"{code!r} is not a language code we know; use an ISO 639 code such as en, pl, pa or bfi (BSL).",
            code="language",
        )


def validate_communication_needs(needs: object) -> None:
    if not isinstance(needs, list) or not all(isinstance(need, str) for need in needs):
        raise ValidationError("Communication needs are a list of codes.", code="communication_needs")
    unknown = sorted(set(needs) - set(CommunicationNeed.values))
    if unknown:
        raise ValidationError(
            f"Unknown communication need(s): {', '.join(unknown)}. Choose from the Accessible Information "
            "Standard list, and describe anything else in the note.",
            code="communication_needs",
        )


# ODS codes of GP practices: a letter for the region, then five digits (e.g. A81001). Branch
# surgeries and other organisations have other shapes; a virtual ward registers the practice.
_ODS_PRACTICE = re.compile(r"^[A-Z][0-9]{5}$")


def normalise_ods_code(raw: str) -> str:
    return (raw or "").strip().upper()


def validate_ods_practice_code(raw: str) -> None:
    if raw and not _ODS_PRACTICE.match(raw):
        raise ValidationError(
            f"{raw!r} is not a GP practice ODS code: one letter then five digits, e.g. A81001.", code="ods_code"
        )


# Ofcom keeps 07700 900000 to 900999 for drama and training, never to be issued; the library
# rightly calls them invalid, but demo data and staff training need numbers that ring nobody.
_FICTION_MOBILE = re.compile(r"^\+447700900[0-9]{3}$")


def _dialable(parsed: phonenumbers.PhoneNumber) -> bool:
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.is_valid_number(parsed) or bool(_FICTION_MOBILE.match(e164))


def normalise_phone(raw: str) -> str:
    """A UK (or +country) phone number in E.164 form, e.g. +447700900123; ValidationError if not a number."""
    text = (raw or "").strip()
    try:
        parsed = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not _dialable(parsed):
        raise ValidationError(
            f"{text!r} is not a phone number we can dial: give a UK number such as 07700 900123 or "
            "0113 496 0000, or an international one starting with +.",
            code="phone",
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_phone(raw: str) -> None:
    if raw:
        normalise_phone(raw)


def display_phone(e164: str) -> str:
    """The way people read a number back: national form for UK numbers, international otherwise."""
    try:
        parsed = phonenumbers.parse(e164, "GB")
    except phonenumbers.NumberParseException:
        return e164
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 44
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)
