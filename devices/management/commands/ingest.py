"""``manage.py ingest``: the long-running MQTT ingest service (docs/ingest.md).

Runs the MQTT transport (paho's network thread) and one batch worker thread until SIGTERM or
SIGINT, then stops taking messages, finishes and acknowledges those already received, and
disconnects. Anything not acknowledged by then stays in the broker's session for next time.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devices.broker_auth import platform_mqtt_account
from devices.ingest.messages import Outcome
from devices.ingest.worker import IngestWorker
from devices.mqtt_tls import BrokerTrustError
from devices.mqtt_transport import MqttTransport, TransportConfig
from virtualward.interpreter import freeze_startup_objects, set_switch_interval, switch_interval_s

logger = logging.getLogger("devices.ingest")

DRAIN_SECONDS = 10.0
CRASH_EXIT_CODE = 86


def crash_before_ack(outcomes: Sequence[Outcome]) -> None:
    """Test hook (VW_INGEST_CRASH_BEFORE_ACK=1): die after commit, before any ack is sent."""
    sys.stderr.write(f"VW_INGEST_CRASH_BEFORE_ACK: exiting after committing {len(outcomes)} messages\n")
    sys.stderr.flush()
    os._exit(CRASH_EXIT_CODE)


class Command(BaseCommand):
    help = "Receive device messages over MQTT, store them and acknowledge them (runs until stopped)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=settings.VW_INGEST_BATCH_SIZE)
        parser.add_argument("--batch-ms", type=int, default=settings.VW_INGEST_BATCH_MS)
        parser.add_argument("--no-share", action="store_true", help="Plain subscriptions (brokers without $share).")
        parser.add_argument("--share-group", default=settings.MQTT_SHARE_GROUP)
        parser.add_argument("--client-id", default=settings.MQTT_CLIENT_ID, help="One per process (the session)")
        parser.add_argument("--protocol", default=settings.MQTT_PROTOCOL, choices=["auto", "5", "3.1.1"])
        parser.add_argument("--stats-seconds", type=float, default=60.0)
        parser.add_argument(
            "--switch-interval-us",
            type=int,
            default=settings.VW_INGEST_SWITCH_INTERVAL_US,
            help="How long one thread may hold the interpreter lock while another waits (µs)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            switch_interval_s(options["switch_interval_us"])
        except ValueError as exc:
            raise CommandError(f"--switch-interval-us (VW_INGEST_SWITCH_INTERVAL_US) {exc}") from exc
        if not settings.MQTT_URL:
            raise SystemExit("MQTT_URL is not set: point it at the broker (mqtt://host:1883 or mqtts://host:8883)")
        # The platform's own broker account: MQTT_USERNAME / MQTT_PASSWORD in production, a
        # generated development secret otherwise (the generated Mosquitto config knows both).
        account = platform_mqtt_account()
        window = max(1000, 2 * options["batch_size"])
        config = TransportConfig(
            url=settings.MQTT_URL,
            client_id=options["client_id"],
            username=account.username,
            password=account.password,
            protocol=options["protocol"],
            share_group="" if options["no_share"] else options["share_group"],
            session_expiry_s=settings.MQTT_SESSION_EXPIRY_S,
            # Both ways, at least two batches may be unacknowledged at once: the broker's messages
            # to us, and our acks to the devices.
            receive_maximum=window,
            publish_window=window,
            ca_file=settings.MQTT_CA_FILE,
            cert_file=settings.MQTT_CERT_FILE,
            key_file=settings.MQTT_KEY_FILE,
        )
        hook = crash_before_ack if os.environ.get("VW_INGEST_CRASH_BEFORE_ACK") == "1" else None
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        try:
            run_service(config, options, stop, after_commit=hook)
        except BrokerTrustError as exc:
            raise CommandError(f"refusing to start: {exc}") from exc


def run_service(
    config: TransportConfig, options: dict[str, Any], stop: threading.Event, *, after_commit: Any = None
) -> None:
    worker = IngestWorker(
        batch_size=options["batch_size"],
        batch_wait_s=options["batch_ms"] / 1000,
        after_commit=after_commit,
    )
    transport = MqttTransport(config, worker.put)
    worker.link = transport
    while True:
        try:
            transport.start()
            break
        except ConnectionError as exc:
            logger.warning("%s; trying again", exc)
            if stop.wait(5.0):
                return
    # Everything loaded so far lives as long as the process: out of the full collections' way.
    freeze_startup_objects()
    # Two busy threads from here on: paho's network thread gets the lock back sooner.
    set_switch_interval(options["switch_interval_us"])
    thread = threading.Thread(target=worker.run, name="ingest-worker", daemon=True)
    thread.start()
    _report_ready(transport, stop)
    _log_until_stopped(worker, stop, options["stats_seconds"])
    worker.stopping.set()
    thread.join(DRAIN_SECONDS)
    if thread.is_alive():
        logger.warning("ingest worker busy after %.0fs; unacknowledged messages are redelivered", DRAIN_SECONDS)
    transport.stop()
    totals = worker.totals
    logger.info(
        "ingest stopped: %d messages (%d accepted observations, %d rejected, %d duplicates)",
        totals.messages, totals.accepted, totals.rejected, totals.duplicates,
    )


def _report_ready(transport: MqttTransport, stop: threading.Event) -> None:
    while not stop.is_set():
        if transport.subscribed.wait(1.0):
            logger.info("ingest ready (client id %s)", transport.config.client_id)
            return


def _log_until_stopped(worker: IngestWorker, stop: threading.Event, every_s: float) -> None:
    started = time.monotonic()
    while not stop.wait(every_s):
        stats = worker.take_stats()
        elapsed = time.monotonic() - started
        started = time.monotonic()
        logger.info(
            "ingest: %.0f msg/s, %d messages in %d batches, %d observations, %d rejected, %d duplicates, %d retries",
            stats.messages / elapsed if elapsed else 0, stats.messages, stats.batches,
            stats.accepted, stats.rejected, stats.duplicates, stats.retries,
        )
