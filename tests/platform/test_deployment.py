"""The production topology: docker-compose.yml and the one image it runs (checked without Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ("migrate", "mosquitto", "web", "ingest", "worker", "worker-prompt", "beat")
LONG_RUNNING = ("mosquitto", "web", "ingest", "worker", "worker-prompt", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_of(service: dict) -> str:
    command = service["command"]
    return " ".join(command) if isinstance(command, list) else command


def test_compose_describes_every_service_of_the_production_topology(compose):
    # given the compose file
    services = compose["services"]
    # then it has the data services and every platform process
    assert {"postgres", "redis", "mosquitto", "web", "ingest", "worker", "worker-prompt", "beat"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_every_platform_process_runs_from_one_image_built_from_the_dockerfile(compose):
    # given the platform services
    services = compose["services"]
    images = {services[name]["image"] for name in PLATFORM}
    # then they share one image, built from this repository's Dockerfile
    assert len(images) == 1
    assert all(services[name]["build"] == "." for name in PLATFORM)
    assert (ROOT / "Dockerfile").exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web", "daphne -b 0.0.0.0 -p 8000"),
        ("web", "virtualward.asgi:application"),
        ("ingest", "manage.py ingest"),
        ("worker", "celery -A virtualward worker"),
        ("worker", "-Q celery "),
        ("worker-prompt", "celery -A virtualward worker"),
        ("worker-prompt", "-Q vw.prompt "),
        ("beat", "celery -A virtualward beat"),
        ("mosquitto", "manage.py broker_config --run"),
        ("migrate", "manage.py db_roles --migrate"),
    ],
)
def test_each_service_runs_its_own_process(compose, name, expected):
    # given a platform service
    # then its command starts the right process
    assert expected in command_of(compose["services"][name])


@pytest.mark.parametrize("name", PLATFORM)
def test_every_platform_process_is_pointed_at_the_real_services_and_a_real_secret(compose, name):
    # given a platform service's environment
    env = compose["services"][name]["environment"]
    # then it uses PostgreSQL, Redis and the TLS broker by service name, never embedded defaults
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["MQTT_URL"] == "mqtts://mosquitto:8885"  # the platform's own listener; devices have 8883
    # and the secrets come from the operator's files (Docker secrets), the rest from .env
    for key in ("DJANGO_SECRET_KEY", "MQTT_PASSWORD", "DATABASE_PASSWORD"):
        assert env[f"{key}_FILE"].startswith("/run/secrets/"), key
    assert ":?" in env["DJANGO_ALLOWED_HOSTS"]
    assert "DJANGO_DEBUG" not in env


@pytest.mark.parametrize("name", ["postgres", "redis", "mosquitto", "web"])
def test_the_services_others_wait_for_have_healthchecks(compose, name):
    # given a service that others depend on
    check = compose["services"][name]["healthcheck"]
    # then it declares a healthcheck with a test and retries
    assert check["test"] and check["retries"] >= 3


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_platform_processes_start_only_after_healthy_data_services_and_migrations(compose, name):
    # given a long-running platform process
    depends = compose["services"][name]["depends_on"]
    # then it waits for healthy PostgreSQL and Redis and for the migrations to have finished
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    if name in ("web", "ingest", "worker", "worker-prompt"):
        assert depends["mosquitto"]["condition"] == "service_healthy"


def test_the_broker_serves_devices_over_tls_on_8883(compose):
    # given the broker service
    broker = compose["services"]["mosquitto"]
    # then devices reach it on 8883 with the TLS certificate and key configured, on a listener
    # of their own (client id = username), and the platform's listener is not published
    assert "8883:8883" in broker["ports"] and "8885:8885" not in broker["ports"]
    assert broker["environment"]["VW_MQTT_TLS_CERTFILE"] and broker["environment"]["VW_MQTT_TLS_KEYFILE"]
    assert "--device-port=8883" in broker["command"] and "--port=8885" in broker["command"]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_process_comes_back_by_itself_after_a_crash(compose, name):
    assert compose["services"][name]["restart"] in ("unless-stopped", "always")


def test_the_dockerfile_builds_a_non_root_image_with_static_files_and_mosquitto():
    # given the Dockerfile
    text = (ROOT / "Dockerfile").read_text()
    # then it starts from Python 3.11 or later, installs the requirements and the broker,
    # collects static files at build time and runs as an unprivileged user
    base = next(line for line in text.splitlines() if line.startswith("FROM "))
    assert base.startswith("FROM python:3.1") and int(base.split(":")[1].split(".")[1].split("-")[0]) >= 11
    assert "pip install -r requirements.txt" in text
    assert "mosquitto" in text
    assert "collectstatic --noinput" in text
    assert "\nUSER virtualward" in text
    assert "EXPOSE 8000 8883" in text


def test_the_image_leaves_out_local_environments_data_and_secrets():
    # given the .dockerignore
    ignored = set((ROOT / ".dockerignore").read_text().split())
    # then the venv, local data, git history, .env files and certificates stay out of the image
    assert {".venv", "var", ".git", ".env", "deploy/mosquitto/certs"} <= ignored
