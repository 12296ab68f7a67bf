"""The platform the bench starts has the deployed shape: N ingest processes, two Celery workers."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from benchmarks import stack
from benchmarks.broker import own_broker
from benchmarks.stack import BenchSetupError, ProcessSpec, Services, Stack
from devices.broker_auth import mosquitto_binary, platform_mqtt_account

SERVICES = Services("postgres://postgres@127.0.0.1:5432/vw_bench", "redis://127.0.0.1:6379/9", "mqtt://127.0.0.1:1")


def _stack(tmp_path: Path, **extra) -> Stack:
    return Stack(services=SERVICES, log_dir=tmp_path, **extra)


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


@pytest.mark.parametrize("count", [1, 2, 4])
def test_each_ingest_process_gets_its_own_client_id_and_log_in_the_one_share_group(tmp_path, count):
    # given a bench asked for `count` ingest processes
    specs = [spec for spec in _stack(tmp_path, ingest_processes=count).specs() if spec.name.startswith("ingest")]
    # then there are that many, each `manage.py ingest`, each under its own client id
    assert [spec.name for spec in specs] == [f"ingest-{n}" for n in range(1, count + 1)]
    assert [spec.env["MQTT_CLIENT_ID"] for spec in specs] == [f"vw-bench-ingest-{n}" for n in range(1, count + 1)]
    assert all(spec.command[1:3] == ["manage.py", "ingest"] for spec in specs)
    # and all of them join the bench's shared-subscription group (set once, for every process)
    assert _stack(tmp_path).environment()["MQTT_SHARE_GROUP"] == "vw-bench"


def test_extra_ingest_arguments_reach_every_ingest_process(tmp_path):
    specs = _stack(tmp_path, ingest_args=["--batch-ms", "10"]).specs()
    assert all(spec.command[-2:] == ["--batch-ms", "10"] for spec in specs if spec.name.startswith("ingest"))


def test_a_client_id_inherited_from_the_shell_is_not_passed_to_every_process(tmp_path, monkeypatch):
    # given a shell that sets the single-process client id
    monkeypatch.setenv("MQTT_CLIENT_ID", "vw-ingest")
    # then the shared environment drops it: each ingest process sets its own
    assert "MQTT_CLIENT_ID" not in _stack(tmp_path).environment()


@pytest.mark.parametrize("args", [["--client-id", "x"], ["--client-id=x"], ["--share-group", "g"], ["--no-share"]])
def test_ingest_arguments_that_would_undo_the_shared_group_are_refused(tmp_path, args):
    with pytest.raises(BenchSetupError, match="the bench does"):
        _stack(tmp_path, ingest_args=args)


def test_two_celery_workers_run_as_deployed_one_per_queue(tmp_path):
    # given the bench's platform with the prompt worker's concurrency at 3
    specs = {spec.name: spec.command for spec in _stack(tmp_path, worker_concurrency=3).specs()}
    prompt, default = specs["worker-prompt"], specs["worker"]
    # then the prompt worker consumes the prompt queue with that concurrency
    assert prompt[1:6] == ["-m", "celery", "-A", "virtualward", "worker"]
    assert (_option(prompt, "-Q"), _option(prompt, "--concurrency")) == (settings.VW_PROMPT_QUEUE, "3")
    assert settings.VW_PROMPT_QUEUE == "vw.prompt"
    # and the default worker the default queue (routine rescoring, sweeps) with one process
    assert (_option(default, "-Q"), _option(default, "--concurrency")) == ("celery", "1")
    # and they are two distinct Celery nodes
    assert _option(prompt, "--hostname") != _option(default, "--hostname")


def test_the_bench_says_what_it_starts(tmp_path):
    text = _stack(tmp_path, ingest_processes=3).describe()
    assert "3 ingest process(es) in share group vw-bench" in text
    assert "vw-bench-ingest-1, vw-bench-ingest-2, vw-bench-ingest-3" in text
    assert "worker-prompt (-Q vw.prompt, concurrency 2)" in text
    assert "worker (-Q celery, concurrency 1)" in text


def test_every_process_gets_its_own_environment_and_log_and_is_watched(tmp_path, monkeypatch):
    # given the real specs, with each command swapped for one that reports its environment and exits
    platform = _stack(tmp_path, ingest_processes=2)
    report = "import os; print(os.environ.get('MQTT_CLIENT_ID'), os.environ['MQTT_SHARE_GROUP'])"
    swapped = [ProcessSpec(spec.name, [sys.executable, "-c", report], spec.env) for spec in platform.specs()]
    monkeypatch.setattr(Stack, "specs", lambda self: swapped)
    # when started
    platform.start()
    for process in platform.processes.values():
        process.wait(timeout=20)
    # then each wrote its own log, and each ingest process saw its own client id
    assert (tmp_path / "ingest-1.log").read_text().split() == ["vw-bench-ingest-1", "vw-bench"]
    assert (tmp_path / "ingest-2.log").read_text().split() == ["vw-bench-ingest-2", "vw-bench"]
    assert (tmp_path / "worker-prompt.log").read_text().split() == ["None", "vw-bench"]
    # and the dead-process check names every one of them
    assert sorted(line.split()[0] for line in platform.dead()) == ["ingest-1", "ingest-2", "worker", "worker-prompt"]


def test_the_bench_waits_until_every_ingest_process_is_subscribed(tmp_path):
    # given two ingest processes of which only the first has said it is ready
    platform = _stack(tmp_path, ingest_processes=2)
    (tmp_path / "ingest-1.log").write_text("... INFO devices.ingest ingest ready (client id vw-bench-ingest-1)\n")
    (tmp_path / "ingest-2.log").write_text("... INFO devices.mqtt_transport MQTT connected\n")
    # when waited for / then it names the one that is not ready
    started = time.monotonic()
    with pytest.raises(BenchSetupError, match="ingest-2 not subscribed"):
        platform.wait_ready(timeout_s=0.5)
    assert time.monotonic() - started < 5
    # and once that one is ready too, the wait returns
    with (tmp_path / "ingest-2.log").open("a") as log:
        log.write("... INFO devices.ingest ingest ready (client id vw-bench-ingest-2)\n")
    platform.wait_ready(timeout_s=0.5)


def test_stopping_forgets_every_ingest_session_with_the_platforms_account(tmp_path, monkeypatch):
    # given a stopped bench with three ingest processes
    forgotten = []
    monkeypatch.setattr(stack, "forget_mqtt_session", lambda *args: forgotten.append(args))
    # when stopped
    _stack(tmp_path, ingest_processes=3).stop()
    # then each client id's session is ended, logged in as the ingest was
    account = platform_mqtt_account()
    assert forgotten == [
        (SERVICES.mqtt_url, f"vw-bench-ingest-{n}", account.username, account.password) for n in (1, 2, 3)
    ]


def _session_present(url: str, client_id: str) -> bool:
    """Connect as an ingest does (MQTT 5, persistent session); whether the broker still held one."""
    account = platform_mqtt_account()
    parts = urlsplit(url)
    connected, result = threading.Event(), {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(account.username, account.password)

    def on_connect(client, userdata, flags, reason_code, properties):
        result["present"], result["code"] = flags.session_present, reason_code.value
        client.subscribe("vw/v1/devices/+/obs", qos=1)
        connected.set()

    client.on_connect = on_connect
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect(parts.hostname, parts.port, keepalive=10, clean_start=False, properties=properties)
    client.loop_start()
    try:
        assert connected.wait(5), "no CONNACK"
        assert result["code"] == 0
        time.sleep(0.2)  # let the SUBSCRIBE reach the broker
    finally:
        client.disconnect()
        client.loop_stop()
    return result["present"]


@pytest.mark.django_db
@pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto binary")
def test_a_forgotten_ingest_session_is_gone_from_the_bench_broker(tmp_path):
    # given the bench's own broker (no anonymous access) and an ingest's persistent session on it
    with own_broker(tmp_path) as (platform_url, _):
        _session_present(platform_url, "vw-bench-ingest-2")
        assert _session_present(platform_url, "vw-bench-ingest-2")  # the broker keeps it
        # when the bench forgets it with the platform's account
        account = platform_mqtt_account()
        stack.forget_mqtt_session(platform_url, "vw-bench-ingest-2", account.username, account.password)
        # then the next connection under that client id finds no session
        assert not _session_present(platform_url, "vw-bench-ingest-2")


def test_the_stacks_processes_start_in_the_projects_root():
    # the bench starts `manage.py ingest`, Celery and the baseline with this as their directory
    from benchmarks import stack

    assert (stack.BASE_DIR / "manage.py").is_file() and (stack.BASE_DIR / "benchmarks").is_dir()
