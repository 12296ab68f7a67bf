"""NHS number validation: ten digits whose last is a Modulus 11 check digit.

NHS Data Dictionary, "NHS Number": multiply the first nine digits by weights 10 down to 2,
sum, take the remainder on division by 11 and subtract it from 11. A result of 11 means a check
digit of 0; a result of 10 means the number is invalid and was never issued.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


def normalise_nhs_number(raw: str) -> str:
    """Strip the spaces and hyphens people type (``943 476 5919``) and return ten digits."""
    return "".join(ch for ch in str(raw) if ch not in " -")


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() also accepts "９" and "²"; a stored NHS number must be plain ASCII digits,
    # or the same number could be registered twice in two scripts.
    return text.isascii() and text.isdigit()


def nhs_check_digit(first_nine: str) -> int | None:
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(raw: str) -> bool:
    number = normalise_nhs_number(raw)
    if len(number) != 10 or not _is_ascii_digits(number):
        return False
    return nhs_check_digit(number[:9]) == int(number[9])


def validate_nhs_number(raw: str) -> None:
    number = normalise_nhs_number(raw)
    if len(number) != 10 or not _is_ascii_digits(number):
        raise ValidationError("An NHS number has exactly ten digits.", code="nhs_number_length")
    if nhs_check_digit(number[:9]) != int(number[9]):
        raise ValidationError("This NHS number fails its Modulus 11 check digit.", code="nhs_number_check")
