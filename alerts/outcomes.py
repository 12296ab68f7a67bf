"""How each outcome counts in NICE HTE13's evaluation of remote monitoring: did the alert change
clinical management, or was there nothing to act on?

NICE HTE13 (virtual wards for acute respiratory infection, early value assessment) asks services
to report whether alerts led to a change in management (advice, a medication change, a visit or
video review, escalation to hospital or 999), were reviewed without a change, or were
non-actionable (no action needed, a false alarm or artefact). These sets feed the per-type
figures of ``alerts.reports``; the choices themselves are ``alerts.models.Outcome``.
"""

from __future__ import annotations

from alerts.models import Outcome

CHANGED_MANAGEMENT = frozenset(
    {
        Outcome.ADVICE_BY_PHONE,
        Outcome.MEDICATION_CHANGE,
        Outcome.VIDEO_REVIEW,
        Outcome.HOME_VISIT,
        Outcome.ESCALATED_TO_HOSPITAL,
        Outcome.AMBULANCE,
    }
)
# Reviewed, but management carried on as planned: neither a change nor noise.
REVIEWED_NO_CHANGE = frozenset({Outcome.REVIEWED_PLAN_IN_PLACE, Outcome.DEVICE_FIXED})
NON_ACTIONABLE = frozenset({Outcome.NO_ACTION, Outcome.FALSE_ALARM})

# The order a resolve form offers them in: what happened to the patient first.
PERSON_OUTCOMES = [choice for choice in Outcome.choices if choice[0] != Outcome.AUTO_RESOLVED]


def changed_management(outcome: str) -> bool:
    return outcome in CHANGED_MANAGEMENT


def non_actionable(outcome: str) -> bool:
    return outcome in NON_ACTIONABLE
