"""The Celery application: scoring, alerting and the connectivity sweep run here."""

import os

from celery import Celery, bootsteps
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
