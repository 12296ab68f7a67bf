"""Production settings pass `manage.py check --deploy`; a missing secret key fails it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = (
    "import django; django.setup(); from django.core.management import call_command; "
    "call_command('check', deploy=True, fail_level='WARNING')"
)


def run_check(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MQTT_"))}
    clean.update(DJANGO_SETTINGS_MODULE="virtualward.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


PRODUCTION = {
    "DJANGO_SECRET_KEY": "a-production-secret-" + "x7Q2p9Lk" * 8,
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "ward.example.nhs.uk",
}


def test_production_settings_pass_the_deploy_check():
    result = run_check(**PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_the_deploy_check_fails_without_a_secret_key_from_the_environment():
    env = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_SECRET_KEY"}
    result = run_check(**env)
    assert result.returncode != 0 and "virtualward.E001" in result.stderr


def test_the_deploy_check_warns_when_the_platforms_broker_password_is_not_set():
    result = run_check(**PRODUCTION, MQTT_URL="mqtts://broker.example.nhs.uk:8883")
    assert result.returncode != 0 and "virtualward.W001" in result.stderr
