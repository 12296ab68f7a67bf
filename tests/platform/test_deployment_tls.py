"""TLS and secrets in the production topology: docker-compose.yml, the proxy, the settings.

Docker is not available here, so the compose file is checked as data (issue 18).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.access.test_production_settings import PRODUCTION, run_check
from virtualward.env import ImproperlyConfiguredEnv, env_secret

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ("migrate", "mosquitto", "web", "ingest", "worker", "worker-prompt", "beat")
SECRET_VARIABLES = ("DJANGO_SECRET_KEY", "DATABASE_PASSWORD", "MQTT_PASSWORD", "POSTGRES_PASSWORD",
                    "VW_DB_OWNER_PASSWORD", "VW_DB_APP_PASSWORD")  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def secret_name(path: str) -> str:
    assert path.startswith("/run/secrets/"), path
    return path.removeprefix("/run/secrets/")


@pytest.mark.parametrize("name", [*PLATFORM, "postgres"])
def test_no_service_is_given_a_secret_as_a_plain_variable(compose, name):
    env = compose["services"][name]["environment"]
    for key in SECRET_VARIABLES:
        assert key not in env, f"{name} takes {key} as a variable: use {key}_FILE and a Docker secret"
    # and every *_FILE it reads is a secret that service is given
    granted = set(compose["services"][name].get("secrets", []))
    unused = {("mosquitto", "MQTT_KEY_FILE")}  # the broker's own container never connects as a client
    for key, value in env.items():
        if key.endswith("_FILE") and value.startswith("/run/secrets/") and (name, key) not in unused:
            assert secret_name(value) in granted, (name, key)


def test_every_secret_is_a_file_kept_out_of_git_and_the_image(compose):
    ignored_by_git = (ROOT / ".gitignore").read_text().split()
    ignored_by_docker = (ROOT / ".dockerignore").read_text().split()
    for name, secret in compose["secrets"].items():
        path = secret["file"].removeprefix("./")
        folder = str(Path(path).parent)
        assert f"{folder}/*" in ignored_by_git, name
        assert folder in ignored_by_docker, name


def test_the_ca_key_reaches_only_the_broker_and_the_web_that_signs_at_pairing(compose):
    holders = {name for name, service in compose["services"].items() if "tls_ca_key" in service.get("secrets", [])}
    assert holders == {"mosquitto", "web"}


def test_the_broker_listens_with_tls_and_the_platform_verifies_it_with_its_ca(compose):
    broker = compose["services"]["mosquitto"]
    env = broker["environment"]
    assert env["VW_MQTT_TLS_KEYFILE"] == "/run/secrets/mqtt_server_key"
    assert env["VW_TLS_CA_KEY_FILE"] == "/run/secrets/tls_ca_key"
    assert {"8883:8883", "8884:8884"} <= set(broker["ports"])
    for name in ("ingest", "worker", "web"):
        platform = compose["services"][name]["environment"]
        assert platform["MQTT_URL"].startswith("mqtts://") and platform["MQTT_CA_FILE"] == "/certs/ca.crt"
        assert platform["MQTT_KEY_FILE"] == "/run/secrets/mqtt_platform_key"


def test_staff_reach_the_web_only_through_the_https_proxy(compose):
    services = compose["services"]
    # the web server publishes no port: only services on the "web" network reach it
    assert "ports" not in services["web"]
    assert "web" in services["web"]["networks"] and "web" in services["proxy"]["networks"]
    assert services["web"]["environment"]["DJANGO_BEHIND_PROXY"] == "true"
    # and the proxy is the public entry on 443, with its configuration from the repository
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert "443:443" in proxy["ports"]
    assert "./deploy/caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]


def test_the_proxy_sends_hsts_for_a_year_and_sets_the_forwarded_protocol_itself():
    text = (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    hsts = re.search(r'Strict-Transport-Security "max-age=(\d+); includeSubDomains', text)
    assert hsts and int(hsts.group(1)) >= 31_536_000
    assert "reverse_proxy web:8000" in text
    assert "header_up X-Forwarded-Proto https" in text


# --- settings from secret files ---------------------------------------------------------------------


def test_a_secret_file_wins_over_the_variable(tmp_path, monkeypatch):
    (tmp_path / "key").write_text("from-the-file\n")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "from-the-variable")
    monkeypatch.setenv("DJANGO_SECRET_KEY_FILE", str(tmp_path / "key"))
    assert env_secret("DJANGO_SECRET_KEY") == "from-the-file"


def test_a_missing_or_empty_secret_file_is_a_start_up_error_never_an_empty_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("MQTT_PASSWORD_FILE", str(tmp_path / "absent"))
    with pytest.raises(ImproperlyConfiguredEnv, match=r"MQTT_PASSWORD_FILE=.*cannot be read"):
        env_secret("MQTT_PASSWORD")
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("MQTT_PASSWORD_FILE", str(tmp_path / "empty"))
    with pytest.raises(ImproperlyConfiguredEnv, match="is empty"):
        env_secret("MQTT_PASSWORD")


def test_production_settings_read_the_secret_key_and_database_password_from_files(tmp_path):
    # given secret files as compose mounts them
    (tmp_path / "key").write_text("k" * 60)
    (tmp_path / "db").write_text("s3cret-db")
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "virtualward.settings",
        "DJANGO_SECRET_KEY_FILE": str(tmp_path / "key"),
        "DATABASE_URL": "postgres://virtualward@postgres:5432/virtualward",
        "DATABASE_PASSWORD_FILE": str(tmp_path / "db"),
        "VW_VAR_DIR": str(tmp_path / "var"),
    }
    # when the settings load in a fresh process
    code = (
        "import django; from django.conf import settings as s; django.setup();"
        "print(s.SECRET_KEY == 'k' * 60, s.DATABASES['default']['PASSWORD'], s.SECURE_SSL_REDIRECT)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    # then both come from their files, and a real key switches the HTTPS redirect on
    assert done.stdout.split() == ["True", "s3cret-db", "True"], done.stderr[-2000:]


def test_the_deploy_check_passes_with_every_secret_from_a_file_as_compose_gives_them(tmp_path):
    (tmp_path / "key").write_text("a-production-secret-" + "x7Q2p9Lk" * 8)
    (tmp_path / "mqtt").write_text("a-broker-password")
    result = run_check(
        DJANGO_SECRET_KEY_FILE=str(tmp_path / "key"),
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS="ward.example.nhs.uk",
        MQTT_URL="mqtts://mosquitto:8883",
        MQTT_PASSWORD_FILE=str(tmp_path / "mqtt"),
    )
    assert result.returncode == 0, result.stderr


def test_the_deploy_check_warns_of_plain_mqtt_to_another_machine(tmp_path):
    (tmp_path / "mqtt").write_text("a-broker-password")
    result = run_check(
        **PRODUCTION, MQTT_URL="mqtt://broker.example.nhs.uk:1883", MQTT_PASSWORD_FILE=str(tmp_path / "mqtt")
    )
    assert result.returncode != 0 and "virtualward.W002" in result.stderr
    on_loopback = run_check(**PRODUCTION, MQTT_URL="mqtt://127.0.0.1:1883", MQTT_PASSWORD_FILE=str(tmp_path / "mqtt"))
    assert on_loopback.returncode == 0, on_loopback.stderr
