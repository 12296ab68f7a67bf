import pytest

from virtualward.safety.matrix import LIKELIHOODS, RISK_MEANINGS, SEVERITIES, risk_rating

# DCB0129's matrix as the standard's guidance prints it: rows from Very high down to Very low,
# columns Minor, Significant, Considerable, Major, Catastrophic.
PRINTED = {
    "Very high": (3, 4, 4, 5, 5),
    "High": (2, 3, 3, 4, 5),
    "Medium": (2, 2, 3, 3, 4),
    "Low": (1, 2, 2, 3, 4),
    "Very low": (1, 1, 2, 2, 3),
}


@pytest.mark.parametrize(
    ("likelihood", "severity", "risk"),
    [(likelihood, severity, row[i]) for likelihood, row in PRINTED.items() for i, severity in enumerate(SEVERITIES)],
)
def test_every_cell_of_the_matrix_is_the_standards(likelihood, severity, risk):
    assert risk_rating(severity, likelihood) == risk


def test_the_categories_are_the_standards_five_by_five_in_order():
    assert SEVERITIES == ("Minor", "Significant", "Considerable", "Major", "Catastrophic")
    assert LIKELIHOODS == ("Very low", "Low", "Medium", "High", "Very high")
    assert sorted(RISK_MEANINGS) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(("severity", "likelihood"), [("Severe", "Low"), ("Major", "Rare"), ("major", "Low")])
def test_an_unknown_category_is_refused_naming_the_choices(severity, likelihood):
    with pytest.raises(ValueError, match="one of"):
        risk_rating(severity, likelihood)
