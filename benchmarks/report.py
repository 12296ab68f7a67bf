"""Turn step outcomes into the figures the README quotes: a table on screen and JSON on disk."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.fleet import StepOutcome
from benchmarks.measure import Stored
from benchmarks.stats import LatencySummary, latency_by_second, ratio, summarise_latencies, sustained_rate

# A step "keeps up" when it completes at least this share of the offered rate with no loss.
KEEPS_UP = 0.95
TARGET_RATIO = 0.8
TARGET_ALERT_P99_MS = 250.0
TARGET_RATE = 1000.0
# The fleet kept its schedule when it offered at least this share of the step's rate and never
# fell further behind than FLEET_MAX_LAG_S; otherwise the step is flagged, so a shortfall that
# may be the load generator's is never read as the system's.
FLEET_ON_SCHEDULE = 0.98
FLEET_MAX_LAG_S = 0.5
# A step of the rate ladder, or one of the bisection steps after it (benchmarks/refine.py).
LADDER, REFINE = "ladder", "refine"
# The platform's ladder over TLS (benchmarks/tls.py); TLS may cost at most 15 % of its rate.
TLS_SYSTEM, TARGET_TLS_SHARE = "tls", 0.85


@dataclass
class StepResult:
    system: str  # "platform", "baseline" or "tls" (the platform over TLS)
    rate: float
    seconds: float
    published: int
    published_obs: int
    stored_messages: int
    stored_obs: int
    msg_per_s: float
    obs_per_s: float
    stored_latency: LatencySummary
    max_publisher_lag_ms: float
    unacked_at_drain: int
    stage: str = LADDER
    offered_msg_per_s: float = 0.0  # what the fleet really published: published ÷ its span
    publishers: int = 1
    refused: list[str] = field(default_factory=list)
    alert_latency: LatencySummary | None = None  # publish → alert.raised on the dashboard channel
    alert_opened_latency: LatencySummary | None = None  # publish → Alert.opened_at
    alerts_expected: int = 0
    # With --notify (benchmarks/notify.py): publish → the ladder's e-mail received by the SMTP server.
    notify_latency: LatencySummary | None = None
    notifications_expected: int = 0
    # Rows created between the step's start and its messages being stored (platform steps).
    scores_created: int | None = None
    alerts_created: int | None = None
    # How the step began (benchmarks/quiet.py): the wait for an idle machine, the idle share
    # of the processors in the last second of it, and whether it was quiet by then.
    quiet_wait_s: float | None = None
    idle_before: float | None = None
    started_quiet: bool | None = None
    # The share of processor time the hypervisor took for other guests during the step.
    steal_share: float | None = None
    # Publish → stored per second of the step (stats.latency_by_second): in the JSON only.
    stored_latency_by_second: list[dict] = field(default_factory=list)

    @property
    def lost_messages(self) -> int:
        return self.published - self.stored_messages

    @property
    def lost_obs(self) -> int:
        return self.published_obs - self.stored_obs

    @property
    def keeps_up(self) -> bool:
        return self.lost_messages == 0 and self.lost_obs == 0 and self.msg_per_s >= KEEPS_UP * self.rate

    @property
    def fleet_on_schedule(self) -> bool:
        return (
            self.offered_msg_per_s >= FLEET_ON_SCHEDULE * self.rate
            and self.max_publisher_lag_ms <= FLEET_MAX_LAG_S * 1000
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            lost_messages=self.lost_messages,
            lost_obs=self.lost_obs,
            keeps_up=self.keeps_up,
            fleet_on_schedule=self.fleet_on_schedule,
        )
        return data


def step_result(
    system: str, rate: float, seconds: float, outcome: StepOutcome, stored: Stored, *, stage: str = LADDER
) -> StepResult:
    finished = outcome.last_ack_at or outcome.last_publish_at
    completed = len(outcome.ack_latencies)
    msg_rate = sustained_rate(completed, outcome.first_publish_at, finished)
    # n messages on schedule span (n - 1) intervals: one more makes the offered rate exact.
    offered = sustained_rate(outcome.published, outcome.first_publish_at, outcome.last_publish_at + 1 / rate)
    return StepResult(
        system=system,
        rate=rate,
        seconds=seconds,
        published=outcome.published,
        published_obs=outcome.published_obs,
        stored_messages=stored.messages,
        stored_obs=stored.observations,
        msg_per_s=round(msg_rate, 1),
        obs_per_s=round(sustained_rate(outcome.acked_obs, outcome.first_publish_at, finished), 1),
        stored_latency=summarise_latencies(outcome.ack_latencies),
        max_publisher_lag_ms=round(outcome.max_lag_s * 1000, 1),
        unacked_at_drain=outcome.unacked,
        stage=stage,
        offered_msg_per_s=round(offered, 1),
        publishers=outcome.publishers,
        refused=outcome.refused[:10],
        stored_latency_by_second=latency_by_second(
            outcome.ack_published_at, outcome.ack_latencies, outcome.first_publish_at
        ),
    )


def alert_latencies(published_at: dict[int, float], seen_at: dict[int, float]) -> tuple[list[float], int]:
    """(latencies in seconds, how many expected alerts never came), keyed by patient id."""
    latencies = [seen_at[pid] - sent for pid, sent in published_at.items() if pid in seen_at]
    return latencies, len(published_at) - len(latencies)


def sustained(steps: Sequence[StepResult], system: str) -> float:
    """The highest rate a system completed while keeping up: its sustained messages/s."""
    kept = [step.msg_per_s for step in steps if step.system == system and step.keeps_up]
    return max(kept, default=0.0)


def bracket(steps: Sequence[StepResult], system: str) -> tuple[float | None, float | None]:
    """(the highest rate a system kept up with, the lowest it did not): its capacity lies between.

    None at an end the steps never reached: no rate it kept up with, or none it could not. A
    system's steps stop at the first it fails and refinement only offers rates between the two,
    so every rate it kept up with is below every rate it did not.
    """
    own = [step for step in steps if step.system == system]
    kept = max((step.rate for step in own if step.keeps_up), default=None)
    return kept, min((step.rate for step in own if not step.keeps_up), default=None)


def refine_steps(steps: Sequence[StepResult], system: str) -> int:
    """How many refinement steps a system has run."""
    return sum(step.system == system and step.stage == REFINE for step in steps)


def peak(steps: Sequence[StepResult], system: str) -> float:
    """The most a system completed in any step, kept up or not: how far short it fell."""
    return max((step.msg_per_s for step in steps if step.system == system), default=0.0)


def limited_by_fleet(steps: Sequence[StepResult], system: str) -> bool:
    """Whether a step where the system fell short was one where the fleet fell behind too."""
    return any(s.system == system and not s.keeps_up and not s.fleet_on_schedule for s in steps)


def summary(steps: Sequence[StepResult]) -> dict[str, Any]:
    platform, baseline = sustained(steps, "platform"), sustained(steps, "baseline")
    peak_ratio = ratio(peak(steps, "platform"), peak(steps, "baseline"))
    at_target = [s for s in steps if s.system == "platform" and s.rate == TARGET_RATE]
    alert_p99 = at_target[0].alert_latency.p99_ms if at_target and at_target[0].alert_latency else None
    overall = ratio(platform, baseline)
    return {
        "platform_sustained_msg_per_s": platform,
        "baseline_sustained_msg_per_s": baseline,
        "ratio": None if overall is None else round(overall, 3),
        "platform_peak_msg_per_s": peak(steps, "platform"),
        "baseline_peak_msg_per_s": peak(steps, "baseline"),
        "peak_ratio": None if peak_ratio is None else round(peak_ratio, 3),
        "zero_loss": all(s.lost_messages == 0 and s.lost_obs == 0 for s in steps),
        "alert_p99_ms_at_1000": alert_p99,
        "meets_ratio_target": overall is not None and overall >= TARGET_RATIO,
        "meets_alert_target": alert_p99 is not None and alert_p99 < TARGET_ALERT_P99_MS,
        "fleet_off_schedule": [f"{s.system} {s.rate:.0f}/s" for s in steps if not s.fleet_on_schedule],
        "platform_limited_by_fleet": limited_by_fleet(steps, "platform"),
        "baseline_limited_by_fleet": limited_by_fleet(steps, "baseline"),
        **_brackets(steps),
        **tls_cost(steps),
    }


def tls_cost(steps: Sequence[StepResult]) -> dict[str, Any]:
    """With --tls: the TLS ladder's sustained rate as a share of the plain one, and its alert p99."""
    if not any(s.system == TLS_SYSTEM for s in steps):
        return {}
    plain, over_tls = sustained(steps, "platform"), sustained(steps, TLS_SYSTEM)
    share = ratio(over_tls, plain)
    at_target = [s for s in steps if s.system == TLS_SYSTEM and s.rate == TARGET_RATE and s.alert_latency]
    return {
        "tls_sustained_msg_per_s": over_tls,
        "tls_share_of_plain": None if share is None else round(share, 3),
        "tls_alert_p99_ms_at_1000": at_target[0].alert_latency.p99_ms if at_target else None,  # type: ignore[union-attr]
        "meets_tls_cost_target": share is not None and share >= TARGET_TLS_SHARE,
    }


def _brackets(steps: Sequence[StepResult]) -> dict[str, Any]:
    """Each system's highest kept-up and lowest failed rate, and how many refinement steps narrowed them."""
    figures: dict[str, Any] = {}
    for system in ("platform", "baseline"):
        kept, failed = bracket(steps, system)
        figures[f"{system}_kept_up_at"] = kept
        figures[f"{system}_fell_behind_at"] = failed
        figures[f"{system}_refine_steps"] = refine_steps(steps, system)
    return figures


def capacity(summary: dict[str, Any], system: str) -> str | None:
    """Where a system's capacity lies, in words; None for a system that was not measured."""
    kept, failed = summary[f"{system}_kept_up_at"], summary[f"{system}_fell_behind_at"]
    refined = summary[f"{system}_refine_steps"]
    if kept is None and failed is None:
        return None
    if kept is None:
        return f"{system} kept up with no step (not even {failed:.0f} msg/s): not refined"
    if failed is None:
        return (
            f"{system} kept up with every step up to {kept:.0f} msg/s: not refined, its capacity is above "
            "the ladder and its sustained rate a lower bound"
        )
    return f"{system} kept up at {kept:.0f} msg/s, not at {failed:.0f}" + (
        f" ({refined} refinement step{'s' if refined != 1 else ''})" if refined else ""
    )


def rate_label(step: StepResult) -> str:
    """The step's rate, marked `~` for a refinement step."""
    return f"{step.rate:.0f}" + ("~" if step.stage == REFINE else "")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _offered(step: StepResult) -> str:
    return f"{step.offered_msg_per_s:.0f}" + ("" if step.fleet_on_schedule else "*")


def table(steps: Sequence[StepResult]) -> str:
    header = (
        f"{'rate':>6} {'offered':>8} {'system':<9} {'msg/s':>8} {'obs/s':>8} {'lost':>5} {'stored p50':>10} "
        f"{'p99':>7} {'alert p50':>9} {'p99':>7} {'ratio':>6}"
    )
    lines = [header, "-" * len(header)]
    baselines = {s.rate: s.msg_per_s for s in steps if s.system == "baseline"}
    for s in steps:
        alert = s.alert_latency
        step_ratio = ratio(s.msg_per_s, baselines.get(s.rate, 0.0)) if s.system == "platform" else None
        lines.append(
            f"{rate_label(s):>6} {_offered(s):>8} {s.system:<9} {s.msg_per_s:>8.0f} {s.obs_per_s:>8.0f} "
            f"{s.lost_messages:>5} {_ms(s.stored_latency.p50_ms):>10} {_ms(s.stored_latency.p99_ms):>7} "
            f"{_ms(alert.p50_ms if alert else None):>9} {_ms(alert.p99_ms if alert else None):>7} "
            f"{'-' if step_ratio is None else f'{step_ratio:.2f}':>6}"
        )
    if any(s.stage == REFINE for s in steps):
        lines.append(
            "~ a refinement step: halfway between the highest rate the system kept up with and the lowest it did "
            "not (bisection)"
        )
    if not all(s.fleet_on_schedule for s in steps):
        lines.append(
            f"* the fleet fell behind its schedule (offered < {FLEET_ON_SCHEDULE:.0%} of the rate, or lagged > "
            f"{FLEET_MAX_LAG_S * 1000:.0f} ms): a shortfall in that step may be the load generator's, not the system's"
        )
    return "\n".join(lines)


def write_json(path: Path, *, command: str, config: dict[str, Any], steps: Sequence[StepResult]) -> dict[str, Any]:
    document = {
        "command": command,
        "config": config,
        "summary": summary(steps),
        "steps": [step.as_dict() for step in steps],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str))
    return document
