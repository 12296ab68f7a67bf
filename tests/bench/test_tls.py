"""`make bench BENCH_ARGS=--tls`: TLS's cost in the same run (benchmarks/tls.py)."""

from __future__ import annotations

import pytest

from benchmarks import tls as bench_tls
from benchmarks.report import summary
from benchmarks.runner import BenchConfig, alert_patients_needed
from benchmarks.stack import Services
from benchmarks.stats import summarise_latencies
from devices import broker_auth
from tests.bench.test_report import _step


def test_the_plain_twin_of_a_tls_url_keeps_the_credentials_and_uses_the_loopback_port():
    url = "mqtts://vw-bench-fleet:p%40ss@127.0.0.1:40001"
    assert bench_tls.plain_twin(url, 40002) == "mqtt://vw-bench-fleet:p%40ss@127.0.0.1:40002"
    assert bench_tls.plain_twin("mqtts://127.0.0.1:40001", 40002) == "mqtt://127.0.0.1:40002"


def test_a_tls_run_seeds_fresh_alert_patients_for_its_own_ladder_too():
    plain = BenchConfig(services=Services("", "", ""), rates=[200, 1000], seconds=5, alerts_per_step=5, refine=0)
    with_tls = BenchConfig(
        services=Services("", "", ""), rates=[200, 1000], seconds=5, alerts_per_step=5, refine=0, tls=True
    )
    assert alert_patients_needed(plain) == 5 * 2 + 1
    assert alert_patients_needed(with_tls) == 5 * 2 + 1 + 5 * 2 + 1


def test_the_summary_gives_tls_as_a_share_of_the_plain_sustained_rate_and_its_alert_p99():
    # given a platform that kept up with 1000/s plain, and with 800/s but not 1000/s over TLS
    over_tls = _step("tls", 1000, stored=9_000)
    over_tls.alert_latency = summarise_latencies([0.1, 0.2])
    kept = _step("tls", 800)
    steps = [_step("platform", 1000), _step("baseline", 1000), kept, over_tls]
    # then TLS's share is 800 / 1000, below the 0.85 aim, with the 1000/s step's alert p99
    result = summary(steps)
    assert result["tls_sustained_msg_per_s"] == kept.msg_per_s
    assert result["tls_share_of_plain"] == pytest.approx(kept.msg_per_s / 1000, abs=0.01)
    assert not result["meets_tls_cost_target"]
    assert result["tls_alert_p99_ms_at_1000"] == over_tls.alert_latency.p99_ms


def test_a_run_without_tls_reports_no_tls_figures():
    assert "tls_share_of_plain" not in summary([_step("platform", 1000), _step("baseline", 1000)])


@pytest.mark.django_db
def test_the_bench_broker_listens_with_tls_and_plain_on_loopback_while_the_tls_listener_is_open(tmp_path, settings):
    settings.MQTT_BROKER_DIR = tmp_path / "mosquitto"
    with bench_tls.tls_listener(tmp_path / "tls", 40002) as ca:
        lines = broker_auth.broker_config_write(host="127.0.0.1", port=40001).read_text().splitlines()
        assert (tmp_path / "tls" / "server.key").exists() and ca.endswith("ca.crt")
    assert "listener 40001 127.0.0.1" in lines and "tls_version tlsv1.2" in lines
    assert lines[-1] == "listener 40002 127.0.0.1"
