"""Escalation ladders: which role hears of an unacknowledged alert, and when.

The safe defaults (docs/alerting.md, "Escalation ladder"), used for any ward and track with no
configured steps:

- HIGH clinical: the ward clinician on duty at once; unacknowledged after 5 minutes, the
  command-centre senior; after 10, the on-call doctor. RCP NEWS2 asks for an emergency
  response to a HIGH score: three rungs in ten minutes, every channel.
- MEDIUM (and low–medium) clinical: the ward clinician at once; after 15 minutes the
  command-centre senior; after 30 the on-call doctor (an urgent, not emergency, response).
- Technical: the command-centre operator at once, by e-mail and push (a device problem is
  not a reason to text someone at night); after 60 minutes the command-centre senior.

Acknowledging an alert stops its ladder; an alert that comes back after a review climbs again.
Configured ``EscalationStep`` rows replace these per ward and track (a ward's own rows first,
then rows with no ward), through the admin.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.models import CLINICAL_KINDS, Alert, Severity
from rota.models import Channel, DutyRole, EscalationStep, Track

ALL = (Channel.EMAIL, Channel.SMS, Channel.PUSH)
QUIET = (Channel.EMAIL, Channel.PUSH)


@dataclass(frozen=True)
class Rung:
    after_seconds: int
    role: str
    channels: tuple[str, ...]


DEFAULT_LADDER: dict[str, list[Rung]] = {
    Track.HIGH: [
        Rung(0, DutyRole.WARD_CLINICIAN, ALL),
        Rung(5 * 60, DutyRole.COMMAND_CENTRE_SENIOR, ALL),
        Rung(10 * 60, DutyRole.ON_CALL_DOCTOR, ALL),
    ],
    Track.MEDIUM: [
        Rung(0, DutyRole.WARD_CLINICIAN, ALL),
        Rung(15 * 60, DutyRole.COMMAND_CENTRE_SENIOR, ALL),
        Rung(30 * 60, DutyRole.ON_CALL_DOCTOR, ALL),
    ],
    Track.TECHNICAL: [
        Rung(0, DutyRole.COMMAND_CENTRE_OPERATOR, QUIET),
        Rung(60 * 60, DutyRole.COMMAND_CENTRE_SENIOR, QUIET),
    ],
}


def track_of(alert: Alert) -> str | None:
    """The ladder an alert climbs; None for a clinical alert below low–medium (no ladder)."""
    if alert.kind not in CLINICAL_KINDS:
        return Track.TECHNICAL
    if alert.severity >= Severity.HIGH:
        return Track.HIGH
    if alert.severity >= Severity.LOW_MEDIUM:
        return Track.MEDIUM
    return None


def ladder_for(*, ward_id: int, track: str) -> list[Rung]:
    """The ward's rungs for this track: its own steps, else the all-wards steps, else the defaults."""
    steps = list(EscalationStep.objects.filter(track=track, ward_id=ward_id))
    if not steps:
        steps = list(EscalationStep.objects.filter(track=track, ward__isnull=True))
    if not steps:
        return DEFAULT_LADDER[track]
    return [Rung(step.after_seconds, step.role, tuple(step.channels)) for step in steps]
