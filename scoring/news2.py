"""The National Early Warning Score 2 (NEWS2), as pure Python over a dataclass.

Source: Royal College of Physicians, *National Early Warning Score (NEWS) 2:
Standardising the assessment of acute-illness severity in the NHS*, London: RCP,
2017: chart 1 (the NEWS scoring system), chart 2 (thresholds and triggers) and
chart 4 (clinical response to the trigger thresholds, with the minimum frequency
of monitoring). The tables below encode those charts exactly.

Two rules here are ours, not the chart's, because a home device does not behave
like a nurse with a paper chart (see docs/news2.md):

* A value between two printed steps (respiration rate 20.5, temperature 36.05)
  takes the higher score of its two neighbouring printed steps, so a reading is
  never under-scored by the gap between rows.
* A missing parameter is never assumed normal: it contributes no points, is
  listed in ``missing`` and makes the result incomplete, so ``total`` and
  ``risk`` are then lower bounds.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

PARAMETERS: tuple[str, ...] = (
    "respiratory_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)

# ACVPU: Alert, new Confusion, responds to Voice, responds to Pain, Unresponsive.
CONSCIOUSNESS_LEVELS: tuple[str, ...] = ("A", "C", "V", "P", "U")

# Scale 2 is only for patients with hypercapnic respiratory failure whose
# prescribed target saturation is 88-92%; everyone else is on Scale 1.
SPO2_SCALES: tuple[int, ...] = (1, 2)

SCALE_2_OXYGEN_UNKNOWN_NOTE = (
    "SpO2 on Scale 2 above the 88-92% target with air/oxygen unknown: scored as on air, which is a lower bound"
)


class Risk(StrEnum):
    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Vitals:
    """One set of observations; every field is optional because home devices
    rarely supply all seven parameters together."""

    respiratory_rate: float | None = None
    spo2: float | None = None
    on_oxygen: bool | None = None
    systolic_bp: float | None = None
    heart_rate: float | None = None
    consciousness: str | None = None
    temperature: float | None = None
    spo2_scale: int = 1

    def __post_init__(self) -> None:
        _check_spo2_scale(self.spo2_scale)


@dataclass(frozen=True)
class SubScore:
    parameter: str
    value: float | bool | str | None
    score: int | None  # None when the value is missing
    # Set when the score is only a lower bound for this parameter (Scale 2 SpO2
    # with the oxygen status unknown); None otherwise.
    note: str | None = None


@dataclass(frozen=True)
class Band:
    name: str  # "zero", "low", "low-medium", "medium", "high"
    risk: Risk
    clinical_response: str
    monitoring_frequency: str
    monitoring_interval: timedelta


@dataclass(frozen=True)
class News2Result:
    total: int  # sum of the sub-scores that could be computed
    risk: Risk  # for an incomplete score this is a lower bound
    band: str
    sub_scores: dict[str, SubScore]  # every one of PARAMETERS, always
    missing: tuple[str, ...]  # in PARAMETERS order
    complete: bool
    single_parameter_3: bool
    spo2_scale: int
    clinical_response: str
    monitoring_frequency: str
    monitoring_interval: timedelta


@dataclass(frozen=True)
class _Chart:
    """One row of the NEWS2 chart: bands of printed values, inclusive at both
    ends, with None for the open end of the first and last band."""

    step: Decimal  # the precision the chart prints this row at
    bands: tuple[tuple[Decimal | None, Decimal | None, int], ...]

    def score(self, value: Decimal) -> int:
        # Anything beyond the chart's ends scores by the end band; clamping one
        # step past the last printed bound keeps quantize() away from huge
        # exponents that the decimal context cannot represent.
        lowest, highest = self.bands[0][1], self.bands[-1][0]
        assert lowest is not None
        assert highest is not None
        clamped = min(max(value, lowest - self.step), highest + self.step)
        neighbours = (
            clamped.quantize(self.step, rounding=ROUND_FLOOR),
            clamped.quantize(self.step, rounding=ROUND_CEILING),
        )
        # A value between two printed steps takes the higher of their scores
        # so the gap between rows can never under-score a patient.
        return max(self._score_printed(printed) for printed in neighbours)

    def _score_printed(self, printed: Decimal) -> int:
        for low, high, points in self.bands:
            if (low is None or printed >= low) and (high is None or printed <= high):
                return points
        raise AssertionError(f"chart has a gap at {printed}")  # pragma: no cover


def _chart(step: str, *bands: tuple[str | None, str | None, int]) -> _Chart:
    return _Chart(
        step=Decimal(step),
        bands=tuple(
            (
                None if low is None else Decimal(low),
                None if high is None else Decimal(high),
                points,
            )
            for low, high, points in bands
        ),
    )


# RCP NEWS2 (2017) chart 1, "Respiration rate (per minute)".
RESPIRATORY_RATE_CHART = _chart(
    "1",
    (None, "8", 3),
    ("9", "11", 1),
    ("12", "20", 0),
    ("21", "24", 2),
    ("25", None, 3),
)
# RCP NEWS2 (2017) chart 1, "SpO2 Scale 1 (%)".
SPO2_SCALE_1_CHART = _chart(
    "1",
    (None, "91", 3),
    ("92", "93", 2),
    ("94", "95", 1),
    ("96", None, 0),
)
# RCP NEWS2 (2017) chart 1, "SpO2 Scale 2 (%)", patient breathing air: at or
# above the 88-92% target scores 0 however high.
SPO2_SCALE_2_AIR_CHART = _chart(
    "1",
    (None, "83", 3),
    ("84", "85", 2),
    ("86", "87", 1),
    ("88", None, 0),
)
# RCP NEWS2 (2017) chart 1, "SpO2 Scale 2 (%)", patient on oxygen: above the
# target is over-oxygenation and scores 1-3 (hypercapnia risk).
SPO2_SCALE_2_OXYGEN_CHART = _chart(
    "1",
    (None, "83", 3),
    ("84", "85", 2),
    ("86", "87", 1),
    ("88", "92", 0),
    ("93", "94", 1),
    ("95", "96", 2),
    ("97", None, 3),
)
# RCP NEWS2 (2017) chart 1, "Systolic BP (mmHg)".
SYSTOLIC_BP_CHART = _chart(
    "1",
    (None, "90", 3),
    ("91", "100", 2),
    ("101", "110", 1),
    ("111", "219", 0),
    ("220", None, 3),
)
# RCP NEWS2 (2017) chart 1, "Pulse (per minute)".
HEART_RATE_CHART = _chart(
    "1",
    (None, "40", 3),
    ("41", "50", 1),
    ("51", "90", 0),
    ("91", "110", 1),
    ("111", "130", 2),
    ("131", None, 3),
)
# RCP NEWS2 (2017) chart 1, "Temperature (°C)", printed to one decimal place.
TEMPERATURE_CHART = _chart(
    "0.1",
    (None, "35.0", 3),
    ("35.1", "36.0", 1),
    ("36.1", "38.0", 0),
    ("38.1", "39.0", 1),
    ("39.1", None, 2),
)
# RCP NEWS2 (2017) chart 1, "Air or oxygen?": any supplemental oxygen scores 2.
OXYGEN_SCORE = 2
# RCP NEWS2 (2017) chart 1, "Consciousness": new confusion scores like V, P, U.
CONSCIOUSNESS_SCORES: dict[str, int] = {"A": 0, "C": 3, "V": 3, "P": 3, "U": 3}

_NUMERIC_CHARTS: dict[str, _Chart] = {
    "respiratory_rate": RESPIRATORY_RATE_CHART,
    "systolic_bp": SYSTOLIC_BP_CHART,
    "heart_rate": HEART_RATE_CHART,
    "temperature": TEMPERATURE_CHART,
}

# RCP NEWS2 (2017) charts 2 and 4: risk, clinical response and minimum monitoring
# frequency for each trigger. `monitoring_interval` is what "observations
# overdue" is measured against.
_BANDS: dict[str, Band] = {
    "zero": Band(
        name="zero",
        risk=Risk.LOW,
        clinical_response="Continue routine NEWS monitoring",
        monitoring_frequency="Minimum 12-hourly",
        monitoring_interval=timedelta(hours=12),
    ),
    "low": Band(
        name="low",
        risk=Risk.LOW,
        clinical_response=(
            "Inform registered nurse, who must assess the patient; registered nurse "
            "decides whether increased frequency of clinical monitoring or escalation "
            "of care is required"
        ),
        monitoring_frequency="Minimum 4–6-hourly",
        # The chart allows 4-6 hours; we take the stricter end deliberately, so a
        # patient at home is never left longer than the chart permits.
        monitoring_interval=timedelta(hours=4),
    ),
    "low-medium": Band(
        name="low-medium",
        risk=Risk.LOW_MEDIUM,
        clinical_response=(
            "Registered nurse to inform medical team caring for the patient, who will "
            "review and decide whether escalation of care is necessary"
        ),
        monitoring_frequency="Minimum 1-hourly",
        monitoring_interval=timedelta(hours=1),
    ),
    "medium": Band(
        name="medium",
        risk=Risk.MEDIUM,
        clinical_response=(
            "Registered nurse to immediately inform the medical team caring for the "
            "patient; registered nurse to request urgent assessment by a clinician or "
            "team with core competencies in the care of acutely ill patients; provide "
            "clinical care in an environment with monitoring facilities"
        ),
        monitoring_frequency="Minimum 1-hourly",
        monitoring_interval=timedelta(hours=1),
    ),
    "high": Band(
        name="high",
        risk=Risk.HIGH,
        clinical_response=(
            "Registered nurse to immediately inform the medical team caring for the "
            "patient – this should be at least at specialist registrar level; emergency "
            "assessment by a team with critical care competencies, including "
            "practitioners with advanced airway management skills; consider transfer "
            "of care to a level 2 or 3 clinical care facility, ie higher-dependency "
            "unit or ICU; clinical care in an environment with monitoring facilities"
        ),
        monitoring_frequency="Continuous monitoring of vital signs",
        # "Continuous" has no interval; a home device reporting at least every
        # 15 minutes is how we read it for remote monitoring.
        monitoring_interval=timedelta(minutes=15),
    ),
}


def band_for(total: int, single_parameter_3: bool) -> Band:
    """The RCP trigger band for an aggregate score and the single-3 rule."""
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"NEWS2 total must be a non-negative integer, got {total!r}")
    if single_parameter_3 and total < 3:
        raise ValueError(f"a parameter scoring 3 makes the total at least 3, got {total}")
    if total >= 7:
        return _BANDS["high"]
    if total >= 5:
        return _BANDS["medium"]
    # A single red score of 3 needs an urgent ward-based response even when
    # the aggregate alone would be "low".
    if single_parameter_3:
        return _BANDS["low-medium"]
    if total >= 1:
        return _BANDS["low"]
    return _BANDS["zero"]


def score_parameter(
    parameter: str,
    value: float | bool | str,
    *,
    spo2_scale: int = 1,
    on_oxygen: bool | None = None,
) -> int:
    """Score one parameter by the chart.

    ``on_oxygen`` only matters for SpO2 on Scale 2; when it is None there the
    score is as if on air, the lower bound. Raises ValueError for an unknown
    parameter, a missing value, or a value the chart cannot score.
    """
    _check_spo2_scale(spo2_scale)
    if on_oxygen is not None:
        _as_bool("on_oxygen", on_oxygen)
    if value is None:
        raise ValueError(f"{parameter} has no value to score")
    if parameter == "on_oxygen":
        return OXYGEN_SCORE if _as_bool(parameter, value) else 0
    if parameter == "consciousness":
        return CONSCIOUSNESS_SCORES[_as_acvpu(value)]
    if parameter == "spo2":
        return _spo2_chart(spo2_scale, on_oxygen).score(_as_decimal(parameter, value))
    if parameter in _NUMERIC_CHARTS:
        return _NUMERIC_CHARTS[parameter].score(_as_decimal(parameter, value))
    raise ValueError(f"unknown NEWS2 parameter {parameter!r}; expected one of {PARAMETERS}")


def score(vitals: Vitals) -> News2Result:
    """Score a set of vitals; missing parameters make the result incomplete."""
    sub_scores = {parameter: _sub_score(parameter, vitals) for parameter in PARAMETERS}
    known = [sub.score for sub in sub_scores.values() if sub.score is not None]
    total = sum(known)
    single_parameter_3 = 3 in known
    band = band_for(total, single_parameter_3)
    missing = tuple(parameter for parameter, sub in sub_scores.items() if sub.score is None)
    return News2Result(
        total=total,
        risk=band.risk,
        band=band.name,
        sub_scores=sub_scores,
        missing=missing,
        complete=not missing,
        single_parameter_3=single_parameter_3,
        spo2_scale=vitals.spo2_scale,
        clinical_response=band.clinical_response,
        monitoring_frequency=band.monitoring_frequency,
        monitoring_interval=band.monitoring_interval,
    )


def _sub_score(parameter: str, vitals: Vitals) -> SubScore:
    value = getattr(vitals, parameter)
    if value is None:
        return SubScore(parameter=parameter, value=None, score=None)
    if parameter == "consciousness":
        value = _as_acvpu(value)
    points = score_parameter(parameter, value, spo2_scale=vitals.spo2_scale, on_oxygen=vitals.on_oxygen)
    note = None
    # Above the Scale 2 target the score depends on oxygen, which we do not
    # know; on_oxygen is itself missing, so the result is already incomplete.
    oxygen_unknown_on_scale_2 = parameter == "spo2" and vitals.spo2_scale == 2 and vitals.on_oxygen is None
    if oxygen_unknown_on_scale_2 and score_parameter("spo2", value, spo2_scale=2, on_oxygen=True) != points:
        note = SCALE_2_OXYGEN_UNKNOWN_NOTE
    return SubScore(parameter=parameter, value=value, score=points, note=note)


def _spo2_chart(spo2_scale: int, on_oxygen: bool | None) -> _Chart:
    if spo2_scale == 1:
        return SPO2_SCALE_1_CHART
    return SPO2_SCALE_2_OXYGEN_CHART if on_oxygen else SPO2_SCALE_2_AIR_CHART


def _check_spo2_scale(spo2_scale: int) -> None:
    if isinstance(spo2_scale, bool) or spo2_scale not in SPO2_SCALES:
        raise ValueError(f"spo2_scale must be 1 or 2, got {spo2_scale!r}")


def _as_decimal(parameter: str, value: object) -> Decimal:
    # bool is an int subclass, but True as a pulse is garbage, not 1 bpm.
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise ValueError(f"{parameter} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, numbers.Integral):
        number = Decimal(int(value))
    else:
        # str() is the shortest repr that round-trips, so 36.05 becomes
        # Decimal("36.05") rather than 36.0499999... and floors correctly.
        number = Decimal(str(float(value)))
    if not number.is_finite():
        raise ValueError(f"{parameter} must be a finite number, got {value!r}")
    return number


def _as_bool(parameter: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{parameter} must be True or False, got {value!r}")
    return value


def _as_acvpu(value: object) -> str:
    if isinstance(value, str) and value.upper() in CONSCIOUSNESS_LEVELS:
        return value.upper()
    raise ValueError(f"consciousness must be one of A, C, V, P, U, got {value!r}")


def bands() -> list[Band]:
    """Every trigger band with its RCP clinical response, lowest first (a screen's key)."""
    return list(_BANDS.values())
