"""The two database roles in deployment: migrations run as the owner, every running process as the
application role, in docker-compose.yml and in `make run` on PostgreSQL (docs/security.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml
from django.conf import settings as django_settings

from accounts.db_roles import app_role_env, role_database_url
from tests.db_roles import db_roles  # noqa: F401  (a fixture)
from tests.processes import child_env, needs, shared_database_url
from virtualward.management.commands.runplatform import Supervisor, migrate_with_roles

ROOT = Path(__file__).resolve().parents[2]
RUNNING = ("mosquitto", "web", "ingest", "worker", "worker-prompt", "beat")

# Run in a platform child under the environment `make run` gives it: it writes as the platform
# does, then tries to wipe the audit trail.
CHILD = """
from django.db import DatabaseError, connection, transaction
from accounts.audit import audit_record
from accounts.db_roles import audit_trail_rights
from patients.models import Patient
from tests.factories import PatientFactory

with connection.cursor() as cursor:
    cursor.execute("SELECT current_user")
    print("user", cursor.fetchone()[0])
patient = PatientFactory()
audit_record(actor=None, action="device.paired", patient=patient)
print("wrote", Patient.objects.filter(pk=patient.pk).count())
print("rights", audit_trail_rights())
for sql in ("TRUNCATE accounts_auditevent", "ALTER TABLE accounts_auditevent DISABLE TRIGGER ALL",
            "DELETE FROM accounts_auditevent"):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
        print("allowed", sql)
    except DatabaseError as exc:
        print("refused", sql.split()[0], type(exc.__cause__).__name__)
"""


def postgresql_url(roles: dict | None) -> str:
    """The test database's URL for a subprocess; skips (fails in CI) where there are no roles."""
    needs(roles is None, "SQLite has no roles: make run keeps one database user there (docs/operations.md)")
    url = shared_database_url()
    assert url is not None
    return url


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_in_compose_migrations_run_as_the_owner_made_by_the_superuser_in_a_one_shot_job(compose):
    migrate = compose["services"]["migrate"]
    # then the one-shot job connects as the database's superuser and runs db_roles --migrate
    assert migrate["command"][:4] == ["python", "manage.py", "db_roles", "--migrate"]
    assert migrate["environment"]["DATABASE_URL"].startswith("postgres://virtualward@postgres:5432/")
    assert compose["services"]["postgres"]["environment"]["POSTGRES_USER"] == "virtualward"
    # with the passwords of both roles it makes, from Docker secrets
    assert migrate["environment"]["VW_DB_OWNER_PASSWORD_FILE"] == "/run/secrets/db_owner_password"
    assert migrate["environment"]["VW_DB_APP_PASSWORD_FILE"] == "/run/secrets/db_app_password"
    assert {"postgres_password", "db_owner_password", "db_app_password"} <= set(migrate["secrets"])
    assert migrate["restart"] == "no"


@pytest.mark.parametrize("name", RUNNING)
def test_in_compose_every_running_process_connects_as_the_application_role(compose, name):
    service = compose["services"][name]
    # then it logs in as vw_app with vw_app's password, and holds neither the superuser's
    # password nor the owner's
    assert service["environment"]["DATABASE_URL"].startswith("postgres://vw_app@postgres:5432/")
    assert service["environment"]["DATABASE_PASSWORD_FILE"] == "/run/secrets/db_app_password"
    assert "db_app_password" in service["secrets"]
    assert not {"postgres_password", "db_owner_password"} & set(service["secrets"])
    assert not any(key.startswith("VW_DB_OWNER") for key in service["environment"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_make_run_on_postgresql_migrates_as_the_owner_and_starts_every_child_as_the_application_role(
    db_roles,  # noqa: F811
    tmp_path,
    settings,
    capsys,
):
    # given make run's supervisor on the test database, connected as the superuser, with the
    # suite's role names
    url = postgresql_url(db_roles)
    settings.DATABASE_URL, settings.VAR_DIR = url, tmp_path
    env = child_env(DATABASE_URL=url, VW_DB_OWNER_ROLE=db_roles["owner"], VW_DB_APP_ROLE=db_roles["app"])
    supervisor = Supervisor(env=env, colour=False)

    # when it prepares the database
    migrate_with_roles(supervisor)

    # then the migrations ran connected as the owner
    assert f"migrating as {db_roles['owner']}" in capsys.readouterr().out
    # and a child started with its environment is the application role: it writes, but may not
    # truncate, alter or delete from the audit trail
    assert supervisor.env["DATABASE_URL"].startswith(f"postgres://{db_roles['app']}@")
    assert "VW_DB_OWNER_PASSWORD" not in supervisor.env
    child = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CHILD],
        cwd=ROOT, env=supervisor.env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    lines = child.stdout.splitlines()
    assert child.returncode == 0, child.stderr[-3000:]
    assert f"user {db_roles['app']}" in lines and "wrote 1" in lines and "rights []" in lines
    assert [line.split()[:3] for line in lines if line.startswith(("refused", "allowed"))] == [
        ["refused", "TRUNCATE", "InsufficientPrivilege"],
        ["refused", "ALTER", "InsufficientPrivilege"],
        ["refused", "DELETE", "InsufficientPrivilege"],
    ], child.stdout


@pytest.mark.parametrize(
    ("engine", "roles_setting"),
    [("django.db.backends.sqlite3", ""), ("django.db.backends.postgresql", "false")],
    ids=["sqlite-has-no-roles", "postgresql-with-VW_DB_ROLES-false"],
)
def test_without_roles_make_run_migrates_as_the_one_database_user(engine, roles_setting, monkeypatch):
    # given SQLite, or PostgreSQL with the roles switched off
    monkeypatch.setitem(django_settings.DATABASES["default"], "ENGINE", engine)
    monkeypatch.setenv("VW_DB_ROLES", roles_setting)
    steps: list[list[str]] = []
    supervisor = Supervisor(env={"DATABASE_URL": "x"}, colour=False)
    monkeypatch.setattr(supervisor, "run_step", lambda name, argv, env=None: steps.append(argv[2:]))
    # when make run prepares the database, then it runs plain migrate and changes no connection
    migrate_with_roles(supervisor)
    assert steps == [["migrate", "--noinput"]]
    assert supervisor.env == {"DATABASE_URL": "x"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_on_an_empty_database_db_roles_migrate_is_the_whole_first_deployment(db_roles):  # noqa: F811
    # given an empty database beside the test database, as compose's postgres starts
    base = postgresql_url(db_roles)
    admin = django_settings.DATABASES["default"]
    fresh = f"{admin['NAME']}_fresh"[:63]
    server = {"host": admin["HOST"] or "127.0.0.1", "port": admin["PORT"] or 5432, "user": admin["USER"]}
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
        conn.execute(f'CREATE DATABASE "{fresh}"')
    try:
        # when compose's one-shot job runs on it as the superuser
        env = child_env(DATABASE_URL=base.rsplit("/", 1)[0] + f"/{fresh}")
        job = subprocess.run(
            [sys.executable, "manage.py", "db_roles", "--migrate", f"--owner={db_roles['owner']}",
             f"--app={db_roles['app']}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=200,
        )  # fmt: skip
        assert job.returncode == 0, job.stderr[-3000:]
        assert f"migrating as {db_roles['owner']}" in job.stdout
        # then the owner owns every table it migrated in, and the application role may append to
        # the audit trail but not rewrite, delete or truncate it
        with psycopg.connect(**server, dbname=fresh) as conn:
            owners = {row[0] for row in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
            rights = conn.execute(
                "SELECT has_table_privilege(%s, 'accounts_auditevent', 'INSERT'), "
                "has_table_privilege(%s, 'accounts_auditevent', 'UPDATE'), "
                "has_table_privilege(%s, 'accounts_auditevent', 'DELETE'), "
                "has_table_privilege(%s, 'accounts_auditevent', 'TRUNCATE'), "
                "has_table_privilege(%s, 'patients_observation', 'INSERT')",
                [db_roles["app"]] * 5,
            ).fetchone()
        assert owners == {db_roles["owner"]}
        assert rights == (True, False, False, False, True)
    finally:
        with psycopg.connect(**server, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


def test_a_running_process_gets_the_application_role_and_none_of_the_dbas_or_owners_secrets():
    # given make run's environment, as the DBA, with the owner's password and the DBA's password file
    env = {
        "DATABASE_URL": "postgres://dba:pw@db.example:6543/ward?sslmode=require",
        "DATABASE_PASSWORD_FILE": "/run/secrets/postgres_password",
        "VW_DB_OWNER_PASSWORD": "owner-secret",
        "VW_DB_APP_ROLE": "ward_app",
        "PATH": "/usr/bin",
    }
    # when a child's environment is made from it
    child = app_role_env(env, env["DATABASE_URL"], "app-secret")
    # then it connects as the application role with its own password, and holds no other secret
    assert child["DATABASE_URL"] == "postgres://ward_app@db.example:6543/ward?sslmode=require"
    assert child["DATABASE_PASSWORD"] == "app-secret"
    assert "DATABASE_PASSWORD_FILE" not in child and "VW_DB_OWNER_PASSWORD" not in child
    assert child["PATH"] == "/usr/bin"


def test_role_urls_are_postgresql_only_and_keep_ipv6_hosts():
    assert role_database_url("postgres://u@[::1]:5432/db", "vw_app") == "postgres://vw_app@[::1]:5432/db"
    with pytest.raises(ValueError, match="PostgreSQL only"):
        role_database_url("sqlite:///var/virtualward.sqlite3", "vw_app")
