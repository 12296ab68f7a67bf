"""From step outcomes to figures: loss, keeping up, the sustained rate and the ratio."""

from __future__ import annotations

import json

import pytest

from benchmarks.fleet import StepOutcome
from benchmarks.measure import Stored
from benchmarks.report import alert_latencies, step_result, summary, table, write_json
from benchmarks.stats import summarise_latencies


def _outcome(*, published: int, acked: int, seconds: float, obs_per_msg: int = 4) -> StepOutcome:
    outcome = StepOutcome(tag="t", published=published, published_obs=published * obs_per_msg)
    outcome.first_publish_at, outcome.last_publish_at = 1000.0, 1000.0 + seconds
    outcome.ack_latencies = [0.02] * acked
    outcome.ack_published_at = [1000.0 + seconds * k / max(acked, 1) for k in range(acked)]
    outcome.acked_obs = acked * obs_per_msg
    outcome.last_ack_at = 1000.0 + seconds + 0.02
    return outcome


def _step(system: str, rate: float, *, stored: int | None = None, acked: int | None = None):
    published = int(rate * 10)
    acked = published if acked is None else acked
    stored = published if stored is None else stored
    return step_result(
        system, rate, 10, _outcome(published=published, acked=acked, seconds=10), Stored(stored, stored * 4)
    )


def test_a_step_that_stores_everything_at_the_offered_rate_keeps_up():
    # given 10 s at 1000/s, all stored and acknowledged
    result = _step("platform", 1000)
    # then the sustained rate is the offered one and nothing was lost
    assert result.msg_per_s == pytest.approx(1000, rel=0.01)
    assert result.obs_per_s == pytest.approx(4000, rel=0.01)
    assert result.lost_messages == 0
    assert result.keeps_up


def test_a_step_that_lost_one_message_does_not_keep_up_whatever_its_rate():
    result = _step("platform", 1000, stored=9999)
    assert result.lost_messages == 1
    assert result.lost_obs == 4
    assert not result.keeps_up


def test_a_step_that_fell_behind_does_not_keep_up():
    # given only half the messages completed in the time (the rest came far later)
    result = _step("platform", 1000, acked=5000)
    assert not result.keeps_up


def test_the_ratio_compares_the_highest_rates_each_system_kept_up_with():
    # given a platform that kept up to 1000/s and a baseline that kept up to 2000/s
    steps = [
        _step("platform", 1000),
        _step("baseline", 1000),
        _step("platform", 2000, acked=12000),
        _step("baseline", 2000),
    ]
    # when summarised
    result = summary(steps)
    # then the ratio is 1000 / 2000
    assert result["platform_sustained_msg_per_s"] == pytest.approx(1000, rel=0.01)
    assert result["baseline_sustained_msg_per_s"] == pytest.approx(2000, rel=0.01)
    assert result["ratio"] == 0.5
    assert result["zero_loss"]
    assert not result["meets_ratio_target"]


def test_a_platform_that_never_kept_up_has_no_sustained_rate_but_its_peak_is_shown():
    # given a platform that completed only 350 of 1000 msg/s
    steps = [_step("platform", 1000, acked=3500), _step("baseline", 1000)]
    # when summarised / then its sustained rate is 0, and the peak ratio says how far short it fell
    result = summary(steps)
    assert result["platform_sustained_msg_per_s"] == 0.0
    assert result["peak_ratio"] == pytest.approx(0.35, abs=0.01)


def test_any_loss_anywhere_is_reported_in_the_summary():
    result = summary([_step("platform", 250), _step("baseline", 250, stored=2499)])
    assert not result["zero_loss"]


def test_alert_target_is_judged_on_the_1000_per_second_step():
    # given a 1000/s step whose alerts took 100–240 ms
    step = _step("platform", 1000)
    sent = {pid: 0.0 for pid in range(10)}
    seen = {pid: 0.1 + pid * 0.015 for pid in range(10)}
    latencies, missing = alert_latencies(sent, seen)
    step.alert_latency = summarise_latencies(latencies)
    # then the p99 is the worst, and it meets the 250 ms target
    result = summary([step, _step("baseline", 1000)])
    assert missing == 0
    assert result["alert_p99_ms_at_1000"] == 235.0
    assert result["meets_alert_target"]


def test_an_alert_that_never_arrived_is_counted_missing_not_ignored():
    latencies, missing = alert_latencies({1: 0.0, 2: 0.0}, {1: 0.2})
    assert latencies == [0.2]
    assert missing == 1


def test_the_table_has_a_row_per_step_with_the_step_ratio(tmp_path):
    steps = [_step("platform", 500), _step("baseline", 500)]
    text = table(steps)
    assert "platform" in text and "baseline" in text
    assert "1.00" in text
    # and the JSON document carries the command, the summary and every step
    document = write_json(tmp_path / "latest.json", command="make bench", config={"rates": [500]}, steps=steps)
    on_disk = json.loads((tmp_path / "latest.json").read_text())
    assert on_disk["command"] == "make bench"
    assert len(on_disk["steps"]) == 2
    assert on_disk["summary"] == json.loads(json.dumps(document["summary"]))


def _late_step(system: str, rate: float, *, published_share: float, acked_share: float):
    # a 10 s step whose fleet managed only `published_share` of the rate
    published = int(rate * 10 * published_share)
    outcome = _outcome(published=published, acked=int(rate * 10 * acked_share), seconds=10)
    return step_result(system, rate, 10, outcome, Stored(published, published * 4))


def test_a_step_records_what_the_fleet_really_offered():
    # given a step published on schedule / then the offered rate is the step's rate
    step = _step("baseline", 2000)
    assert step.offered_msg_per_s == pytest.approx(2000, rel=0.001)
    assert step.fleet_on_schedule


def test_a_fleet_that_offered_less_than_the_rate_is_flagged_in_the_step_the_table_and_the_summary():
    # given a 3,000 msg/s step where the fleet published only 90 % of its messages in the time,
    # and the baseline completed what it was offered
    late = _late_step("baseline", 3000, published_share=0.9, acked_share=0.9)
    steps = [_step("platform", 2500), _step("baseline", 2500), late]
    # then the step is flagged: it did not keep up, but the load generator fell short first
    assert late.offered_msg_per_s == pytest.approx(2700, rel=0.001)
    assert not late.fleet_on_schedule
    assert not late.keeps_up
    result = summary(steps)
    assert result["fleet_off_schedule"] == ["baseline 3000/s"]
    assert result["baseline_limited_by_fleet"]
    assert not result["platform_limited_by_fleet"]
    # and the table marks the offered figure and says what the mark means
    text = table(steps)
    row = next(line for line in text.splitlines() if line.lstrip().startswith("3000"))
    assert "2700*" in row
    assert "the fleet fell behind its schedule" in text.splitlines()[-1]


def test_a_fleet_that_kept_the_rate_but_stalled_for_a_moment_is_flagged_too():
    step = _step("platform", 1000)
    step.max_publisher_lag_ms = 800.0
    assert not step.fleet_on_schedule


def test_a_table_without_fleet_trouble_has_no_footnote():
    text = table([_step("platform", 500), _step("baseline", 500)])
    assert "*" not in text


def test_the_json_carries_the_fleet_and_scoring_figures_of_each_step(tmp_path):
    # given a platform step that created scores and alerts
    step = _step("platform", 1000)
    step.scores_created, step.alerts_created = 9876, 20
    # when written / then each step says what was offered, by how many publishers, and the scoring work
    write_json(tmp_path / "latest.json", command="make bench", config={}, steps=[step])
    on_disk = json.loads((tmp_path / "latest.json").read_text())["steps"][0]
    assert on_disk["offered_msg_per_s"] == pytest.approx(1000, rel=0.001)
    assert on_disk["fleet_on_schedule"] is True
    assert on_disk["publishers"] == 1
    assert (on_disk["scores_created"], on_disk["alerts_created"]) == (9876, 20)
