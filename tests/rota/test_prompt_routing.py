"""A ladder's rung and its messages are prompt work: never queued behind routine rescoring."""

import pytest
from django.conf import settings

from virtualward.celery import app


@pytest.mark.parametrize(
    "task", ["rota.tasks.advance_ladder", "rota.tasks.advance_incident_ladder", "rota.tasks.send_notification"]
)
def test_escalation_tasks_go_to_the_prompt_queue(task):
    assert app.amqp.router.route({}, task)["queue"].name == settings.VW_PROMPT_QUEUE


def test_the_ladder_sweep_stays_on_the_default_queue():
    assert app.amqp.router.route({}, "rota.tasks.sweep_ladders")["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE
