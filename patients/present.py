"""How a patient is named on every screen: the name never appears without the age beside it.

Age decides much of a virtual ward's judgement (frailty, what a reading means), and two patients
with one name are told apart by it, so boards, cards and pages all use this one presenter.
"""

from __future__ import annotations

from patients.models import Patient
from patients.record import Sex, language_choices

SEX_LETTER = {Sex.FEMALE: "F", Sex.MALE: "M", Sex.OTHER: "X"}


def age_sex(patient: Patient) -> str:
    """``82 F``: whole years today and the sex as a letter; the age alone when sex is not known."""
    letter = SEX_LETTER.get(patient.sex, "")
    return f"{patient.age} {letter}".strip()


def age_sex_label(patient: Patient) -> str:
    """The same, spelled out for screen readers: ``aged 82, female``."""
    words = f"aged {patient.age}"
    return f"{words}, {patient.get_sex_display().lower()}" if patient.sex in SEX_LETTER else words


def address(patient: Patient) -> str:
    parts = [patient.address_line_1, patient.address_line_2, patient.address_town, patient.postcode]
    return ", ".join(part for part in parts if part)


def language_name(code: str) -> str:
    return dict(language_choices()).get(code, code)
