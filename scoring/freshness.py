"""Building the patient's current vitals from the newest reading of each parameter.

Home devices report parameters separately and at different rates, so "the
current NEWS2" is assembled from the newest reading of each one. A reading too
old to describe the patient now is not used: the parameter becomes missing (so
the score is incomplete) rather than silently carrying an old normal forward.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scoring.news2 import PARAMETERS, Vitals

# How long a reading still describes the patient. SpO2, pulse and respiration
# move within minutes in a deteriorating patient, so an hour is the most we
# trust them; blood pressure and temperature drift more slowly and are taken
# less often at home; consciousness and air/oxygen change rarely and are
# usually reported by the patient or a nurse visit, hence 12 hours (the
# chart's longest routine interval). Callers may override any of them.
DEFAULT_FRESHNESS: dict[str, timedelta] = {
    "respiratory_rate": timedelta(hours=1),
    "spo2": timedelta(hours=1),
    "on_oxygen": timedelta(hours=12),
    "systolic_bp": timedelta(hours=4),
    "heart_rate": timedelta(hours=1),
    "consciousness": timedelta(hours=12),
    "temperature": timedelta(hours=4),
}


@dataclass(frozen=True)
class Reading:
    parameter: str
    value: float | bool | str
    measured_at: datetime
    observation_id: int | None = None


@dataclass(frozen=True)
class CurrentVitals:
    vitals: Vitals
    used: dict[str, Reading]  # the readings that went into `vitals`
    stale: tuple[str, ...]  # newest reading older than its window, in PARAMETERS order


def current_vitals(
    newest: Mapping[str, Reading],
    *,
    now: datetime,
    spo2_scale: int,
    freshness: Mapping[str, timedelta] | None = None,
) -> CurrentVitals:
    """The vitals to score now from the newest reading of each parameter.

    A reading is fresh while ``now - measured_at`` is at most its window
    (inclusive, so a reading exactly one window old still counts). ``freshness``
    overrides the windows of the parameters it names; the rest keep
    DEFAULT_FRESHNESS. Readings dated after ``now`` (device clock skew) count as
    fresh: rejecting implausible timestamps is the ingest's job.
    """
    _require_aware("now", now)
    _check_known("readings", newest)
    _check_known("freshness windows", freshness or {})
    windows = {**DEFAULT_FRESHNESS, **(freshness or {})}
    used: dict[str, Reading] = {}
    stale: list[str] = []
    for parameter in PARAMETERS:
        reading = newest.get(parameter)
        if reading is None:
            continue
        _check_reading(parameter, reading)
        if now - reading.measured_at <= windows[parameter]:
            used[parameter] = reading
        else:
            stale.append(parameter)
    # Any is honest here: _check_reading has already checked each value's type
    # against its parameter, which a dict keyed by name cannot express.
    values: dict[str, Any] = {parameter: reading.value for parameter, reading in used.items()}
    return CurrentVitals(
        vitals=Vitals(spo2_scale=spo2_scale, **values),
        used=used,
        stale=tuple(stale),
    )


def _check_known(what: str, by_parameter: Mapping[str, object]) -> None:
    # A misspelt key ("pulse") would otherwise be ignored and its parameter
    # silently fall back to missing or to the default window.
    unknown = set(by_parameter) - set(PARAMETERS)
    if unknown:
        raise ValueError(f"{what} for unknown NEWS2 parameters {sorted(unknown)}")


def _check_reading(parameter: str, reading: Reading) -> None:
    if reading.parameter != parameter:
        raise ValueError(f"reading for {reading.parameter!r} filed under {parameter!r}")
    _require_aware(f"{parameter} measured_at", reading.measured_at)
    value = reading.value
    if parameter == "on_oxygen":
        valid = isinstance(value, bool)
    elif parameter == "consciousness":
        valid = isinstance(value, str)
    else:
        # bool is an int subclass, but True is not a pulse.
        valid = isinstance(value, int | float) and not isinstance(value, bool)
    if not valid:
        raise ValueError(f"{parameter} reading has an invalid value {value!r}")


def _require_aware(name: str, moment: datetime) -> None:
    # Naive datetimes would compare in whatever zone the server happens to run
    # in; across a clock change that can make a stale reading look fresh.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be time-zone aware, got naive {moment!r}")
