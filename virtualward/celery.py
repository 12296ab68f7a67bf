"""The Celery application: scoring, alerting and the connectivity sweep run here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "virtualward.settings")

app = Celery("virtualward")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
