"""DCB0129's risk matrix: severity of the harm × likelihood of the harm → clinical risk 1–5.

The categories, their meanings and the matrix are those of the standard's implementation
guidance (NHS Digital, DCB0129 and DCB0160 guidance, "Clinical risk estimation"). The matrix is
not the product of two numbers: it is the standard's own table, encoded as printed.
"""

from __future__ import annotations

SEVERITIES = ("Minor", "Significant", "Considerable", "Major", "Catastrophic")
LIKELIHOODS = ("Very low", "Low", "Medium", "High", "Very high")

SEVERITY_MEANINGS = {
    "Minor": "Minor injury from which recovery is expected in the short term; minor psychological upset; "
    "inconvenience; any negligible consequence (one patient).",
    "Significant": "Minor injury or injuries from which recovery is not expected in the short term, or significant "
    "psychological trauma (one patient); minor injury with short-term recovery, or minor upset (several patients).",
    "Considerable": "Severe injury or incapacity from which recovery is expected in the short term, or severe "
    "psychological trauma (one patient); minor injuries without short-term recovery (several patients).",
    "Major": "Death, or permanent life-changing incapacity (one patient); severe injury or incapacity with "
    "short-term recovery, or severe psychological trauma (several patients).",
    "Catastrophic": "Death, or permanent life-changing incapacity (several patients).",
}

LIKELIHOOD_MEANINGS = {
    "Very low": "Negligible or nearly negligible possibility of occurring.",
    "Low": "Could occur but in the great majority of occasions will not.",
    "Medium": "Possible.",
    "High": "Not certain but very possible; reasonably expected to occur in the majority of cases.",
    "Very high": "Certain or almost certain; highly likely to occur.",
}

# Rows are likelihoods (Very low → Very high), columns severities (Minor → Catastrophic).
_MATRIX = {
    "Very low": (1, 1, 2, 2, 3),
    "Low": (1, 2, 2, 3, 4),
    "Medium": (2, 2, 3, 3, 4),
    "High": (2, 3, 3, 4, 5),
    "Very high": (3, 4, 4, 5, 5),
}

RISK_MEANINGS = {
    1: "Acceptable, no further action required.",
    2: "Acceptable where the cost of further reduction outweighs the benefits gained.",
    3: "Undesirable: attempts should be made to eliminate or control it; acceptable only when further risk "
    "reduction is impractical.",
    4: "Mandatory elimination or control to reduce the risk to an acceptable level.",
    5: "Unacceptable.",
}

RISK_WORDS = {1: "acceptable", 2: "acceptable, ALARP", 3: "undesirable", 4: "mandatory control", 5: "unacceptable"}


def risk_rating(severity: str, likelihood: str) -> int:
    """The clinical risk (1–5) the standard's matrix gives for a severity and a likelihood."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}: one of {', '.join(SEVERITIES)}")
    if likelihood not in _MATRIX:
        raise ValueError(f"unknown likelihood {likelihood!r}: one of {', '.join(LIKELIHOODS)}")
    return _MATRIX[likelihood][SEVERITIES.index(severity)]
