"""`celery worker --niceness N`: the option exists, is bounded, and lowers the worker's priority."""

from celery.bin.celery import celery as celery_cli
from click.testing import CliRunner

from virtualward import celery as celery_module


def test_the_step_lowers_the_priority_by_the_given_niceness(monkeypatch):
    calls = []
    monkeypatch.setattr(celery_module.os, "nice", calls.append)
    celery_module.Niceness(parent=None, niceness=10)
    celery_module.Niceness(parent=None, niceness=0)
    assert calls == [10]


def test_the_worker_command_takes_the_option_and_refuses_a_niceness_out_of_range():
    # (one invocation per process: celery adds the app's options to the command on each)
    result = CliRunner().invoke(celery_cli, ["-A", "virtualward", "worker", "--niceness", "40"])
    assert result.exit_code == 2
    assert "Invalid value for '--niceness'" in result.output and "0<=x<=19" in result.output
