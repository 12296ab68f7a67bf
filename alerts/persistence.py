"""The persistence rule for continuous wearables, in plain Python (docs/alerting.md, "Persistence rule").

A wearable worn all day reads wrong when its wearer moves: one SpO2 of 84 % from a patch on a
turning arm scores 3 on its own and, without a rule, calls a person. With
``VW_PERSISTENCE_SECONDS`` = N (0, the default, switches the rule off) a parameter that newly
scores 3 waits up to N seconds before its *single-parameter* alert is raised, and only when:

- its reading came from a device in continuous mode (never a spot check, never a value a person
  entered);
- the parameter is not consciousness (new confusion is never an artefact of movement);
- the patient's total is not HIGH (7 or more): a HIGH total raises both its alerts at once.

The value still counts in the score, the board and the total's own alerts at once: the rule
only holds back the alert that the one parameter raises on its own. Waiting ends when either:

- a newer reading of the parameter scores below 3: the value did not persist, no alert
  (the held value and its end are kept, ``alerts.PersistenceHold``);
- N seconds have passed since the red reading was measured and no reading has contradicted
  it (still at 3, or missing: a missing value is never taken as normal): the alert is raised.

So no single-parameter alert is ever later than N seconds plus the hold sweep's beat
(``VW_PERSISTENCE_SWEEP_SECONDS``), and N is capped at ``MAX_PERSISTENCE_SECONDS``: hazard
H-12 in docs/clinical-safety/hazard-log.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# The longest wait allowed: the settings refuse more (a persistence of minutes is not an
# artefact filter but a delay to an urgent ward-based response).
MAX_PERSISTENCE_SECONDS = 120
NEVER_HELD = frozenset({"consciousness"})


@dataclass(frozen=True)
class RedReading:
    """A parameter newly scoring 3, and where its reading came from."""

    parameter: str
    measured_at: datetime
    continuous: bool  # from a device in continuous mode


def may_hold(reading: RedReading, *, risk: str, persist_s: int) -> bool:
    """Whether this parameter's single-parameter alert may wait for the value to persist."""
    return persist_s > 0 and reading.continuous and reading.parameter not in NEVER_HELD and risk != "high"


def persisted(*, since: datetime, now: datetime, persist_s: int) -> bool:
    """The hold's time is up: N seconds since the red reading was measured (uncontradicted)."""
    return now - since >= timedelta(seconds=persist_s)


def refuted(sub_score: dict | None) -> bool:
    """A newer reading of the parameter scores below 3; a missing one refutes nothing."""
    score = (sub_score or {}).get("score")
    return score is not None and score != 3
