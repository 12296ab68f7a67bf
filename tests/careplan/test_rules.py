"""The guard rails and the alerting arithmetic of agreed parameters (careplan.rules), pure."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan.rules import (
    HIGH_TOTAL,
    SAFETY_BOUNDS,
    Limit,
    LimitRefused,
    assess,
    check_limit,
    check_limits,
    worst_score_within,
)
from scoring import news2


def _subs(**values):
    vitals = news2.Vitals(**values)
    result = news2.score(vitals)
    subs = {name: {"value": sub.value, "score": sub.score} for name, sub in result.sub_scores.items()}
    return subs, result


def _assess(limits, **values):
    subs, result = _subs(**values)
    return assess(subs, total=result.total, spo2_scale=result.spo2_scale, limits={lim.parameter: lim for lim in limits})


AF = Limit("heart_rate", 50, 130)


@pytest.mark.parametrize(
    ("parameter", "message"),
    [("consciousness", "New confusion"), ("on_oxygen", "not a baseline"), ("weight", "not a NEWS2 parameter")],
)
def test_a_limit_on_consciousness_oxygen_or_anything_else_is_refused(parameter, message):
    with pytest.raises(LimitRefused, match=message):
        check_limit(Limit(parameter, 0, 1))


@pytest.mark.parametrize(
    ("parameter", "low", "high", "field"),
    [
        ("heart_rate", 40, 120, "low"),  # 40 scores 3: always alerts
        ("heart_rate", 41, 131, "high"),  # 131 scores 3
        ("respiratory_rate", 8, 20, "low"),
        ("respiratory_rate", 12, 25, "high"),
        ("spo2", 87, 92, "low"),
        ("systolic_bp", 84, 120, "low"),
        ("systolic_bp", 100, 220, "high"),
        ("temperature", 35.0, 37.0, "low"),
        ("temperature", 36.0, 39.1, "high"),
        ("heart_rate", 90, 80, "low"),  # upside down
    ],
)
def test_a_range_past_the_safety_bounds_is_refused_naming_the_end(parameter, low, high, field):
    scale = 1 if parameter == "spo2" else None
    with pytest.raises(LimitRefused) as refused:
        check_limit(Limit(parameter, low, high, scale))
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("parameter", "low", "high"),
    [("heart_rate", 41, 130), ("respiratory_rate", 9, 24), ("spo2", 88, 100), ("systolic_bp", 85, 219),
     ("temperature", 35.1, 39.0)],
)  # fmt: skip
def test_a_range_exactly_at_the_safety_bounds_is_accepted(parameter, low, high):
    check_limit(Limit(parameter, low, high, 1 if parameter == "spo2" else None))
    assert SAFETY_BOUNDS[parameter] == (low, high)


def test_scale_2_is_the_88_to_92_target_and_nothing_else():
    check_limit(Limit("spo2", 88, 92, 2))
    with pytest.raises(LimitRefused, match="88–92"):
        check_limit(Limit("spo2", 88, 94, 2))
    with pytest.raises(LimitRefused, match="which scale"):
        check_limit(Limit("spo2", 88, 92, None))


def test_limits_that_together_accept_a_high_total_are_refused():
    # SpO2 88-95 (up to 3) + systolic 85-100 (up to 3) + pulse 41-130 (up to 2) = 8 points
    limits = [Limit("spo2", 88, 95, 1), Limit("systolic_bp", 85, 100), Limit("heart_rate", 41, 130)]
    with pytest.raises(LimitRefused, match="HIGH total"):
        check_limits(limits)
    # one fewer and the worst case is 6: accepted
    check_limits(limits[:2])
    assert sum(worst_score_within(limit) for limit in limits[:2]) == HIGH_TOTAL - 1


def test_two_limits_for_one_parameter_are_refused():
    with pytest.raises(LimitRefused, match="already"):
        check_limits([AF, Limit("heart_rate", 60, 120)])


@pytest.mark.parametrize(
    ("limit", "worst"),
    [(Limit("heart_rate", 50, 130), 2), (Limit("heart_rate", 51, 90), 0), (Limit("spo2", 88, 92, 2), 0),
     (Limit("spo2", 90, 95, 1), 3), (Limit("temperature", 35.1, 36.0), 1), (Limit("temperature", 36.05, 36.1), 1)],
)  # fmt: skip
def test_the_worst_score_within_a_range_follows_the_chart(limit, worst):
    assert worst_score_within(limit) == worst


def test_a_pulse_inside_the_agreed_range_leaves_its_points_out_of_the_alerting_total_only():
    # pulse 125 (2) + resp 22 (2) + temp 38.5 (1) = 5, medium by the chart
    assessed = _assess([AF], heart_rate=125, respiratory_rate=22, temperature=38.5)
    assert (assessed.total, assessed.chart_risk) == (5, "medium")
    assert (assessed.alerting_total, assessed.alerting_risk, assessed.within) == (3, "low", ("heart_rate",))


@pytest.mark.parametrize(("pulse", "within"), [(130, True), (131, False), (50, True), (49, False)])
def test_the_agreed_range_is_inclusive_at_both_ends(pulse, within):
    assert _assess([AF], heart_rate=pulse).within_agreed is within


def test_a_high_total_alerts_as_high_whatever_is_agreed():
    # pulse 125 (2) + resp 22 (2) + temp 39.5 (2) + systolic 105 (1) = 7
    assessed = _assess([AF], heart_rate=125, respiratory_rate=22, temperature=39.5, systolic_bp=105)
    assert (assessed.total, assessed.alerting_risk, assessed.within, assessed.set_aside) == (
        7,
        "high",
        (),
        "high_total",
    )


def test_new_confusion_sets_every_limit_aside():
    assessed = _assess([AF], heart_rate=125, consciousness="C")
    assert (assessed.alerting_total, assessed.alerting_risk, assessed.set_aside) == (5, "medium", "new_confusion")
    assert "consciousness" in assessed.threes


def test_a_three_of_another_parameter_still_alerts():
    # SpO2 90 on Scale 1 (3) agreed; respiration 26 (3) is not
    assessed = _assess([Limit("spo2", 88, 92, 1)], spo2=90, respiratory_rate=26)
    assert assessed.within == ("spo2",)
    assert assessed.threes == {"respiratory_rate"}
    assert assessed.alerting_risk == "low-medium"


def test_a_scale_1_target_never_bends_a_scale_2_score():
    assessed = _assess([Limit("spo2", 88, 92, 1)], spo2=85, spo2_scale=2)
    assert assessed.within == ()


def test_a_limit_the_guard_rails_refuse_is_ignored_at_alert_time():
    # stored by some other route: a consciousness limit, a pulse range reaching 140
    limits = [Limit("consciousness", 0, 10), Limit("heart_rate", 41, 140)]
    assessed = _assess(limits, heart_rate=135, consciousness="V")
    assert assessed.within == () and assessed.threes == {"heart_rate", "consciousness"}


# --- property tests: no combination of limits hides a HIGH total or new confusion ----------

_numbers = {
    "respiratory_rate": st.one_of(st.none(), st.integers(4, 40)),
    "spo2": st.one_of(st.none(), st.integers(70, 100)),
    "on_oxygen": st.one_of(st.none(), st.booleans()),
    "systolic_bp": st.one_of(st.none(), st.integers(60, 240)),
    "heart_rate": st.one_of(st.none(), st.integers(30, 170)),
    "consciousness": st.one_of(st.none(), st.sampled_from("ACVPU")),
    "temperature": st.one_of(st.none(), st.floats(34.0, 41.0).map(lambda t: round(t, 1))),
}
_vitals = st.fixed_dictionaries(_numbers).flatmap(
    lambda values: st.sampled_from([1, 2]).map(lambda scale: {**values, "spo2_scale": scale})
)


@st.composite
def _any_limit(draw, parameter):
    # Any range at all, valid or not: the alert-time rules must hold even for stored nonsense.
    low = draw(st.floats(0, 250, allow_nan=False))
    high = draw(st.floats(0, 250, allow_nan=False))
    scale = draw(st.sampled_from([None, 1, 2]))
    return Limit(parameter, min(low, high), max(low, high), scale)


_limits = st.lists(st.sampled_from([*SAFETY_BOUNDS, "consciousness", "on_oxygen"]).flatmap(_any_limit), max_size=7).map(
    lambda limits: {limit.parameter: limit for limit in limits}
)

RANK = {"low": 0, "low-medium": 1, "medium": 2, "high": 3}


@settings(max_examples=400, deadline=None)
@given(values=_vitals, limits=_limits)
def test_no_combination_of_limits_hides_a_high_total_or_new_confusion(values, limits):
    subs, result = _subs(**values)
    assessed = assess(subs, total=result.total, spo2_scale=result.spo2_scale, limits=limits)
    # the score itself is never touched
    assert (assessed.total, assessed.chart_risk) == (result.total, str(result.risk))
    if result.total >= HIGH_TOTAL:
        assert assessed.alerting_risk == "high" and assessed.alerting_total == result.total
    if values["consciousness"] in ("C", "V", "P", "U"):
        assert assessed.alerting_risk == str(result.risk) and "consciousness" in assessed.threes
    # limits only ever lower alerting, and only by the parameters they name, inside their range
    assert RANK[assessed.alerting_risk] <= RANK[str(result.risk)]
    for name in assessed.within:
        assert name in limits and limits[name].contains(subs[name]["value"])
    chart_threes = {name for name, sub in subs.items() if sub["score"] == 3}
    assert chart_threes - set(assessed.within) == set(assessed.threes)
    assert result.total - assessed.alerting_total == sum(subs[name]["score"] for name in assessed.within)


@settings(max_examples=300, deadline=None)
@given(limits=st.lists(st.sampled_from(list(SAFETY_BOUNDS)).flatmap(_any_limit), max_size=5))
def test_every_set_of_limits_the_guard_rails_accept_keeps_its_worst_case_below_high(limits):
    try:
        check_limits(limits)
    except LimitRefused:
        return
    assert sum(worst_score_within(limit) for limit in limits) < HIGH_TOTAL
    for limit in limits:
        floor, ceiling = SAFETY_BOUNDS[limit.parameter]
        assert floor <= limit.low <= limit.high <= ceiling


# --- the same, through the function that decides a score's alerts ------------------------------


def _stored(values):
    """An unsaved EarlyWarningScore as scoring stores one, from vitals."""
    import datetime as dt

    from django.utils import timezone

    from scoring.models import EarlyWarningScore

    subs, result = _subs(**values)
    return EarlyWarningScore(
        computed_at=timezone.now(), as_of=timezone.now() - dt.timedelta(minutes=1), total=result.total,
        risk=str(result.risk), band=result.band, spo2_scale=result.spo2_scale, complete=result.complete,
        single_parameter_3=result.single_parameter_3, sub_scores=subs, missing=list(result.missing), stale=[],
        clinical_response=result.clinical_response, monitoring_frequency=result.monitoring_frequency,
        monitoring_interval_s=int(result.monitoring_interval.total_seconds()),
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(before=_vitals, after=_vitals, limits=_limits)
def test_the_alert_decision_never_lets_limits_hide_a_new_high_total_or_new_confusion(before, after, limits):
    from alerts.models import AlertKind, Severity
    from alerts.services.clinical import _score_news

    previous, score = _stored(before), _stored(after)
    news = _score_news(score, previous, limits)
    risk = [item for item in news if item.kind == AlertKind.NEWS2_RISK]
    if score.total >= HIGH_TOTAL and previous.total < HIGH_TOTAL:
        assert risk and risk[0].severity == Severity.HIGH
    newly_confused = after["consciousness"] in ("C", "V", "P", "U") and before["consciousness"] in (None, "A")
    if newly_confused:
        single = [item for item in news if item.kind == AlertKind.SINGLE_PARAMETER]
        assert single and "consciousness" in single[0].data["new"]
    # an alert raised under limits is never more severe than the chart's band for the score
    from alerts.services.clinical import RISK_SEVERITY

    for item in risk:
        assert item.severity <= RISK_SEVERITY[score.risk]
