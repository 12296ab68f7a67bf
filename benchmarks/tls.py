"""The cost of TLS, measured in the same run as plain MQTT (`make bench BENCH_ARGS=--tls`).

The bench's own Mosquitto then listens with TLS on its main port (the platform's generated
configuration, certificates made here with :mod:`devices.pki`) and plain on a loopback port.
The plain ladder (platform and baseline) runs over the loopback port; then the platform's
processes are restarted over TLS, verifying the broker against the bench's CA, and the platform
ladder runs again, as system ``tls``, with the fleet publishing over TLS too. The summary gives
the TLS ladder's sustained rate as a share of the plain one, and its alert p99 at 1,000 msg/s.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.test.utils import override_settings

from benchmarks import report
from devices import pki
from devices.protocol import TOPIC_PREFIX

SYSTEM = report.TLS_SYSTEM


def plain_twin(url: str, port: int) -> str:
    """``url`` (mqtts://, credentials kept) pointed at the broker's plain loopback ``port``."""
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(("mqtt", f"{credentials}{parts.hostname}:{port}", parts.path, parts.query, parts.fragment))


@contextlib.contextmanager
def tls_listener(directory: Path, loopback_port: int) -> Iterator[str]:
    """While open, the broker the platform configures listens with TLS (and plain on loopback).

    Yields the CA file, which the bench's processes (ingest, fleet) are given as MQTT_CA_FILE.
    """
    directory.mkdir(parents=True, exist_ok=True)
    authority = pki.authority_create("Virtual ward bench CA")
    pki.authority_save(authority, directory)
    pki.issued_save(pki.server_certificate_issue(authority, ["127.0.0.1", "localhost"]), directory, "server")
    ca = str(directory / pki.CA_CERT_NAME)
    previous = os.environ.get("MQTT_CA_FILE")
    os.environ["MQTT_CA_FILE"] = ca  # inherited by the fleet's publishers and the platform's processes
    try:
        with override_settings(
            VW_MQTT_TLS_CERTFILE=str(directory / "server.crt"),
            VW_MQTT_TLS_KEYFILE=str(directory / "server.key"),
            VW_MQTT_REQUIRE_CERTIFICATE=False,
            VW_MQTT_PASSWORD_PORT=0,
            VW_MQTT_LOOPBACK_PORT=loopback_port,
        ):
            yield ca
    finally:
        if previous is None:
            os.environ.pop("MQTT_CA_FILE", None)
        else:
            os.environ["MQTT_CA_FILE"] = previous


def tls_ladder(run: Any, plain: Any, cleanup: contextlib.ExitStack) -> list[report.StepResult]:
    """The platform's ladder again, its processes and the fleet now connected over TLS.

    ``run`` and ``plain`` are the runner's run and the plain platform's stack, which stops here.
    """
    from benchmarks import runner  # the runner imports this module

    services = run.config.services
    plain.stop()
    config = replace(
        run.config,
        services=replace(services, mqtt_url=services.tls_mqtt_url, fleet_mqtt_url=services.tls_fleet_mqtt_url),
        with_baseline=False,
    )
    run.say(f"TLS: restarting the platform against {config.services.mqtt_url}")
    platform = runner._start_stack(config, run.say)
    cleanup.callback(platform.stop)
    tls_run = replace(run, config=config)
    platform.wait_ready(timeout_s=60.0)
    runner._warm_up(tls_run, "platform", TOPIC_PREFIX)

    def tls_step(step_run: Any, index: int, rate: float, stage: str) -> report.StepResult:
        result = runner._platform_step(step_run, index, rate, stage)
        result.system = SYSTEM
        return result

    results: list[report.StepResult] = []
    # Numbered past every plain step, so the TLS steps' tags stay unique in the database.
    first = len(run.config.rates) + run.config.refine + 1
    for index, rate in enumerate(run.config.rates, start=first):
        result = runner._measured(tls_run, platform, tls_step, index, rate, report.LADDER)
        results.append(result)
        if not result.keeps_up:
            break
    return results
