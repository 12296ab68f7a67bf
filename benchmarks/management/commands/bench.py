"""`make bench`: the platform against a bare baseline, at stepped rates, on the real services."""

from __future__ import annotations

import itertools
import os
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from benchmarks import quiet, report
from benchmarks.fleet import RATE_PER_PUBLISHER
from benchmarks.runner import BenchConfig, run_bench
from benchmarks.stack import BenchSetupError, Services, check_ingest_args

QUICK = {"rates": "200,1000", "seconds": 5.0, "devices": 50, "alerts_per_step": 5, "refine": 0}
# Fine steps where the ratio is decided: with 250/500/1000/2000 a platform keeping up with
# 1,900 msg/s and a baseline with 2,000 counted as 1000 / 2000 = 0.5.
DEFAULT_RATES = "250,500,1000,1500,2000,2500,3000"


def _rates(raw: str) -> list[float]:
    try:
        rates = [float(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"--rates {raw!r} must be comma-separated numbers, e.g. 250,500,1000") from None
    if not rates or any(rate <= 0 for rate in rates):
        raise CommandError(f"--rates {raw!r} must list at least one rate above 0")
    if any(later <= earlier for earlier, later in itertools.pairwise(rates)):
        # A system's later steps are skipped once it falls behind: that needs a rising ladder.
        raise CommandError(f"--rates {raw!r} must rise from step to step")
    return rates


def _fleet_caveat(summary: dict) -> str:
    text = f"the fleet fell behind its schedule at {', '.join(summary['fleet_off_schedule'])}"
    limited = [name for name in ("platform", "baseline") if summary[f"{name}_limited_by_fleet"]]
    if limited:
        text += f"; {' and '.join(limited)} fell short there, so the load generator may have been the limit"
    return text


class Command(BaseCommand):
    help = (
        "Benchmark ingest, scoring and alerting against a bare paho + COPY baseline. Needs PostgreSQL and Redis "
        "(DATABASE_URL, REDIS_URL); creates and drops its own database. Runs its own Mosquitto unless MQTT_URL "
        "(BENCH_MQTT_URL under make) names a broker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rates", default=DEFAULT_RATES, help="messages/s per step (default %(default)s)")
        parser.add_argument("--seconds", type=float, default=12.0, help="length of each step (default %(default)s)")
        parser.add_argument("--devices", type=int, default=200, help="patients with ordinary readings")
        parser.add_argument("--alerts-per-step", type=int, default=20, help="fresh patients whose reading alerts")
        parser.add_argument(
            "--refine",
            type=int,
            default=2,
            help="bisection steps per system after the ladder, between its highest kept-up step and the next "
            "(default %(default)s; 0 turns them off)",
        )
        parser.add_argument(
            "--quiet-limit",
            type=float,
            default=quiet.LIMIT_S,
            help=f"before each step, wait up to this many seconds for the machine's processors to be "
            f"{quiet.IDLE_AT_LEAST * 100:.0f} %% idle (default %(default)s; 0 does not wait)",
        )
        parser.add_argument(
            "--quick", action="store_true", help="a ~60 s run: 200 and 1000 msg/s for 5 s each, no refinement"
        )
        parser.add_argument("--no-baseline", action="store_true", help="measure the platform only")
        parser.add_argument(
            "--notify",
            action="store_true",
            help="also measure publish → the e-mail the escalation ladder sends, received by an SMTP server",
        )
        parser.add_argument(
            "--tls",
            action="store_true",
            help="after the plain ladder, run the platform's ladder again over TLS and report TLS's cost "
            "(needs the bench's own broker)",
        )
        parser.add_argument(
            "--ingest-args", default="", help='extra arguments for `manage.py ingest`, e.g. "--batch-ms 10"'
        )
        parser.add_argument(
            "--elevated-share",
            type=float,
            default=0.15,
            help="share of the ordinary devices whose readings score NEWS2 2: prompt rescoring, no alert",
        )
        parser.add_argument(
            "--ingest-processes", type=int, default=2, help="ingest processes in the one shared-subscription group"
        )
        parser.add_argument("--worker-concurrency", type=int, default=2, help="the prompt-queue worker's processes")
        parser.add_argument("--keep-db", action="store_true", help="leave the bench database for inspection")
        parser.add_argument("--output", default="bench-results/latest.json")

    def handle(self, *args, **options) -> None:
        config = self._config(options)
        load_before = os.getloadavg()
        try:
            steps = run_bench(config, say=lambda line: self.stdout.write(f"bench: {line}"))
        except BenchSetupError as exc:
            raise CommandError(str(exc)) from exc
        command = "make bench" + (f" BENCH_ARGS={shlex.quote(' '.join(sys.argv[2:]))}" if sys.argv[2:] else "")
        # Other work on the machine moves absolute rates; the load shows whether it was quiet.
        described = {
            **self._described(config),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        }
        document = report.write_json(Path(options["output"]), command=command, config=described, steps=steps)
        self.stdout.write("\n" + report.table(steps) + "\n")
        self._verdict(document["summary"], options["output"])

    def _config(self, options: dict) -> BenchConfig:
        if options["quick"]:
            options.update({key: value for key, value in QUICK.items()})
        rates = _rates(options["rates"])
        if not 0.0 <= options["elevated_share"] <= 1.0:
            raise CommandError(f"--elevated-share {options['elevated_share']} must be from 0 to 1")
        if options["quiet_limit"] < 0:
            raise CommandError(f"--quiet-limit {options['quiet_limit']} must be 0 (do not wait) or more seconds")
        if options["refine"] < 0:
            raise CommandError(f"--refine {options['refine']} must be 0 (no refinement) or more")
        if options["ingest_processes"] < 1 or options["worker_concurrency"] < 1:
            raise CommandError("--ingest-processes and --worker-concurrency must be at least 1")
        ingest_args = shlex.split(options["ingest_args"])
        try:
            check_ingest_args(ingest_args)
        except BenchSetupError as exc:
            raise CommandError(str(exc)) from exc
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("the bench needs PostgreSQL: set DATABASE_URL (`make bench` sets it to vw_bench)")
        services = Services(settings.DATABASE_URL, settings.REDIS_URL, settings.MQTT_URL)
        if options["tls"] and services.mqtt_url:
            raise CommandError("--tls needs the bench's own broker: leave BENCH_MQTT_URL (MQTT_URL) empty")
        return BenchConfig(
            services=services,
            rates=rates,
            seconds=options["seconds"],
            devices=options["devices"],
            alerts_per_step=options["alerts_per_step"],
            refine=options["refine"],
            quiet_limit_s=options["quiet_limit"],
            ingest_args=ingest_args,
            ingest_processes=options["ingest_processes"],
            worker_concurrency=options["worker_concurrency"],
            elevated_share=options["elevated_share"],
            with_baseline=not options["no_baseline"],
            keep_db=options["keep_db"],
            results_dir=Path(options["output"]).parent,
            tls=options["tls"],
            notify=options["notify"],
        )

    @staticmethod
    def _described(config: BenchConfig) -> dict:
        return {
            "rates": config.rates,
            "seconds": config.seconds,
            "devices": config.devices,
            "alerts_per_step": config.alerts_per_step,
            # Bisection steps per system after the ladder, each marked "stage": "refine" below.
            "refine": config.refine,
            # The longest wait for an idle machine before each step (benchmarks/quiet.py).
            "quiet_limit_s": config.quiet_limit_s,
            "ingest_args": config.ingest_args,
            "ingest_processes": config.ingest_processes,
            "worker_concurrency": config.worker_concurrency,
            "workers": {
                "worker-prompt": {"queue": settings.VW_PROMPT_QUEUE, "concurrency": config.worker_concurrency},
                "worker": {"queue": settings.CELERY_TASK_DEFAULT_QUEUE, "concurrency": 1},
            },
            "elevated_share": config.elevated_share,
            "notify": config.notify,
            "rate_per_publisher": RATE_PER_PUBLISHER,
            "rescore_delay_s": settings.VW_RESCORE_DELAY_SECONDS,
            "broker": config.services.mqtt_url or "own mosquitto (platform's generated configuration)",
            "tls": config.tls,
        }

    def _verdict(self, summary: dict, output: str) -> None:
        ratio = summary["ratio"]
        self.stdout.write(
            f"sustained: platform {summary['platform_sustained_msg_per_s']:.0f} msg/s, baseline "
            f"{summary['baseline_sustained_msg_per_s']:.0f} msg/s, ratio {'-' if ratio is None else f'{ratio:.2f}'}"
            f" (target ≥ {report.TARGET_RATIO}; peak {summary['platform_peak_msg_per_s']:.0f} vs "
            f"{summary['baseline_peak_msg_per_s']:.0f} msg/s); zero loss: {'yes' if summary['zero_loss'] else 'NO'}; "
            f"alert p99 at 1000/s: {summary['alert_p99_ms_at_1000']} ms (target < {report.TARGET_ALERT_P99_MS:.0f})"
        )
        if "tls_share_of_plain" in summary:
            share = summary["tls_share_of_plain"]
            self.stdout.write(
                f"TLS: platform {summary['tls_sustained_msg_per_s']:.0f} msg/s over TLS, "
                f"{'-' if share is None else f'{share:.2f}'} of plain (target ≥ {report.TARGET_TLS_SHARE}); "
                f"alert p99 at 1000/s over TLS: {summary['tls_alert_p99_ms_at_1000']} ms"
            )
        if capacities := [note for name in ("platform", "baseline") if (note := report.capacity(summary, name))]:
            self.stdout.write("capacity: " + "; ".join(capacities))
        if summary["fleet_off_schedule"]:
            self.stdout.write(_fleet_caveat(summary))
        self.stdout.write(f"results written to {output}")
        if not summary["zero_loss"]:
            raise CommandError("messages were lost: see the table and the JSON results")
