"""After the ladder, bisection narrows each system's capacity down to finer than the ladder's steps."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmarks import runner
from benchmarks.fleet import StepOutcome
from benchmarks.measure import Stored
from benchmarks.refine import next_rate
from benchmarks.report import LADDER, REFINE, capacity, step_result, summary, table
from benchmarks.runner import BenchConfig, alert_patients_needed
from benchmarks.stack import Services

LADDER_RATES = [250.0, 500.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0]


def _step(system: str, rate: float, *, keeps_up: bool = True, stage: str = LADDER):
    # a 10 s step, every message acknowledged on time; one message short of the store when it fell behind
    published = int(rate * 10)
    outcome = StepOutcome(tag="t", published=published, published_obs=published * 4)
    outcome.first_publish_at, outcome.last_publish_at = 1000.0, 1010.0
    outcome.ack_latencies = [0.02] * published
    outcome.ack_published_at = [1000.0 + k / rate for k in range(published)]
    outcome.acked_obs = published * 4
    outcome.last_ack_at = 1010.02
    stored = published if keeps_up else published - 1
    return step_result(system, rate, 10, outcome, Stored(stored, stored * 4), stage=stage)


def _ladder(system: str, capacity_msg_per_s: float, rates=LADDER_RATES):
    # as the runner does: steps up to and including the first one it fails
    steps = []
    for rate in rates:
        steps.append(_step(system, rate, keeps_up=rate <= capacity_msg_per_s))
        if rate > capacity_msg_per_s:
            break
    return steps


def test_the_first_refinement_step_is_halfway_between_the_highest_kept_up_step_and_the_first_failed_one():
    # given a platform that kept up with 2,000 msg/s and fell behind at 2,500
    steps = _ladder("platform", 2300)
    # when the next rate is asked for / then it is 2,250
    assert next_rate(steps, "platform", rounds=2) == 2250


def test_after_keeping_up_with_a_refinement_step_the_next_one_is_higher():
    # given a platform that kept up with its 2,250 refinement step
    steps = [*_ladder("platform", 2300), _step("platform", 2250, stage=REFINE)]
    # then the next one bisects 2,250 – 2,500
    assert next_rate(steps, "platform", rounds=2) == 2375


def test_after_falling_behind_at_a_refinement_step_the_next_one_is_lower():
    # given a platform that fell behind at its 2,250 refinement step
    steps = [*_ladder("platform", 2100), _step("platform", 2250, keeps_up=False, stage=REFINE)]
    # then the next one bisects 2,000 – 2,250
    assert next_rate(steps, "platform", rounds=3) == 2125


def test_each_system_is_bisected_between_its_own_steps():
    # given a platform bracketed by 2,000 / 2,500 and a baseline by 2,500 / 3,000
    steps = [*_ladder("platform", 2300), *_ladder("baseline", 2900)]
    # then each gets its own midpoint
    assert next_rate(steps, "platform", rounds=2) == 2250
    assert next_rate(steps, "baseline", rounds=2) == 2750


def test_the_midpoint_is_a_whole_rate_and_there_is_none_between_neighbours():
    steps = [_step("platform", 1000), _step("platform", 1003, keeps_up=False)]
    assert next_rate(steps, "platform", rounds=1) == 1002
    steps = [_step("platform", 1000), _step("platform", 1001, keeps_up=False)]
    assert next_rate(steps, "platform", rounds=1) is None


def test_a_system_that_kept_up_with_every_step_is_not_refined():
    # given a baseline that kept up even at 3,000 msg/s: nothing bounds it from above
    steps = _ladder("baseline", 5000)
    # then there is nothing to bisect
    assert next_rate(steps, "baseline", rounds=2) is None


def test_a_system_that_kept_up_with_no_step_is_not_refined():
    steps = _ladder("platform", 100)
    assert next_rate(steps, "platform", rounds=2) is None


def test_refinement_stops_after_the_rounds_asked_for():
    # given two refinement steps already run
    steps = [
        *_ladder("platform", 2300),
        _step("platform", 2250, stage=REFINE),
        _step("platform", 2375, keeps_up=False, stage=REFINE),
    ]
    # then a third is offered only when three rounds were asked for, and none with refinement off
    assert next_rate(steps, "platform", rounds=2) is None
    assert 2250 < next_rate(steps, "platform", rounds=3) < 2375
    assert next_rate(_ladder("platform", 2300), "platform", rounds=0) is None


def test_the_sustained_rate_and_the_ratio_take_a_refinement_step_above_the_ladder():
    # given a platform that kept up at 2,000 and at its 2,250 refinement step, a baseline at 2,500
    steps = [
        *_ladder("platform", 2300),
        *_ladder("baseline", 2600),
        _step("platform", 2250, stage=REFINE),
        _step("baseline", 2750, keeps_up=False, stage=REFINE),
    ]
    # when summarised / then the platform's figure is the refinement step's, the baseline's its ladder's
    result = summary(steps)
    assert result["platform_sustained_msg_per_s"] == pytest.approx(2250, rel=0.01)
    assert result["baseline_sustained_msg_per_s"] == pytest.approx(2500, rel=0.01)
    assert result["ratio"] == pytest.approx(0.9, abs=0.001)
    # and where each capacity lies is in the summary
    assert (result["platform_kept_up_at"], result["platform_fell_behind_at"]) == (2250, 2500)
    assert (result["baseline_kept_up_at"], result["baseline_fell_behind_at"]) == (2500, 2750)
    assert (result["platform_refine_steps"], result["baseline_refine_steps"]) == (1, 1)


def test_the_table_marks_refinement_rows_and_explains_the_mark():
    steps = [*_ladder("platform", 2300, rates=[2000, 2500]), _step("platform", 2250, stage=REFINE)]
    lines = table(steps).splitlines()
    row = next(line for line in lines if line.lstrip().startswith("2250"))
    assert row.lstrip().startswith("2250~")
    assert lines[-1].startswith("~ a refinement step")
    # and a ladder row is not marked, nor a table without refinement footnoted
    assert "~" not in next(line for line in lines if line.lstrip().startswith("2000"))
    assert "~" not in table(_ladder("platform", 2300))


def test_a_refinement_step_the_baseline_did_not_run_at_has_no_step_ratio():
    steps = [*_ladder("platform", 2300, rates=[2000, 2500]), _step("platform", 2250, stage=REFINE)]
    steps += _ladder("baseline", 2600, rates=[2000, 2500, 3000])
    row = next(line for line in table(steps).splitlines() if line.lstrip().startswith("2250~"))
    assert row.split()[-1] == "-"


def test_the_json_says_which_steps_were_refinement_steps():
    assert _step("platform", 2250, stage=REFINE).as_dict()["stage"] == "refine"
    assert _step("platform", 2000).as_dict()["stage"] == "ladder"


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        ([*_ladder("platform", 2300), _step("platform", 2250, stage=REFINE)], "kept up at 2250 msg/s, not at 2500"),
        (_ladder("platform", 5000), "capacity is above the ladder and its sustained rate a lower bound"),
        (_ladder("platform", 100), "kept up with no step (not even 250 msg/s): not refined"),
    ],
)
def test_the_verdict_says_where_a_capacity_lies_and_why_it_was_not_refined(steps, words):
    assert words in capacity(summary(steps), "platform")
    # and a system that was not measured is not mentioned
    assert capacity(summary(steps), "baseline") is None


def _capacity_steps(capacities: dict[str, float], calls: list[tuple[str, int, float, str]]):
    def step_for(system):
        def measure_step(run, index, rate, stage):
            calls.append((system, index, rate, stage))
            return _step(system, rate, keeps_up=rate <= capacities[system], stage=stage)

        return measure_step

    return step_for("platform"), step_for("baseline")


def _run_steps(monkeypatch, *, refine: int) -> tuple[list[tuple[str, int, float, str]], list]:
    """The run's steps for a platform that keeps up with 2,300 msg/s and a baseline with 2,900."""
    calls: list[tuple[str, int, float, str]] = []
    platform_step, baseline_step = _capacity_steps({"platform": 2300, "baseline": 2900}, calls)
    monkeypatch.setattr(runner, "_platform_step", platform_step)
    monkeypatch.setattr(runner, "_baseline_step", baseline_step)
    config = BenchConfig(services=Services("", "", ""), rates=LADDER_RATES, seconds=10, refine=refine, quiet_limit_s=0)
    results = runner._steps(SimpleNamespace(config=config, say=lambda line: None), SimpleNamespace(dead=lambda: []))
    return calls, results


def test_the_run_bisects_after_the_ladder_platform_then_baseline_in_each_round(monkeypatch):
    # given a platform that can keep up with 2,300 msg/s and a baseline with 2,900,
    # when the steps run with two rounds of refinement
    calls, results = _run_steps(monkeypatch, refine=2)
    # then after the ladder each round runs the platform's midpoint, then the baseline's
    assert [(system, rate, stage) for system, _, rate, stage in calls[-4:]] == [
        ("platform", 2250, REFINE),
        ("baseline", 2750, REFINE),
        ("platform", 2375, REFINE),
        ("baseline", 2875, REFINE),
    ]
    assert all(stage == LADDER for *_, stage in calls[:-4])
    # and every step has its own tag (system and index)
    assert len({(system, index) for system, index, _, _ in calls}) == len(calls)
    # and the figures are the refined ones
    result = summary(results)
    assert result["platform_sustained_msg_per_s"] == pytest.approx(2250, rel=0.01)
    assert result["baseline_sustained_msg_per_s"] == pytest.approx(2875, rel=0.01)


def test_with_refinement_off_the_run_is_the_ladder_alone(monkeypatch):
    calls, _ = _run_steps(monkeypatch, refine=0)
    assert {stage for *_, stage in calls} == {LADDER}


def test_a_run_seeds_alert_patients_for_every_platform_step_refinement_included_and_the_warm_up():
    # given 7 ladder steps and 2 refinement rounds of 20 alerts each
    config = BenchConfig(services=Services("", "", ""), rates=LADDER_RATES, seconds=10, alerts_per_step=20, refine=2)
    # then 9 steps' worth plus the warm-up's one
    assert alert_patients_needed(config) == 20 * 9 + 1
    # and with refinement off, the ladder's steps and the warm-up's one
    quick = BenchConfig(services=Services("", "", ""), rates=[200, 1000], seconds=5, alerts_per_step=5, refine=0)
    assert alert_patients_needed(quick) == 5 * 2 + 1
