"""The API against its own published schema: schemathesis fuzzes every operation in-process.

Authenticated as a clinician of a ward with a patient, readings, a score, a device and an
alert. Bounded and repeatable: ``FUZZ_EXAMPLES`` cases per operation, derandomized (the same
cases every run), no deadline. Every response must be free of server errors (5xx) and match the
schema of its status code where the schema gives one.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.models import Role
from scoring.services import rescore_patients
from tests.db_roles import db_roles  # noqa: F401  (a fixture)
from tests.factories import ObservationFactory, UserFactory, WardFactory
from tests.frontend.conftest import make_patient

FUZZ_EXAMPLES = 50
SCHEMA_URL = "/api/v1/schema/?format=json"


@pytest.fixture
def api_schema(db, settings):
    """The schema as the running app serves it, loaded through the WSGI app in this test's transaction."""
    from virtualward.wsgi import application

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # rate limits start afresh, so the run is the same whatever ran before it
    # Django closes the connection at the start and end of each request; here that would end the
    # test's transaction, so the fuzzed requests share it instead.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi(SCHEMA_URL, application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(db):
    """A clinician of a ward whose patient has readings, a real score, a device and an alert."""
    ward = WardFactory(name="Fuzz ward")
    patient = make_patient(ward, risk=None)
    for vital, value in (("heart_rate", 112), ("respiratory_rate", 22), ("spo2", 95), ("temperature", 38.4)):
        ObservationFactory(patient=patient, type=vital, value=value)
    rescore_patients([patient.pk])  # a real score, and the alert it raises
    assert patient.alerts.exists()
    clinician = UserFactory(username="fuzz-nurse", role=Role.CLINICIAN)
    ward.staff.add(clinician)
    administrator = UserFactory(username="fuzz-admin", role=Role.ADMINISTRATOR)
    return {
        "clinician": Token.objects.create(user=clinician).key,
        "administrator": Token.objects.create(user=administrator).key,
    }


FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the report names the case as found
    suppress_health_check=list(HealthCheck),
)


def fuzz(operation, token: str) -> str | None:
    """Run the bounded cases of one operation; the first failure, in words, or None."""

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy())
    def run(case) -> None:
        response = case.call(headers={"Authorization": f"Token {token}"})
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    try:
        run()
    except (Exception, BaseExceptionGroup) as failure:  # every operation runs; all failures reported together
        return f"{operation.label}: " + "\n".join(str(failure).splitlines()[:400])
    return None


def test_no_operation_answers_a_server_error_or_breaks_its_schema(api_schema, tokens, db_roles):  # noqa: F811
    # given every operation of the served schema, served (on PostgreSQL) as the application's role
    if db_roles is not None:
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(db_roles['app'])}")
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30

    # when each is fuzzed as a clinician (and the administrators' export as an administrator)
    failures = [failure for operation in operations if (failure := fuzz(operation, tokens["clinician"]))]
    export = next(op for op in operations if op.path.endswith("/audit/export.csv"))
    failures += [failure] if (failure := fuzz(export, tokens["administrator"])) else []

    # then none answered a server error or a body its schema does not describe
    assert failures == [], "\n\n".join(failures)
