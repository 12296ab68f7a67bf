"""NHS numbers: ten digits, the last a Modulus 11 check digit (NHS Data Dictionary)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from patients.nhs_number import is_valid_nhs_number, nhs_check_digit, normalise_nhs_number, validate_nhs_number

# Worked by hand, not by the code under test. 999 000 001 8:
# 9×10 + 9×9 + 9×8 + 0×7 + 0×6 + 0×5 + 0×4 + 0×3 + 1×2 = 245; 245 mod 11 = 3; 11 − 3 = 8.
VALID_999_RANGE = ["9990000018", "9990000026", "9990000050", "9990000131", "9990000417", "9990000530"]


@pytest.mark.parametrize("number", VALID_999_RANGE)
def test_a_999_range_number_with_the_right_check_digit_is_valid(number):
    assert is_valid_nhs_number(number)
    validate_nhs_number(number)  # raises if invalid


def test_the_nhs_documentation_example_is_valid():
    assert is_valid_nhs_number("9434765919")


def test_a_remainder_of_zero_gives_check_digit_zero():
    # 9×10+9×9+9×8+5×2 = 253 = 23×11: 11 − 0 = 11, which the rule turns into 0
    assert nhs_check_digit("999000005") == 0
    assert is_valid_nhs_number("9990000050")


@pytest.mark.parametrize("number", ["9990000017", "9990000019", "9990000010", "9434765918", "9434765910"])
def test_a_wrong_check_digit_is_invalid(number):
    assert not is_valid_nhs_number(number)
    with pytest.raises(ValidationError) as raised:
        validate_nhs_number(number)
    assert raised.value.code == "nhs_number_check"


@pytest.mark.parametrize("first_nine", ["999000000", "999000014", "999000028"])
def test_a_check_value_of_10_is_never_valid_whatever_the_last_digit(first_nine):
    # given a prefix whose check value comes out as 10 (never issued)
    assert nhs_check_digit(first_nine) is None
    # when any last digit is tried, then none of them is valid
    for last in "0123456789":
        assert not is_valid_nhs_number(first_nine + last)


@pytest.mark.parametrize(
    ("typed", "digits"),
    [("999 000 0018", "9990000018"), ("999-000-0018", "9990000018"), (" 999 000-0018 ", "9990000018")],
)
def test_spaces_and_hyphens_are_normalised_away(typed, digits):
    assert normalise_nhs_number(typed) == digits
    assert is_valid_nhs_number(typed)


@pytest.mark.parametrize("number", ["", "999000001", "99900000188", "999000001", "1", "99900000180000"])
def test_a_number_that_is_not_ten_digits_long_is_invalid(number):
    assert not is_valid_nhs_number(number)
    with pytest.raises(ValidationError) as raised:
        validate_nhs_number(number)
    assert raised.value.code == "nhs_number_length"


@pytest.mark.parametrize("number", ["999000001X", "99900.0018", "９９９０００００１８", "999_000_0018"])
def test_anything_but_ascii_digits_is_invalid(number):
    assert not is_valid_nhs_number(number)
    with pytest.raises(ValidationError):
        validate_nhs_number(number)
