"""`make run`'s supervisor: everything starts, data flows, Ctrl-C stops every child cleanly."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import pytest

from virtualward.embedded import free_port
from virtualward.management.commands.runplatform import Command, Supervisor, celery_commands, restart_delay

ROOT = Path(__file__).resolve().parents[2]


def processes_with_env(marker: str) -> list[int]:
    """Pids of live processes whose environment contains `marker` (our run's own VW_VAR_DIR)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(predicate, timeout: float, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"runplatform exited ({process.returncode}) waiting for {what}:\n{tail(log)}")
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}:\n{tail(log)}")


def tail(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines()
    return "\n".join(line for line in lines[-400:] if "malformed" not in line)[-6000:]


def login_page_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def live_observations(db: Path, since: datetime) -> int:
    # Django stores aware datetimes in SQLite as UTC text, so text order is time order.
    cutoff = since.strftime("%Y-%m-%d %H:%M:%S")
    conn = sqlite3.connect(db, timeout=5)
    try:
        row = conn.execute("SELECT count(*) FROM patients_observation WHERE received_at > ?", (cutoff,))
        return int(row.fetchone()[0])
    finally:
        conn.close()


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_runplatform_serves_stores_simulated_readings_and_stops_every_child_on_ctrl_c(tmp_path):
    # given a fresh var directory and no real services configured
    var = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "MQTT_URL", "CI")}
    env.update(VW_VAR_DIR=str(var), DJANGO_DEBUG="true")
    marker = f"VW_VAR_DIR={var}"
    argv = [sys.executable, "manage.py", "runplatform", "--port", str(port),
            "--mqtt-port", str(free_port()), "--redis-port", str(free_port())]  # fmt: skip
    log_path = tmp_path / "runplatform.log"
    log = log_path.open("wb")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        # when it has started
        wait_for(lambda: login_page_ok(port), 75, "the login page", process, log_path)
        # then the login page is served, and simulated readings arrive after that (not the demo's history)
        serving_since = datetime.now(UTC)
        db = var / "virtualward.sqlite3"
        wait_for(lambda: live_observations(db, serving_since) > 0, 45, "a live reading", process, log_path)
        children = [pid for pid in processes_with_env(marker) if pid != process.pid]
        assert len(children) >= 8  # broker, redis, web, ingest, worker, worker-prompt, beat, simulator
        # when Ctrl-C reaches the supervisor
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=15)
        # then it exits 0 within 15 s, and none of its children is left running
        assert code == 0, tail(log_path)
        assert processes_with_env(marker) == []
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    output = log_path.read_text()
    assert "demo-operator" in output and "virtualward-demo" in output
    assert f"http://127.0.0.1:{port}/" in output


def test_a_child_that_keeps_dying_at_once_is_restarted_with_back_off_then_stops_the_run(capsys):
    # given a supervisor with one child that always exits at once
    supervisor = Supervisor(env=dict(os.environ), colour=False)
    supervisor.start("fragile", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    # when the supervisor watches, with a back-off short enough for a test
    failed = Command()._watch(supervisor, threading.Event(), base_s=0.05)
    # then it was restarted four times, each death reported, and the fifth quick death stopped the run
    assert failed is True
    output = capsys.readouterr().out
    assert output.count("fragile exited unexpectedly (code 3)") == 5
    assert output.count("fragile restarted") == 4
    assert "5 times in a row" in output


def test_a_child_that_dies_once_is_restarted_and_keeps_running(tmp_path):
    # given a child that crashes the first time it runs and runs on the second
    marker = tmp_path / "ran-once"
    code = (
        "import pathlib, sys, time\n"
        f"m = pathlib.Path({str(marker)!r})\n"
        "if not m.exists():\n    m.write_text('x'); sys.exit(3)\n"
        "time.sleep(60)\n"
    )
    supervisor = Supervisor(env=dict(os.environ), colour=False)
    child = supervisor.start("ingest", [sys.executable, "-c", code])
    first_pid = child.process.pid
    stop = threading.Event()
    # when the supervisor watches for three seconds
    threading.Timer(3.0, stop.set).start()
    with redirect_stdout(io.StringIO()) as out:
        failed = Command()._watch(supervisor, stop, base_s=0.1)
        running = child.process.poll() is None
        supervisor.stop([child], grace=1.0)
    # then it came back by itself, as a new process, and the run went on
    assert failed is False
    assert running and child.process.pid != first_pid
    assert "ingest restarted" in out.getvalue()


def test_restarts_wait_one_second_then_double_up_to_thirty():
    assert [restart_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    # given a child that ignores SIGTERM
    supervisor = Supervisor(env=dict(os.environ), colour=False)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    child = supervisor.start("stubborn", [sys.executable, "-c", code])
    time.sleep(0.5)
    # when the supervisor stops it with a one-second grace
    started = time.monotonic()
    with redirect_stdout(io.StringIO()) as out:
        supervisor.stop([child], grace=1.0)
    # then it is killed shortly after the grace period
    assert child.process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert "did not stop within 1s" in out.getvalue()


@pytest.mark.parametrize("sqlite", [True, False])
def test_the_workers_and_beat_log_only_warnings_so_make_run_output_stays_readable(sqlite):
    # given the Celery command lines runplatform starts
    commands = celery_commands(sqlite=sqlite, schedule="/tmp/schedule")
    # then none logs a line per task (thousands a minute at info level)
    assert set(commands) == {"worker", "worker-prompt", "beat"}
    assert all(argv[argv.index("-l") + 1] == "warning" for argv in commands.values())


def option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.mark.parametrize("sqlite", [True, False])
def test_prompt_rescoring_has_a_worker_of_its_own_and_the_default_queue_another(sqlite):
    # given the Celery command lines runplatform starts
    commands = celery_commands(sqlite=sqlite, schedule="/tmp/schedule")
    # then one worker consumes only the prompt queue and the other only the default queue,
    # so a prompt rescore never waits behind routine work; each has its own node name
    assert option(commands["worker-prompt"], "-Q") == "vw.prompt"
    assert option(commands["worker"], "-Q") == "celery"
    assert option(commands["worker"], "-n") != option(commands["worker-prompt"], "-n")


@pytest.mark.parametrize("sqlite", [True, False])
def test_the_default_queues_worker_yields_the_cpu_and_the_prompt_worker_does_not(sqlite):
    # given the Celery command lines runplatform starts
    commands = celery_commands(sqlite=sqlite, schedule="/tmp/schedule")
    # then routine work runs niced, and prompt scoring (alerts) at normal priority
    assert option(commands["worker"], "--niceness") == "10"
    assert "--niceness" not in commands["worker-prompt"]


@pytest.mark.parametrize(
    ("sqlite", "name", "pool", "concurrency"),
    [
        (True, "worker", "solo", 1),
        (True, "worker-prompt", "solo", 1),
        (False, "worker", "prefork", 1),
        (False, "worker-prompt", "prefork", 2),
    ],
)
def test_each_worker_runs_the_pool_its_database_suits(sqlite, name, pool, concurrency):
    # given the Celery command lines runplatform starts
    worker = celery_commands(sqlite=sqlite, schedule="/tmp/schedule")[name]
    # then SQLite gets one writer at a time; PostgreSQL gives the prompt queue two processes
    assert f"--pool={pool}" in worker
    assert f"--concurrency={concurrency}" in worker
