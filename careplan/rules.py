"""Agreed parameters: which readings raise which alerts. Pure Python, no ORM.

The NEWS2 score is never changed here (scoring.news2 stays the RCP chart). An agreed limit says
that readings of one parameter inside a range are this patient's baseline (a pulse of 120 in
known atrial fibrillation, a chronically low SpO2): such a reading's points are left out of the
*alerting* total, and its 3 raises no single-parameter alert. Every screen shows both figures:
"NEWS2 6 · within agreed parameters" is not "NEWS2 6".

Guard rails (docs/care-plan.md, "Guard rails"), refused when a limit is set and enforced again
every time an alert is decided, so a limit stored by any other route still cannot hide:

1. **A HIGH total.** A NEWS2 total of 7 or more alerts as HIGH whatever is agreed; and no set of
   limits may be agreed whose ranges together accept readings worth 7 points or more.
2. **New confusion.** Consciousness (ACVPU) can never have a limit, and a reading other than A
   sets every limit aside: the patient is judged by the chart alone.
3. **A single-parameter 3 that is not the one agreed.** A limit only ever touches its own
   parameter, and only readings inside its range: any other parameter scoring 3, or this one
   outside its range, raises its alert as the chart says. Only SpO2 (on Scale 1, not below
   88 %) and systolic blood pressure (not below 85 mmHg) may have a 3 inside their agreed range;
   the other parameters' safety bounds stop short of their chart's 3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from scoring import news2

HIGH_TOTAL = 7
SCALE_2_TARGET = (88.0, 92.0)
LIMITED_PARAMETERS = ("respiratory_rate", "spo2", "systolic_bp", "heart_rate", "temperature")
NEVER_LIMITED = {
    "consciousness": "New confusion (ACVPU other than A) always alerts: consciousness cannot have an agreed limit.",
    "on_oxygen": "Supplemental oxygen is not a baseline: it cannot have an agreed limit.",
}
# The widest range a clinician may agree for each parameter: beyond these a reading always
# alerts by the chart. Chosen so that only SpO2 and systolic BP can agree a chart 3 (rule 3).
SAFETY_BOUNDS: dict[str, tuple[float, float]] = {
    "respiratory_rate": (9.0, 24.0),  # chart 3 at <= 8 and >= 25
    "spo2": (88.0, 100.0),  # Scale 1 scores 88-91 as 3: the "chronically low SpO2" case
    "systolic_bp": (85.0, 219.0),  # chart 3 at <= 90 (85-90 agreeable) and >= 220 (never)
    "heart_rate": (41.0, 130.0),  # chart 3 at <= 40 and >= 131
    "temperature": (35.1, 39.0),  # chart 3 at <= 35.0
}
UNITS = {"respiratory_rate": "/min", "spo2": "%", "systolic_bp": "mmHg", "heart_rate": "/min", "temperature": "°C"}
LABELS = {
    "respiratory_rate": "Respiration rate",
    "spo2": "SpO2",
    "systolic_bp": "Systolic BP",
    "heart_rate": "Pulse",
    "temperature": "Temperature",
    "consciousness": "Consciousness",
    "on_oxygen": "Supplemental oxygen",
}
_STEPS = {"temperature": Decimal("0.1")}


class LimitRefused(ValueError):
    """A limit the guard rails refuse, with the field it is about and a plain reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Limit:
    parameter: str
    low: float
    high: float
    spo2_scale: int | None = None  # SpO2 only: the scale its target is scored on

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Assessment:
    """A score as alerting sees it: the chart's figures, and what agreed parameters left out."""

    total: int
    chart_risk: str
    alerting_total: int
    alerting_risk: str
    within: tuple[str, ...] = ()  # parameters scoring points with readings inside their limit
    threes: frozenset[str] = field(default_factory=frozenset)  # parameters at 3 that still alert
    set_aside: str | None = None  # "high_total" or "new_confusion": limits applied but overruled

    @property
    def within_agreed(self) -> bool:
        return bool(self.within)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "chart_risk": self.chart_risk,
            "alerting_total": self.alerting_total,
            "alerting_risk": self.alerting_risk,
            "within": list(self.within),
            "within_labels": [LABELS.get(name, name) for name in self.within],
            "threes": sorted(self.threes),
            "set_aside": self.set_aside,
            "text": describe(self),
        }


def check_limits(limits: Iterable[Limit]) -> None:
    """Refuse a set of limits (a patient's whole agreement) that breaks a guard rail."""
    seen: set[str] = set()
    worst_total = 0
    for limit in limits:
        check_limit(limit)
        if limit.parameter in seen:
            raise LimitRefused("parameter", f"{LABELS[limit.parameter]} already has an agreed limit.")
        seen.add(limit.parameter)
        worst_total += worst_score_within(limit)
    if worst_total >= HIGH_TOTAL:
        raise LimitRefused(
            "high",
            f"Together these agreed ranges accept readings worth {worst_total} NEWS2 points: a HIGH total "
            f"({HIGH_TOTAL} or more) can never be within agreed parameters. Narrow a range or end a limit.",
        )


def check_limit(limit: Limit) -> None:
    if limit.parameter in NEVER_LIMITED:
        raise LimitRefused("parameter", NEVER_LIMITED[limit.parameter])
    if limit.parameter not in LIMITED_PARAMETERS:
        raise LimitRefused("parameter", f"{limit.parameter!r} is not a NEWS2 parameter that can have a limit.")
    for name in ("low", "high"):
        value = getattr(limit, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise LimitRefused(name, f"The {name} end of the range must be a number.")
    if limit.low > limit.high:
        raise LimitRefused("low", f"The low end ({limit.low:g}) is above the high end ({limit.high:g}).")
    floor, ceiling = SAFETY_BOUNDS[limit.parameter]
    unit = UNITS[limit.parameter]
    label = LABELS[limit.parameter]
    if limit.low < floor:
        raise LimitRefused("low", f"{label} below {floor:g} {unit} always alerts by the chart; it cannot be agreed.")
    if limit.high > ceiling:
        raise LimitRefused("high", f"{label} above {ceiling:g} {unit} always alerts by the chart; it cannot be agreed.")
    if limit.parameter == "spo2":
        if limit.spo2_scale not in news2.SPO2_SCALES:
            raise LimitRefused("spo2_scale", "An SpO2 target says which scale it is scored on: 1 or 2.")
        if limit.spo2_scale == 2 and (limit.low, limit.high) != SCALE_2_TARGET:
            raise LimitRefused("spo2_scale", "Scale 2 is the 88–92 % target (RCP NEWS2 2017); set low 88 and high 92.")
    elif limit.spo2_scale is not None:
        raise LimitRefused("spo2_scale", "Only an SpO2 target has a scale.")


def worst_score_within(limit: Limit) -> int:
    """The most NEWS2 points a reading inside the limit can score (what it could leave out)."""
    if limit.parameter == "spo2" and limit.spo2_scale == 2:
        return 0  # Scale 2's own chart scores the target; the limit leaves nothing out
    step = _STEPS.get(limit.parameter, Decimal("1"))
    low, high = Decimal(str(limit.low)), Decimal(str(limit.high))
    points = {low, high}
    value = (low / step).to_integral_value(rounding="ROUND_CEILING") * step
    while value <= high:
        points.add(value)
        value += step
    return max(news2.score_parameter(limit.parameter, float(point)) for point in points)


def assess(
    sub_scores: Mapping[str, Mapping[str, Any]],
    *,
    total: int,
    spo2_scale: int,
    limits: Mapping[str, Limit] | None,
    risk: str | None = None,
) -> Assessment:
    """How a stored score alerts under these limits (``sub_scores`` as EarlyWarningScore keeps them).

    ``risk``: the score's stored chart risk, when known (else the chart's band of ``total``).
    """
    chart_threes = frozenset(name for name, sub in sub_scores.items() if (sub or {}).get("score") == 3)
    chart_risk = risk or str(news2.band_for(total, bool(chart_threes)).risk)
    within = tuple(
        name
        for name in LIMITED_PARAMETERS
        if _within(name, sub_scores.get(name) or {}, (limits or {}).get(name), spo2_scale)
    )
    set_aside = None
    if within and total >= HIGH_TOTAL:
        within, set_aside = (), "high_total"  # guard rail 1
    elif within and _new_confusion(sub_scores):
        within, set_aside = (), "new_confusion"  # guard rail 2
    left_out = sum(int(sub_scores[name]["score"]) for name in within)
    threes = chart_threes - set(within)  # guard rail 3: only the agreed parameter, inside its range
    alerting_total = total - left_out
    alerting_risk = str(news2.band_for(alerting_total, bool(threes)).risk) if within else chart_risk
    return Assessment(total, chart_risk, alerting_total, alerting_risk, within, threes, set_aside)


def _within(name: str, sub: Mapping[str, Any], limit: Limit | None, spo2_scale: int) -> bool:
    if limit is None or limit.parameter != name or name not in LIMITED_PARAMETERS:
        return False
    if not sub.get("score"):
        return False  # nothing to leave out (and a missing reading is never within anything)
    if name == "spo2" and (limit.spo2_scale != 1 or spo2_scale != 1):
        return False  # Scale 2 is scored by its own chart; a Scale 1 target never bends Scale 2
    try:
        check_limit(limit)
    except LimitRefused:
        return False  # a limit the guard rails would refuse is ignored, however it was stored
    return limit.contains(sub.get("value"))


def _new_confusion(sub_scores: Mapping[str, Mapping[str, Any]]) -> bool:
    value = (sub_scores.get("consciousness") or {}).get("value")
    return isinstance(value, str) and value.upper() in {"C", "V", "P", "U"}


def describe(assessment: Assessment) -> str:
    """The words every screen shows beside the score."""
    if assessment.set_aside == "high_total":
        return f"NEWS2 {assessment.total} · HIGH: agreed parameters never lower a total of {HIGH_TOTAL} or more"
    if assessment.set_aside == "new_confusion":
        return f"NEWS2 {assessment.total} · new confusion: agreed parameters set aside"
    if not assessment.within:
        return f"NEWS2 {assessment.total}"
    names = ", ".join(LABELS.get(name, name) for name in assessment.within)
    return (
        f"NEWS2 {assessment.total} · within agreed parameters ({names}); "
        f"alerting as {assessment.alerting_total}, {assessment.alerting_risk.replace('-', '–')} risk"
    )
