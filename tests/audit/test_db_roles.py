"""The application's database role cannot wipe or alter the audit trail (PostgreSQL).

The suite itself runs as the database superuser (pytest-django creates, migrates and flushes
the test database, which needs TRUNCATE); these tests make the two roles with ``manage.py
db_roles`` and then act as the application role: once through a real log-in as that role,
once by running the platform's own code under it (SET ROLE).
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from accounts.audit import audit_record
from accounts.audit_chain import audit_chain_verify
from accounts.models import AuditEvent

FORBIDDEN_ON_THE_AUDIT_TRAIL = {
    "truncate": "TRUNCATE accounts_auditevent",
    "disable-trigger": "ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only",
    "disable-all-triggers": "ALTER TABLE accounts_auditevent DISABLE TRIGGER ALL",
    "update": "UPDATE accounts_auditevent SET action = 'nothing.happened'",
    "delete": "DELETE FROM accounts_auditevent",
    "drop": "DROP TABLE accounts_auditevent CASCADE",
    "rename": "ALTER TABLE accounts_auditevent RENAME TO old_audit",
}
FORBIDDEN_ELSEWHERE = {
    "truncate-app-table": "TRUNCATE patients_observation CASCADE",
    "create-table": "CREATE TABLE shadow_audit (id int)",
    "record-a-migration": "INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())",
    "become-the-owner": "SET ROLE {owner}",
}


def app_login(roles) -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        dbname=settings["NAME"],
        user=roles["app"],
        autocommit=True,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sql", [*FORBIDDEN_ON_THE_AUDIT_TRAIL.values(), *FORBIDDEN_ELSEWHERE.values()],
                         ids=[*FORBIDDEN_ON_THE_AUDIT_TRAIL, *FORBIDDEN_ELSEWHERE])  # fmt: skip
def test_logged_in_as_the_application_role_the_trail_cannot_be_wiped_or_altered(postgresql, db_roles, patient, sql):
    # given an audit event on record
    audit_record(actor=None, action="device.paired", patient=patient)

    # when the application role tries to remove, change or escape it, then the database refuses
    with app_login(db_roles) as app, pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute(sql.format(owner=db_roles["owner"]))

    # and the event and its chain are untouched
    assert AuditEvent.objects.filter(action="device.paired").count() == 1
    assert audit_chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_logged_in_as_the_application_role_it_reads_and_writes_its_tables_and_appends_to_the_trail(
    postgresql, db_roles, patient
):
    with app_login(db_roles) as app:
        # the application's tables: read, change, remove
        assert app.execute("SELECT count(*) FROM patients_patient").fetchone() == (1,)
        app.execute("UPDATE patients_patient SET given_name = given_name WHERE id = %s", [patient.pk])
        app.execute("DELETE FROM patients_observation WHERE id < 0")
        # the audit trail: read and append only
        app.execute("SELECT count(*) FROM accounts_auditevent")
        assert app.execute(
            "SELECT has_table_privilege(current_user, 'accounts_auditevent', 'INSERT'), "
            "has_table_privilege(current_user, 'accounts_auditevent', 'UPDATE'), "
            "has_table_privilege(current_user, 'accounts_auditevent', 'DELETE'), "
            "has_table_privilege(current_user, 'accounts_auditevent', 'TRUNCATE'), "
            "(SELECT tableowner = current_user FROM pg_tables WHERE tablename = 'accounts_auditevent'), "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
        ).fetchone() == (True, False, False, False, False, False)


def test_the_platform_itself_runs_under_the_application_role(postgresql, db_roles, patient, clinician):
    # given the database session switched to the application role for this test's transaction
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(db_roles['app'])}")
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == (db_roles["app"],)

    # when a clinician reads a record through the API, then it works and is audited in the chain
    client = APIClient()
    client.force_authenticate(clinician)
    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    assert AuditEvent.objects.filter(patient=patient, actor=clinician, action="patient.viewed").exists()
    assert audit_chain_verify().intact

    # but the same session cannot change or empty the trail, even through the ORM
    for attempt in (
        lambda: AuditEvent.objects.update(action="nothing.happened"),
        lambda: AuditEvent.objects.all()._raw_delete(AuditEvent.objects.db),
        lambda: connection.cursor().execute("TRUNCATE accounts_auditevent"),
    ):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            attempt()
    assert AuditEvent.objects.filter(action="patient.viewed").count() == 1


def test_the_roles_command_refuses_one_role_for_both_jobs(postgresql):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="two different roles"):
        call_command("db_roles", owner="vw_same", app="vw_same")


@pytest.mark.django_db(transaction=True)
def test_a_table_the_owner_migrates_in_later_is_usable_by_the_application_but_not_truncatable(postgresql, db_roles):
    # given the owner creating a table, as a migration run as the owner would
    settings = connection.settings_dict
    owner = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432, dbname=settings["NAME"],
        user=db_roles["owner"], autocommit=True,
    )  # fmt: skip
    with owner:
        owner.execute("CREATE TABLE later_feature (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, x int)")
        try:
            # then the application may use it at once, through default privileges, but not empty it
            with app_login(db_roles) as app:
                app.execute("INSERT INTO later_feature (x) VALUES (1)")
                assert app.execute("SELECT count(*) FROM later_feature").fetchone() == (1,)
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    app.execute("TRUNCATE later_feature")
        finally:
            owner.execute("DROP TABLE later_feature")


def test_the_deploy_check_warns_when_the_platform_runs_as_a_role_that_could_wipe_the_trail(postgresql, db_roles):
    from django.core.checks import run_checks

    # given the suite's own connection, a superuser: then the check warns
    warnings = [
        m for m in run_checks(include_deployment_checks=True, databases=["default"]) if m.id == "virtualward.W003"
    ]
    assert warnings and "truncate" in warnings[0].msg

    # given the application role: then it is quiet
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(db_roles['app'])}")
    assert not [
        m for m in run_checks(include_deployment_checks=True, databases=["default"]) if m.id == "virtualward.W003"
    ]
