"""The Celery application: scoring, alerting and the connectivity sweep run here."""

import os
import threading

from celery import Celery, bootsteps
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready
from click import IntRange, Option

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "virtualward.settings")

app = Celery("virtualward")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class Niceness(bootsteps.Step):
    """``celery worker --niceness N``: run the worker and its pool at a lower CPU priority.

    For the default queue's worker (routine rescoring, sweeps, reports): its work can wait a
    moment, and on a busy machine it then yields the CPU to ingest and to prompt scoring, whose
    delay is the delay of an alert (docs/operations.md). The pool's processes inherit it.
    """

    def __init__(self, parent, niceness: int = 0, **options) -> None:
        if niceness:
            os.nice(niceness)
        super().__init__(parent, **options)


app.user_options["worker"].add(
    Option(("--niceness",), type=IntRange(0, 19), default=0, help="Lower the worker's CPU priority (0-19).")
)
app.steps["worker"].add(Niceness)


@task_prerun.connect
@task_postrun.connect
def tidy_database_connections(task=None, **kwargs) -> None:
    """Around each task, what Django does around each request: drop a connection that is too old
    (CONN_MAX_AGE), broken, or left outside autocommit, and keep a good one for the next task.

    Celery's own fix-up would close it every time; CELERY_DB_REUSE_MAX (settings) stops that.
    A task run eagerly runs inside its caller, perhaps in the caller's transaction: left alone.
    """
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
@worker_ready.connect
def freeze_worker_startup(**kwargs) -> None:
    """A pool process (after its fork) or the worker itself (solo pool), once loaded: the objects
    it keeps for life leave the garbage collector's full scans (virtualward/interpreter.py), so a
    rescore, and the alert it raises, never waits out a long collection.

    A worker started on a thread of another program (celery.contrib.testing's, in the tests)
    does not own its process, and leaves that program's objects alone."""
    if threading.current_thread() is not threading.main_thread():
        return
    from virtualward.interpreter import freeze_startup_objects

    freeze_startup_objects()
