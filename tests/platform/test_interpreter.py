"""Long-running processes freeze what startup loaded out of the garbage collector's full scans;
ingest hands the interpreter lock between its threads at the configured interval."""

import gc
import sys
import threading
import weakref
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from devices.management.commands import ingest as ingest_command
from virtualward import celery as celery_module
from virtualward.interpreter import freeze_startup_objects


@pytest.fixture(autouse=True)
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_startup_garbage_is_collected_first_and_the_survivors_leave_the_oldest_generation():
    garbage = _Node()
    gone = weakref.ref(garbage)
    del garbage
    kept = [_Node() for _ in range(1000)]
    gc.collect()
    assert len(gc.get_objects(generation=2)) > len(kept)

    frozen = freeze_startup_objects()

    assert gone() is None, "garbage from startup was frozen instead of collected"
    # (Not an exact count: another thread of the test process may free a frozen object, which
    # leaves the frozen set, between the freeze and this line.)
    assert frozen >= len(kept)
    assert gc.get_freeze_count() >= len(kept)
    # A full collection now walks only what was made since: the startup objects are not in it.
    scanned = {id(obj) for obj in gc.get_objects()}
    assert not any(id(node) in scanned for node in kept)


def _receivers(signal) -> list:
    # (Sending the signals here would also run Celery's own worker hooks, which close database
    # connections, if an earlier test started a worker in this process.)
    return [ref() if isinstance(ref, weakref.ReferenceType) else ref for _, ref in signal.receivers]


def test_a_celery_pool_process_and_a_solo_worker_freeze_once_loaded():
    assert celery_module.freeze_worker_startup in _receivers(celery_module.worker_process_init)
    assert celery_module.freeze_worker_startup in _receivers(celery_module.worker_ready)

    celery_module.freeze_worker_startup(sender=None)

    assert gc.get_freeze_count() > 0


def test_a_worker_on_another_programs_thread_leaves_that_programs_objects_alone():
    # (celery.contrib.testing's start_worker runs a worker on a thread of the test process)
    on_a_thread = threading.Thread(target=celery_module.freeze_worker_startup, kwargs={"sender": None})
    on_a_thread.start()
    on_a_thread.join(10)

    assert gc.get_freeze_count() == 0


class _Transport:
    def __init__(self, config, deliver) -> None:
        self.config = config
        self.subscribed = threading.Event()
        self.subscribed.set()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def test_the_ingest_service_freezes_before_its_worker_starts(monkeypatch):
    calls = []
    monkeypatch.setattr(ingest_command, "MqttTransport", _Transport)
    monkeypatch.setattr(
        ingest_command, "freeze_startup_objects", lambda: calls.append(threading.active_count())
    )
    stop = threading.Event()
    stop.set()
    options = {"batch_size": 10, "batch_ms": 5, "stats_seconds": 60, "switch_interval_us": 5000}
    before = threading.active_count()

    ingest_command.run_service(SimpleNamespace(client_id="gc-test"), options, stop)

    assert calls == [before], "ingest froze its startup objects at the wrong moment, or not once"


def test_the_ingest_service_sets_its_switch_interval_before_its_worker_starts(monkeypatch):
    calls = []
    monkeypatch.setattr(ingest_command, "MqttTransport", _Transport)
    monkeypatch.setattr(ingest_command, "freeze_startup_objects", lambda: None)
    monkeypatch.setattr(sys, "setswitchinterval", lambda seconds: calls.append((seconds, threading.active_count())))
    stop = threading.Event()
    stop.set()
    options = {"batch_size": 10, "batch_ms": 5, "stats_seconds": 60, "switch_interval_us": 750}
    before = threading.active_count()

    ingest_command.run_service(SimpleNamespace(client_id="switch-test"), options, stop)

    assert calls == [(0.00075, before)]


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_switch_interval_that_is_not_positive_is_refused_by_name(value):
    with pytest.raises(CommandError, match=r"--switch-interval-us \(VW_INGEST_SWITCH_INTERVAL_US\) must be a positive"):
        call_command("ingest", "--switch-interval-us", value)
