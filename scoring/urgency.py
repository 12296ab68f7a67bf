"""Which new readings need the patient's NEWS2 recomputed promptly, and which can wait.

Most readings on a virtual ward come from stable patients with normal values. Rescoring each of
them within a second buys nothing clinically and queues the urgent work behind it, so a
reading may instead be scored *routinely*: a little later (VW_ROUTINE_RESCORE_SECONDS), folded
with the patient's other readings into one recomputation. The rule (docs/news2.md, "Prompt and
routine rescoring") is that rescoring is prompt unless BOTH:

* the patient has a current score whose risk is low (RCP NEWS2 chart 2: aggregate 0-4 with no
  single parameter scoring 3), and
* no new reading of a NEWS2 parameter could score more than that parameter scores in the
  current score (a parameter missing from it counts as 0).

Why waiting is then safe: the aggregate can only rise if some parameter scores more than it
does now, and a single 3 would need a parameter to rise to 3 (a low-risk score has none); so
the patient stays in the low band, at or below the score already shown and alerted on, and no
alert can be missed or delayed. A patient whose pulse stays at 95 (scoring 1, as it did) is
routine; the reading that first takes it from 0 to 1 is prompt. Everything else is prompt:

* any value that scores more than its parameter does now - it may raise the aggregate;
* a patient with no score yet - nothing says they are stable;
* a patient already above low risk - the team is watching them, and wants improvements (an
  alert that can de-escalate) as promptly as deteriorations;
* a missing or unscorable value - never treated as normal.

SpO2 on Scale 2 scores differently on air and on oxygen (above the 88-92% target only oxygen
scores), and a batch of readings does not tell us the patient's current oxygen state, so SpO2
is judged by its worse score of the two. An air reading (on_oxygen 0) scores 0 and can only
lower a Scale 2 SpO2 score, since the air chart never scores above the oxygen chart.

Readings of other types (falls, weight, diastolic pressure, oxygen flow rate) are not NEWS2
inputs; they neither make rescoring prompt nor stop it (a fall raises its own alert).
Each reading's score comes from scoring.news2.score_parameter: there is one chart, not two.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from scoring import news2

# (parameter type, value, code) exactly as stored on patients.models.Observation.
StoredReading = tuple[str, float | None, str]


def needs_prompt_rescore(
    readings: Iterable[StoredReading],
    *,
    spo2_scale: int,
    current_risk: str | None,
    current_sub_scores: Mapping[str, int | None] | None = None,
) -> bool:
    """True unless the patient is at low risk and no new NEWS2 reading could score above what
    its parameter scores in the current score (0 when that is not known)."""
    if current_risk != news2.Risk.LOW:
        return True
    current = current_sub_scores or {}
    for parameter, value, code in readings:
        if parameter not in news2.PARAMETERS:
            continue
        worst = _worst_score(parameter, value, code, spo2_scale)
        if worst is None or worst > (current.get(parameter) or 0):
            return True
    return False


@functools.lru_cache(maxsize=4096)
def _worst_score(parameter: str, value: float | None, code: str, spo2_scale: int) -> int | None:
    """The highest score this reading could have on its own; None when it cannot be scored."""
    value_on_chart = chart_value(parameter, value, code)
    if value_on_chart is None:
        return None
    oxygen_states = (False, True) if parameter == "spo2" else (None,)
    try:
        return max(
            news2.score_parameter(parameter, value_on_chart, spo2_scale=spo2_scale, on_oxygen=on_oxygen)
            for on_oxygen in oxygen_states
        )
    except ValueError:
        return None


def chart_value(parameter: str, value: float | None, code: str) -> float | bool | str | None:
    """The stored columns as score_parameter takes them; None when there is nothing to score.

    Scoring reads the newest readings through this too, so a reading ingest judged unscorable
    is missing there as well, never a guess.
    """
    if parameter == "consciousness":
        return code or None
    if value is None:
        return None
    if parameter == "on_oxygen":
        # Stored as 1.0 / 0.0; anything else is not an answer to "air or oxygen?".
        return {1.0: True, 0.0: False}.get(value)
    return value
