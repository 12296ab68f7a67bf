"""The bench refuses to run where it cannot measure honestly or could damage data."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import ClassVar

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from benchmarks import stack
from benchmarks.management.commands import bench as bench_command
from benchmarks.stack import BenchSetupError, Services, bench_database_name, check_services
from virtualward.embedded import free_port


@pytest.mark.parametrize("name", ["virtualward", "test", "postgres", "production"])
def test_the_bench_refuses_to_drop_a_database_that_is_not_named_for_it(name):
    # given a DATABASE_URL pointing at someone's real database
    # when the bench is asked to re-create it / then it refuses, naming the database
    with pytest.raises(BenchSetupError, match=f"refusing to drop and re-create database '{name}'"):
        bench_database_name(f"postgres://postgres@127.0.0.1:5432/{name}")


def test_a_bench_database_name_is_accepted():
    assert bench_database_name("postgres://postgres@127.0.0.1:5432/vw_bench") == "vw_bench"


def test_unreachable_services_are_each_named_in_one_clear_error():
    # given ports nothing listens on
    dead = free_port()
    services = Services(
        database_url=f"postgres://postgres@127.0.0.1:{dead}/vw_bench",
        redis_url=f"redis://127.0.0.1:{dead}/9",
        mqtt_url=f"mqtt://127.0.0.1:{dead}",
    )
    # when the services are checked / then every problem is named at once
    with pytest.raises(BenchSetupError) as caught:
        check_services(services)
    message = str(caught.value)
    assert f"PostgreSQL unreachable at postgres://postgres@127.0.0.1:{dead}/vw_bench" in message
    assert f"REDIS_URL unreachable at redis://127.0.0.1:{dead}/9" in message
    assert f"BENCH_MQTT_URL unreachable at mqtt://127.0.0.1:{dead}" in message


def test_without_a_broker_url_or_a_mosquitto_binary_the_bench_says_what_to_install(monkeypatch):
    # given no BENCH_MQTT_URL and no mosquitto on this machine
    monkeypatch.setattr(stack, "mosquitto_binary", lambda: None)
    dead = free_port()
    services = Services(f"postgres://postgres@127.0.0.1:{dead}/vw_bench", f"redis://127.0.0.1:{dead}/9", "")
    # when the services are checked / then the missing broker is named with the way out
    with pytest.raises(BenchSetupError, match="install mosquitto or set BENCH_MQTT_URL"):
        check_services(services)


def test_a_sqlite_database_is_refused_because_the_baseline_needs_copy():
    services = Services(database_url="sqlite:///var/x.sqlite3", redis_url="", mqtt_url="")
    with pytest.raises(BenchSetupError, match="is not PostgreSQL"):
        check_services(services)


def test_the_command_explains_that_it_needs_postgresql(monkeypatch):
    # given a project configured for SQLite (whatever database this test run uses)
    sqlite = SimpleNamespace(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3"}})
    monkeypatch.setattr(bench_command, "settings", sqlite)
    # when the bench is started / then it says what it needs instead of failing later
    with pytest.raises(CommandError, match="the bench needs PostgreSQL"):
        call_command("bench", "--quick")


@pytest.mark.parametrize("rates", ["fast", "250,,x", "0", "-5,100", ""])
def test_the_command_refuses_rates_it_cannot_step_through(rates):
    # rates are checked before anything is created, so a typo costs nothing
    with pytest.raises(CommandError, match="--rates"):
        call_command("bench", "--rates", rates)


def test_the_default_ladder_is_fine_where_the_ratio_is_decided():
    # given the command's defaults / when its rates are read
    options = bench_command.Command().create_parser("manage.py", "bench").parse_args([])
    # then the steps are 250 and 500, then every 500 msg/s up to 3,000
    assert bench_command._rates(options.rates) == [250, 500, 1000, 1500, 2000, 2500, 3000]
    assert (options.ingest_processes, options.worker_concurrency, options.elevated_share) == (2, 2, 0.15)


@pytest.mark.parametrize(
    ("raw", "rates"), [("250", [250]), ("250, 500 ,1000", [250, 500, 1000]), ("100,1500.5,", [100, 1500.5])]
)
def test_a_ladder_is_read_from_comma_separated_rates(raw, rates):
    assert bench_command._rates(raw) == rates


@pytest.mark.parametrize("rates", ["500,250", "250,250,500", "1000,2000,1500"])
def test_a_ladder_that_does_not_rise_is_refused(rates):
    # a system's later steps are skipped once it falls behind, which only makes sense going up
    with pytest.raises(CommandError, match="must rise from step to step"):
        call_command("bench", "--rates", rates)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--elevated-share", "1.5"], "--elevated-share"),
        (["--elevated-share", "-0.1"], "--elevated-share"),
        (["--ingest-processes", "0"], "--ingest-processes"),
        (["--worker-concurrency", "0"], "--worker-concurrency"),
        (["--ingest-args", "--client-id vw-ingest"], "may not set --client-id"),
    ],
)
def test_options_that_cannot_make_a_deployed_shape_are_refused_before_anything_is_created(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("bench", *args)


def test_a_negative_number_of_refinement_steps_is_refused():
    with pytest.raises(CommandError, match="--refine -1 must be 0"):
        call_command("bench", "--refine", "-1")


class _PostgresSettings:
    """The project's settings, but configured for PostgreSQL as `make bench` is."""

    DATABASES: ClassVar[dict] = {"default": {"ENGINE": "django.db.backends.postgresql"}}

    def __getattr__(self, name):
        return getattr(django_settings, name)


@pytest.mark.parametrize(("args", "refine"), [([], 2), (["--refine", "3"], 3), (["--quick"], 0)])
def test_the_run_refines_twice_by_default_and_not_in_a_quick_run(monkeypatch, tmp_path, args, refine):
    # given a command whose run is recorded instead of measured
    configs = []
    monkeypatch.setattr(bench_command, "settings", _PostgresSettings())
    monkeypatch.setattr(bench_command, "run_bench", lambda config, say: configs.append(config) or [])
    output = tmp_path / "latest.json"
    # when it is started
    call_command("bench", *args, "--output", str(output), stdout=io.StringIO())
    # then the run gets the refinement rounds asked for, and the JSON describes them
    assert configs[0].refine == refine
    assert json.loads(output.read_text())["config"]["refine"] == refine
