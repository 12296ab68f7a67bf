"""One benchmark run: fresh database, the platform's processes, stepped load, the baseline, figures.

Each rate is offered to the platform and then, with the same messages, to the baseline, so
both meet the same machine in the same state; the ratio of the two is the figure that travels
between machines, where absolute rates do not.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from multiprocessing import get_context
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from benchmarks import baseline, measure, notify, quiet, refine, report, stack
from benchmarks import tls as bench_tls
from benchmarks.alertwatch import AlertWatch
from benchmarks.broker import BrokerUnavailable, free_port, own_broker
from benchmarks.fleet import (
    RATE_PER_PUBLISHER,
    StepOutcome,
    StepPlan,
    elevated_devices,
    merge_outcomes,
    publisher_ready,
    publishers_for,
    run_step,
    split_plan,
)
from benchmarks.notify import MailWatch
from benchmarks.report import StepResult
from benchmarks.seed import Fleet, seed_fleet
from benchmarks.stats import summarise_latencies
from devices.protocol import TOPIC_PREFIX

Say = Callable[[str], None]

# A step's publishers start on one schedule this long after it is planned: time to receive the
# plan and connect, so none of them begins the step already behind.
_START_LEAD_S = 0.5


@dataclass
class BenchConfig:
    services: stack.Services
    rates: list[float]
    seconds: float
    devices: int = 200
    alerts_per_step: int = 20
    # Bisection steps per system after the ladder (benchmarks/refine.py); 0 turns them off.
    refine: int = 2
    # The longest wait for an idle machine before each step (benchmarks/quiet.py); 0: none.
    quiet_limit_s: float = quiet.LIMIT_S
    drain_timeout_s: float = 60.0
    alert_timeout_s: float = 30.0
    ingest_args: list[str] = field(default_factory=list)
    ingest_processes: int = 2
    worker_concurrency: int = 2
    elevated_share: float = 0.15
    with_baseline: bool = True
    keep_db: bool = False
    results_dir: Path = Path("bench-results")
    warmup_attempts: int = 6
    # After the plain ladder, the platform's ladder again over TLS (benchmarks/tls.py).
    tls: bool = False
    # Also measure publish → the e-mail a person is sent (benchmarks/notify.py).
    notify: bool = False


@dataclass
class _Run:
    config: BenchConfig
    fleet: Fleet
    watch: AlertWatch
    executor: ProcessPoolExecutor
    say: Say
    alerts_used: int = 0
    mail: MailWatch | None = None

    @cached_property
    def elevated(self) -> frozenset[str]:
        return elevated_devices(self.fleet.ordinary, self.config.elevated_share)

    def take_alert_devices(self, count: int) -> tuple[str, ...]:
        chosen = self.fleet.for_alerts[self.alerts_used : self.alerts_used + count]
        self.alerts_used += count
        return chosen

    def publish(self, *, tag: str, root: str, rate: float, seconds: float, alerts: tuple[str, ...]) -> StepOutcome:
        plan = StepPlan(
            mqtt_url=self.config.services.fleet_url,
            topic_root=root,
            tag=tag,
            device_ids=self.fleet.ordinary,
            alert_device_ids=alerts,
            rate=rate,
            seconds=seconds,
            drain_timeout_s=self.config.drain_timeout_s,
            elevated_device_ids=self.elevated,
            start_at=time.time() + _START_LEAD_S,
        )
        shares = [self.executor.submit(run_step, share) for share in split_plan(plan, publishers_for(rate))]
        return merge_outcomes([share.result() for share in shares])


def alert_patients_needed(config: BenchConfig) -> int:
    """Fresh patients a run alerts: every platform step's, ladder and refinement, and one for the warm-up.

    Each alert goes to a patient never scored high before, so every one is a new alert.
    """
    tls = config.alerts_per_step * len(config.rates) + 1 if config.tls else 0
    return config.alerts_per_step * (len(config.rates) + config.refine) + 1 + tls


def _prepare_database(config: BenchConfig, say: Say) -> Fleet:
    say(f"fresh database {stack.bench_database_name(config.services.database_url)}, empty Redis, migrate")
    connections.close_all()
    stack.recreate_database(config.services.database_url)
    stack.empty_redis(config.services.redis_url)
    call_command("migrate", verbosity=0, interactive=False)
    with psycopg.connect(config.services.database_url) as conn:
        baseline.ensure_table(conn)
    return seed_fleet(ordinary=config.devices, for_alerts=alert_patients_needed(config))


def settle(
    count: Callable[[], int],
    target: int,
    *,
    quiet_s: float = 15.0,
    limit_s: float = 120.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Count until ``target`` is reached or the count stops moving: what is missing then is lost.

    A backlog still draining is not loss, so a slow step is waited for; but a broker that
    dropped messages from a full queue will never deliver them, and the count then stands still.
    """
    started = last_change = clock()
    current = count()
    while current < target and clock() - last_change < quiet_s and clock() - started < limit_s:
        sleep(0.5)
        latest = count()
        if latest != current:
            current, last_change = latest, clock()
    return current


def _wait_for_alerts(run: _Run, patients: dict[str, int], timeout_s: float) -> None:
    wanted = set(patients.values())
    deadline = time.monotonic() + timeout_s
    while not wanted <= run.watch.raised_at.keys() and time.monotonic() < deadline:
        time.sleep(0.1)


def _warm_up(run: _Run, system: str, root: str) -> None:
    """Publish a trickle until one passes end to end: proves the processes are subscribed."""
    for attempt in range(run.config.warmup_attempts):
        alerts = run.take_alert_devices(1) if system == "platform" and attempt == 0 else ()
        outcome = run.publish(tag=f"warm{system[0]}{attempt}", root=root, rate=10, seconds=2, alerts=alerts)
        if alerts:
            _wait_for_alerts(run, measure.patients_of(alerts), run.config.alert_timeout_s)
        if outcome.unacked == 0 and outcome.published:
            run.say(f"{system} warm: {len(outcome.ack_latencies)} messages acknowledged")
            return
        time.sleep(2)
    raise stack.BenchSetupError(f"the {system} never acknowledged a message; see {run.config.results_dir}/logs")


def _prime(run: _Run, *, timeout_s: float = 90.0) -> None:
    """Give every patient a first score before the first step, as on a ward already running.

    A patient with no score is never assumed stable, so its first readings are scored promptly;
    without this the first step also carried the whole ward's first scores, and its alert
    latency measured that one-off burst rather than the steady state the steps compare.
    """
    devices = run.fleet.ordinary
    run.publish(tag="prime", root=TOPIC_PREFIX, rate=100, seconds=max(1.0, len(devices) / 100), alerts=())
    deadline = time.monotonic() + timeout_s
    while (left := measure.unscored(devices)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if left:
        raise stack.BenchSetupError(f"{left} patients were still unscored {timeout_s:.0f} s after priming")
    run.say(f"platform primed: all {len(devices)} patients scored")


def _platform_step(run: _Run, index: int, rate: float, stage: str) -> StepResult:
    tag = f"p{index}r{rate:.0f}"
    alerts = run.take_alert_devices(run.config.alerts_per_step)
    scores_before, alerts_before = measure.scoring_rows()
    outcome = run.publish(tag=tag, root=TOPIC_PREFIX, rate=rate, seconds=run.config.seconds, alerts=alerts)
    patients = measure.patients_of(alerts)
    _wait_for_alerts(run, patients, run.config.alert_timeout_s)
    settle(lambda: measure.platform_stored(tag).messages, outcome.published)
    stored = measure.platform_stored(tag)
    result = report.step_result("platform", rate, run.config.seconds, outcome, stored, stage=stage)
    # Scoring still queued when the step is measured lands in the next step's counts.
    scores_after, alerts_after = measure.scoring_rows()
    result.scores_created, result.alerts_created = scores_after - scores_before, alerts_after - alerts_before
    sent = {patients[device]: at for device, at in outcome.alert_published_at.items()}
    seen, missing = report.alert_latencies(sent, run.watch.raised_at)
    opened, _ = report.alert_latencies(sent, measure.alerts_opened(sent))
    result.alert_latency = summarise_latencies(seen)
    result.alert_opened_latency = summarise_latencies(opened)
    result.alerts_expected = len(sent)
    if missing:
        result.refused.append(f"{missing} of {len(sent)} expected alerts never reached the dashboard channel")
    if run.mail is not None:
        _measure_mail(run, result, sent)
    return result


def _measure_mail(run: _Run, result: StepResult, sent: dict[int, float]) -> None:
    """Publish → the HIGH alert's first e-mail received, for every alerting patient of the step."""
    assert run.mail is not None
    alerts = notify.alert_ids_of(list(sent))
    notify.wait_for_mail(run.mail, list(alerts), run.config.alert_timeout_s)
    latencies = [run.mail.arrived[a] - sent[p] for a, p in alerts.items() if a in run.mail.arrived]
    result.notify_latency = summarise_latencies(latencies)
    result.notifications_expected = len(sent)
    if len(latencies) < len(sent):
        result.refused.append(f"{len(sent) - len(latencies)} of {len(sent)} expected e-mails never arrived")


def _baseline_step(run: _Run, index: int, rate: float, stage: str) -> StepResult:
    tag = f"b{index}r{rate:.0f}"
    outcome = run.publish(tag=tag, root=baseline.BASELINE_ROOT, rate=rate, seconds=run.config.seconds, alerts=())
    settle(lambda: measure.baseline_stored(tag).messages, outcome.published)
    stored = measure.baseline_stored(tag)
    return report.step_result("baseline", rate, run.config.seconds, outcome, stored, stage=stage)


def _start_stack(config: BenchConfig, say: Say) -> stack.Stack:
    platform = stack.Stack(
        services=config.services,
        log_dir=config.results_dir / "logs",
        ingest_args=config.ingest_args,
        ingest_processes=config.ingest_processes,
        worker_concurrency=config.worker_concurrency,
    )
    say(f"starting {platform.describe()}" + (", and the baseline subscriber" if config.with_baseline else ""))
    platform.start()
    if config.with_baseline:
        platform.start_process(
            "baseline",
            [
                sys.executable,
                "-m",
                "benchmarks.baseline",
                "--database-url",
                config.services.database_url,
                "--mqtt-url",
                config.services.fleet_url,
                # The platform's batch limits, so neither system batches more than the other.
                "--batch-size",
                str(settings.VW_INGEST_BATCH_SIZE),
                "--batch-ms",
                str(settings.VW_INGEST_BATCH_MS),
                "--switch-interval-us",
                str(settings.VW_INGEST_SWITCH_INTERVAL_US),
            ],
        )
    return platform


def _report_step(run: _Run, result: StepResult) -> None:
    alert = f", alert p99 {result.alert_latency.p99_ms} ms" if result.alert_latency else ""
    if result.notify_latency:
        alert += f", e-mail p50 {result.notify_latency.p50_ms} ms p99 {result.notify_latency.p99_ms} ms"
    late = (
        ""
        if result.fleet_on_schedule
        else f"; the FLEET fell behind its schedule (offered {result.offered_msg_per_s:.0f} msg/s, "
        f"max lag {result.max_publisher_lag_ms:.0f} ms): a shortfall here may be the load generator's"
    )
    run.say(
        f"{result.system:>8} @ {report.rate_label(result):>5}/s: {result.msg_per_s:.0f} msg/s, "
        f"lost {result.lost_messages}, stored p99 {result.stored_latency.p99_ms} ms{alert}{late}"
    )


def _check_alive(platform: stack.Stack) -> None:
    if dead := platform.dead():
        raise stack.BenchSetupError("a platform process died: " + "; ".join(dead))


StepFunction = Callable[[_Run, int, float, str], StepResult]


def _measured(
    run: _Run, platform: stack.Stack, measure_step: StepFunction, index: int, rate: float, stage: str
) -> StepResult:
    calm = None
    if run.config.quiet_limit_s > 0:
        calm = quiet.wait_until_quiet(limit_s=run.config.quiet_limit_s)
        if not calm.quiet:
            run.say(
                f"the machine was still busy after {calm.waited_s:.0f} s (idle {calm.idle_share}); "
                "measuring the step anyway"
            )
    started = quiet.read_cpu_times()
    result = measure_step(run, index, rate, stage)
    result.steal_share = quiet.steal_share(started, quiet.read_cpu_times())
    if calm is not None:
        result.quiet_wait_s, result.idle_before, result.started_quiet = calm.waited_s, calm.idle_share, calm.quiet
    _report_step(run, result)
    _check_alive(platform)
    return result


def _steps(run: _Run, platform: stack.Stack) -> list[StepResult]:
    results: list[StepResult] = []
    fell_behind: set[str] = set()
    systems: dict[str, StepFunction] = {"platform": _platform_step}
    if run.config.with_baseline:
        systems["baseline"] = _baseline_step
    for index, rate in enumerate(run.config.rates):
        for system, measure_step in systems.items():
            if system in fell_behind:
                # Past its capacity a system only piles up backlog and broker drops; the rate it
                # last kept up with is already its sustained rate.
                run.say(f"{system:>8} @ {rate:>5.0f}/s: skipped, it fell behind at a lower rate")
                continue
            result = _measured(run, platform, measure_step, index, rate, report.LADDER)
            results.append(result)
            if not result.keeps_up:
                fell_behind.add(system)
    # Each round offers the platform its next rate, then the baseline its own, so both meet the
    # machine in the same state, as on the ladder. Numbered on from the ladder: tags stay unique.
    for round_index in range(run.config.refine):
        for system, measure_step in systems.items():
            if (rate := refine.next_rate(results, system, run.config.refine)) is not None:
                index = len(run.config.rates) + round_index
                results.append(_measured(run, platform, measure_step, index, rate, report.REFINE))
    return results


def run_bench(config: BenchConfig, say: Say) -> list[StepResult]:
    stack.check_services(config.services)
    fleet = _prepare_database(config, say)
    with contextlib.ExitStack() as cleanup:
        if not config.keep_db:
            cleanup.callback(stack.drop_database, config.services.database_url)
        cleanup.callback(connections.close_all)
        mail = _mail(config, say, cleanup)
        config = replace(config, services=cleanup.enter_context(_broker(config, say)))
        platform = _start_stack(config, say)
        cleanup.callback(platform.stop)
        executor = _publishers(config, say)
        cleanup.callback(executor.shutdown, cancel_futures=True)
        watch = AlertWatch()
        cleanup.callback(watch.stop)
        watch.start()
        run = _Run(config=config, fleet=fleet, watch=watch, executor=executor, say=say, mail=mail)
        platform.wait_ready(timeout_s=60.0)
        _warm_up(run, "platform", TOPIC_PREFIX)
        _prime(run)
        if config.with_baseline:
            _warm_up(run, "baseline", baseline.BASELINE_ROOT)
        _check_alive(platform)
        results = _steps(run, platform)
        if config.tls:
            results += bench_tls.tls_ladder(run, platform, cleanup)
        return results


def _mail(config: BenchConfig, say: Say, cleanup: contextlib.ExitStack) -> MailWatch | None:
    """With --notify: the SMTP server, a clinician on duty, and the platform's processes pointed at it."""
    if not config.notify:
        return None
    mail = MailWatch()
    mail.start()
    cleanup.callback(mail.stop)
    os.environ.update(mail.environment())  # the platform's processes inherit the bench's environment
    notify.put_clinician_on_duty()
    say(f"notifications: an SMTP server (aiosmtpd) on 127.0.0.1:{mail.port}, one ward clinician on duty")
    return mail


def _publishers(config: BenchConfig, say: Say) -> ProcessPoolExecutor:
    """The fleet's processes, all started now: a publisher spawned mid-run would begin its step late."""
    count = max(publishers_for(rate) for rate in config.rates)
    executor = ProcessPoolExecutor(max_workers=count, mp_context=get_context("spawn"))
    # The pool spawns a process per submission while none is idle: tasks that last a moment
    # make it start all of them, and each imports the fleet's code now rather than mid-step.
    pids = set(executor.map(publisher_ready, [0.3] * count))
    say(
        f"fleet: {len(pids)} publisher process(es), one MQTT connection each, "
        f"{RATE_PER_PUBLISHER:.0f} msg/s or less per publisher"
    )
    return executor


@contextlib.contextmanager
def _broker(config: BenchConfig, say: Say) -> Iterator[stack.Services]:
    """The services with the broker filled in: BENCH_MQTT_URL's if given, else a private one."""
    if config.services.mqtt_url:
        say(f"broker: {config.services.mqtt_url} (BENCH_MQTT_URL); its queue limits decide overload loss")
        yield config.services
        return
    try:
        with contextlib.ExitStack() as tls:
            loopback = free_port() if config.tls else 0
            if config.tls:
                tls.enter_context(bench_tls.tls_listener(config.results_dir / "tls", loopback))
            with own_broker(config.results_dir / "logs") as (platform_url, fleet_url):
                say(f"broker: the bench's own Mosquitto at {platform_url}, with the platform's generated configuration")
                if not config.tls:
                    yield replace(config.services, mqtt_url=platform_url, fleet_mqtt_url=fleet_url)
                    return
                yield replace(
                    config.services,
                    mqtt_url=bench_tls.plain_twin(platform_url, loopback),
                    fleet_mqtt_url=bench_tls.plain_twin(fleet_url, loopback),
                    tls_mqtt_url=platform_url,
                    tls_fleet_mqtt_url=fleet_url,
                )
    except BrokerUnavailable as exc:
        raise stack.BenchSetupError(str(exc)) from exc
